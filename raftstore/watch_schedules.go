package raftstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// scheduleHistory is how many Schedule changes the Schedules' watch
// history keeps.
const scheduleHistory = 4096

// scheduleHub is the Schedules' watch history: a ring of the recent
// changes that every ScheduleFeed reads, like the Runs' hub but simpler —
// Schedules are few and change seldom (a firing, a status write), so an
// initial listing is read in one short transaction that copies the raw
// values, and a feed that falls behind the ring ends with apis.ErrTooSlow.
type scheduleHub struct {
	mu     sync.RWMutex
	ring   []scheduleRingEvent
	seq    uint64 // events ever appended; event s is at ring[s%len] while s >= seq-n
	n      int
	start  uint64 // every event with index > start is in the ring
	last   uint64 // applied index of the last dispatch
	gen    uint64
	genErr error
	closed error
	notify chan struct{}
}

// scheduleEvent is one Schedule change as the FSM emits it.
type scheduleEvent struct {
	index    uint64
	typ      apis.EventType
	schedule *apis.Schedule
	// prior is the Schedule before a MODIFIED change that replaced its
	// labels; nil otherwise.
	prior *apis.Schedule
}

type scheduleRingEvent struct {
	index uint64
	typ   apis.EventType
	obj   *sharedSchedule
}

// sharedSchedule is a change's Schedule, shared by every feed; its JSON is
// encoded once, by the first feed that needs it.
type sharedSchedule struct {
	s    *apis.Schedule // never modified
	once sync.Once
	json []byte
	// prior is the Schedule before a MODIFIED change that replaced its
	// labels, for selectors (watch_select.go); nil otherwise.
	prior *apis.Schedule
}

func (s *sharedSchedule) encoded() []byte {
	s.once.Do(func() { s.json = encodeSchedule(s.s) })
	return s.json
}

func encodeSchedule(s *apis.Schedule) []byte {
	if s.APIVersion != apis.APIVersion || s.Kind != apis.KindSchedule {
		c := *s
		c.APIVersion, c.Kind = apis.APIVersion, apis.KindSchedule
		s = &c
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("raftstore: encode schedule: %v", err)) // a Schedule always encodes
	}
	return b
}

func newScheduleHub(size int) *scheduleHub {
	if size <= 0 {
		size = scheduleHistory
	}
	return &scheduleHub{ring: make([]scheduleRingEvent, size), notify: make(chan struct{})}
}

func (h *scheduleHub) wakeLocked() {
	close(h.notify)
	h.notify = make(chan struct{})
}

func (h *scheduleHub) reset(index uint64, err error) {
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

func (h *scheduleHub) closeAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = err
	h.wakeLocked()
}

// dispatch appends a committed batch's Schedule changes and wakes the
// feeds (also when there are none: index moved). FSM goroutine only.
func (h *scheduleHub) dispatch(events []scheduleEvent, index uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		i := h.seq % uint64(len(h.ring))
		if h.n == len(h.ring) {
			h.start = h.ring[i].index
		} else {
			h.n++
		}
		h.ring[i] = scheduleRingEvent{index: ev.index, typ: ev.typ, obj: &sharedSchedule{s: ev.schedule, prior: ev.prior}}
		h.seq++
	}
	h.last = index
	if len(events) > 0 {
		h.wakeLocked()
	}
}

// ScheduleFeedOptions select what a ScheduleFeed streams.
type ScheduleFeedOptions struct {
	// ResourceVersion resumes after that version; 0 starts from now.
	ResourceVersion uint64
	// List starts the feed with every matching Schedule as ADDED, then a
	// BOOKMARK (apis.InitialEventsEndAnnotation) at the listing's version,
	// then the changes after it. It needs ResourceVersion 0.
	List bool
	// Match selects Schedules; nil selects all. A Schedule that starts to
	// match is sent as ADDED, one that stops matching as DELETED
	// (watch_select.go).
	Match func(*apis.Schedule) bool
}

// ScheduleFeed is a pull-based watch of the Schedules, as Feed is of the
// Runs: Next returns the next event when there is one, Ready tells when to
// look again. Used by one goroutine at a time.
type ScheduleFeed struct {
	hub   *scheduleHub
	gen   uint64
	next  uint64
	from  uint64
	match func(*apis.Schedule) bool
	// listing: the initial Schedules, then the BOOKMARK at listRV.
	listing [][]byte
	listRV  uint64
	listEnd bool
	err     error
}

// ScheduleEvent is one change a ScheduleFeed delivers.
type ScheduleEvent struct {
	// Type is ADDED, MODIFIED or DELETED; BOOKMARK ends an initial listing.
	Type apis.EventType
	// ResourceVersion is the change's version (0 on a listing's ADDED).
	ResourceVersion uint64
	// Object is the Schedule's JSON, apiVersion and kind set; shared, do
	// not modify it.
	Object []byte
}

func (h *scheduleHub) feed(f *fsm, opts ScheduleFeedOptions) (*ScheduleFeed, error) {
	if opts.List && opts.ResourceVersion != 0 {
		return nil, fmt.Errorf("watch: a listing starts from now, not from resourceVersion %d: %w", opts.ResourceVersion, apis.ErrBadRequest)
	}
	h.mu.RLock()
	if h.closed != nil {
		h.mu.RUnlock()
		return nil, h.closed
	}
	from := opts.ResourceVersion
	if from == 0 {
		from = h.last
	}
	if from < h.start {
		h.mu.RUnlock()
		return nil, fmt.Errorf("watch from resourceVersion %d: oldest kept is %d: %w", from, h.start, apis.ErrGone)
	}
	next := h.seq
	for next > h.seq-uint64(h.n) && h.ring[(next-1)%uint64(len(h.ring))].index > from {
		next--
	}
	fd := &ScheduleFeed{hub: h, gen: h.gen, next: next, from: from, match: opts.Match}
	h.mu.RUnlock()
	if opts.List {
		// Every event dispatched before the cursor was taken has an index
		// at most the listing's; later ones at or below it are in the
		// listing and skipped (from), later ones above it are sent.
		var err error
		if fd.listing, fd.listRV, err = f.rawSchedules(opts.Match); err != nil {
			return nil, err
		}
		fd.from = max(fd.from, fd.listRV)
		fd.listEnd = true
	}
	return fd, nil
}

// rawSchedules reads every matching Schedule's JSON in one read
// transaction, with its applied index.
func (f *fsm) rawSchedules(match func(*apis.Schedule) bool) ([][]byte, uint64, error) {
	var out [][]byte
	var idx uint64
	err := f.view(func(tx *bolt.Tx) error {
		idx, _ = decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		return tx.Bucket(bucketSchedules).ForEach(func(_, v []byte) error {
			s, err := decodeSchedule(v)
			if err != nil {
				return err
			}
			if match == nil || match(s) {
				out = append(out, encodeSchedule(s))
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list schedules: %w", err)
	}
	return out, idx, nil
}

// Ready returns a channel closed when the store next applies a Schedule
// change (or closes, or is replaced by a snapshot).
func (fd *ScheduleFeed) Ready() <-chan struct{} {
	fd.hub.mu.RLock()
	defer fd.hub.mu.RUnlock()
	return fd.hub.notify
}

// Next returns the next event, or ok false when there is none yet. The
// error is sticky: apis.ErrTooSlow when the feed fell behind the history,
// apis.ErrGone when a snapshot replaced the state, ErrClosed.
func (fd *ScheduleFeed) Next() (ScheduleEvent, bool, error) {
	if fd.err != nil {
		return ScheduleEvent{}, false, fd.err
	}
	if len(fd.listing) > 0 {
		obj := fd.listing[0]
		fd.listing = fd.listing[1:]
		return ScheduleEvent{Type: apis.Added, Object: obj}, true, nil
	}
	if fd.listEnd {
		fd.listEnd = false
		fd.listing = nil
		rv := strconv.FormatUint(fd.listRV, 10)
		b, _ := json.Marshal(apis.Schedule{
			TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule},
			Metadata: apis.ObjectMeta{ResourceVersion: rv, Annotations: map[string]string{apis.InitialEventsEndAnnotation: "true"}},
		})
		return ScheduleEvent{Type: apis.Bookmark, ResourceVersion: fd.listRV, Object: b}, true, nil
	}
	for {
		ev, ok, err := fd.nextRing()
		if err != nil {
			fd.err = err
			return ScheduleEvent{}, false, err
		}
		if !ok {
			return ScheduleEvent{}, false, nil
		}
		if ev.index <= fd.from {
			continue
		}
		typ, ok := selectEvent(ev.typ, fd.match, ev.obj.s, func() *apis.Schedule { return ev.obj.prior })
		if !ok {
			continue
		}
		return ScheduleEvent{Type: typ, ResourceVersion: ev.index, Object: ev.obj.encoded()}, true, nil
	}
}

func (fd *ScheduleFeed) nextRing() (scheduleRingEvent, bool, error) {
	h := fd.hub
	h.mu.RLock()
	defer h.mu.RUnlock()
	switch {
	case h.closed != nil:
		return scheduleRingEvent{}, false, h.closed
	case h.gen != fd.gen:
		return scheduleRingEvent{}, false, h.genErr
	case fd.next < h.seq-uint64(h.n):
		return scheduleRingEvent{}, false, fmt.Errorf("schedule watch fell more than %d changes behind: %w", len(h.ring), apis.ErrTooSlow)
	case fd.next == h.seq:
		return scheduleRingEvent{}, false, nil
	}
	ev := h.ring[fd.next%uint64(len(h.ring))]
	fd.next++
	return ev, true, nil
}

// Stop ends the feed; it holds nothing else.
func (fd *ScheduleFeed) Stop() {
	fd.listing = nil
	if fd.err == nil {
		fd.err = errFeedStopped
	}
}
