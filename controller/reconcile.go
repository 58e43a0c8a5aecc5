package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// launchable reports whether run may get a new attempt now, and if not
// because of back-off, how long to wait.
func launchable(run *apis.Run, cfg Config, now time.Time) (bool, time.Duration) {
	s := &run.Status
	if run.Metadata.DeletionTimestamp != nil || run.Spec.Cancel || s.Phase.Terminal() {
		return false, 0
	}
	if s.Phase != "" && s.Phase != apis.PhasePending {
		return false, 0
	}
	if s.Reason == apis.ReasonBackoff && s.LastTransitionTime != nil {
		ready := s.LastTransitionTime.Add(relaunchBackoff(cfg.BackoffBase, cfg.BackoffMax, s.Attempts))
		if wait := ready.Sub(now); wait > 0 {
			return false, wait
		}
	}
	return true, 0
}

// reconcile converges one Run: it re-reads the Run (desired state) and its
// live attempt with the latest Mesos status written into the Run (observed
// state), then kills, finishes, deletes or queues it for launch. It is
// level-triggered: any event only causes a call; the call decides.
func (t *term) reconcile(ctx context.Context, name string) (Result, error) {
	run, err := t.store.GetRun(ctx, name)
	if errors.Is(err, apis.ErrNotFound) {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		return Result{}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("get run: %w", err)
	}
	now := t.clock.Now()
	att, live := t.attempts.get(name)

	if !live {
		return t.reconcileIdle(ctx, run, now)
	}

	if run.Status.TaskID != att.TaskID {
		// The previous leader recorded the attempt but not its status.
		if err := t.writer.mutate(ctx, name, launchMutation(att.Attempt, att.hostname, att.ports), true); err != nil {
			return Result{}, err
		}
		return Result{RequeueAfter: time.Millisecond}, nil
	}
	t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})

	// Kills, strongest reason first.
	s := run.Status
	switch {
	case run.Metadata.DeletionTimestamp != nil:
		return t.killFor(ctx, run, att, apis.ReasonDeleted, "run deleted")
	case run.Spec.Cancel:
		if t.cancelReason(run) == apis.ReasonReplaced {
			return t.killFor(ctx, run, att, apis.ReasonReplaced, "a newer firing of its schedule replaced it")
		}
		return t.killFor(ctx, run, att, apis.ReasonCancelled, "spec.cancel set")
	case killReasons[s.Reason] > 0:
		return t.killFor(ctx, run, att, s.Reason, "")
	}
	var next time.Duration
	soonest := func(d time.Duration) {
		if d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	if d := run.Spec.ActiveDeadlineSeconds; d > 0 && s.StartTime != nil {
		left := s.StartTime.Add(time.Duration(d) * time.Second).Sub(now)
		if left <= 0 {
			return t.killFor(ctx, run, att, apis.ReasonDeadlineExceeded, fmt.Sprintf("running longer than activeDeadlineSeconds %d", d))
		}
		soonest(left)
	}
	if s.Phase == apis.PhaseStarting || s.Phase == apis.PhasePending || s.Phase == "" {
		left := att.LaunchTime.Add(t.cfg.StagingTimeout).Sub(now)
		if left <= 0 {
			return t.killFor(ctx, run, att, apis.ReasonStagingTimeout, fmt.Sprintf("not running %s after launch", t.cfg.StagingTimeout))
		}
		soonest(left)
	}
	if s.MesosState == "TASK_UNREACHABLE" && s.LastTransitionTime != nil {
		left := s.LastTransitionTime.Add(t.cfg.UnreachableTimeout).Sub(now)
		if left <= 0 {
			return t.abandonUnreachable(ctx, run, att)
		}
		soonest(left)
	}
	return Result{RequeueAfter: next}, nil
}

// reconcileIdle handles a Run without a live attempt.
func (t *term) reconcileIdle(ctx context.Context, run *apis.Run, now time.Time) (Result, error) {
	name := run.Metadata.Name
	if run.Metadata.DeletionTimestamp != nil {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		if err := t.store.DeleteRuns(ctx, []apis.RunRef{{Name: name, UID: run.Metadata.UID}}); err != nil {
			return Result{}, fmt.Errorf("delete run: %w", err)
		}
		t.logger(ctx).Info("run deleted")
		return Result{}, nil
	}
	if run.Status.Phase.Terminal() {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		return Result{}, nil
	}
	if run.Spec.Cancel {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		reason, msg := apis.ReasonCancelled, "cancelled before launch"
		if t.cancelReason(run) == apis.ReasonReplaced {
			reason, msg = apis.ReasonReplaced, "replaced before launch by a newer firing of its schedule"
		}
		err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if _, live := t.attempts.get(name); live || r.Status.Phase.Terminal() {
				return nil
			}
			s := r.Status
			setPhase(&s, apis.PhaseKilled, now)
			s.Reason = reason
			s.Message = msg
			tm := now
			s.CompletionTime = &tm
			return &statusChange{status: s, events: []apis.RunEvent{event(now, apis.EventNormal, reason, "%s", msg)}}
		}, true)
		return Result{}, err
	}
	if awaitsDependencies(run) {
		if res, done, err := t.reconcileDependencies(ctx, run, now); done {
			return res, err
		}
	}
	if neverSeen(run) {
		// The store created it Pending (raftstore's setInitialStatus):
		// nothing to write, only the event that a write of Pending by
		// the controller records below. A repeat (the Run reconciled
		// again before its launch) folds into it in the store.
		t.events.record(apis.EventRecord{Run: name, Event: event(now, apis.EventNormal, "Scheduled",
			"waiting for an offer that fits cpus %s, mem %s", num(run.Spec.Cpus), num(run.Spec.Mem))})
	}
	if run.Status.Phase != apis.PhasePending {
		// First sight of a Run stored without a phase, or a status
		// claiming a task that has no live attempt: it waits for an
		// offer. The write is not awaited: the launcher re-reads the Run
		// before it launches, and a launch writes its status after this
		// one.
		err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if _, live := t.attempts.get(name); live || r.Status.Phase.Terminal() || r.Status.Phase == apis.PhasePending {
				return nil
			}
			s := r.Status
			setPhase(&s, apis.PhasePending, now)
			s.Message = "waiting for an offer"
			s.ObservedGeneration = r.Metadata.Generation
			return &statusChange{status: s}
		}, false)
		if err != nil {
			return Result{}, err
		}
		if run.Status.Phase == "" {
			// Recorded here, not with the write, which a quick launch
			// makes moot; repeats fold in the store.
			t.events.record(apis.EventRecord{Run: name, Event: event(now, apis.EventNormal, "Scheduled",
				"waiting for an offer that fits cpus %s, mem %s", num(run.Spec.Cpus), num(run.Spec.Mem))})
		}
		run.Status.Phase = apis.PhasePending
	}
	ok, wait := launchable(run, t.cfg, now)
	if !ok {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		return Result{RequeueAfter: wait}, nil
	}
	t.launcher.send(ctx, launcherMsg{kind: msgPending, run: run})
	return Result{}, nil
}

// neverSeen reports whether run is Pending as the store created it: no
// controller has written its status (observedGeneration is set by every
// write of Pending or of an attempt), it has no attempt and no reason.
func neverSeen(run *apis.Run) bool {
	s := &run.Status
	return s.Phase == apis.PhasePending && s.ObservedGeneration == 0 && s.Attempts == 0 && s.Reason == "" && s.TaskID == ""
}

// killFor records why the task is being killed (so the terminal update is
// attributed to it, even by another leader) and sends the KILL, again every
// KillRetry until Mesos reports the task terminal.
func (t *term) killFor(ctx context.Context, run *apis.Run, att liveAttempt, reason, why string) (Result, error) {
	name := run.Metadata.Name
	if killReasons[run.Status.Reason] < killReasons[reason] {
		err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if r.Status.TaskID != att.TaskID || killReasons[r.Status.Reason] >= killReasons[reason] {
				return nil
			}
			s := r.Status
			s.Reason = reason
			s.Message = "killing: " + why
			return &statusChange{status: s, events: []apis.RunEvent{event(now, apis.EventWarning, "Killing", "killing task %s because %s", att.TaskID, why)}}
		}, true)
		if err != nil {
			return Result{}, err
		}
	}
	if err := t.kill(ctx, att.TaskID, att.AgentID, reason); err != nil {
		return Result{}, err
	}
	return Result{RequeueAfter: t.cfg.KillRetry}, nil
}

// abandonUnreachable ends an attempt whose agent has been unreachable for
// UnreachableTimeout: it counts as lost (and may be retried); the task is
// killed should it come back.
func (t *term) abandonUnreachable(ctx context.Context, run *apis.Run, att liveAttempt) (Result, error) {
	name := run.Metadata.Name
	var retried bool
	err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
		if cur, ok := t.attempts.get(name); !ok || cur.TaskID != att.TaskID || r.Status.MesosState != "TASK_UNREACHABLE" {
			return nil
		}
		s := r.Status
		limit := r.Spec.BackoffLimit
		msg := fmt.Sprintf("agent unreachable for %s", t.cfg.UnreachableTimeout)
		tm := now
		switch {
		case s.Attempts <= limit:
			wait := relaunchBackoff(t.cfg.BackoffBase, t.cfg.BackoffMax, s.Attempts)
			setPhase(&s, apis.PhasePending, now)
			s.LastTransitionTime = &tm
			s.Reason = apis.ReasonBackoff
			s.Message = fmt.Sprintf("attempt %d lost (%s); retrying in %s", s.Attempts, msg, wait)
			retried = true
		case limit > 0:
			setPhase(&s, apis.PhaseFailed, now)
			s.Reason = apis.ReasonBackoffLimitExceeded
			s.Message = fmt.Sprintf("backoffLimit %d exceeded; last attempt lost: %s", limit, msg)
			s.CompletionTime = &tm
		default:
			setPhase(&s, apis.PhaseFailed, now)
			s.Reason = apis.ReasonTaskLost
			s.Message = msg
			s.CompletionTime = &tm
		}
		return &statusChange{status: s, finishTaskID: att.TaskID, events: []apis.RunEvent{event(now, apis.EventWarning, apis.ReasonTaskLost, "task %s counted as lost: %s", att.TaskID, msg)}}
	}, true)
	if err != nil {
		return Result{}, err
	}
	if retried {
		t.m.retries.Inc()
	}
	// Best effort now; should the agent return, the task's next update
	// shows it alive and it is killed then as a stray.
	if err := t.killNow(ctx, att.TaskID, att.AgentID, apis.ReasonUnreachable); err != nil {
		t.logger(ctx).Debug("kill of unreachable task failed", "task_id", att.TaskID, "err", err)
	}
	return Result{RequeueAfter: time.Millisecond}, nil
}

// cancelReason is why a Run with spec.cancel is killed: Replaced when the
// entry of a concurrencyPolicy Replace firing set spec.cancel (it records
// apis.AnnotationCancelReason on the Run in the same entry), else
// Cancelled: a user's cancel. The evidence is on the Run itself, so every
// leader attributes the kill alike, whatever the Schedule did later. (A
// Run replaced by a fire_schedule entry, written while a member predated
// store level 3, carries no mark and is reported Cancelled.)
func (t *term) cancelReason(run *apis.Run) string {
	if run.Metadata.Annotations[apis.AnnotationCancelReason] == apis.ReasonReplaced {
		return apis.ReasonReplaced
	}
	return apis.ReasonCancelled
}
