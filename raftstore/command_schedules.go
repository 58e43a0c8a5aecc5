package raftstore

import (
	"fmt"
	"maps"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// Schedule commands (types 13–19). They have no ignorableFlag: a node that
// skipped them would lack the Schedules its peers hold. A binary that
// predates them rejects them as unknown_type (a no-op, not a crash), so
// the leader proposes none of them until every member reported a store
// level that knows them (StoreLevel, DESIGN.md "Rolling upgrade").
const (
	cmdCreateSchedule       cmdType = 13
	cmdUpdateSchedule       cmdType = 14
	cmdDeleteSchedule       cmdType = 15
	cmdFireSchedule         cmdType = 16
	cmdUpdateScheduleStatus cmdType = 17
	cmdAppendScheduleEvents cmdType = 18
	cmdReleaseRuns          cmdType = 19
	// cmdFireSchedules carries many firings, each applied as a
	// fire_schedule entry would be, with an outcome of its own (store
	// level 3). No ignorableFlag, for the reason above.
	cmdFireSchedules cmdType = 36
)

// StoreLevel is the store feature level this binary supports; members
// record theirs (Member.StoreLevel) and the leader refuses writes of a
// level until every member supports it.
//
//	1: Runs, attempts, events, members, apply_runs (no level recorded).
//	2: Schedules (command types 13–19, buckets schedules and
//	   schedule_events), Notifiers and their outbox (20–23, buckets
//	   notifiers, outbox, pd_open), an attempt with its status in one
//	   entry (30).
//	3: many Schedules' firings in one entry (fire_schedules, 36).
const StoreLevel = 3

// Levels of the commands that came with level 2: a leader proposes none of
// them while a member's binary predates them.
const (
	levelSchedules      = 2
	levelNotifiers      = 2
	levelStatusAttempts = 2
)

// levelFiringBatch is fire_schedules' level: while a member's binary
// predates it, the leader commits each firing in a fire_schedule entry of
// its own.
const levelFiringBatch = 3

func scheduleCmdName(t cmdType) (string, bool) {
	switch t {
	case cmdCreateSchedule:
		return "create_schedule", true
	case cmdUpdateSchedule:
		return "update_schedule", true
	case cmdDeleteSchedule:
		return "delete_schedule", true
	case cmdFireSchedule:
		return "fire_schedule", true
	case cmdUpdateScheduleStatus:
		return "update_schedule_status", true
	case cmdAppendScheduleEvents:
		return "append_schedule_events", true
	case cmdReleaseRuns:
		return "release_runs", true
	case cmdFireSchedules:
		return "fire_schedules", true
	}
	return "", false
}

func newScheduleCmd(t cmdType) any {
	switch t {
	case cmdCreateSchedule:
		return &createScheduleCmd{}
	case cmdUpdateSchedule:
		return &updateScheduleCmd{}
	case cmdDeleteSchedule:
		return &deleteScheduleCmd{}
	case cmdFireSchedule:
		return &fireScheduleCmd{}
	case cmdUpdateScheduleStatus:
		return &updateScheduleStatusCmd{}
	case cmdAppendScheduleEvents:
		return &appendScheduleEventsCmd{}
	case cmdReleaseRuns:
		return &releaseRunsCmd{}
	case cmdFireSchedules:
		return &fireSchedulesCmd{}
	}
	return nil
}

// createScheduleCmd carries a Schedule whose name, UID and creation time
// the Store chose before Apply.
type createScheduleCmd struct {
	Schedule apis.Schedule `json:"schedule"`
}

// updateScheduleCmd replaces labels, annotations and spec. A non-empty
// resourceVersion or UID in Schedule.Metadata is a precondition.
type updateScheduleCmd struct {
	Schedule apis.Schedule `json:"schedule"`
}

type deleteScheduleCmd struct {
	Name           string `json:"name"`
	UID            string `json:"uid,omitempty"`
	PreconditionRV string `json:"preconditionRV,omitempty"`
}

// fireScheduleCmd is one firing (apis.Firing) as the log carries it. The
// Runs carry UIDs and creation times chosen by the Store. Manual firings
// (a user's "run now") check only the Schedule's UID and leave its status
// alone.
type fireScheduleCmd struct {
	Schedule             string          `json:"schedule"`
	UID                  string          `json:"uid,omitempty"`
	Manual               bool            `json:"manual,omitempty"`
	PreviousScheduleTime *time.Time      `json:"previousScheduleTime,omitempty"`
	ScheduleTime         time.Time       `json:"scheduleTime"`
	MissedFirings        int64           `json:"missedFirings,omitempty"`
	Runs                 []apis.Run      `json:"runs,omitempty"`
	Replace              []runRefEntry   `json:"replace,omitempty"`
	Events               []apis.RunEvent `json:"events,omitempty"`
}

// fireSchedulesCmd is many firings in one entry, applied in order, each
// exactly as a fire_schedule entry of its own: its own preconditions, its
// own outcome (result.Items), one item's refusal leaving the others
// alone. An item that fails validateFiring is refused as such, not the
// entry, so that one bad firing cannot hold back the others.
type fireSchedulesCmd struct {
	Firings []fireScheduleCmd `json:"firings"`
}

// maxBatchFirings bounds the firings of one fire_schedules entry; the
// Store also closes an entry at maxBatchFiringBytes.
const (
	maxBatchFirings     = 256
	maxBatchFiringBytes = 1 << 20
)

// runRefEntry is an apis.RunRef as the log carries it.
type runRefEntry struct {
	Name string `json:"name"`
	UID  string `json:"uid,omitempty"`
}

// updateScheduleStatusCmd writes the controller-observed status fields
// (nextScheduleTime, lastSuccessfulTime, active, message);
// lastScheduleTime and missedFirings belong to fire_schedule.
type updateScheduleStatusCmd struct {
	Name           string              `json:"name"`
	UID            string              `json:"uid,omitempty"`
	PreconditionRV string              `json:"preconditionRV,omitempty"`
	Status         apis.ScheduleStatus `json:"status"`
}

type appendScheduleEventsCmd struct {
	Events []apis.ScheduleEventRecord `json:"events"`
}

// releaseRunsCmd removes the owner reference with OwnerUID from the named
// Runs (a Schedule deleted with propagationPolicy=Orphan), as Kubernetes'
// garbage collector orphans dependents. Labels are kept.
type releaseRunsCmd struct {
	OwnerUID string   `json:"ownerUID"`
	Names    []string `json:"names"`
}

// maxFiringRuns bounds the Runs of one firing entry (spec.parallelism's
// maximum).
const maxFiringRuns = apis.MaxParallelism

// validateScheduleCommand is validateCommand for the Schedule commands.
func validateScheduleCommand(v any) (bool, error) {
	switch c := v.(type) {
	case *createScheduleCmd:
		s := newStoredSchedule(c)
		return true, validSchedule(&s)
	case *updateScheduleCmd:
		if c.Schedule.Metadata.Name == "" {
			return true, fmt.Errorf("update schedule: name is required: %w", apis.ErrBadRequest)
		}
	case *deleteScheduleCmd:
		if c.Name == "" {
			return true, fmt.Errorf("delete schedule: name is required: %w", apis.ErrBadRequest)
		}
	case *fireScheduleCmd:
		return true, validateFiring(c)
	case *fireSchedulesCmd:
		// Each firing is validated when it is applied (applyFireSchedules).
		if len(c.Firings) == 0 || len(c.Firings) > maxBatchFirings {
			return true, fmt.Errorf("fire schedules: %d firings, want 1 to %d: %w", len(c.Firings), maxBatchFirings, apis.ErrBadRequest)
		}
	case *updateScheduleStatusCmd:
		if c.Name == "" {
			return true, fmt.Errorf("schedule status: name is required: %w", apis.ErrBadRequest)
		}
	case *releaseRunsCmd:
		if c.OwnerUID == "" {
			return true, fmt.Errorf("release runs: owner uid is required: %w", apis.ErrBadRequest)
		}
	case *appendScheduleEventsCmd:
	default:
		return false, nil
	}
	return true, nil
}

func validSchedule(s *apis.Schedule) error {
	if errs := apis.ValidateSchedule(s); len(errs) > 0 {
		return &apis.InvalidError{Kind: apis.KindSchedule, Name: s.Metadata.Name, Errors: errs}
	}
	return nil
}

// validateFiring checks a firing's shape and every Run it creates: each
// passes apis.ValidateRun, is labelled sprint/schedule=<schedule> and has
// a controller owner reference to the Schedule.
func validateFiring(c *fireScheduleCmd) error {
	if c.Schedule == "" {
		return fmt.Errorf("fire schedule: name is required: %w", apis.ErrBadRequest)
	}
	if len(c.Runs) > maxFiringRuns {
		return fmt.Errorf("fire schedule %q: %d runs, at most %d: %w", c.Schedule, len(c.Runs), maxFiringRuns, apis.ErrBadRequest)
	}
	if c.MissedFirings < 0 {
		return fmt.Errorf("fire schedule %q: missedFirings must not be negative: %w", c.Schedule, apis.ErrBadRequest)
	}
	seen := make(map[string]bool, len(c.Runs))
	for i := range c.Runs {
		run := newFiredRun(&c.Runs[i])
		name := run.Metadata.Name
		if errs := apis.ValidateRun(&run); len(errs) > 0 {
			return &apis.InvalidError{Kind: apis.KindRun, Name: name, Errors: errs}
		}
		if seen[name] {
			return fmt.Errorf("fire schedule %q: run %q appears twice: %w", c.Schedule, name, apis.ErrBadRequest)
		}
		seen[name] = true
		if run.Metadata.Labels[apis.LabelSchedule] != c.Schedule {
			return fmt.Errorf("fire schedule %q: run %q must have label %s=%s: %w", c.Schedule, name, apis.LabelSchedule, c.Schedule, apis.ErrBadRequest)
		}
		owner := apis.ControllerOf(&run.Metadata)
		if owner == nil || owner.Kind != apis.KindSchedule || owner.Name != c.Schedule {
			return fmt.Errorf("fire schedule %q: run %q must have a controller owner reference to Schedule %s: %w", c.Schedule, name, c.Schedule, apis.ErrBadRequest)
		}
	}
	return nil
}

// newStoredSchedule is the Schedule a create entry stores, but for its
// resourceVersion (the entry's index). Status starts empty.
func newStoredSchedule(c *createScheduleCmd) apis.Schedule {
	s := c.Schedule
	s.APIVersion, s.Kind = apis.APIVersion, apis.KindSchedule
	s.Metadata.Generation = 1
	s.Metadata.DeletionTimestamp = nil
	s.Status = apis.ScheduleStatus{}
	return s
}

// newFiredRun is the Run a firing stores, but for its resourceVersion.
func newFiredRun(r *apis.Run) apis.Run {
	return newStoredRun(&createRunCmd{Run: *r})
}

// mergeScheduleUpdate is the Schedule an update entry makes of cur:
// labels, annotations and spec from req, everything else kept; the
// generation is bumped when the spec changed.
func mergeScheduleUpdate(cur, req *apis.Schedule) (next apis.Schedule, changed bool) {
	specChanged := !cur.Spec.Equal(&req.Spec)
	if !specChanged && maps.Equal(cur.Metadata.Labels, req.Metadata.Labels) &&
		maps.Equal(cur.Metadata.Annotations, req.Metadata.Annotations) {
		return *cur, false
	}
	next = *cur
	next.Metadata.Labels = req.Metadata.Labels
	next.Metadata.Annotations = req.Metadata.Annotations
	next.Spec = req.Spec
	if specChanged {
		next.Metadata.Generation++
	}
	return next, true
}
