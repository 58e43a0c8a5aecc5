package controller

import (
	"context"
	"sync"
	"time"
)

// mesosReconciler runs Mesos task reconciliation as reconciliation.md
// recommends: after every (re)subscription, explicit RECONCILE of every live
// attempt, repeated with back-off for those without an answer since the
// round started; then an implicit RECONCILE whose answers reveal stray
// tasks (killed by the status writer). Implicit reconciliation also runs
// every ImplicitReconcileEvery. While an attempt awaits its answer the
// controller does not relaunch its Run: the attempt stays live until Mesos
// says it is over.
type mesosReconciler struct {
	t    *term
	kick chan struct{} // a subscription happened; capacity 1

	mu    sync.Mutex
	extra []ReconcileTask // explicit requests, e.g. after a failed ACCEPT
	wait  map[string]bool // task IDs of the running round still unanswered
}

func newMesosReconciler(t *term) *mesosReconciler {
	return &mesosReconciler{t: t, kick: make(chan struct{}, 1), wait: map[string]bool{}}
}

func (r *mesosReconciler) subscribed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// explicit asks for an explicit reconciliation of one task.
func (r *mesosReconciler) explicit(task ReconcileTask) {
	r.mu.Lock()
	r.extra = append(r.extra, task)
	r.mu.Unlock()
	r.subscribed()
}

// answered notes that a status update for taskID arrived.
func (r *mesosReconciler) answered(taskID string) {
	r.mu.Lock()
	delete(r.wait, taskID)
	r.mu.Unlock()
}

func (r *mesosReconciler) run(ctx context.Context) {
	c := r.t.c
	for {
		implicit, stop := after(c.clock, c.cfg.ImplicitReconcileEvery)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-implicit:
			if err := c.sched.Reconcile(ctx, nil); err != nil && ctx.Err() == nil {
				r.t.log.Warn("implicit reconciliation failed", "err", err)
			}
			continue
		case <-r.kick:
			stop()
		}
		r.round(ctx)
	}
}

// round is one reconciliation after a subscription. A new subscription
// during the round restarts it.
func (r *mesosReconciler) round(ctx context.Context) {
	c := r.t.c
	start := c.clock.Now()
	r.mu.Lock()
	extra := r.extra
	r.extra = nil
	r.mu.Unlock()
	remaining := r.t.attempts.unanswered(start)
	remaining = append(remaining, extra...)
	r.t.log.Info("reconciling tasks with mesos", "tasks", len(remaining))
	for n := 0; len(remaining) > 0; n++ {
		r.mu.Lock()
		r.wait = map[string]bool{}
		for _, tk := range remaining {
			r.wait[tk.TaskID] = true
		}
		r.mu.Unlock()
		if err := c.sched.Reconcile(ctx, remaining); err != nil && ctx.Err() == nil {
			r.t.log.Warn("explicit reconciliation failed", "tasks", len(remaining), "err", err)
		}
		wait, stop := after(c.clock, backoffDelay(time.Second, c.cfg.ReconcileBackoffMax, n))
		select {
		case <-ctx.Done():
			stop()
			return
		case <-r.kick:
			stop()
			r.round(ctx) // resubscribed: start over
			return
		case <-wait:
		}
		// Still waiting: live attempts with no update since start, and
		// explicitly requested tasks not answered yet.
		next := r.t.attempts.unanswered(start)
		seen := map[string]bool{}
		for _, tk := range next {
			seen[tk.TaskID] = true
		}
		r.mu.Lock()
		for _, tk := range remaining {
			if r.wait[tk.TaskID] && !seen[tk.TaskID] && r.t.attempts.current(tk.TaskID) {
				next = append(next, tk)
			}
		}
		r.mu.Unlock()
		remaining = next
	}
	if err := c.sched.Reconcile(ctx, nil); err != nil && ctx.Err() == nil {
		r.t.log.Warn("implicit reconciliation failed", "err", err)
	}
}
