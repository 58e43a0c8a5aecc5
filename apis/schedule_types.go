package apis

import "time"

// Label and annotation keys the server sets or reads.
const (
	// LabelSchedule is set on every Run a Schedule fires to the Schedule's
	// name, so `-l sprint/schedule=NAME` lists a Schedule's Runs.
	LabelSchedule = "sprint/schedule"
	// LabelNotify set to "false" on a Run or Schedule opts it out of every
	// notification.
	LabelNotify = "sprint/notify"
	// AnnotationOwner names the operational owner of a Run or Schedule (an
	// email address or a team); notification targets may use it.
	AnnotationOwner = "sprint/owner"
	// AnnotationCancelReason is set by the store, in the firing's own
	// entry, on a Run that a concurrencyPolicy Replace firing cancelled
	// (value ReasonReplaced): the kill is reported as Replaced, while a
	// Run cancelled by a user (spec.cancel) is reported as Cancelled.
	// Like CronJob's batch.kubernetes.io/cronjob-scheduled-timestamp,
	// it records what the system did on the object it did it to.
	AnnotationCancelReason = "sprint/cancel-reason"
)

// Concurrency policies of a Schedule, as Kubernetes CronJob names them.
const (
	// ConcurrencyAllow fires even while Runs of earlier firings are live.
	ConcurrencyAllow = "Allow"
	// ConcurrencyForbid skips a firing while a Run of an earlier one is live.
	ConcurrencyForbid = "Forbid"
	// ConcurrencyReplace cancels the live Runs (reason Replaced) and fires.
	ConcurrencyReplace = "Replace"
)

// Schedule fires Runs from a template: on a cron schedule, at an interval
// after the previous batch finished, or when parent Schedules succeeded.
type Schedule struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta     `json:"metadata"`
	Spec     ScheduleSpec   `json:"spec"`
	Status   ScheduleStatus `json:"status,omitempty"`
}

// ScheduleSpec is the desired behaviour of a Schedule. Exactly one of
// Schedule, Interval and DependsOn says when it fires.
type ScheduleSpec struct {
	// Schedule is a cron expression: five fields, or @hourly, @daily,
	// @weekly, @monthly, @yearly, @every <duration>.
	Schedule string `json:"schedule,omitempty" jsonschema:"maxLength=256"`
	// Interval starts the next batch this long after every Run of the
	// previous batch finished (a Go duration such as "60s").
	Interval string `json:"interval,omitempty" jsonschema:"maxLength=64"`
	// TimeZone is an IANA zone name for Schedule; default UTC.
	TimeZone string `json:"timeZone,omitempty" jsonschema:"maxLength=64"`
	// Parallelism is the number of Runs per firing; default 1.
	Parallelism int32 `json:"parallelism,omitempty" jsonschema:"minimum=0,maximum=1000"`
	// ConcurrencyPolicy is Allow (default), Forbid or Replace: whether a
	// firing starts, is skipped, or cancels the live Runs while Runs of
	// earlier firings are live. It has no effect with Interval, whose
	// batches never overlap (the next waits for every Run of the previous
	// to finish: what Forbid asks, and Replace never finds a live Run).
	ConcurrencyPolicy string `json:"concurrencyPolicy,omitempty" jsonschema:"enum=Allow,enum=Forbid,enum=Replace"`
	// StartingDeadlineSeconds: a firing missed by more than this is
	// skipped and counted in status.missedFirings; nil means no deadline.
	// With Interval, a batch not started within this of when it became
	// due (the leader was down, the Schedule suspended) is skipped too:
	// each interval since counts as a missed firing, and the most recent
	// one starts if it is within the deadline.
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty" jsonschema:"minimum=0,maximum=315360000"`
	// Suspend stops firing; live Runs are not touched.
	Suspend bool `json:"suspend,omitempty"`
	// SuccessfulRunsHistoryLimit keeps this many Succeeded Runs (default 3).
	SuccessfulRunsHistoryLimit *int32 `json:"successfulRunsHistoryLimit,omitempty" jsonschema:"minimum=0,maximum=1000"`
	// FailedRunsHistoryLimit keeps this many Failed or Killed Runs (default 1).
	FailedRunsHistoryLimit *int32 `json:"failedRunsHistoryLimit,omitempty" jsonschema:"minimum=0,maximum=1000"`
	// DependsOn lists parent Schedules (Chronos-style): with neither
	// Schedule nor Interval, the Schedule fires whenever every parent has
	// had a successful firing since this one last fired.
	DependsOn []ScheduleDependency `json:"dependsOn,omitempty" jsonschema:"maxItems=64"`
	// RunTemplate is what every fired Run is made of.
	RunTemplate RunTemplate `json:"runTemplate"`
}

// ScheduleDependency names a parent Schedule.
type ScheduleDependency struct {
	Schedule string `json:"schedule"`
}

// RunTemplate is the part of a Run a Schedule copies into every Run it
// fires: labels, annotations and the spec.
type RunTemplate struct {
	Metadata TemplateMeta `json:"metadata,omitempty"`
	Spec     RunSpec      `json:"spec"`
}

// TemplateMeta is the metadata a RunTemplate may carry.
type TemplateMeta struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ScheduleStatus is the observed state of a Schedule, written by the
// controller (lastScheduleTime together with the firing's Runs).
type ScheduleStatus struct {
	LastScheduleTime   *time.Time `json:"lastScheduleTime,omitempty"`
	LastSuccessfulTime *time.Time `json:"lastSuccessfulTime,omitempty"`
	NextScheduleTime   *time.Time `json:"nextScheduleTime,omitempty"`
	// Active names the Runs the Schedule fired that are not terminal
	// (not those created by hand from it, as CronJob's).
	Active []string `json:"active,omitempty"`
	// MissedFirings counts firings skipped (missed past the starting
	// deadline or while the leader was down, beyond the one catch-up).
	MissedFirings int64 `json:"missedFirings,omitempty"`
	// Message says why the Schedule cannot fire, when it cannot.
	Message string `json:"message,omitempty"`
}

// ScheduleList is a page of Schedules.
type ScheduleList struct {
	TypeMeta `json:",inline"`
	Metadata ListMeta   `json:"metadata"`
	Items    []Schedule `json:"items"`
}
