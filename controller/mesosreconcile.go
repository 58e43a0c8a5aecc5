package controller

import (
	"context"
	"log/slog"
	"time"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
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
	sched    Scheduler
	clock    clock.Clock
	cfg      Config // ImplicitReconcileEvery, ReconcileBackoffMax
	attempts *registry
	log      *slog.Logger
	kick     chan struct{} // a subscription happened or a task is in doubt; capacity 1
}

func newMesosReconciler(sched Scheduler, clk clock.Clock, cfg Config, attempts *registry, log *slog.Logger) *mesosReconciler {
	return &mesosReconciler{sched: sched, clock: clk, cfg: cfg, attempts: attempts, log: log, kick: make(chan struct{}, 1)}
}

func (r *mesosReconciler) subscribed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// explicit asks for an explicit reconciliation of a live attempt whose
// launch is in doubt (a failed ACCEPT). A round covers every live attempt
// without a recent update, so this only starts one.
func (r *mesosReconciler) explicit(ReconcileTask) {
	r.subscribed()
}

func (r *mesosReconciler) run(ctx context.Context) {
	for {
		implicit, stop := clock.After(r.clock, r.cfg.ImplicitReconcileEvery)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-implicit:
			if err := r.sched.Reconcile(ctx, nil); err != nil && ctx.Err() == nil {
				r.log.Warn("implicit reconciliation failed", "err", err)
			}
			continue
		case <-r.kick:
			stop()
		}
		r.round(ctx)
	}
}

// round is one reconciliation after a subscription. A new subscription
// during the round starts it over.
func (r *mesosReconciler) round(ctx context.Context) {
restart:
	start := r.clock.Now()
	remaining := r.attempts.unanswered(start)
	r.log.Info("reconciling tasks with mesos", "tasks", len(remaining))
	resend := backoff.Retry{Policy: backoff.Policy{Initial: time.Second, Max: r.cfg.ReconcileBackoffMax}}
	for len(remaining) > 0 {
		if err := r.sched.Reconcile(ctx, remaining); err != nil && ctx.Err() == nil {
			r.log.Warn("explicit reconciliation failed", "tasks", len(remaining), "err", err)
		}
		wait, stop := clock.After(r.clock, resend.Next())
		select {
		case <-ctx.Done():
			stop()
			return
		case <-r.kick:
			stop()
			goto restart
		case <-wait:
		}
		// Still waiting: tasks of this round that are still live and
		// have had no update since the round started.
		next := remaining[:0]
		for _, tk := range remaining {
			if r.attempts.unansweredSince(tk.TaskID, start) {
				next = append(next, tk)
			}
		}
		remaining = next
	}
	if err := r.sched.Reconcile(ctx, nil); err != nil && ctx.Err() == nil {
		r.log.Warn("implicit reconciliation failed", "err", err)
	}
}
