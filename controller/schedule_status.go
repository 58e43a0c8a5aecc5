package controller

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// A Schedule's status as the scheduler keeps it (nextScheduleTime,
// lastSuccessfulTime, active, message: written only when they change,
// batched over statusWindow) and its history limits.

// armFlush starts the status window unless it runs.
func (s *scheduler) armFlush() {
	if !s.flushArmd {
		s.flushArmd = true
		s.flush.Reset(statusWindow)
	}
}

// ownedStatus is the part of a status the scheduler writes.
func ownedStatus(st apis.ScheduleStatus) apis.ScheduleStatus {
	return apis.ScheduleStatus{
		LastSuccessfulTime: copyTime(st.LastSuccessfulTime),
		NextScheduleTime:   copyTime(st.NextScheduleTime),
		Active:             slices.Clone(st.Active),
		Message:            st.Message,
	}
}

func ownedEqual(a, b apis.ScheduleStatus) bool {
	return timePtrEq(a.LastSuccessfulTime, b.LastSuccessfulTime) && timePtrEq(a.NextScheduleTime, b.NextScheduleTime) &&
		slices.Equal(a.Active, b.Active) && a.Message == b.Message
}

func timePtrEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// desiredStatus is the status the scheduler would write for e now.
func (s *scheduler) desiredStatus(e *schedEntry) apis.ScheduleStatus {
	st := ownedStatus(e.obj.Status)
	st.Message = e.message
	for _, m := range []string{e.refused, e.waiting} {
		if st.Message == "" {
			st.Message = m
		}
	}
	st.NextScheduleTime = nil
	if !e.next.IsZero() {
		t := e.next
		st.NextScheduleTime = &t
	}
	var active []*scheduledRun
	for _, r := range s.runsOf(e) {
		switch {
		case !r.phase.Terminal():
			if r.fromName { // fired by the schedule: a manual Run is not (liveRuns)
				active = append(active, r)
			}
		case r.phase == apis.PhaseSucceeded && (st.LastSuccessfulTime == nil || r.finished.After(*st.LastSuccessfulTime)):
			t := r.finished
			st.LastSuccessfulTime = &t
		}
	}
	sort.Slice(active, func(i, j int) bool { return runBefore(active[i], active[j]) })
	st.Active = nil
	for _, r := range active[:min(len(active), maxActiveNames)] {
		st.Active = append(st.Active, r.name)
	}
	return st
}

// runBefore orders a Schedule's Runs oldest firing first.
func runBefore(a, b *scheduledRun) bool {
	ta, tb := a.created, b.created
	if a.fromName {
		ta = time.Unix(a.firing, 0)
	}
	if b.fromName {
		tb = time.Unix(b.firing, 0)
	}
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.name < b.name
}

// flushStatus writes the changed statuses and trims histories, each
// through commits of their own.
func (s *scheduler) flushStatus(ctx context.Context) {
	// Firings first: status writes wait while firings are in flight or
	// due (a burst of firings due at the same second), for a bounded
	// number of windows, so that they do not slow the commits that
	// decide the firing lag.
	if (s.inflight > 0 || len(s.due) > 0 && !s.due[0].due.After(s.clock.Now())) && s.statusDeferred < maxStatusDeferrals {
		s.statusDeferred++
		s.armFlush()
		return
	}
	s.statusDeferred = 0
	for name := range s.dirty {
		if s.statusN >= maxStatusInFlight {
			s.armFlush()
			break
		}
		e := s.entries[name]
		delete(s.dirty, name)
		if e == nil || e.writing {
			if e != nil {
				s.dirty[name] = struct{}{}
				s.armFlush()
			}
			continue
		}
		want := s.desiredStatus(e)
		if ownedEqual(want, e.written) {
			continue
		}
		e.writing = true
		s.statusN++
		ref := apis.RunRef{Name: name, UID: e.obj.Metadata.UID}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			err := s.store.UpdateScheduleStatus(ctx, ref, want)
			select {
			case s.results <- func() { s.statusWritten(name, ref.UID, want, err) }:
			case <-ctx.Done():
			}
		}()
	}
	s.trimHistory(ctx)
}

func (s *scheduler) statusWritten(name, uid string, want apis.ScheduleStatus, err error) {
	s.statusN--
	e := s.entries[name]
	if e == nil || e.obj.Metadata.UID != uid {
		return
	}
	e.writing = false
	switch {
	case err == nil:
		e.written = want
	case errors.Is(err, apis.ErrNotFound):
		// Gone: the watch removes it.
	default:
		s.log.Warn("schedule status write failed; retrying", "schedule", name, "err", err)
		s.dirty[name] = struct{}{}
		s.armFlush()
	}
}

// trimHistory deletes, for the Schedules whose Runs ended, the finished
// Runs beyond successfulRunsHistoryLimit (Succeeded) and
// failedRunsHistoryLimit (Failed or Killed), oldest first, in one
// DeleteRuns entry at a time, each with its UID and resourceVersion as
// preconditions: a Run changed meanwhile is kept until the next look.
func (s *scheduler) trimHistory(ctx context.Context) {
	if s.deleting || len(s.trim) == 0 {
		return
	}
	var refs []apis.RunRef
	var marked []*scheduledRun
	for name := range s.trim {
		if len(refs) >= historyBatch {
			break
		}
		delete(s.trim, name)
		e := s.entries[name]
		if e == nil {
			continue
		}
		for _, r := range s.overHistory(e) {
			refs = append(refs, apis.RunRef{Name: r.name, UID: r.uid, ResourceVersion: r.rv})
			marked = append(marked, r)
		}
	}
	if len(refs) == 0 {
		return
	}
	for _, r := range marked {
		r.deleting = true
	}
	s.deleting = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.store.DeleteRuns(ctx, refs)
		select {
		case s.results <- func() { s.historyDeleted(marked, err) }:
		case <-ctx.Done():
		}
	}()
}

func (s *scheduler) historyDeleted(marked []*scheduledRun, err error) {
	s.deleting = false
	if err == nil {
		s.m.scheduleHistoryDeleted.Add(float64(len(marked)))
		return
	}
	s.log.Warn("deleting runs beyond the history limits failed; retrying", "err", err)
	for _, r := range marked {
		r.deleting = false
	}
	for name, runs := range s.owned {
		for _, r := range marked {
			if runs[r.name] == r {
				s.trim[name] = struct{}{}
			}
		}
	}
	s.armFlush()
}

// overHistory returns the finished Runs of e beyond its history limits.
func (s *scheduler) overHistory(e *schedEntry) []*scheduledRun {
	var ok, failed []*scheduledRun
	for _, r := range s.runsOf(e) {
		if !r.phase.Terminal() || r.deleting || r.uid == "" || s.liveAttempt(r.name) {
			continue
		}
		if r.phase == apis.PhaseSucceeded {
			ok = append(ok, r)
		} else {
			failed = append(failed, r)
		}
	}
	var out []*scheduledRun
	for _, l := range []struct {
		runs  []*scheduledRun
		limit *int32
		def   int
	}{{ok, e.obj.Spec.SuccessfulRunsHistoryLimit, 3}, {failed, e.obj.Spec.FailedRunsHistoryLimit, 1}} {
		limit := l.def
		if l.limit != nil {
			limit = int(*l.limit)
		}
		if len(l.runs) <= limit {
			continue
		}
		// Newest first: by finish time, then firing, then name.
		sort.Slice(l.runs, func(i, j int) bool {
			a, b := l.runs[i], l.runs[j]
			if !a.finished.Equal(b.finished) {
				return a.finished.After(b.finished)
			}
			return runBefore(b, a)
		})
		out = append(out, l.runs[limit:]...)
	}
	return out
}
