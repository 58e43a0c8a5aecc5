package raftstore

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// Buckets of the Schedule kind (store level 2).
var (
	bucketSchedules      = []byte("schedules")       // name → JSON apis.Schedule
	bucketScheduleEvents = []byte("schedule_events") // name → JSON []apis.RunEvent, bounded
)

// maxEventsPerSchedule bounds a Schedule's event history.
const maxEventsPerSchedule = 50

func scheduleNotFound(name string) error {
	return fmt.Errorf("schedule %q: %w", name, apis.ErrNotFound)
}

func (a *applier) getSchedule(name string) *apis.Schedule {
	var s apis.Schedule
	if !a.getJSON(bucketSchedules, []byte(name), &s) {
		return nil
	}
	return &s
}

func (a *applier) putSchedule(s *apis.Schedule) {
	s.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	a.putJSON(bucketSchedules, []byte(s.Metadata.Name), s)
}

func (a *applier) emitSchedule(t apis.EventType, s *apis.Schedule) {
	*a.schedEvents = append(*a.schedEvents, scheduleEvent{index: a.index, typ: t, schedule: s})
}

// emitScheduleModified records a change of prev into next for watches,
// with prev when the change replaced its labels (what selectors see of a
// Schedule besides its name): a watch with a selector tells a Schedule
// that starts or stops matching as ADDED or DELETED.
func (a *applier) emitScheduleModified(prev, next *apis.Schedule) {
	ev := scheduleEvent{index: a.index, typ: apis.Modified, schedule: next}
	if !maps.Equal(prev.Metadata.Labels, next.Metadata.Labels) {
		ev.prior = prev
	}
	*a.schedEvents = append(*a.schedEvents, ev)
}

// checkScheduleRef enforces a UID and a resourceVersion precondition. A
// Schedule of the name with another UID is a later incarnation: the one
// meant is gone (ErrNotFound).
func checkScheduleRef(s *apis.Schedule, uid, rv string) error {
	if uid != "" && uid != s.Metadata.UID {
		return fmt.Errorf("schedule %q with uid %s: %w (the schedule of that name now has uid %s)",
			s.Metadata.Name, uid, apis.ErrNotFound, s.Metadata.UID)
	}
	if rv != "" && rv != s.Metadata.ResourceVersion {
		return fmt.Errorf("schedule %q: resourceVersion %s is not the current %s: %w",
			s.Metadata.Name, rv, s.Metadata.ResourceVersion, apis.ErrConflict)
	}
	return nil
}

func (a *applier) applyCreateSchedule(c *createScheduleCmd) result {
	s := newStoredSchedule(c)
	name := s.Metadata.Name
	if a.getSchedule(name) != nil {
		return result{Err: fmt.Errorf("schedule %q: %w", name, apis.ErrAlreadyExists)}
	}
	a.delIfPresent(bucketScheduleEvents, []byte(name)) // an earlier Schedule's
	a.putSchedule(&s)
	a.emitSchedule(apis.Added, &s)
	return result{Schedule: &s}
}

func (a *applier) applyUpdateSchedule(c *updateScheduleCmd) result {
	req := &c.Schedule
	cur := a.getSchedule(req.Metadata.Name)
	if cur == nil {
		return result{Err: scheduleNotFound(req.Metadata.Name)}
	}
	if req.Metadata.UID != "" && req.Metadata.UID != cur.Metadata.UID {
		return result{Err: fmt.Errorf("schedule %q: uid %s is not the current %s: %w",
			cur.Metadata.Name, req.Metadata.UID, cur.Metadata.UID, apis.ErrConflict)}
	}
	if err := checkScheduleRef(cur, "", req.Metadata.ResourceVersion); err != nil {
		return result{Err: err}
	}
	next, changed := mergeScheduleUpdate(cur, req)
	if !changed {
		return result{Schedule: cur}
	}
	if err := validSchedule(&next); err != nil {
		return result{Err: &invalidEntry{err}}
	}
	a.putSchedule(&next)
	a.emitScheduleModified(cur, &next)
	return result{Schedule: &next}
}

func (a *applier) applyDeleteSchedule(c *deleteScheduleCmd) result {
	cur := a.getSchedule(c.Name)
	if cur == nil {
		return result{Err: scheduleNotFound(c.Name)}
	}
	if c.UID != "" && c.UID != cur.Metadata.UID {
		return result{Err: fmt.Errorf("schedule %q: uid %s is not the current %s: %w",
			c.Name, c.UID, cur.Metadata.UID, apis.ErrConflict)}
	}
	if err := checkScheduleRef(cur, "", c.PreconditionRV); err != nil {
		return result{Err: err}
	}
	a.del(bucketSchedules, []byte(c.Name))
	a.del(bucketScheduleEvents, []byte(c.Name))
	cur.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	a.emitSchedule(apis.Deleted, cur)
	return result{Schedule: cur, Deleted: true}
}

// applyFireSchedule commits one firing: every precondition is checked
// before anything is written, so a firing is applied whole or not at all.
//
// markReplaced (fire_schedules only, store level 3) records the reason on
// each Run Replace cancels (apis.AnnotationCancelReason); fire_schedule
// does not, as the binaries before level 3 that also apply it do not.
func (a *applier) applyFireSchedule(c *fireScheduleCmd, markReplaced bool) result {
	cur := a.getSchedule(c.Schedule)
	if cur == nil {
		return result{Err: scheduleNotFound(c.Schedule)}
	}
	if err := checkScheduleRef(cur, c.UID, ""); err != nil {
		return result{Err: err}
	}
	if !c.Manual && !sameInstant(cur.Status.LastScheduleTime, c.PreviousScheduleTime) {
		return result{Err: fmt.Errorf("schedule %q: lastScheduleTime is %s, not %s: another firing was committed: %w",
			c.Schedule, timeString(cur.Status.LastScheduleTime), timeString(c.PreviousScheduleTime), apis.ErrConflict)}
	}
	runs := make([]apis.Run, len(c.Runs))
	for i := range c.Runs {
		runs[i] = newFiredRun(&c.Runs[i])
		name := runs[i].Metadata.Name
		if owner := apis.ControllerOf(&runs[i].Metadata); owner.UID != cur.Metadata.UID {
			return result{Err: fmt.Errorf("fire schedule %q: run %q is owned by uid %s, the schedule has uid %s: %w",
				c.Schedule, name, owner.UID, cur.Metadata.UID, apis.ErrConflict)}
		}
		if a.getRun(name) != nil {
			return result{Err: fmt.Errorf("fire schedule %q: run %q: %w", c.Schedule, name, apis.ErrAlreadyExists)}
		}
		// A template's spec.dependsOn is checked as a create's is.
		if err := a.checkCycle(&runs[i]); err != nil {
			return result{Err: err}
		}
	}
	// Replace: cancel the live Runs named (those gone, re-created or
	// already cancelled are left alone).
	for _, ref := range c.Replace {
		run := a.getRun(ref.Name)
		if run == nil || (ref.UID != "" && ref.UID != run.Metadata.UID) || run.Spec.Cancel || run.Status.Phase.Terminal() {
			continue
		}
		next := *run
		next.Spec.Cancel = true
		next.Metadata.Generation++
		if markReplaced {
			next.Metadata.Annotations = maps.Clone(run.Metadata.Annotations)
			if next.Metadata.Annotations == nil {
				next.Metadata.Annotations = map[string]string{}
			}
			next.Metadata.Annotations[apis.AnnotationCancelReason] = apis.ReasonReplaced
		}
		a.emitModified(run, &next, a.putRun(&next))
	}
	for i := range runs {
		run := &runs[i]
		a.delIfPresent(bucketAttempts, []byte(run.Metadata.Name))
		a.delIfPresent(bucketEvents, []byte(run.Metadata.Name))
		a.emit(apis.Added, run, a.putRun(run))
	}
	if len(c.Events) > 0 {
		a.appendScheduleEvents(c.Schedule, c.Events)
	}
	if c.Manual {
		return result{Schedule: cur}
	}
	next := *cur
	t := c.ScheduleTime.UTC()
	next.Status.LastScheduleTime = &t
	next.Status.MissedFirings += c.MissedFirings
	a.putSchedule(&next)
	a.emitScheduleModified(cur, &next)
	return result{Schedule: &next}
}

// applyFireSchedules applies a batch of firings in order, each as
// applyFireSchedule would in an entry of its own, and reports each one's
// outcome in Items. A firing that fails validation is refused (its item
// says why) and the others still apply. Every firing checks all its
// preconditions before it writes, so a refused one writes nothing.
func (a *applier) applyFireSchedules(c *fireSchedulesCmd) result {
	items := make([]result, len(c.Firings))
	for i := range c.Firings {
		f := &c.Firings[i]
		if err := validateFiring(f); err != nil {
			items[i] = result{Err: err}
			continue
		}
		items[i] = a.applyFireSchedule(f, true)
	}
	return result{Items: items}
}

// sameInstant reports whether a and b are both nil or the same instant.
func sameInstant(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func timeString(t *time.Time) string {
	if t == nil {
		return "unset (never fired)"
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *applier) applyUpdateScheduleStatus(c *updateScheduleStatusCmd) result {
	cur := a.getSchedule(c.Name)
	if cur == nil {
		return result{Err: scheduleNotFound(c.Name)}
	}
	if err := checkScheduleRef(cur, c.UID, c.PreconditionRV); err != nil {
		return result{Err: err}
	}
	st := c.Status
	st.LastScheduleTime = cur.Status.LastScheduleTime
	st.MissedFirings = cur.Status.MissedFirings
	if cur.Status.Equal(&st) {
		return result{Schedule: cur}
	}
	next := *cur
	next.Status = st
	if errs := apis.ValidateSchedule(&next); len(errs) > 0 {
		return result{Err: &invalidEntry{&apis.InvalidError{Kind: apis.KindSchedule, Name: c.Name, Errors: errs}}}
	}
	a.putSchedule(&next)
	a.emitScheduleModified(cur, &next)
	return result{Schedule: &next}
}

func (a *applier) applyAppendScheduleEvents(c *appendScheduleEventsCmd) result {
	for _, rec := range c.Events {
		if a.tx.Bucket(bucketSchedules).Get([]byte(rec.Schedule)) == nil {
			continue // events of a Schedule that is gone are dropped
		}
		a.appendScheduleEvents(rec.Schedule, []apis.RunEvent{rec.Event})
	}
	return result{}
}

// appendScheduleEvents adds events to a Schedule's bounded history,
// folding a repeat into the earlier entry's Count as Run events do.
func (a *applier) appendScheduleEvents(name string, events []apis.RunEvent) {
	key := []byte(name)
	var list []apis.RunEvent
	a.getJSON(bucketScheduleEvents, key, &list)
	for _, ev := range events {
		list = foldEvent(list, ev)
	}
	if len(list) > maxEventsPerSchedule {
		list = list[len(list)-maxEventsPerSchedule:]
	}
	a.putJSON(bucketScheduleEvents, key, list)
}

// foldEvent appends ev to list, or folds it into an earlier event of the
// same type, reason and message (moved to the end, counts added).
func foldEvent(list []apis.RunEvent, ev apis.RunEvent) []apis.RunEvent {
	if ev.Count < 1 {
		ev.Count = 1
	}
	for i := len(list) - 1; i >= 0; i-- {
		old := list[i]
		if old.Type == ev.Type && old.Reason == ev.Reason && old.Message == ev.Message {
			ev.Count += old.Count
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	return append(list, ev)
}

// applyReleaseRuns removes the owner reference with OwnerUID from the
// named Runs; Runs gone or not owned by it are skipped.
func (a *applier) applyReleaseRuns(c *releaseRunsCmd) result {
	for _, name := range c.Names {
		run := a.getRun(name)
		if run == nil {
			continue
		}
		refs := slices.DeleteFunc(slices.Clone(run.Metadata.OwnerReferences), func(o apis.OwnerReference) bool { return o.UID == c.OwnerUID })
		if len(refs) == len(run.Metadata.OwnerReferences) {
			continue
		}
		next := *run
		next.Metadata.OwnerReferences = refs
		if len(refs) == 0 {
			next.Metadata.OwnerReferences = nil
		}
		a.emitModified(run, &next, a.putRun(&next))
	}
	return result{}
}
