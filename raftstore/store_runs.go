package raftstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/sprint-project/sprint/apis"
)

// apply commits one command through Raft and returns the FSM's result,
// with private copies of its Runs. Business rejections come back as the
// result's error.
func (s *Store) apply(ctx context.Context, t cmdType, payload any) (result, error) {
	r, err := s.propose(ctx, t, payload)
	if err != nil {
		return result{}, err
	}
	// The FSM's objects are shared with watchers; the caller gets its own.
	r.Run = r.Run.DeepCopy()
	for i := range r.Items {
		r.Items[i].Run = r.Items[i].Run.DeepCopy()
	}
	return r, r.Err
}

// propose commits one command through Raft and returns the FSM's result
// as it is: its Runs are shared with watchers and must not be modified.
func (s *Store) propose(ctx context.Context, t cmdType, payload any) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("%s: %w", t, err)
	}
	if s.raft == nil {
		return result{}, fmt.Errorf("%s: store not started: %w", t, ErrClosed)
	}
	if !s.IsLeader() {
		return result{}, fmt.Errorf("%s: %w", t, s.notLeader())
	}
	data, err := encodeCommand(t, payload)
	if err != nil {
		return result{}, err
	}
	v, err := checkProposal(data)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", t, err)
	}
	// This node's FSM applies the command as checkProposal decoded it
	// rather than decoding the same bytes again (fsm.proposed).
	key := &data[0]
	s.fsm.proposed.Store(key, v)
	defer s.fsm.proposed.Delete(key)
	f := s.raft.Apply(data, s.timeout(ctx))
	if err := s.wait(ctx, f); err != nil {
		return result{}, s.raftErr(t.String(), err)
	}
	r, ok := f.Response().(result)
	if !ok {
		return result{}, fmt.Errorf("%s: unexpected response %T", t, f.Response())
	}
	return r, nil
}

// checkProposal is the leader's half of "no entry takes a node down": an
// entry is proposed only if it decodes back and passes the checks every
// FSM applies (validateCommand), so no code path can commit what the
// replicas would reject. It returns the decoded command: what every
// replica decodes from data.
func checkProposal(data []byte) (any, error) {
	_, v, err := decodeCommand(data)
	if err != nil {
		return nil, fmt.Errorf("entry does not decode: %w", err)
	}
	if err := validateCommand(v); err != nil {
		return nil, err
	}
	return v, nil
}

// wait waits for a raft future, for ctx, or for the store to close. raft
// never answers some futures that are pending when it shuts down (a
// logFuture still in the buffered apply queue, a verifyFuture), so waiting
// on the future alone can hang forever; the helper goroutine of such a
// future is then left behind, which is bounded by the queue length.
// After ctx or Close the outcome of a write is unknown.
func (s *Store) wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("outcome unknown: %w", ctx.Err())
	case <-s.closed:
		return ErrClosed
	}
}

// InitialMessage is the status message of a Run stored Pending at its
// creation, before the controller has looked at it.
const InitialMessage = "waiting for an offer"

// setInitialStatus makes a Run about to be created, whose status has no
// phase, Pending since now (its creationTimestamp), as a Kubernetes API
// server stores a new Pod Pending: the controller then needs no status
// write (a Raft entry per new Run) before its first attempt. The leader
// sets it in the command, as it sets the uid and creationTimestamp, so
// every replica, of whatever version, stores the same status.
// observedGeneration stays 0: no controller has seen the Run yet.
func setInitialStatus(run *apis.Run, now time.Time) {
	if run.Status.Phase != "" {
		return
	}
	t := now
	run.Status.Phase = apis.PhasePending
	run.Status.LastTransitionTime = &t
	if run.Status.Message == "" {
		run.Status.Message = InitialMessage
	}
}

// generateNameSuffix is Kubernetes' alphabet: no vowels, no look-alikes.
const generateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(generateNameAlphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = generateNameAlphabet[v.Int64()]
	}
	return string(b)
}

// CreateRun stores a new Run, which must pass apis.ValidateRun (call
// apis.SetDefaults first). The store sets uid, creationTimestamp,
// generation 1 and resourceVersion; an empty name is completed from
// metadata.generateName with a random suffix (chosen here, before Raft, so
// every replica stores the same name). A status with a phase is stored as
// given; one without is stored Pending (setInitialStatus).
// Errors: apis.ErrAlreadyExists, apis.ErrBadRequest (no name),
// *apis.InvalidError, *NotLeaderError, ErrLeadershipLost.
func (s *Store) CreateRun(ctx context.Context, run *apis.Run) (*apis.Run, error) {
	for try := 0; ; try++ {
		c := createRunCmd{Run: *run}
		m := &c.Run.Metadata
		if m.Name == "" {
			if m.GenerateName == "" {
				return nil, fmt.Errorf("create run: name or generateName is required: %w", apis.ErrBadRequest)
			}
			m.Name = m.GenerateName + randomSuffix(5)
		}
		now := s.cfg.Now().UTC()
		m.UID = uuid.NewString()
		m.CreationTimestamp = &now
		m.ResourceVersion = ""
		m.DeletionTimestamp = nil
		setInitialStatus(&c.Run, now)
		r, err := s.apply(ctx, cmdCreateRun, c)
		if err != nil {
			if run.Metadata.Name == "" && errors.Is(err, apis.ErrAlreadyExists) && try < 3 {
				continue // a generated name collided; draw again
			}
			return nil, err
		}
		return r.Run, nil
	}
}

// UpdateRun replaces a Run's labels, annotations and spec; status, uid and
// timestamps are kept. A resourceVersion (or uid) in run.Metadata is a
// precondition. The generation is bumped when the spec changes; an
// unchanged Run is returned as stored without a new resourceVersion.
// The resulting Run must pass apis.ValidateRun; immutability of spec
// fields is the caller's validation.
// Errors: apis.ErrNotFound, apis.ErrConflict, *apis.InvalidError,
// *NotLeaderError, ErrLeadershipLost.
func (s *Store) UpdateRun(ctx context.Context, run *apis.Run) (*apis.Run, error) {
	// The FSM validates the Run the update makes of the stored one; check
	// the same against the local state (current on a leader) first.
	if cur, err := s.fsm.getRun(run.Metadata.Name); err == nil {
		if next, changed := mergeUpdate(cur, run); changed {
			if err := validateUpdate(&next); err != nil {
				return nil, fmt.Errorf("%s: %w", cmdUpdateRun, err)
			}
		}
	}
	r, err := s.apply(ctx, cmdUpdateRun, updateRunCmd{Run: *run})
	if err != nil {
		return nil, err
	}
	return r.Run, nil
}

// UpdateStatus replaces a Run's status and nothing else.
// Errors: apis.ErrNotFound, *NotLeaderError, ErrLeadershipLost.
func (s *Store) UpdateStatus(ctx context.Context, name string, st apis.RunStatus) (*apis.Run, error) {
	return s.ApplyStatus(ctx, apis.StatusUpdate{Run: apis.RunRef{Name: name}, Status: st})
}

// ApplyStatus is UpdateStatus with the update's preconditions (u.Run's UID
// and resourceVersion) and attempt finishing. Errors: apis.ErrNotFound
// (also for another UID: the Run meant is gone), apis.ErrConflict,
// *NotLeaderError, ErrLeadershipLost.
func (s *Store) ApplyStatus(ctx context.Context, u apis.StatusUpdate) (*apis.Run, error) {
	r, err := s.apply(ctx, cmdUpdateStatus, updateStatusCmd{Update: newStatusEntry(u)})
	if err != nil {
		return nil, err
	}
	return r.Run, nil
}

// StatusResult is the outcome of one update of BatchUpdateStatus.
type StatusResult struct {
	Run *apis.Run
	Err error
}

// BatchUpdateStatus applies many status updates in one Raft entry (the
// controller's bulk path). An update with an Attempt records it first, as
// RecordAttempt does (at.Run is set from the update's Run), and fails as a
// whole, status included, when the attempt is refused. The error is for
// the batch as a whole (*NotLeaderError, ErrLeadershipLost); each update's
// own rejection is in its StatusResult, whose Run is the FSM's, shared
// with watchers: it must not be modified.
func (s *Store) BatchUpdateStatus(ctx context.Context, updates []apis.StatusUpdate) ([]StatusResult, error) {
	var (
		t       = cmdBatchUpdateStatus
		payload any
	)
	entries := make([]statusEntry, len(updates))
	var attempts []*apis.Attempt
	for i, u := range updates {
		entries[i] = newStatusEntry(u)
		if u.Attempt != nil {
			if attempts == nil {
				attempts = make([]*apis.Attempt, len(updates))
			}
			a := *u.Attempt // as RecordAttempt: of the Run named, launched now by default
			a.Run = u.Run.Name
			if a.LaunchTime.IsZero() {
				a.LaunchTime = s.cfg.Now().UTC()
			}
			attempts[i] = &a
		}
	}
	payload = batchUpdateStatusCmd{Updates: entries}
	if attempts != nil {
		if err := s.checkLevel(levelStatusAttempts, "attempts committed with their status"); err != nil {
			if errors.Is(err, ErrNotUpgraded) {
				// A member's binary predates the entry type (a rolling
				// upgrade is under way): attempts and statuses go in
				// separate entries, as that binary writes them.
				return s.batchUpdateStatusSeparately(ctx, updates, attempts)
			}
			return nil, err
		}
		// Only a batch with attempts needs the newer entry type.
		t = cmdBatchStatusAttempts
		withAttempts := make([]attemptStatusEntry, len(entries))
		for i, e := range entries {
			withAttempts[i] = attemptStatusEntry{statusEntry: e, Attempt: attempts[i]}
		}
		payload = batchStatusAttemptsCmd{Updates: withAttempts}
	}
	r, err := s.propose(ctx, t, payload)
	if err != nil {
		return nil, err
	}
	out := make([]StatusResult, len(r.Items))
	for i, it := range r.Items {
		out[i] = StatusResult{Run: it.Run, Err: it.Err}
	}
	return out, nil
}

// batchUpdateStatusSeparately is BatchUpdateStatus for a cluster that is
// not fully upgraded: each attempt is recorded in its own entry first (an
// update whose attempt is refused gets that error and its status is not
// written), then the statuses go in one batch entry.
func (s *Store) batchUpdateStatusSeparately(ctx context.Context, updates []apis.StatusUpdate, attempts []*apis.Attempt) ([]StatusResult, error) {
	out := make([]StatusResult, len(updates))
	rest := make([]apis.StatusUpdate, 0, len(updates))
	index := make([]int, 0, len(updates))
	for i, u := range updates {
		if attempts[i] != nil {
			err := s.RecordAttempt(ctx, u.Run, *attempts[i])
			if errors.Is(err, apis.ErrNotLeader) || errors.Is(err, apis.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			if err != nil {
				out[i].Err = err
				continue
			}
			u.Attempt = nil
		}
		rest = append(rest, u)
		index = append(index, i)
	}
	if len(rest) == 0 {
		return out, nil
	}
	res, err := s.BatchUpdateStatus(ctx, rest)
	if err != nil {
		return nil, err
	}
	for j, r := range res {
		out[index[j]] = r
	}
	return out, nil
}

// RequestDelete deletes a Run at once when it has no live attempt (never
// launched, or its phase is terminal) and reports deleted=true; otherwise it
// sets deletionTimestamp (once) and returns the Run, for the controller to
// kill the task and then DeleteRun. preconditionRV, when set, must match.
// Errors: apis.ErrNotFound, apis.ErrConflict, *NotLeaderError, ErrLeadershipLost.
func (s *Store) RequestDelete(ctx context.Context, name, preconditionRV string) (run *apis.Run, deleted bool, err error) {
	r, err := s.apply(ctx, cmdRequestDelete, requestDeleteCmd{Name: name, PreconditionRV: preconditionRV, Now: s.cfg.Now().UTC()})
	if err != nil {
		return nil, false, err
	}
	return r.Run, r.Deleted, nil
}

// DeleteRun removes a Run with its attempts and events. A non-empty uid is
// a precondition (the controller deletes the Run it looked at, not a
// re-created one of the same name).
// Errors: apis.ErrNotFound, apis.ErrConflict, *NotLeaderError, ErrLeadershipLost.
func (s *Store) DeleteRun(ctx context.Context, name, uid string) error {
	_, err := s.apply(ctx, cmdDeleteRun, deleteRunCmd{Name: name, UID: uid})
	return err
}

// DeleteRuns deletes Runs, concurrently so that Raft batches the entries
// (garbage collection's paced batches). A Run already gone, re-created
// (another UID) or changed (another resourceVersion, when the RunRef names
// one) is skipped: the caller decided on a version it read earlier and
// looks again next time. The error is the first other failure
// (*NotLeaderError, ErrLeadershipLost, ctx).
func (s *Store) DeleteRuns(ctx context.Context, runs []apis.RunRef) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 32)
	)
	for _, ref := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := s.apply(ctx, cmdDeleteRun, deleteRunCmd{Name: ref.Name, UID: ref.UID, PreconditionRV: ref.ResourceVersion})
			if err == nil || errors.Is(err, apis.ErrNotFound) || errors.Is(err, apis.ErrConflict) {
				return
			}
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("delete run %s: %w", ref.Name, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return first
}

// RecordAttempt records a launch attempt of the Run run names before the
// task is launched (at.Run is set from it). A non-empty run.UID must be
// the Run's: an attempt meant for a Run that was deleted and re-created
// under the same name fails with apis.ErrNotFound. LaunchTime defaults to
// now. Errors: apis.ErrNotFound; apis.ErrAttemptLive (also matching
// apis.ErrConflict) while another attempt is not terminal;
// apis.ErrConflict while the Run is being deleted; apis.ErrAlreadyExists
// for a task ID recorded before; *NotLeaderError, ErrLeadershipLost.
func (s *Store) RecordAttempt(ctx context.Context, run apis.RunRef, at apis.Attempt) error {
	at.Run = run.Name
	if at.LaunchTime.IsZero() {
		at.LaunchTime = s.cfg.Now().UTC()
	}
	_, err := s.apply(ctx, cmdRecordAttempt, recordAttemptCmd{Attempt: at, RunUID: run.UID})
	return err
}

// AppendEvents adds events to their Runs' bounded histories in one entry.
// Events of Runs that do not exist are dropped.
func (s *Store) AppendEvents(ctx context.Context, events []apis.EventRecord) error {
	_, err := s.apply(ctx, cmdAppendEvents, appendEventsCmd{Events: events})
	return err
}

// SetFrameworkID records the Mesos FrameworkID.
func (s *Store) SetFrameworkID(ctx context.Context, id string) error {
	_, err := s.apply(ctx, cmdSetFrameworkID, setFrameworkIDCmd{ID: id})
	return err
}

// FrameworkID returns the recorded Mesos FrameworkID, "" if none, from the
// local applied state. With SetFrameworkID it is the mesos package's
// FrameworkIDStore, so every leader subscribes with the same FrameworkID.
func (s *Store) FrameworkID(context.Context) (string, error) { return s.fsm.frameworkID() }

// GetRun reads a Run from the local applied state (possibly stale on a
// follower). Errors: apis.ErrNotFound.
func (s *Store) GetRun(ctx context.Context, name string) (*apis.Run, error) {
	return s.fsm.getRun(name)
}

// GetRunConsistent is a linearizable GetRun (leader only).
// Errors: apis.ErrNotFound, *NotLeaderError, ErrLeadershipLost.
func (s *Store) GetRunConsistent(ctx context.Context, name string) (*apis.Run, error) {
	if err := s.LinearizableRead(ctx); err != nil {
		return nil, err
	}
	return s.fsm.getRun(name)
}

// ListRuns pages through the local applied state in name order. Its
// ListMeta.ResourceVersion is the applied index the page was read at.
// Errors: apis.ErrBadRequest (bad continue token).
func (s *Store) ListRuns(ctx context.Context, opts ListOptions) (*apis.RunList, error) {
	return s.fsm.listRuns(opts)
}

// EachRun calls fn with every Run in name order, all from one read of the
// local applied state, and returns the applied index that read reflects: a
// Watch from it misses nothing. Unlike ListRuns it decodes one Run at a
// time, so a caller that keeps a few fields of each (the controller, at
// the start of a leader term and in each GC pass) reads 100,000 Runs
// without holding them all. An error from fn, or ctx ending, stops the
// scan and is returned.
func (s *Store) EachRun(ctx context.Context, fn func(*apis.Run) error) (uint64, error) {
	n := 0
	return s.fsm.scanRuns(nil, func(r *apis.Run) (bool, error) {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err := fn(r); err != nil {
			return false, err
		}
		return true, nil
	})
}

// Watch streams changes after resourceVersion fromRV (0: from now) of the
// Runs match selects (nil: all), from this node's applied state; it ends
// when ctx does or Stop is called. Errors: apis.ErrGone when fromRV is older
// than the kept history.
func (s *Store) Watch(ctx context.Context, fromRV uint64, match func(*apis.Run) bool) (*Watcher, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	return s.fsm.watch(ctx, fromRV, match)
}

// Feed starts a pull-based watch of this node's applied state (the HTTP
// API's watches): see FeedOptions and Feed. Errors: apis.ErrGone when
// opts.ResourceVersion is older than the kept history, ErrClosed.
func (s *Store) Feed(opts FeedOptions) (*Feed, error) {
	select {
	case <-s.closed:
		return nil, ErrClosed
	default:
	}
	return s.fsm.hub.feed(opts, s.fsm.chunkReader(listChunkRuns, listChunkBytes))
}

// Attempts returns a Run's recorded attempts, oldest first.
func (s *Store) Attempts(name string) ([]apis.Attempt, error) { return s.fsm.attempts(name) }

// ListLiveAttempts returns every attempt not yet known terminal, for the
// controller to reconcile with Mesos.
func (s *Store) ListLiveAttempts() ([]apis.Attempt, error) { return s.fsm.liveAttempts() }

// Events returns a Run's bounded event history, oldest first.
func (s *Store) Events(name string) ([]apis.RunEvent, error) { return s.fsm.events(name) }

// Members returns the recorded member addresses by node ID.
func (s *Store) Members() (map[string]Member, error) { return s.fsm.members() }
