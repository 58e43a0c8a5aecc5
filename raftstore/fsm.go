package raftstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sprint-project/sprint/apis"
)

// Buckets of the FSM's bbolt file.
var (
	bucketRuns     = []byte("runs")     // name → JSON apis.Run (spec, metadata and status)
	bucketAttempts = []byte("attempts") // name → JSON []apis.Attempt
	bucketEvents   = []byte("events")   // name → JSON []apis.RunEvent, bounded
	bucketMembers  = []byte("members")  // node id → JSON Member
	bucketMeta     = []byte("meta")     // keys below

	keyApplied     = []byte("applied")      // 16 bytes: index, term (big endian)
	keyFrameworkID = []byte("framework_id") // Mesos FrameworkID
	keyBootID      = []byte("boot_id")      // kernel boot id of the last open
	keyClean       = []byte("clean")        // "1" once Close synced the file
	keyFormat      = []byte("format")       // decimal fsmFormat of the writer; absent: 1
)

// fsmFormat is the format version of the FSM's file, and so of every
// snapshot (a copy of it): 1 (no format key) has the base buckets, 2 adds
// the Schedules' buckets. A file or snapshot of a newer format than this
// binary knows is refused, never half-read.
const fsmFormat = 2

// checkFormat reads the meta bucket's format and refuses one newer than
// this binary's; then it records this binary's (the file now has every
// bucket it knows).
func checkFormat(meta *bolt.Bucket, what string) error {
	v := 1
	if b := meta.Get(keyFormat); b != nil {
		n, err := strconv.Atoi(string(b))
		if err != nil || n < 1 {
			return fmt.Errorf("%s has format version %q, which is not a number: %w", what, clip(b), ErrDamaged)
		}
		v = n
	}
	if v > fsmFormat {
		return fmt.Errorf("%s has format version %d, newer than this binary knows (%d): run a binary at least as new as the one that wrote it: %w",
			what, v, fsmFormat, ErrNewerFormat)
	}
	return meta.Put(keyFormat, []byte(strconv.Itoa(fsmFormat)))
}

// ErrNewerFormat is matched by the error of opening or restoring state of
// a newer format version than this binary knows.
var ErrNewerFormat = errors.New("state of a newer format version")

// baseBuckets are the buckets of store level 1: a snapshot must have them.
// allBuckets adds the later levels' (created when a snapshot or file
// written before them lacks them).
var (
	baseBuckets = [][]byte{bucketRuns, bucketAttempts, bucketEvents, bucketMembers, bucketMeta}
	allBuckets  = append(slices.Clone(baseBuckets), bucketSchedules, bucketScheduleEvents)
)

const (
	// maxEventsPerRun bounds a Run's event history; older ones are dropped.
	maxEventsPerRun = 50
	// maxAttemptsPerRun bounds the kept attempts; the newest are kept.
	maxAttemptsPerRun = 100
	// initialMmapSize is virtual address space, not memory: it keeps bbolt
	// from remapping (which waits for every read transaction, including a
	// snapshot copy) until the file is this large.
	initialMmapSize = 256 << 20
)

// result is the Apply response of every command. Err is a business
// rejection (wrapping an apis sentinel); Items holds per-update results of
// a batch.
type result struct {
	Run *apis.Run
	// Schedule is the Schedule a Schedule command wrote or read.
	Schedule *apis.Schedule
	Deleted  bool
	Err      error
	Items    []result
	// JSON is Run as stored, and Outcome what an apply op did
	// (apply_runs only).
	JSON    []byte
	Outcome ApplyOutcome
	// Notifier is the Notifier a notifier command wrote or found.
	Notifier *apis.Notifier
}

// fsm is the bbolt state machine. raft calls Apply, ApplyBatch, Snapshot
// and Restore from its single FSM goroutine, which owns every write; the
// Store's reads run concurrently in bbolt read transactions.
type fsm struct {
	path     string
	noSync   bool
	mmapSize int
	logger   *slog.Logger
	hub      *hub
	deps     *depIndex // who depends on whom, derived from the file
	// schedHub is the Schedules' watch history (watch_schedules.go).
	schedHub *scheduleHub
	metrics  *metrics // the Store's, once New set it
	// handle runs a decoded command's handler: (*applier).dispatch; tests
	// put a panicking handler here to exercise the rejection of entries
	// whose handler panics.
	handle func(a *applier, cmd any) result

	// mu guards db: Apply, Snapshot and reads hold it shared; Restore swaps
	// the file under it exclusively.
	mu sync.RWMutex
	db *bolt.DB

	applied     atomic.Uint64
	appliedTerm atomic.Uint64
	appliedMu   sync.Mutex
	appliedCh   chan struct{} // closed and replaced on every applied advance

	// proposed maps the first byte of an entry this node proposed (its
	// Data, which raft hands back to the leader's FSM as the very slice
	// given to Apply) to its command as checkProposal decoded and
	// validated it: the leader applies it without decoding it again.
	// Followers, and the leader for any entry not found here (read back
	// from the log after a restart or a lost leadership), decode the
	// bytes; json.Unmarshal of the same bytes gives the same value, so
	// every replica applies the same command. Store.propose adds and
	// removes its entry; the FSM only reads.
	proposed sync.Map // *byte → decoded command

	// runs holds the decoded Runs written last, for GetRun (runcache.go).
	runs *runCache

	// memberList caches the members bucket (members_cache.go); batchTx
	// tells ApplyBatch when an entry wrote it.
	memberList memberCache

	// trusted reports whether the file was found complete on open: closed
	// cleanly, or last opened during this boot (so the kernel holds every
	// write even without fsync). See DESIGN.md.
	trusted bool
}

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.BatchingFSM = (*fsm)(nil)
)

// openFSM opens (or creates) the FSM's bbolt file at path.
func openFSM(path string, noSync bool, mmapSize, historySize int, logger *slog.Logger) (*fsm, error) {
	if mmapSize <= 0 {
		mmapSize = initialMmapSize
	}
	f := &fsm{
		path:      path,
		noSync:    noSync,
		mmapSize:  mmapSize,
		logger:    logger,
		hub:       newHub(historySize, 0),
		deps:      newDepIndex(),
		schedHub:  newScheduleHub(0),
		metrics:   newMetrics(),
		handle:    (*applier).dispatch,
		appliedCh: make(chan struct{}),
		runs:      newRunCache(),
	}
	// Copies left by a crash during Snapshot or Restore are garbage.
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "fsm-snapshot-*.db"))
	for _, p := range append(stale, path+".restore") {
		_ = os.Remove(p)
	}
	boot := bootID()
	// The file must have passed verifyBoltFile (the Store's inspection of
	// its data dir): bbolt maps it and trusts every page.
	db, err := openBolt(path, noSync, mmapSize)
	if err != nil {
		return nil, err
	}
	var idx, term uint64
	var trusted bool
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := checkFormat(meta, path); err != nil {
			return err
		}
		idx, term, trusted = fsmTrust(meta, boot)
		if err := meta.Put(keyClean, []byte("0")); err != nil {
			return err
		}
		return meta.Put(keyBootID, []byte(boot))
	})
	if err == nil {
		err = db.Sync() // the markers must be on disk before anything relies on them
	}
	if err == nil {
		err = db.View(f.deps.rebuild)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init fsm %s: %w", path, err)
	}
	f.db = db
	f.trusted = trusted
	f.setApplied(idx, term)
	f.hub.reset(idx, nil)
	f.schedHub.reset(idx, nil)
	return f, nil
}

// fsmTrust reads the applied index and term from the meta bucket, and
// whether the file can be trusted to hold every write up to them: it was
// closed cleanly (and synced), or last opened during this boot (the kernel
// still has, or has written, every page), or it holds nothing.
func fsmTrust(meta *bolt.Bucket, boot string) (idx, term uint64, trusted bool) {
	idx, term = decodeApplied(meta.Get(keyApplied))
	clean := string(meta.Get(keyClean)) == "1"
	sameBoot := boot != "" && string(meta.Get(keyBootID)) == boot
	return idx, term, clean || sameBoot || idx == 0
}

// openBolt opens an FSM file. noSync also skips the fsync bbolt makes
// whenever a commit grows the file (by 16 MiB at a time, with ftruncate):
// that fsync wrote back every dirty page of the file, 25-35 ms on the FSM
// goroutine every few thousand Runs, for a guarantee (the file's size
// survives power loss) that an unsynced file does not need, since it is
// not trusted after a reboot anyway (DESIGN.md, "Durability"). The file
// then grows as commits write past its end.
func openBolt(path string, noSync bool, mmapSize int) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		NoSync:          noSync,
		NoGrowSync:      noSync,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: mmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("open bolt %s: %w", path, err)
	}
	return db, nil
}

// bootID identifies the running kernel; unsynced writes of an earlier
// process survive exactly as long as it stays the same.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// wipe empties the FSM so that raft can rebuild it from a snapshot and the
// log. Called by the Store before raft starts, when the file is not trusted.
func (f *fsm) wipe() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keyClean, []byte("0")); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Put(keyFormat, []byte(strconv.Itoa(fsmFormat))); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyBootID, []byte(bootID()))
	})
	if err == nil {
		err = f.db.Sync()
	}
	if err != nil {
		return fmt.Errorf("wipe fsm: %w", err)
	}
	f.applied.Store(0)
	f.appliedTerm.Store(0)
	f.memberList.changed()
	f.deps.reset()
	f.runs.reset()
	f.hub.reset(0, nil)
	f.schedHub.reset(0, nil)
	f.trusted = true
	return nil
}

// close syncs the file and marks it clean, so the next open trusts it even
// after a reboot.
func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hub.closeAll(ErrClosed)
	f.schedHub.closeAll(ErrClosed)
	err := f.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyClean, []byte("1"))
	})
	if err == nil {
		err = f.db.Sync()
	}
	if cerr := f.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close fsm: %w", err)
	}
	return nil
}

func encodeApplied(idx, term uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, idx)
	binary.BigEndian.PutUint64(b[8:], term)
	return b
}

func decodeApplied(b []byte) (idx, term uint64) {
	if len(b) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])
}

func (f *fsm) setApplied(idx, term uint64) {
	f.appliedMu.Lock()
	f.applied.Store(idx)
	f.appliedTerm.Store(term)
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.appliedMu.Unlock()
}

// appliedWait returns the applied index and a channel closed when it next
// advances.
func (f *fsm) appliedWait() (uint64, <-chan struct{}) {
	f.appliedMu.Lock()
	defer f.appliedMu.Unlock()
	return f.applied.Load(), f.appliedCh
}

// Apply applies one entry; see ApplyBatch.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in one bbolt transaction, so
// concurrent writers share one commit. Entries at or below the stored
// applied index are skipped: after a restart raft replays the log from its
// last snapshot, and those entries are already in the file. An entry this
// FSM cannot decode or apply is rejected (DESIGN.md, "Entries the FSM
// rejects"). Watch events are
// dispatched after the commit. FSM goroutine only.
//
// A handler that panics may have written part of its entry into the
// shared transaction, so the whole transaction is rolled back and the
// batch applied again with that entry rejected up front: nothing of a
// rejected entry is ever written, and every replica, which panics the
// same way, ends with the same state.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	f.mu.RLock()
	defer f.mu.RUnlock()
	last := f.applied.Load()
	var poisoned map[uint64]RejectedEntry // entries whose handler panicked in an earlier try
	for {
		resps := make([]any, len(logs))
		var maxIdx, maxTerm uint64
		var events []watchEvent
		var schedEvents []scheduleEvent
		written := map[string]*apis.Run{} // Runs this batch wrote (nil: evict), for f.runs
		var rejected []RejectedEntry
		membersWritten := false
		err := f.db.Update(func(tx *bolt.Tx) error {
			bt := newBatchTx(&membersWritten)
			for i, l := range logs {
				if l.Index <= last {
					continue
				}
				maxIdx, maxTerm = l.Index, l.Term
				if l.Type != raft.LogCommand {
					continue
				}
				rej, ok := poisoned[l.Index]
				if !ok {
					// After a handler panicked, the batch is applied
					// again from the bytes: a handler that panicked
					// half-way may have left a decoded command modified.
					resp, r, err := f.applyCommand(tx, l, bt, &events, &schedEvents, written, poisoned == nil)
					if err != nil {
						return err // a handler panicked: roll back and try again
					}
					if r == nil {
						resps[i] = resp
						continue
					}
					rej = *r
				}
				f.recordRejection(tx, rej)
				rejected = append(rejected, rej)
				resps[i] = result{Err: &RejectedError{Entry: rej}}
			}
			if maxIdx == 0 {
				return nil
			}
			return f.putMeta(tx, keyApplied, encodeApplied(maxIdx, maxTerm))
		})
		var hp *handlerPanic
		if errors.As(err, &hp) {
			if poisoned == nil {
				poisoned = map[uint64]RejectedEntry{}
			}
			poisoned[hp.entry.Index] = hp.entry
			f.logger.Error("raft entry handler panicked; applying its batch again without it",
				"index", hp.entry.Index, "type", hp.entry.Type, "panic", hp.entry.Message, "stack", hp.stack)
			continue
		}
		if err != nil {
			panic(fatalError{fmt.Errorf("raftstore: fsm commit at index %d: %w", maxIdx, err)})
		}
		for _, r := range rejected {
			f.metrics.rejected.WithLabelValues(r.Reason).Inc()
			f.logger.Error("rejected raft entry: applied as a no-op on every replica",
				"index", r.Index, "type", r.Type, "reason", r.Reason, "err", r.Message)
		}
		if membersWritten {
			f.memberList.changed()
		}
		if maxIdx > 0 {
			f.runs.apply(written) // before the applied index says these writes are in
			f.setApplied(maxIdx, maxTerm)
			f.deps.apply(events)
			f.hub.dispatch(events, maxIdx)
			f.schedHub.dispatch(schedEvents, maxIdx)
		}
		return resps
	}
}

// fatalError is a panic value for failures of this node's own storage (a
// bbolt write or commit that fails, a stored value that does not decode):
// the node stops rather than diverge from its peers, which did write.
// Every other panic of a handler is the entry's fault and rejects it.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

// handlerPanic carries a recovered handler panic out of the transaction.
type handlerPanic struct {
	entry RejectedEntry
	stack string
}

func (h *handlerPanic) Error() string { return "handler panicked: " + h.entry.Message }

// entryError is a panic value for a write the entry itself made impossible
// (an empty or oversized bbolt key or value).
type entryError struct{ err error }

func (e entryError) Error() string { return e.err.Error() }

// applyCommand decodes, validates and applies one command. It returns the
// Apply response, or the rejection of an entry that does not decode or
// validate, or a *handlerPanic error when the handler panicked. Local
// storage failures (fatalError) keep panicking.
func (f *fsm) applyCommand(tx *bolt.Tx, l *raft.Log, bt batchTx, events *[]watchEvent, schedEvents *[]scheduleEvent, written map[string]*apis.Run, usePrepared bool) (resp any, rej *RejectedEntry, err error) {
	if usePrepared && len(l.Data) > 0 {
		if v, ok := f.proposed.Load(&l.Data[0]); ok {
			// Decoded and validated by checkProposal from these bytes.
			return f.applyDecoded(tx, l, bt, cmdType(l.Data[0]), v, events, schedEvents, written)
		}
	}
	t, v, derr := decodeCommand(l.Data)
	if derr != nil {
		if errors.Is(derr, errUnknownCommand) {
			if t&ignorableFlag != 0 {
				f.logger.Warn("ignoring unknown command", "index", l.Index, "type", byte(t))
				return nil, nil, nil
			}
			return nil, newRejection(l.Index, t, RejectUnknownType, derr), nil
		}
		return nil, newRejection(l.Index, t, RejectDecode, derr), nil
	}
	if verr := validateCommand(v); verr != nil {
		return nil, newRejection(l.Index, t, RejectInvalid, verr), nil
	}
	return f.applyDecoded(tx, l, bt, t, v, events, schedEvents, written)
}

// applyDecoded applies a decoded and validated command; see applyCommand.
func (f *fsm) applyDecoded(tx *bolt.Tx, l *raft.Log, bt batchTx, t cmdType, v any, events *[]watchEvent, schedEvents *[]scheduleEvent, written map[string]*apis.Run) (resp any, rej *RejectedEntry, err error) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if fe, ok := p.(fatalError); ok {
			panic(fe)
		}
		reason := RejectPanic
		if _, ok := p.(entryError); ok {
			reason = RejectInvalid
		}
		resp, rej = nil, nil
		err = &handlerPanic{entry: *newRejection(l.Index, t, reason, panicError(p)), stack: string(debug.Stack())}
	}()
	a := applier{tx: tx, fills: bt.fills, reads: bt.reads, membersWritten: bt.membersWritten, index: l.Index, events: events, schedEvents: schedEvents, written: written, cache: f.runs}
	r := f.handle(&a, v)
	var inv *invalidEntry
	if errors.As(r.Err, &inv) {
		// The handler found the entry invalid before writing anything.
		return nil, newRejection(l.Index, t, RejectInvalid, inv), nil
	}
	return r, nil, nil
}

// panicError describes a recovered panic value by what every replica
// reports alike: an error's or a string's text, else only its type (the
// text of other values may hold addresses, which differ between nodes).
func panicError(p any) error {
	switch v := p.(type) {
	case error:
		return v
	case string:
		return errors.New(v)
	}
	return fmt.Errorf("panic with a value of type %T", p)
}

// dispatch runs the handler of a decoded command.
func (a *applier) dispatch(v any) result {
	switch c := v.(type) {
	case *createRunCmd:
		return a.applyCreateRun(c)
	case *updateRunCmd:
		return a.applyUpdateRun(c)
	case *updateStatusCmd:
		return a.applyUpdateStatus(c.Update)
	case *batchUpdateStatusCmd:
		items := make([]result, len(c.Updates))
		for i, u := range c.Updates {
			items[i] = a.applyUpdateStatus(u)
		}
		return result{Items: items}
	case *requestDeleteCmd:
		return a.applyRequestDelete(c)
	case *deleteRunCmd:
		return a.applyDeleteRun(c)
	case *recordAttemptCmd:
		return a.applyRecordAttempt(c)
	case *appendEventsCmd:
		return a.applyAppendEvents(c)
	case *setFrameworkIDCmd:
		a.put(bucketMeta, keyFrameworkID, []byte(c.ID))
		return result{}
	case *setMemberCmd:
		a.putJSON(bucketMembers, []byte(c.Member.ID), c.Member)
		*a.membersWritten = true
		return result{}
	case *removeMemberCmd:
		a.del(bucketMembers, []byte(c.ID))
		*a.membersWritten = true
		return result{}
	case *applyRunsCmd:
		return a.applyApplyRuns(c)
	case *batchStatusAttemptsCmd:
		items := make([]result, len(c.Updates))
		for i, u := range c.Updates {
			items[i] = a.applyAttemptStatus(u)
		}
		return result{Items: items}
	case *createScheduleCmd:
		return a.applyCreateSchedule(c)
	case *updateScheduleCmd:
		return a.applyUpdateSchedule(c)
	case *deleteScheduleCmd:
		return a.applyDeleteSchedule(c)
	case *fireScheduleCmd:
		return a.applyFireSchedule(c, false)
	case *fireSchedulesCmd:
		return a.applyFireSchedules(c)
	case *updateScheduleStatusCmd:
		return a.applyUpdateScheduleStatus(c)
	case *appendScheduleEventsCmd:
		return a.applyAppendScheduleEvents(c)
	case *releaseRunsCmd:
		return a.applyReleaseRuns(c)
	case *createNotifierCmd, *updateNotifierCmd, *deleteNotifierCmd, *outboxDoneCmd:
		return a.dispatchNotifier(c)
	}
	// decodeCommand returned a type without a handler: a programming error,
	// but still the same on every replica, so a rejection, not a crash.
	panic(fmt.Sprintf("no handler for %T", v))
}

// applier applies one entry inside the batch's transaction.
type applier struct {
	tx    *bolt.Tx
	fills pageFills // the batch's, shared by its entries
	reads txReads   // the batch's
	// membersWritten is the batch's: set when an entry writes the
	// members bucket.
	membersWritten *bool
	index          uint64
	events         *[]watchEvent
	schedEvents    *[]scheduleEvent
	// written: the Runs the batch stored, by name, for the FSM's run
	// cache; nil for a name written or deleted without its decoded Run.
	written map[string]*apis.Run
	cache   *runCache // the FSM's, as of the last commit
	// notifiers caches the decoded Notifiers for this entry's outbox
	// records (fsm_outbox.go); nil until a status change needs them.
	notifiers []cachedNotifier
	loaded    bool
}

func (a *applier) put(bucket, key, val []byte) {
	b := a.tx.Bucket(bucket)
	a.fills.note(b, key, a.reads)
	if err := b.Put(key, val); err != nil {
		a.writeFailed("put", bucket, key, err)
	}
	if string(bucket) == string(bucketRuns) {
		a.written[string(key)] = nil // the caller records the decoded Run, if it has it
	}
}

// wroteRun records run, just stored, as its name's latest state.
func (a *applier) wroteRun(run *apis.Run) {
	a.written[run.Metadata.Name] = run
}

func (a *applier) putJSON(bucket, key []byte, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// A value that does not encode (a float NaN, say) came with the entry.
		panic(entryError{fmt.Errorf("encode %s/%s: %w", bucket, clip(key), err)})
	}
	a.put(bucket, key, b)
}

func (a *applier) del(bucket, key []byte) {
	if err := a.tx.Bucket(bucket).Delete(key); err != nil {
		a.writeFailed("delete", bucket, key, err)
	}
	if string(bucket) == string(bucketRuns) {
		a.written[string(key)] = nil
	}
}

// writeFailed panics for a failed bbolt write: with an entryError when the
// entry's key or value is what bbolt refuses, with a fatalError otherwise.
func (a *applier) writeFailed(op string, bucket, key []byte, err error) {
	err = fmt.Errorf("%s %s/%s at %d: %w", op, bucket, clip(key), a.index, err)
	if errors.Is(err, bolterrors.ErrKeyRequired) || errors.Is(err, bolterrors.ErrKeyTooLarge) || errors.Is(err, bolterrors.ErrValueTooLarge) {
		panic(entryError{err})
	}
	panic(fatalError{fmt.Errorf("raftstore: %w", err)})
}

// get is the value of key in bucket, nil when there is none.
func (a *applier) get(bucket, key []byte) []byte {
	return a.reads.get(a.tx.Bucket(bucket), key)
}

// delIfPresent deletes key from bucket, if it is there. bbolt's Delete of
// an absent key writes nothing either, but costs a cursor of its own.
func (a *applier) delIfPresent(bucket, key []byte) {
	if a.reads.has(a.tx.Bucket(bucket), key) {
		a.del(bucket, key)
	}
}

func (a *applier) getJSON(bucket, key []byte, v any) bool {
	b := a.get(bucket, key)
	if b == nil {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		// Stored values were encoded by this FSM: one that does not decode is
		// a damaged file, not a bad entry.
		panic(fatalError{fmt.Errorf("raftstore: decode %s/%s at %d: %w", bucket, clip(key), a.index, err)})
	}
	return true
}

// clip shortens a key for messages.
func clip(key []byte) string {
	if len(key) > 64 {
		return string(key[:64]) + "…"
	}
	return string(key)
}

// emit records a change of run for watches. stored is the JSON the entry
// stored for it, nil when there is none (a deletion): watches send it as
// it is when it is what they would encode (the Run carries its apiVersion
// and kind), so an event costs no encoding at all.
func (a *applier) emit(t apis.EventType, run *apis.Run, stored []byte) {
	if run.APIVersion != apis.APIVersion || run.Kind != apis.KindRun {
		stored = nil
	}
	*a.events = append(*a.events, watchEvent{index: a.index, typ: t, run: run, json: stored})
}

// emitModified records a change of prev into next for watches, with what
// their selectors saw of prev when the change altered it: a watch with a
// selector tells a Run that starts or stops matching as ADDED or DELETED.
func (a *applier) emitModified(prev, next *apis.Run, stored []byte) {
	a.emit(apis.Modified, next, stored)
	(*a.events)[len(*a.events)-1].prior = priorOf(prev, next)
}
