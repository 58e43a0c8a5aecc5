package apis

import (
	"errors"
	"time"
)

// The store contract's shared vocabulary. The replicated store (raftstore)
// and its consumers (controller, server) each declare their own interfaces,
// but the values that cross them — which Run a write is for, a status
// write, an event, and the errors callers branch on — are defined once,
// here, so that nothing is translated, and nothing can be dropped, between
// the store and the packages that use it.

// Sentinel errors of the replicated store, shared by every package that
// serves or consumes it.
var (
	// ErrNotLeader: a write or linearizable read reached a node that is not
	// the Raft leader (or a controller that is not running a leader term).
	// raftstore's *NotLeaderError matches it and names the leader; the HTTP
	// layer forwards such requests to the leader or answers 503.
	ErrNotLeader = errors.New("not the leader")
	// ErrUnavailable: the store cannot serve right now — it is closing, or
	// it lost leadership while a write was being committed, so the write's
	// outcome is unknown (503, not retried by forwarding).
	ErrUnavailable = errors.New("store unavailable")
	// ErrAttemptLive: an attempt of the Run that is not terminal is already
	// recorded, so no other may be recorded (and launched). Errors matching
	// it also match ErrConflict.
	ErrAttemptLive = errors.New("a live attempt is already recorded")
)

// RunRef names one incarnation of a Run: UID tells a Run from an earlier
// one of the same name that was deleted. Writes that take a RunRef treat a
// non-empty UID (and ResourceVersion, where the write says so) as a
// precondition.
type RunRef struct {
	Name string
	// UID, when set, must be the Run's: a write meant for a Run that was
	// deleted and re-created under the same name fails with ErrNotFound.
	UID string
	// ResourceVersion, when set, must be the Run's current one, else the
	// write fails with ErrConflict: the writer decided on a version it read
	// earlier (garbage collection, an optimistic status write).
	ResourceVersion string
}

// StatusUpdate replaces one Run's status, and nothing else of it. When
// FinishTaskID is set the attempt with that task ID is marked terminal in
// the same write, so status and attempt never disagree about whether a
// task is live; an attempt is also marked terminal when Status.Phase is
// terminal and Status.TaskID names it.
//
// Attempt, when set, is recorded in the same write before the status, under
// the rules of RecordAttempt (Attempt.Run is set from Run.Name): a launch's
// attempt and the status pointing at it commit as one. When the attempt is
// refused (ErrAttemptLive, ErrConflict, ErrNotFound), so is the status.
type StatusUpdate struct {
	Run          RunRef
	Status       RunStatus
	FinishTaskID string
	Attempt      *Attempt
}

// EventRecord is one event of one Run, as the controller appends them to a
// Run's bounded history. Its JSON form is part of raftstore's log format:
// the field names must not change.
type EventRecord struct {
	Run   string   `json:"run"`
	Event RunEvent `json:"event"`
}

// Firing is one firing of a Schedule as the controller commits it: the
// Runs it creates and the Schedule's new status.lastScheduleTime go into
// one Raft entry, so that a new leader neither repeats nor loses a firing.
// The store applies all of it or nothing.
type Firing struct {
	// Schedule names the Schedule; a non-empty UID is a precondition
	// (ErrNotFound when the Schedule was deleted and re-created).
	Schedule RunRef
	// PreviousScheduleTime must equal the stored status.lastScheduleTime
	// (nil: never fired), else the firing fails with ErrConflict: another
	// leader committed this or a later firing already.
	PreviousScheduleTime *time.Time
	// ScheduleTime becomes status.lastScheduleTime.
	ScheduleTime time.Time
	// MissedFirings is added to status.missedFirings.
	MissedFirings int64
	// Runs are created, each as a create of its own would be; a name that
	// exists fails the whole firing with ErrAlreadyExists.
	Runs []Run
	// Replace lists live Runs cancelled in the same entry (spec.cancel,
	// reason Replaced): concurrencyPolicy Replace.
	Replace []RunRef
	// Events are appended to the Schedule's event history in the same
	// entry (Fired, Replaced, Missed).
	Events []RunEvent
}
