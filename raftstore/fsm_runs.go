package raftstore

import (
	"fmt"
	"strconv"

	"github.com/sprint-project/sprint/apis"
)

// The apply* handlers check every precondition before writing, so a
// rejected command leaves no partial write behind in the shared batch
// transaction.

// getRun reads the Run as this entry finds it: as an earlier entry of the
// batch left it, else as the run cache holds it (the last committed state),
// else decoded from the file. Every source gives the same Run (the cache
// holds what was stored, decoded from the same entries), and the handler
// gets its own copy to change.
func (a *applier) getRun(name string) *apis.Run {
	if r, ok := a.written[name]; ok {
		if r != nil {
			return r.DeepCopy()
		}
	} else if r, ok := a.cache.get(name); ok {
		return r
	}
	var run apis.Run
	if !a.getJSON(bucketRuns, []byte(name), &run) {
		return nil
	}
	return &run
}

// putRun stamps the entry's index as the Run's resourceVersion, stores it
// and returns the stored JSON (storeRun).
func (a *applier) putRun(run *apis.Run) []byte { return a.storeRun(run) }

// deleteRun removes a Run with its attempts and events and emits DELETED
// with the delete's resourceVersion.
func (a *applier) deleteRun(run *apis.Run) {
	name := []byte(run.Metadata.Name)
	a.del(bucketRuns, name)
	a.del(bucketAttempts, name)
	a.del(bucketEvents, name)
	run.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	a.emit(apis.Deleted, run, nil)
}

func notFound(name string) error {
	return fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
}

// checkUID enforces a UID precondition. A Run of that name with another
// UID is a later incarnation: the one the write was meant for is gone, so
// the write fails with apis.ErrNotFound (the controller treats it as it
// treats a deleted Run).
func checkUID(run *apis.Run, want string) error {
	if want != "" && want != run.Metadata.UID {
		return fmt.Errorf("run %q with uid %s: %w (the run of that name now has uid %s)",
			run.Metadata.Name, want, apis.ErrNotFound, run.Metadata.UID)
	}
	return nil
}

func checkRV(run *apis.Run, want string) error {
	if want != "" && want != run.Metadata.ResourceVersion {
		return fmt.Errorf("run %q: resourceVersion %s is not the current %s: %w",
			run.Metadata.Name, want, run.Metadata.ResourceVersion, apis.ErrConflict)
	}
	return nil
}

// applyCreateRun stores a new Run; validateCommand already checked it.
func (a *applier) applyCreateRun(c *createRunCmd) result {
	run := newStoredRun(c)
	name := run.Metadata.Name
	if a.getRun(name) != nil {
		return result{Err: fmt.Errorf("run %q: %w", name, apis.ErrAlreadyExists)}
	}
	if err := a.checkCycle(&run); err != nil {
		return result{Err: err}
	}
	// Leftovers of an earlier Run of the same name must not become this one's.
	a.delIfPresent(bucketAttempts, []byte(name))
	a.delIfPresent(bucketEvents, []byte(name))
	a.emit(apis.Added, &run, a.putRun(&run))
	return result{Run: &run}
}

func (a *applier) applyUpdateRun(c *updateRunCmd) result {
	req := c.Run
	cur := a.getRun(req.Metadata.Name)
	if cur == nil {
		return result{Err: notFound(req.Metadata.Name)}
	}
	if err := checkRV(cur, req.Metadata.ResourceVersion); err != nil {
		return result{Err: err}
	}
	if req.Metadata.UID != "" && req.Metadata.UID != cur.Metadata.UID {
		return result{Err: fmt.Errorf("run %q: uid %s is not the current %s: %w",
			cur.Metadata.Name, req.Metadata.UID, cur.Metadata.UID, apis.ErrConflict)}
	}
	next, changed := mergeUpdate(cur, &req)
	if !changed {
		return result{Run: cur} // applying an unchanged manifest is a no-op
	}
	if err := validateUpdate(&next); err != nil {
		return result{Err: &invalidEntry{err}}
	}
	a.emitModified(cur, &next, a.putRun(&next))
	return result{Run: &next}
}

func (a *applier) applyUpdateStatus(u statusEntry) result {
	cur := a.getRun(u.Name)
	if cur == nil {
		return result{Err: notFound(u.Name)}
	}
	if err := checkUID(cur, u.UID); err != nil {
		return result{Err: err}
	}
	if err := checkRV(cur, u.PreconditionRV); err != nil {
		return result{Err: err}
	}
	finish := u.FinishTaskID
	if finish == "" && u.Status.Phase.Terminal() {
		finish = u.Status.TaskID
	}
	if finish != "" {
		a.finishAttempt(u.Name, finish)
	}
	if cur.Status.Equal(&u.Status) {
		return result{Run: cur}
	}
	next := *cur
	next.Status = u.Status
	stored := a.putRun(&next)
	a.recordNotifications(cur, &next)
	a.emitModified(cur, &next, stored)
	return result{Run: &next}
}

// applyAttemptStatus records u's attempt, if any, then writes its status.
// Every check of both comes before either writes, so an item that fails
// writes nothing.
func (a *applier) applyAttemptStatus(u attemptStatusEntry) result {
	if u.Attempt == nil {
		return a.applyUpdateStatus(u.statusEntry)
	}
	if u.Attempt.Run != u.Name {
		return result{Err: fmt.Errorf("attempt of %q in a status write of %q: %w", u.Attempt.Run, u.Name, apis.ErrBadRequest)}
	}
	if u.PreconditionRV != "" {
		cur := a.getRun(u.Name)
		if cur == nil {
			return result{Err: notFound(u.Name)}
		}
		if err := checkUID(cur, u.UID); err != nil {
			return result{Err: err}
		}
		if err := checkRV(cur, u.PreconditionRV); err != nil {
			return result{Err: err}
		}
	}
	// applyRecordAttempt checks the Run, its UID and its attempts before
	// it writes; once the attempt is in, the status write's own checks
	// (the same Run and UID) hold.
	if r := a.applyRecordAttempt(&recordAttemptCmd{Attempt: *u.Attempt, RunUID: u.UID}); r.Err != nil {
		return r
	}
	return a.applyUpdateStatus(u.statusEntry)
}

func (a *applier) applyRequestDelete(c *requestDeleteCmd) result {
	cur := a.getRun(c.Name)
	if cur == nil {
		return result{Err: notFound(c.Name)}
	}
	if err := checkRV(cur, c.PreconditionRV); err != nil {
		return result{Err: err}
	}
	if cur.Status.Phase.Terminal() || !a.hasLiveAttempt(c.Name) {
		a.deleteRun(cur)
		return result{Run: cur, Deleted: true}
	}
	if cur.Metadata.DeletionTimestamp != nil {
		return result{Run: cur}
	}
	next := *cur
	now := c.Now
	next.Metadata.DeletionTimestamp = &now
	a.emitModified(cur, &next, a.putRun(&next))
	return result{Run: &next}
}

func (a *applier) applyDeleteRun(c *deleteRunCmd) result {
	cur := a.getRun(c.Name)
	if cur == nil {
		return result{Err: notFound(c.Name)}
	}
	if c.UID != "" && c.UID != cur.Metadata.UID {
		return result{Err: fmt.Errorf("run %q: uid %s is not the current %s: %w",
			c.Name, c.UID, cur.Metadata.UID, apis.ErrConflict)}
	}
	if err := checkRV(cur, c.PreconditionRV); err != nil {
		return result{Err: err}
	}
	a.deleteRun(cur)
	return result{Run: cur, Deleted: true}
}

func (a *applier) attempts(name string) []apis.Attempt {
	var list []apis.Attempt
	a.getJSON(bucketAttempts, []byte(name), &list)
	return list
}

func (a *applier) hasLiveAttempt(name string) bool {
	for _, at := range a.attempts(name) {
		if !at.Terminal {
			return true
		}
	}
	return false
}

// finishAttempt marks the attempt with taskID terminal.
func (a *applier) finishAttempt(name, taskID string) {
	list := a.attempts(name)
	for i := range list {
		if list[i].TaskID == taskID && !list[i].Terminal {
			list[i].Terminal = true
			a.putJSON(bucketAttempts, []byte(name), list)
			return
		}
	}
}

// applyRecordAttempt records a task ID before its launch. It refuses while
// another attempt is live, so two leaders can never both record (and then
// launch) a live attempt of the same Run.
func (a *applier) applyRecordAttempt(c *recordAttemptCmd) result {
	at := c.Attempt
	cur := a.getRun(at.Run)
	if cur == nil {
		return result{Err: notFound(at.Run)}
	}
	if err := checkUID(cur, c.RunUID); err != nil {
		return result{Err: err}
	}
	if at.TaskID == "" {
		return result{Err: fmt.Errorf("record attempt of %q: task ID is required: %w", at.Run, apis.ErrBadRequest)}
	}
	if cur.Metadata.DeletionTimestamp != nil {
		return result{Err: fmt.Errorf("record attempt of %q: run is being deleted: %w", at.Run, apis.ErrConflict)}
	}
	list := a.attempts(at.Run)
	for _, old := range list {
		if old.TaskID == at.TaskID {
			return result{Err: fmt.Errorf("attempt %s of %q: %w", at.TaskID, at.Run, apis.ErrAlreadyExists)}
		}
		if !old.Terminal {
			return result{Err: fmt.Errorf("record attempt of %q: attempt %s: %w: %w", at.Run, old.TaskID, apis.ErrAttemptLive, apis.ErrConflict)}
		}
	}
	at.Terminal = false
	list = append(list, at)
	if len(list) > maxAttemptsPerRun {
		list = list[len(list)-maxAttemptsPerRun:]
	}
	a.putJSON(bucketAttempts, []byte(at.Run), list)
	return result{}
}

// applyAppendEvents adds events to Runs' bounded histories, folding a repeat
// of the same type, reason and message into the earlier entry's Count.
// Events of Runs that no longer exist are dropped. Each Run's history is
// decoded and stored once per command, however many of its events the
// command carries (a launch's and its TASK_RUNNING's often come together):
// the same result as one read and write per event, which decoded and
// encoded the growing list again for each.
func (a *applier) applyAppendEvents(c *appendEventsCmd) result {
	lists := map[string][]apis.RunEvent{}
	var order []string // the Runs whose history changes, first seen first
	gone := map[string]bool{}
	for _, rec := range c.Events {
		if gone[rec.Run] {
			continue
		}
		list, ok := lists[rec.Run]
		if !ok {
			key := []byte(rec.Run)
			if a.get(bucketRuns, key) == nil {
				gone[rec.Run] = true
				continue
			}
			a.getJSON(bucketEvents, key, &list)
			order = append(order, rec.Run)
		}
		lists[rec.Run] = appendEvent(list, rec.Event)
	}
	for _, run := range order {
		a.putJSON(bucketEvents, []byte(run), lists[run])
	}
	return result{}
}

// appendEvent adds ev to a Run's history: a repeat of an event of the same
// type, reason and message is folded into it (counted, moved to the end);
// the oldest beyond maxEventsPerRun are dropped.
func appendEvent(list []apis.RunEvent, ev apis.RunEvent) []apis.RunEvent {
	if ev.Count < 1 {
		ev.Count = 1
	}
	folded := false
	for i := len(list) - 1; i >= 0; i-- {
		old := list[i]
		if old.Type == ev.Type && old.Reason == ev.Reason && old.Message == ev.Message {
			ev.Count += old.Count
			list = append(list[:i], list[i+1:]...)
			list = append(list, ev)
			folded = true
			break
		}
	}
	if !folded {
		list = append(list, ev)
	}
	if len(list) > maxEventsPerRun {
		list = list[len(list)-maxEventsPerRun:]
	}
	return list
}
