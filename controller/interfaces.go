package controller

import (
	"context"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
)

// Store is the replicated Run store as the controller uses it. Reads are
// served from the local node's applied state; writes go through Raft and
// fail with apis.ErrNotLeader when the node is not the leader.
// controller/storetest is its contract, run against the raftstore-backed
// store and the tests' fake alike.
type Store interface {
	// GetRun returns a copy of the named Run, or an error matching
	// apis.ErrNotFound.
	GetRun(ctx context.Context, name string) (*apis.Run, error)
	// EachRun calls fn with every Run, all from one read, and returns the
	// applied index that read reflects: a WatchRuns from it misses no
	// change. fn may keep the Run it is given. The controller keeps a few
	// fields of each, never the whole list, so a store should not
	// materialise one either. An error from fn stops the scan and is
	// returned.
	EachRun(ctx context.Context, fn func(*apis.Run) error) (uint64, error)
	// WatchRuns streams every change after fromIndex. An index older than
	// the store keeps history for gives an error matching apis.ErrGone.
	WatchRuns(ctx context.Context, fromIndex uint64) (RunWatcher, error)
	// UpdateStatuses writes several Runs' statuses in one Raft entry. The
	// returned slice has one entry per update: nil, or an error matching
	// apis.ErrNotFound (the Run, or the one with that UID, is gone) or
	// apis.ErrConflict (another resourceVersion, when the apis.RunRef names
	// one). A status equal to the stored one changes nothing (no new
	// resourceVersion, no watch event). The error is set when the batch as
	// a whole was not committed (apis.ErrNotLeader, apis.ErrUnavailable).
	UpdateStatuses(ctx context.Context, updates []apis.StatusUpdate) ([]error, error)
	// RecordAttempt commits a to-be-launched attempt of the Run run names.
	// It fails with an error matching apis.ErrAttemptLive (and
	// apis.ErrConflict) if the Run has a non-terminal attempt,
	// apis.ErrConflict while the Run is being deleted, and apis.ErrNotFound
	// if the Run (with run's UID) is gone.
	RecordAttempt(ctx context.Context, run apis.RunRef, a apis.Attempt) error
	// LiveAttempts returns every recorded attempt not yet marked terminal.
	LiveAttempts(ctx context.Context) ([]apis.Attempt, error)
	// AppendEvents appends to Runs' bounded event lists, in one Raft entry.
	// Events of Runs that are gone are dropped.
	AppendEvents(ctx context.Context, events []apis.EventRecord) error
	// DeleteRuns removes Runs (and their attempts and events); a Run that
	// is gone, whose UID differs, or whose resourceVersion differs from a
	// apis.RunRef's non-empty one is skipped.
	DeleteRuns(ctx context.Context, runs []apis.RunRef) error
	// Barrier waits until every entry committed before the call is applied
	// locally, so that reads reflect all of the previous leader's writes.
	Barrier(ctx context.Context) error
	// IsLeader reports whether this node is the Raft leader.
	IsLeader() bool
	// LeaderCh delivers leadership changes (true: gained). It is lossy,
	// like raft.LeaderCh, so the controller re-checks IsLeader.
	LeaderCh() <-chan bool

	ScheduleStore
}

// ScheduleStore is the Schedule half of the store, as the scheduler uses
// it. Reads are of the local node's applied state, writes go through Raft.
type ScheduleStore interface {
	// GetSchedule returns a copy of the named Schedule, or an error
	// matching apis.ErrNotFound.
	GetSchedule(ctx context.Context, name string) (*apis.Schedule, error)
	// EachSchedule calls fn with every Schedule, all from one read, and
	// returns the applied index that read reflects: a WatchSchedules from
	// it misses no change. An error from fn stops the scan.
	EachSchedule(ctx context.Context, fn func(*apis.Schedule) error) (uint64, error)
	// WatchSchedules streams every Schedule change after fromIndex; an
	// index older than the kept history gives an error matching
	// apis.ErrGone.
	WatchSchedules(ctx context.Context, fromIndex uint64) (ScheduleWatcher, error)
	// FireSchedules commits firings, each atomically: its Runs, the
	// Schedule's new status.lastScheduleTime and missedFirings, the
	// cancellation (spec.cancel) of the Runs it replaces and its events,
	// many firings sharing one Raft entry where the cluster allows. It
	// returns one error per firing, and one firing's refusal commits
	// nothing of it and leaves the others alone: apis.ErrConflict when
	// PreviousScheduleTime is not the stored lastScheduleTime (another
	// leader fired), apis.ErrNotFound when the Schedule (with that UID)
	// is gone, apis.ErrAlreadyExists when a Run of that name exists,
	// apis.ErrInvalid when a Run is refused; any other error (not leader,
	// leadership lost) leaves the firing not committed or not known to be.
	FireSchedules(ctx context.Context, firings []apis.Firing) []error
	// UpdateScheduleStatus writes status.nextScheduleTime,
	// lastSuccessfulTime, active and message of the Schedule ref names
	// (its UID a precondition); lastScheduleTime and missedFirings are
	// FireSchedules' alone. A status equal to the stored one is no write.
	UpdateScheduleStatus(ctx context.Context, ref apis.RunRef, st apis.ScheduleStatus) error
}

// ScheduleWatcher is a running watch of Schedules.
type ScheduleWatcher interface {
	// Events delivers changes; it is closed when the watch ends, after
	// which Err says why.
	Events() <-chan apis.WatchEvent
	Err() error
	// Stop ends the watch and closes Events.
	Stop()
}

// RunWatcher is a running watch of Runs.
type RunWatcher interface {
	// Events delivers changes; it is closed (by the store) when the watch
	// ends, after which Err says why.
	Events() <-chan apis.WatchEvent
	// Err is nil while the watch runs or after Stop.
	Err() error
	// Stop ends the watch and closes Events.
	Stop()
}

// Scheduler is a Mesos v1 scheduler subscription as the controller uses it.
// Every call returns an error when it was not accepted by the master (for
// example because the subscription is down); calls are asynchronous in
// Mesos and their outcome arrives as events.
type Scheduler interface {
	// Run subscribes with the stored FrameworkID, re-subscribes after any
	// disconnection, and delivers events to h from one goroutine until ctx
	// ends.
	Run(ctx context.Context, h EventHandler) error
	// Accept launches tasks on one offer; resources left over are declined
	// with a filter of refuse.
	Accept(ctx context.Context, offerID mesos.OfferID, tasks []mesos.TaskInfo, refuse time.Duration) error
	// Decline returns offers unused, not to be re-offered for refuse.
	Decline(ctx context.Context, offerIDs []mesos.OfferID, refuse time.Duration) error
	// Revive clears offer filters and resumes offers.
	Revive(ctx context.Context) error
	// Suppress stops offers until Revive or the next subscription.
	Suppress(ctx context.Context) error
	// Kill kills a task; agentID may be empty.
	Kill(ctx context.Context, taskID, agentID string) error
	// Reconcile asks for the state of tasks; none means implicit.
	Reconcile(ctx context.Context, tasks []ReconcileTask) error
	// Acknowledge acknowledges a status update that carries a UUID.
	Acknowledge(ctx context.Context, status mesos.TaskStatus) error
}

// ReconcileTask is one task of an explicit reconciliation.
type ReconcileTask struct {
	TaskID  string
	AgentID string
}

// EventHandler receives a subscription's events, from one goroutine, each
// with the subscription's context: work an event starts ends when the
// subscription does. The controller's implementation never blocks for
// long.
type EventHandler interface {
	// Subscribed: a (re)subscription succeeded; offers from before are gone.
	Subscribed(ctx context.Context, frameworkID string)
	// Offers: new resource offers.
	Offers(ctx context.Context, offers []mesos.Offer)
	// Rescind: an outstanding offer is no longer valid.
	Rescind(ctx context.Context, offerID mesos.OfferID)
	// Update: a task status update, to be acknowledged through
	// Scheduler.Acknowledge once handled.
	Update(ctx context.Context, status mesos.TaskStatus)
	// Failure: an agent was lost (task updates follow separately).
	Failure(ctx context.Context, agentID string)
	// Disconnected: the subscription ended; outstanding offers are void.
	Disconnected(ctx context.Context, err error)
}

// TaskBuilder builds the Mesos TaskInfo of one attempt of run on offer,
// using hostPorts (one per port mapping, taken from the offer). It is pure;
// production passes the mesos package's builder.
type TaskBuilder func(run *apis.Run, taskID string, offer *mesos.Offer, hostPorts []uint32) (mesos.TaskInfo, error)
