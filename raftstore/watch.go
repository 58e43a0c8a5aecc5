package raftstore

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sprint-project/sprint/apis"
)

// DefaultWatchHistory is how many events the store keeps for watches that
// resume from a resourceVersion.
const DefaultWatchHistory = 10000

// DefaultWatchBuffer is how many events a watch may fall behind (beyond
// those it was sent at its start) before it is closed with
// apis.ErrTooSlow.
const DefaultWatchBuffer = 1024

// hub keeps the recent events in a ring that every watch reads from. A
// watch is a cursor into the ring (a Feed), not a queue of its own: an
// event is stored once however many watches there are, its JSON is encoded
// once (on first use), and a watch whose client stopped reading holds
// nothing but its cursor. dispatch, called by the FSM goroutine after each
// commit, appends and wakes the readers; it never looks at a watch.
type hub struct {
	buffer int // events a feed may fall behind
	// chunks recycles the buffers of initial listings between feeds.
	chunks sync.Pool

	mu   sync.RWMutex
	ring []ringEvent // circular; len(ring) is the capacity
	// seq counts the events ever appended; event s is at ring[s%len(ring)]
	// while s >= seq-n.
	seq uint64
	n   int
	// start: every event with index > start is in the ring.
	start uint64
	// last is the applied index of the last dispatch.
	last uint64
	// gen counts resets; a feed of an earlier generation ends with genErr.
	gen    uint64
	genErr error
	// closed, once set, ends every feed.
	closed error
	// notify is closed and replaced by every dispatch, reset and close.
	notify chan struct{}
}

// ringEvent is one change as the ring keeps it; shared by every reader and
// never modified.
type ringEvent struct {
	index uint64
	typ   apis.EventType
	obj   *sharedRun
}

// sharedRun is a change's Run as every reader shares it: its JSON (the
// bytes the FSM stored, or encoded once on first use when it has none) and,
// while the change is among the newest, the decoded Run as the FSM applied
// it, for in-process watches (the controller) that would otherwise decode
// it again. Older changes keep the JSON and only the part of the Run
// selectors look at (hub.settle): the ring's 10,000 decoded Runs were 50 MiB
// of a leader's heap, held whether or not anything watched.
//
// A settled change keeps those fields in a runFields, not in an apis.Run:
// a Run is 552 bytes, mostly empty fields, and the history holds 9,000 of
// them whether or not anything watches.
type sharedRun struct {
	once sync.Once
	json []byte                    // set at creation or by once
	full atomic.Pointer[apis.Run]  // until settled
	sel  atomic.Pointer[runFields] // once settled: what selectors look at
	// prior is what selectors saw before a MODIFIED change that altered
	// it (watch_select.go); nil for any other change.
	prior *runPrior
}

// runFields is what label and field selectors look at in a Run.
type runFields struct {
	name, uid, rv string
	labels        map[string]string
	phase         apis.RunPhase
}

// newSharedRun shares r; stored is its JSON when the FSM has it (else nil),
// prior what selectors saw before the change when it altered that.
func newSharedRun(r *apis.Run, stored []byte, prior *runPrior) *sharedRun {
	s := &sharedRun{json: stored, prior: prior}
	if stored != nil {
		s.once.Do(func() {})
	}
	s.full.Store(r)
	return s
}

func (s *sharedRun) encoded() []byte {
	s.once.Do(func() { s.json = encodeTyped(s.full.Load()) })
	return s.json
}

// settle drops the decoded Run, keeping its JSON and what selectors look
// at. Only the hub calls it, under its lock.
func (s *sharedRun) settle() {
	r := s.full.Load()
	if r == nil {
		return
	}
	s.encoded()
	s.sel.Store(&runFields{
		name: r.Metadata.Name, uid: r.Metadata.UID, rv: r.Metadata.ResourceVersion,
		labels: r.Metadata.Labels, phase: r.Status.Phase,
	})
	s.full.Store(nil)
}

// name is the Run's name.
func (s *sharedRun) name() string {
	if r := s.full.Load(); r != nil {
		return r.Metadata.Name
	}
	return s.sel.Load().name // stored before full was cleared
}

// selectable returns what selectors look at: the whole Run, or once
// settled a Run holding only its name, uid, resourceVersion, labels and
// status.phase, made for the call (only a feed resuming from an older
// version, with a selector, reads settled changes).
func (s *sharedRun) selectable() *apis.Run {
	if r := s.full.Load(); r != nil {
		return r
	}
	f := s.sel.Load() // stored before full was cleared
	return &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{Name: f.name, UID: f.uid, ResourceVersion: f.rv, Labels: f.labels},
		Status:   apis.RunStatus{Phase: f.phase},
	}
}

func (s *sharedRun) decoded() (*apis.Run, error) {
	if r := s.full.Load(); r != nil {
		return r, nil
	}
	return decodeRun(s.encoded())
}

func newHub(size, buffer int) *hub {
	if size <= 0 {
		size = DefaultWatchHistory
	}
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	h := &hub{ring: make([]ringEvent, size), buffer: buffer, notify: make(chan struct{})}
	h.chunks.New = func() any { b := make([]byte, 0, listChunkBytes); return &b }
	return h
}

// setBuffer sets how far a feed may fall behind (0: the default); before
// any feed starts.
func (h *hub) setBuffer(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= 0 {
		n = DefaultWatchBuffer
	}
	h.buffer = n
}

// wakeLocked wakes every feed waiting for a change. Caller holds h.mu.
func (h *hub) wakeLocked() {
	close(h.notify)
	h.notify = make(chan struct{})
}

// reset forgets the history, e.g. after a snapshot replaced the state.
// Feeds end with err (apis.ErrGone when nil), since they cannot be told
// what changed. The FSM calls it with the file swapped under its lock.
func (h *hub) reset(index uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		err = fmt.Errorf("watch history reset at index %d: %w", index, apis.ErrGone)
	}
	clear(h.ring)
	h.n = 0
	h.start, h.last = index, index
	h.gen++
	h.genErr = err
	h.wakeLocked()
}

// closeAll ends every feed with err; the store is closing.
func (h *hub) closeAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = err
	h.wakeLocked()
}

// dispatch appends a committed batch's events and wakes the feeds. FSM
// goroutine only; it never waits for a reader.
func (h *hub) dispatch(events []watchEvent, index uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		i := h.seq % uint64(len(h.ring))
		if h.n == len(h.ring) {
			h.start = h.ring[i].index
		} else {
			h.n++
		}
		h.ring[i] = ringEvent{index: ev.index, typ: ev.typ, obj: newSharedRun(ev.run, ev.json, ev.prior)}
		h.seq++
		h.settleLocked()
	}
	h.last = index
	h.wakeLocked()
}

// settleLocked settles the event that just fell h.buffer events behind
// the newest: a feed that far behind is closed as too slow, so only feeds
// resuming from an older resourceVersion (HTTP watches, which send JSON)
// read it from now on. Caller holds h.mu.
func (h *hub) settleLocked() {
	if h.seq <= uint64(h.buffer) || h.buffer >= h.n {
		return
	}
	s := h.seq - 1 - uint64(h.buffer)
	h.ring[s%uint64(len(h.ring))].obj.settle()
}

// watchEvent is one change as the FSM emits it.
type watchEvent struct {
	index uint64
	typ   apis.EventType
	run   *apis.Run
	json  []byte // the Run as stored, when it is what watches send; or nil
	// prior is what selectors saw of the Run before a MODIFIED change
	// that altered it; nil otherwise.
	prior *runPrior
}

// FeedOptions select what a Feed streams.
type FeedOptions struct {
	// ResourceVersion resumes after that version; 0 starts from now.
	ResourceVersion uint64
	// List starts the feed with every matching Run as ADDED (read in short
	// transactions, see DESIGN.md), then a BOOKMARK carrying
	// apis.InitialEventsEndAnnotation and the listing's version, then the
	// changes after it. It needs ResourceVersion 0.
	List bool
	// Match selects Runs; nil selects all. It may see no more of a Run
	// than its name, uid, resourceVersion, labels and status.phase (what
	// label and field selectors select on), and must not keep the Run it
	// is given. A Run that starts to match is sent as ADDED, one that
	// stops matching as DELETED (watch_select.go).
	Match func(*apis.Run) bool
}

// feed starts a Feed. read reads the chunks of an initial listing.
func (h *hub) feed(opts FeedOptions, read chunkReader) (*Feed, error) {
	if opts.List && opts.ResourceVersion != 0 {
		return nil, fmt.Errorf("watch: a listing starts from now, not from resourceVersion %d: %w", opts.ResourceVersion, apis.ErrBadRequest)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed != nil {
		return nil, h.closed
	}
	fromRV := opts.ResourceVersion
	explicit := fromRV != 0
	if fromRV == 0 {
		fromRV = h.last
	}
	if fromRV < h.start {
		return nil, fmt.Errorf("watch from resourceVersion %d: oldest kept is %d: %w", fromRV, h.start, apis.ErrGone)
	}
	from := fromRV
	if explicit && h.sharedLocked(fromRV) {
		// Several Runs changed in the entry at fromRV (a batch of status
		// writes or GC deletes), so they share its resourceVersion. A
		// client resuming from the version of the last event it got may
		// have missed the rest of that entry: send the whole entry again.
		// Clients see duplicates of events they had, never a gap.
		from = fromRV - 1
	}
	// The cursor starts at the first kept event after from.
	next := h.seq
	for next > h.seq-uint64(h.n) && h.ring[(next-1)%uint64(len(h.ring))].index > from {
		next--
	}
	f := &Feed{
		hub: h, gen: h.gen, next: next, from: from, match: opts.Match,
		limit: h.seq - next + uint64(h.buffer),
	}
	if opts.List {
		f.list = &listing{read: read, bufs: &h.chunks}
	}
	return f, nil
}

// sharedLocked reports whether more than one kept event has resourceVersion
// rv. Caller holds h.mu.
func (h *hub) sharedLocked(rv uint64) bool {
	n := 0
	for i := h.n - 1; i >= 0; i-- {
		idx := h.ring[(h.seq-uint64(h.n)+uint64(i))%uint64(len(h.ring))].index
		if idx < rv {
			break
		}
		if idx == rv {
			if n++; n > 1 {
				return true
			}
		}
	}
	return false
}

// Feed is a watch read by pulling: Next returns the next event when there
// is one, and Ready tells when to look again. It reads the store's shared
// history, so it buffers nothing of its own; a Feed that falls more than
// the store's watch buffer behind ends with apis.ErrTooSlow. A Feed is
// used by one goroutine at a time. Store.Feed creates it.
type Feed struct {
	hub   *hub
	gen   uint64
	next  uint64 // sequence of the next ring event to look at
	from  uint64 // only events with a greater index are sent
	limit uint64 // pending events beyond which the feed is too slow
	match func(*apis.Run) bool
	list  *listing // the initial listing while it runs
	err   error    // sticky once set
	// before holds a Run as match saw it before a change (made on first
	// use, reused for every change).
	before *apis.Run
}

// Event is one change a Feed delivers.
type Event struct {
	// Type is ADDED, MODIFIED or DELETED; BOOKMARK ends an initial listing.
	Type apis.EventType
	// ResourceVersion is the change's version; the BOOKMARK ending an
	// initial listing carries the listing's. It is 0 on the listing's
	// ADDED events, which are not in version order (the version is in
	// the object).
	ResourceVersion uint64
	obj             *sharedRun // a change from the history
	run             *apis.Run  // a listed Run when decoded, or the listing's end
	raw             []byte     // a listed Run's stored JSON
}

// Object returns the JSON of the event's Run with apiVersion and kind set.
// It is shared with other watches: do not modify it. For an event of an
// initial listing it is valid until the next call of Next.
func (e Event) Object() []byte {
	switch {
	case e.raw != nil:
		return e.raw
	case e.obj != nil:
		return e.obj.encoded()
	}
	return encodeTyped(e.run)
}

// Run returns the event's Run, decoding it if need be. It may be shared
// with other watches: do not modify it.
func (e Event) Run() (*apis.Run, error) {
	switch {
	case e.obj != nil:
		return e.obj.decoded()
	case e.run != nil:
		return e.run, nil
	}
	return decodeRun(e.raw)
}

// encodeTyped encodes a Run with its apiVersion and kind set.
func encodeTyped(run *apis.Run) []byte {
	if run.APIVersion != apis.APIVersion || run.Kind != apis.KindRun {
		c := *run
		c.APIVersion, c.Kind = apis.APIVersion, apis.KindRun
		run = &c
	}
	b, err := json.Marshal(run)
	if err != nil {
		panic(fmt.Sprintf("raftstore: encode run: %v", err)) // a Run always encodes
	}
	return b
}

// Ready returns a channel that is closed when the store next applies a
// change (or closes, or is replaced by a snapshot). Take it before Next
// finds nothing, and wait on it then: nothing is missed in between.
func (f *Feed) Ready() <-chan struct{} {
	f.hub.mu.RLock()
	defer f.hub.mu.RUnlock()
	return f.hub.notify
}

// Next returns the next event, or ok false when there is none yet. The
// error is sticky: apis.ErrTooSlow when the feed fell behind, an error
// wrapping apis.ErrGone when a snapshot replaced the state, ErrClosed when
// the store closed, or the error of a listing's read.
func (f *Feed) Next() (ev Event, ok bool, err error) {
	if f.err != nil {
		return Event{}, false, f.err
	}
	ev, ok, err = f.advance()
	if err != nil {
		f.err = err
	}
	return ev, ok, err
}

func (f *Feed) advance() (Event, bool, error) {
	for {
		// A chunk's Runs go out before any change to them: the changes
		// after the chunk was read follow its Runs.
		if l := f.list; l != nil && l.pending() {
			if ev, ok, err := l.nextItem(f.match); err != nil || ok {
				return ev, ok, err
			}
			continue
		}
		re, pending, last, err := f.nextRing()
		if err != nil {
			return Event{}, false, err
		}
		if pending {
			if f.list != nil && !f.list.deliver(re) {
				continue // the listing shows this change, or will
			}
			if re.index <= f.from {
				continue
			}
			typ, ok := f.selectEvent(re)
			if !ok {
				continue
			}
			return Event{Type: typ, ResourceVersion: re.index, obj: re.obj}, true, nil
		}
		switch l := f.list; {
		case l == nil:
			return Event{}, false, nil
		case !l.done:
			if err := l.readNext(f); err != nil {
				return Event{}, false, err
			}
		case last < l.endRV:
			// The last chunk saw changes that are committed but not yet
			// dispatched: wait for them.
			return Event{}, false, nil
		default:
			// Every Run is sent, and every change up to last looked at:
			// the client holds the state at last.
			l.release()
			f.list = nil
			return listEnd(last), true, nil
		}
	}
}

// selectEvent returns the type of event the feed sends for re, if any.
func (f *Feed) selectEvent(re ringEvent) (apis.EventType, bool) {
	if f.match == nil {
		return re.typ, true
	}
	cur := re.obj.selectable()
	return selectEvent(re.typ, f.match, cur, func() *apis.Run {
		if re.obj.prior == nil {
			return nil
		}
		if f.before == nil {
			f.before = new(apis.Run)
		}
		return re.obj.prior.selectedBefore(cur, f.before)
	})
}

// nextRing returns the next ring event, if any, and the index of the last
// dispatch. Too far behind is an error.
func (f *Feed) nextRing() (ev ringEvent, ok bool, last uint64, err error) {
	h := f.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	switch {
	case h.closed != nil:
		return ringEvent{}, false, 0, h.closed
	case h.gen != f.gen:
		return ringEvent{}, false, 0, h.genErr
	}
	pending := h.seq - f.next
	if pending > f.limit || f.next < h.seq-uint64(h.n) {
		return ringEvent{}, false, 0, fmt.Errorf("watch fell %d changes behind, more than its buffer of %d (at resourceVersion %d): %w",
			pending, f.limit, h.last, apis.ErrTooSlow)
	}
	if pending == 0 {
		return ringEvent{}, false, h.last, nil
	}
	ev = h.ring[f.next%uint64(len(h.ring))]
	f.next++
	return ev, true, h.last, nil
}

// Stop releases the feed's listing buffer. The feed registers nothing with
// the store, so there is nothing else to release.
func (f *Feed) Stop() {
	if f.list != nil {
		f.list.release()
		f.list = nil
	}
	if f.err == nil {
		f.err = errFeedStopped
	}
}

var errFeedStopped = fmt.Errorf("watch stopped: %w", ErrClosed)
