package client

import (
	"context"
	"net/http"

	"github.com/sprint-project/sprint/apis"
)

// ApplySchedule creates the Schedule or updates its labels, annotations
// and spec (all mutable), or leaves it unchanged; its status is never
// written this way. A metadata.resourceVersion in s is a precondition. A
// Schedule with only metadata.generateName is created anew.
func (c *Client) ApplySchedule(ctx context.Context, s *apis.Schedule, opts ApplyOptions) (*apis.Schedule, ApplyResult, error) {
	return applyObject(ctx, c, scheduleKind, s, opts.DryRun)
}

// CreateSchedule creates a Schedule; a 409 Status when the name exists.
func (c *Client) CreateSchedule(ctx context.Context, s *apis.Schedule) (*apis.Schedule, error) {
	return createObject(ctx, c, scheduleKind, s, false)
}

// GetSchedule reads one Schedule.
func (c *Client) GetSchedule(ctx context.Context, name string) (*apis.Schedule, error) {
	return call[apis.Schedule](ctx, c, request{method: http.MethodGet, path: scheduleKind.objectPath(name)})
}

// ListSchedules reads one page of Schedules (FieldSelector: only
// metadata.name=NAME).
func (c *Client) ListSchedules(ctx context.Context, opts ListOptions) (*apis.ScheduleList, error) {
	return call[apis.ScheduleList](ctx, c, request{method: http.MethodGet, path: "/api/v1/schedules", query: opts.query()})
}

// ScheduleDeleteOptions modify DeleteSchedule.
type ScheduleDeleteOptions struct {
	// Orphan keeps the Schedule's Runs (they lose the owner reference,
	// keep the sprint/schedule label); otherwise they are deleted, live
	// tasks killed first.
	Orphan bool
	// ResourceVersion, when set, is a precondition.
	ResourceVersion string
}

// DeleteSchedule deletes a Schedule and, unless opts.Orphan, its Runs.
// It returns the Schedule as it was.
func (c *Client) DeleteSchedule(ctx context.Context, name string, opts ScheduleDeleteOptions) (*apis.Schedule, error) {
	q := deleteQuery(opts.ResourceVersion)
	if opts.Orphan {
		q.Set("propagationPolicy", "Orphan")
	}
	return call[apis.Schedule](ctx, c, request{method: http.MethodDelete, path: scheduleKind.objectPath(name), query: q})
}

// SuspendSchedule sets spec.suspend (true: fire no more; false: resume).
// It retries when a concurrent write moved the resourceVersion; setting
// it to what it is already is a no-op.
func (c *Client) SuspendSchedule(ctx context.Context, name string, suspend bool) (*apis.Schedule, error) {
	return updateRetrying(ctx, c, scheduleKind, name, func(s *apis.Schedule) bool {
		if s.Spec.Suspend == suspend {
			return false
		}
		s.Spec.Suspend = suspend
		return true
	})
}

// FireSchedule fires a Schedule now, outside its schedule: the server
// creates spec.parallelism Runs from its template (named
// NAME-m<unix seconds>-<i>) without changing its lastScheduleTime, and
// returns them. With dryRun it shows them without creating them.
func (c *Client) FireSchedule(ctx context.Context, name string, dryRun bool) (*apis.RunList, error) {
	return call[apis.RunList](ctx, c, request{method: http.MethodPost, path: scheduleKind.objectPath(name) + "/runs", query: dryRunQuery(dryRun)})
}

// ScheduleEvents reads a Schedule's recent events, oldest first.
func (c *Client) ScheduleEvents(ctx context.Context, name string) ([]apis.RunEvent, error) {
	var out struct {
		Items []apis.RunEvent `json:"items"`
	}
	if _, _, err := c.doJSON(ctx, request{method: http.MethodGet, path: scheduleKind.objectPath(name) + "/events"}, &out); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// ScheduleEvent is one change of a Schedule seen by a ScheduleWatcher.
type ScheduleEvent struct {
	// Type is ADDED, MODIFIED or DELETED, or Synced when asked for.
	Type     apis.EventType
	Schedule *apis.Schedule
}

// ScheduleWatcher is Watcher for Schedules: it reconnects from the last
// resourceVersion it saw and relists after a 410, reporting nothing twice
// and losing nothing.
type ScheduleWatcher struct {
	loop   *watchLoop[apis.Schedule]
	events <-chan ScheduleEvent
}

// WatchSchedules starts a ScheduleWatcher (FieldSelector: only
// metadata.name=NAME).
func (c *Client) WatchSchedules(ctx context.Context, opts WatchOptions) (*ScheduleWatcher, error) {
	loop, events, err := watchKind(ctx, c, scheduleKind, opts, func(typ apis.EventType, s *apis.Schedule) ScheduleEvent {
		return ScheduleEvent{Type: typ, Schedule: s}
	})
	if err != nil {
		return nil, err
	}
	return &ScheduleWatcher{loop: loop, events: events}, nil
}

// Events delivers changes in order; it is closed when the watcher stops.
func (w *ScheduleWatcher) Events() <-chan ScheduleEvent { return w.events }

// Err tells, once Events is closed, why (nil after Stop).
func (w *ScheduleWatcher) Err() error { return w.loop.Err() }

// Stop ends the watch and waits until its connection is closed.
func (w *ScheduleWatcher) Stop() { w.loop.Stop() }
