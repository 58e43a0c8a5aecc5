package controller

import (
	"fmt"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// Config tunes the controller. Zero fields take the defaults below, which
// are the server's flag defaults.
type Config struct {
	// StagingTimeout (--staging-timeout, 5m): an attempt not RUNNING this
	// long after launch is killed and counts as failed (StagingTimeout).
	StagingTimeout time.Duration
	// UnreachableTimeout (--unreachable-timeout, 15m): a TASK_UNREACHABLE
	// attempt this old counts as lost; the task is killed if it comes back.
	UnreachableTimeout time.Duration
	// GCMaxAge (--gc-max-age, 168h): finished Runs without
	// ttlSecondsAfterFinished are deleted this long after completion.
	GCMaxAge time.Duration
	// GCMaxFinished (--gc-max-finished, 2000): beyond this many finished
	// Runs the oldest are deleted.
	GCMaxFinished int
	// GCInterval is how often GC looks (default 1m); GCBatch bounds the
	// deletes per Raft entry and per tick (default 100).
	GCInterval time.Duration
	GCBatch    int

	// Workers is the number of reconcile workers (default 16).
	Workers int
	// ReconcileTimeout bounds one Reconcile call (default 30s).
	ReconcileTimeout time.Duration
	// RetryBaseDelay and RetryMaxDelay bound the work queue's per-Run
	// error back-off (default 100ms, 2m).
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	// BackoffBase and BackoffMax are the relaunch back-off after a failed
	// attempt: 10s, 20s, 40s … capped at 6m, as Kubernetes Jobs.
	BackoffBase time.Duration
	BackoffMax  time.Duration

	// KillRetry is how often a kill is re-sent while the task stays live
	// (default 30s).
	KillRetry time.Duration

	// StatusBatchSize bounds the status writes committed as one Raft entry
	// (default 256). StatusBatchWindow (default 2ms) is how long a status
	// batch gathers writes while another batch commits; with none
	// committing, a write goes at once. Events are collected for up to
	// 10 × StatusBatchWindow or the size.
	StatusBatchSize   int
	StatusBatchWindow time.Duration

	// DeclineRefuse is the filter on offers declined while Runs are pending
	// that did not fit (default 5s); IdleRefuse the filter when nothing is
	// pending (default 120s).
	DeclineRefuse time.Duration
	IdleRefuse    time.Duration
	// OfferHold is how long an offer no pending Run needs is kept for Runs
	// that may arrive, before it is declined (default 1s). AcceptRefuse is
	// the filter on what an ACCEPT leaves of an offer (default 1s).
	OfferHold    time.Duration
	AcceptRefuse time.Duration
	// ReviveEvery is the minimum gap between REVIVE calls while Runs wait
	// and no offer is held; it doubles while revives bring nothing, up to
	// 30s (default 100ms).
	ReviveEvery time.Duration
	// UnschedulableEvery bounds how often a Pending Run's "no agent
	// satisfies" message is rewritten (default 30s).
	UnschedulableEvery time.Duration

	// ReconcileBackoffMax caps the wait between explicit Mesos
	// reconciliation rounds (default 30s); ImplicitReconcileEvery is the
	// period of implicit reconciliation (default 15m).
	ReconcileBackoffMax    time.Duration
	ImplicitReconcileEvery time.Duration

	// Policy is the admission policy a Schedule's Runs must pass when it
	// fires, as every create of a Run does (the server's); nil is
	// apis.DefaultPolicy().
	Policy *apis.Policy
}

// policy returns the admission policy in force (a copy).
func (c Config) policy() apis.Policy {
	if c.Policy == nil {
		return apis.DefaultPolicy()
	}
	return *c.Policy
}

// withDefaults returns c with zero fields set to defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	def(&c.StagingTimeout, 5*time.Minute)
	def(&c.UnreachableTimeout, 15*time.Minute)
	def(&c.GCMaxAge, 168*time.Hour)
	defInt(&c.GCMaxFinished, 2000)
	def(&c.GCInterval, time.Minute)
	defInt(&c.GCBatch, 100)
	defInt(&c.Workers, 16)
	def(&c.ReconcileTimeout, 30*time.Second)
	def(&c.RetryBaseDelay, 100*time.Millisecond)
	def(&c.RetryMaxDelay, 2*time.Minute)
	def(&c.BackoffBase, 10*time.Second)
	def(&c.BackoffMax, 6*time.Minute)
	def(&c.KillRetry, 30*time.Second)
	defInt(&c.StatusBatchSize, 256)
	def(&c.StatusBatchWindow, 2*time.Millisecond)
	def(&c.DeclineRefuse, 5*time.Second)
	def(&c.IdleRefuse, 120*time.Second)
	def(&c.OfferHold, time.Second)
	def(&c.AcceptRefuse, time.Second)
	def(&c.ReviveEvery, 100*time.Millisecond)
	def(&c.UnschedulableEvery, 30*time.Second)
	def(&c.ReconcileBackoffMax, 30*time.Second)
	def(&c.ImplicitReconcileEvery, 15*time.Minute)
	return c
}

func (c Config) validate() error {
	if c.GCMaxFinished < 0 || c.GCBatch < 0 || c.Workers < 0 || c.StatusBatchSize < 0 {
		return fmt.Errorf("controller config: negative count")
	}
	for _, d := range []time.Duration{c.StagingTimeout, c.UnreachableTimeout, c.GCMaxAge, c.BackoffBase, c.BackoffMax} {
		if d < 0 {
			return fmt.Errorf("controller config: negative duration %s", d)
		}
	}
	return nil
}
