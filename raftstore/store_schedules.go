package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// ErrNotUpgraded is matched by the error of a write the cluster cannot
// take yet because a member runs a binary of a lower store level (a
// rolling upgrade in progress). It also matches apis.ErrUnavailable (the
// API answers 503).
var ErrNotUpgraded = errors.New("cluster not fully upgraded")

// NotUpgradedError names the member that holds a write back.
type NotUpgradedError struct {
	// Member is the node ID; Level what it reported (0: nothing, a binary
	// that predates levels); Need the level the write needs.
	Member      string
	Level, Need int
	What        string
}

func (e *NotUpgradedError) Error() string {
	if e.Level == 0 {
		return fmt.Sprintf("cluster not fully upgraded: node %s runs a binary without %s (it reported no store level; need %d); upgrade every node, then retry",
			e.Member, e.What, e.Need)
	}
	return fmt.Sprintf("cluster not fully upgraded: node %s runs a binary without %s (store level %d, need %d); upgrade every node, then retry",
		e.Member, e.What, e.Level, e.Need)
}

// Is matches ErrNotUpgraded and apis.ErrUnavailable.
func (e *NotUpgradedError) Is(target error) bool {
	return target == ErrNotUpgraded || target == apis.ErrUnavailable
}

// checkLevel returns a *NotUpgradedError when a server of the Raft
// configuration has no member record of at least level need. The leader
// calls it before proposing a command of that level: a member that
// predates the command would reject it (unknown_type) and diverge.
func (s *Store) checkLevel(need int, what string) error {
	if s.raft == nil {
		return fmt.Errorf("store not started: %w", ErrClosed)
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return s.raftErr("configuration", err)
	}
	members, err := s.fsm.members()
	if err != nil {
		return err
	}
	return levelGate(cf.Configuration().Servers, members, need, what)
}

// levelGate is checkLevel's decision: every server's member record must
// report at least need.
func levelGate(servers []raft.Server, members map[string]Member, need int, what string) error {
	ids := make([]string, 0, len(servers))
	for _, srv := range servers {
		ids = append(ids, string(srv.ID))
	}
	sort.Strings(ids)
	for _, id := range ids {
		if lvl := members[id].StoreLevel; lvl < need {
			return &NotUpgradedError{Member: id, Level: lvl, Need: need, What: what}
		}
	}
	return nil
}

// SchedulesWritable reports, from this node's replicated state (any node,
// no leader needed), whether the cluster takes Schedule writes: nil, or
// a *NotUpgradedError naming a member whose binary predates Schedules. A
// follower checks it before forwarding a write to a leader that may be
// such a binary itself.
func (s *Store) SchedulesWritable() error {
	return s.checkLevel(levelSchedules, "Schedules")
}

// applySchedule proposes a Schedule command after the upgrade gate.
func (s *Store) applySchedule(ctx context.Context, t cmdType, payload any) (result, error) {
	if !s.IsLeader() {
		return result{}, fmt.Errorf("%s: %w", t, s.notLeader())
	}
	if err := s.checkLevel(levelSchedules, "Schedules"); err != nil {
		return result{}, fmt.Errorf("%s: %w", t, err)
	}
	r, err := s.apply(ctx, t, payload)
	r.Schedule = r.Schedule.DeepCopy()
	return r, err
}

// CreateSchedule stores a new Schedule, which must pass
// apis.ValidateSchedule (call apis.SetScheduleDefaults first). The store
// sets uid, creationTimestamp, generation 1 and resourceVersion, and
// starts the status empty; an empty name is completed from generateName.
// Errors: apis.ErrAlreadyExists, apis.ErrBadRequest, *apis.InvalidError,
// ErrNotUpgraded, *NotLeaderError, ErrLeadershipLost.
func (s *Store) CreateSchedule(ctx context.Context, sc *apis.Schedule) (*apis.Schedule, error) {
	for try := 0; ; try++ {
		c := createScheduleCmd{Schedule: *sc}
		m := &c.Schedule.Metadata
		if m.Name == "" {
			if m.GenerateName == "" {
				return nil, fmt.Errorf("create schedule: name or generateName is required: %w", apis.ErrBadRequest)
			}
			m.Name = m.GenerateName + randomSuffix(apis.GenerateNameSuffixLength)
		}
		now := s.cfg.Now().UTC()
		m.UID = uuid.NewString()
		m.CreationTimestamp = &now
		m.ResourceVersion = ""
		r, err := s.applySchedule(ctx, cmdCreateSchedule, c)
		if err != nil {
			if sc.Metadata.Name == "" && errors.Is(err, apis.ErrAlreadyExists) && try < 3 {
				continue
			}
			return nil, err
		}
		return r.Schedule, nil
	}
}

// UpdateSchedule replaces a Schedule's labels, annotations and spec (the
// whole spec is mutable, as a CronJob's); status, uid and timestamps are
// kept. A resourceVersion (or uid) in sc.Metadata is a precondition. An
// unchanged Schedule is returned as stored without a new resourceVersion.
// Errors: apis.ErrNotFound, apis.ErrConflict, *apis.InvalidError,
// ErrNotUpgraded, *NotLeaderError, ErrLeadershipLost.
func (s *Store) UpdateSchedule(ctx context.Context, sc *apis.Schedule) (*apis.Schedule, error) {
	if cur, err := s.fsm.getSchedule(sc.Metadata.Name); err == nil {
		if next, changed := mergeScheduleUpdate(cur, sc); changed {
			if err := validSchedule(&next); err != nil {
				return nil, fmt.Errorf("%s: %w", cmdUpdateSchedule, err)
			}
		}
	}
	r, err := s.applySchedule(ctx, cmdUpdateSchedule, updateScheduleCmd{Schedule: *sc})
	if err != nil {
		return nil, err
	}
	return r.Schedule, nil
}

// DeleteSchedule deletes a Schedule and its event history; ref's UID and
// resourceVersion, when set, are preconditions. Its Runs are the
// caller's: delete them (RequestDelete) or orphan them (ReleaseRuns).
// Errors: apis.ErrNotFound, apis.ErrConflict, ErrNotUpgraded,
// *NotLeaderError, ErrLeadershipLost.
func (s *Store) DeleteSchedule(ctx context.Context, ref apis.RunRef) (*apis.Schedule, error) {
	r, err := s.applySchedule(ctx, cmdDeleteSchedule, deleteScheduleCmd{Name: ref.Name, UID: ref.UID, PreconditionRV: ref.ResourceVersion})
	if err != nil {
		return nil, err
	}
	return r.Schedule, nil
}

// FireSchedule commits one firing in one Raft entry: the Schedule's UID
// (when f.Schedule.UID is set) and f.PreviousScheduleTime must match the
// stored Schedule (else apis.ErrNotFound, apis.ErrConflict); no Run of
// f.Runs may exist (else apis.ErrAlreadyExists, and nothing is written);
// then the Runs are created (each must carry label sprint/schedule=<name>
// and a controller owner reference to the Schedule, set by the caller),
// the live Runs of f.Replace get spec.cancel, status.lastScheduleTime
// becomes f.ScheduleTime, f.MissedFirings is added to
// status.missedFirings and f.Events are appended to the Schedule's
// history. The store sets each Run's uid and creationTimestamp.
// Errors also: *apis.InvalidError, ErrNotUpgraded, *NotLeaderError,
// ErrLeadershipLost.
func (s *Store) FireSchedule(ctx context.Context, f apis.Firing) error {
	_, err := s.applySchedule(ctx, cmdFireSchedule, s.firingOf(&f))
	return err
}

// firingOf is f as the log carries it, its Runs given UIDs and creation
// times.
func (s *Store) firingOf(f *apis.Firing) fireScheduleCmd {
	c := s.firingCmd(f.Schedule, f.Runs, f.Events)
	c.PreviousScheduleTime = f.PreviousScheduleTime
	c.ScheduleTime = f.ScheduleTime.UTC()
	c.MissedFirings = f.MissedFirings
	for _, r := range f.Replace {
		c.Replace = append(c.Replace, runRefEntry{Name: r.Name, UID: r.UID})
	}
	return c
}

// FireSchedules commits many firings, each with exactly FireSchedule's
// preconditions and effects, in as few Raft entries as fit
// (fire_schedules: up to 256 firings or about 1 MiB each, applied in
// order). It returns one error per firing: nil when it was committed,
// else FireSchedule's error for it (apis.ErrConflict, apis.ErrNotFound,
// apis.ErrAlreadyExists, *apis.InvalidError), or the error of its entry
// as a whole (*NotLeaderError, ErrLeadershipLost, a cancelled ctx: not
// committed, or not known to be). One firing refused never fails another.
// While a member's binary predates fire_schedules (a rolling upgrade),
// each firing goes in a fire_schedule entry of its own.
func (s *Store) FireSchedules(ctx context.Context, firings []apis.Firing) []error {
	errs := make([]error, len(firings))
	fail := func(from int, err error) []error {
		for i := from; i < len(errs); i++ {
			errs[i] = err
		}
		return errs
	}
	if len(firings) == 0 {
		return errs
	}
	if !s.IsLeader() {
		return fail(0, fmt.Errorf("%s: %w", cmdFireSchedules, s.notLeader()))
	}
	if err := s.checkLevel(levelFiringBatch, "firings batched in one entry"); err != nil {
		if !errors.Is(err, ErrNotUpgraded) {
			return fail(0, fmt.Errorf("%s: %w", cmdFireSchedules, err))
		}
		return s.fireSeparately(ctx, firings)
	}
	// Level 3 includes level 2 (Schedules). Each firing is encoded once; an entry is closed at maxBatchFirings
	// firings or when the next would take it past maxBatchFiringBytes
	// (a firing larger than that goes alone).
	var (
		body  []byte
		start int
	)
	flush := func(end int) bool {
		if end == start {
			return true
		}
		body = append(body, "]}"...)
		r, err := s.propose(ctx, cmdFireSchedules, json.RawMessage(body))
		if err == nil && len(r.Items) != end-start {
			err = fmt.Errorf("%s: %d outcomes for %d firings", cmdFireSchedules, len(r.Items), end-start)
		}
		if err != nil {
			fail(start, err)
			return false
		}
		for i, it := range r.Items {
			errs[start+i] = it.Err
		}
		start, body = end, nil
		return true
	}
	for i := range firings {
		item, err := json.Marshal(s.firingOf(&firings[i]))
		if err != nil {
			return fail(i, fmt.Errorf("%s: encode firing of %s: %w", cmdFireSchedules, firings[i].Schedule.Name, err))
		}
		if body != nil && (i-start >= maxBatchFirings || len(body)+len(item)+2 > maxBatchFiringBytes) {
			if !flush(i) {
				return errs
			}
		}
		if body == nil {
			body = append(make([]byte, 0, 64<<10), `{"firings":[`...)
		} else {
			body = append(body, ',')
		}
		body = append(body, item...)
	}
	flush(len(firings))
	return errs
}

// maxSeparateFirings bounds the fire_schedule entries one FireSchedules
// call has in flight below level 3.
const maxSeparateFirings = 32

// fireSeparately is FireSchedules for a cluster that is not fully
// upgraded: one fire_schedule entry per firing, up to maxSeparateFirings
// proposed together (Raft still batches their disk writes).
func (s *Store) fireSeparately(ctx context.Context, firings []apis.Firing) []error {
	errs := make([]error, len(firings))
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxSeparateFirings)
	for i := range firings {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			errs[i] = s.FireSchedule(ctx, firings[i])
		}()
	}
	wg.Wait()
	return errs
}

// FireScheduleNow creates Runs of a Schedule outside its schedule (a
// user's "run now") in one entry: the Schedule's UID, when set, must
// match, no Run may exist; its status is not changed. events are appended
// to the Schedule's history. It returns the Runs as stored.
// Errors: as FireSchedule's.
func (s *Store) FireScheduleNow(ctx context.Context, ref apis.RunRef, runs []apis.Run, events []apis.RunEvent) ([]apis.Run, error) {
	c := s.firingCmd(ref, runs, events)
	c.Manual = true
	c.ScheduleTime = s.cfg.Now().UTC()
	if _, err := s.applySchedule(ctx, cmdFireSchedule, c); err != nil {
		return nil, err
	}
	out := make([]apis.Run, 0, len(runs))
	for _, r := range c.Runs {
		got, err := s.fsm.getRun(r.Metadata.Name)
		if err != nil {
			continue // already deleted again
		}
		out = append(out, *got)
	}
	return out, nil
}

func (s *Store) firingCmd(ref apis.RunRef, runs []apis.Run, events []apis.RunEvent) fireScheduleCmd {
	c := fireScheduleCmd{Schedule: ref.Name, UID: ref.UID, Events: events}
	now := s.cfg.Now().UTC()
	c.Runs = make([]apis.Run, len(runs))
	for i := range runs {
		runs[i].DeepCopyInto(&c.Runs[i])
		m := &c.Runs[i].Metadata
		m.UID = uuid.NewString()
		m.CreationTimestamp = &now
		m.ResourceVersion = ""
		setInitialStatus(&c.Runs[i], now) // Pending, as a created Run
	}
	return c
}

// UpdateScheduleStatus writes the controller-observed status fields of a
// Schedule: nextScheduleTime, lastSuccessfulTime, active and message.
// lastScheduleTime and missedFirings are FireSchedule's and are kept
// whatever st says. ref's UID and resourceVersion, when set, are
// preconditions. An unchanged status writes nothing.
// Errors: apis.ErrNotFound, apis.ErrConflict, ErrNotUpgraded,
// *NotLeaderError, ErrLeadershipLost.
func (s *Store) UpdateScheduleStatus(ctx context.Context, ref apis.RunRef, st apis.ScheduleStatus) error {
	_, err := s.applySchedule(ctx, cmdUpdateScheduleStatus, updateScheduleStatusCmd{Name: ref.Name, UID: ref.UID, PreconditionRV: ref.ResourceVersion, Status: st})
	return err
}

// AppendScheduleEvents adds events to their Schedules' bounded histories
// in one entry (Skipped, Missed, …); events of Schedules that do not exist
// are dropped.
func (s *Store) AppendScheduleEvents(ctx context.Context, events []apis.ScheduleEventRecord) error {
	_, err := s.applySchedule(ctx, cmdAppendScheduleEvents, appendScheduleEventsCmd{Events: events})
	return err
}

// ReleaseRuns removes the owner reference with ownerUID from the named
// Runs (a Schedule deleted with propagationPolicy=Orphan); the Runs keep
// their labels. Runs gone or not owned by it are skipped.
func (s *Store) ReleaseRuns(ctx context.Context, ownerUID string, names []string) error {
	_, err := s.applySchedule(ctx, cmdReleaseRuns, releaseRunsCmd{OwnerUID: ownerUID, Names: names})
	return err
}

// GetSchedule reads a Schedule from the local applied state.
// Errors: apis.ErrNotFound.
func (s *Store) GetSchedule(ctx context.Context, name string) (*apis.Schedule, error) {
	return s.fsm.getSchedule(name)
}

// GetScheduleConsistent is a linearizable GetSchedule (leader only).
func (s *Store) GetScheduleConsistent(ctx context.Context, name string) (*apis.Schedule, error) {
	if err := s.LinearizableRead(ctx); err != nil {
		return nil, err
	}
	return s.fsm.getSchedule(name)
}

// ScheduleListOptions selects and pages a list of Schedules.
type ScheduleListOptions struct {
	// Match selects Schedules; nil selects all.
	Match func(*apis.Schedule) bool
	// Limit is the page size; 0 means no limit.
	Limit int
	// Continue is the previous page's ListMeta.Continue.
	Continue string
}

// ListSchedules pages through the local applied state in name order; its
// ListMeta.ResourceVersion is the applied index of the read.
func (s *Store) ListSchedules(ctx context.Context, opts ScheduleListOptions) (*apis.ScheduleList, error) {
	return s.fsm.listSchedules(opts)
}

// EachSchedule calls fn with every Schedule in name order from one read
// of the local applied state and returns that read's applied index (a
// WatchSchedules from it misses nothing).
func (s *Store) EachSchedule(ctx context.Context, fn func(*apis.Schedule) error) (uint64, error) {
	return s.fsm.scanSchedules(nil, func(sc *apis.Schedule) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		return true, fn(sc)
	})
}

// ScheduleEvents returns a Schedule's bounded event history, oldest first.
func (s *Store) ScheduleEvents(name string) ([]apis.RunEvent, error) {
	return s.fsm.scheduleEvents(name)
}

// WatchSchedules starts a pull-based watch of the Schedules of this
// node's applied state. Errors: apis.ErrGone when opts.ResourceVersion is
// older than the kept history, ErrClosed.
func (s *Store) WatchSchedules(opts ScheduleFeedOptions) (*ScheduleFeed, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	return s.fsm.schedHub.feed(s.fsm, opts)
}

func decodeSchedule(b []byte) (*apis.Schedule, error) {
	var s apis.Schedule
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode schedule: %w", err)
	}
	return &s, nil
}

func (f *fsm) getSchedule(name string) (*apis.Schedule, error) {
	var s *apis.Schedule
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSchedules).Get([]byte(name))
		if b == nil {
			return scheduleNotFound(name)
		}
		var err error
		s, err = decodeSchedule(b)
		return err
	})
	return s, err
}

func (f *fsm) scanSchedules(after []byte, fn func(*apis.Schedule) (bool, error)) (uint64, error) {
	return scanBucket(f, bucketSchedules, after, decodeSchedule, fn)
}

func (f *fsm) listSchedules(opts ScheduleListOptions) (*apis.ScheduleList, error) {
	items, next, idx, err := listPage(f, bucketSchedules, opts.Continue, opts.Limit, opts.Match, decodeSchedule,
		func(sc *apis.Schedule) string { return sc.Metadata.Name })
	if err != nil {
		return nil, err
	}
	return &apis.ScheduleList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindScheduleList},
		Metadata: apis.ListMeta{ResourceVersion: strconv.FormatUint(idx, 10), Continue: next},
		Items:    items,
	}, nil
}

func (f *fsm) scheduleEvents(name string) ([]apis.RunEvent, error) {
	var list []apis.RunEvent
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketScheduleEvents).Get([]byte(name))
		if b == nil {
			return nil
		}
		return json.Unmarshal(b, &list)
	})
	if err != nil {
		return nil, fmt.Errorf("events of schedule %q: %w", name, err)
	}
	return list, nil
}
