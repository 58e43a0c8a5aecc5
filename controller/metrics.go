package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/apis"
)

// metrics are the controller's Prometheus series, registered on the
// injected Registerer.
type metrics struct {
	runsByPhase      *prometheus.GaugeVec
	launches         prometheus.Counter
	kills            *prometheus.CounterVec
	retries          prometheus.Counter
	offersUsed       prometheus.Counter
	offersDeclined   prometheus.Counter
	offersReceived   prometheus.Counter
	revives          prometheus.Counter
	reconcileLatency prometheus.Histogram
	reconcileErrors  prometheus.Counter
	queueDepth       prometheus.GaugeFunc
	mesosConnected   prometheus.Gauge
	leader           prometheus.Gauge
	statusBatch      prometheus.Histogram
	statusWrite      prometheus.Histogram
	eventsDropped    prometheus.Counter
	gcDeleted        prometheus.Counter
	strayKills       prometheus.Counter

	scheduleFirings        prometheus.Counter
	scheduleMissed         prometheus.Counter
	scheduleSkipped        prometheus.Counter
	scheduleConflicts      prometheus.Counter
	scheduleLag            prometheus.Histogram
	scheduleHistoryDeleted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, queueLen func() float64) (*metrics, error) {
	m := &metrics{
		runsByPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sprint_runs", Help: "Runs by phase (recomputed each GC pass).",
		}, []string{"phase"}),
		launches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_launches_total", Help: "Tasks launched (ACCEPTs sent per task).",
		}),
		kills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_controller_kills_total", Help: "KILL calls sent, by reason.",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_retries_total", Help: "Failed attempts that will be relaunched.",
		}),
		offersUsed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_offers_used_total", Help: "Offers accepted with at least one task.",
		}),
		offersDeclined: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_offers_declined_total", Help: "Offers declined.",
		}),
		offersReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_offers_received_total", Help: "Offers received from Mesos.",
		}),
		revives: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_revives_total", Help: "REVIVE calls sent (Runs waiting and no offer held).",
		}),
		reconcileLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sprint_controller_reconcile_duration_seconds", Help: "Duration of one Reconcile call.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		reconcileErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_reconcile_errors_total", Help: "Reconcile calls that returned an error or panicked.",
		}),
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "sprint_controller_queue_depth", Help: "Run names waiting in the work queue.",
		}, queueLen),
		mesosConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sprint_controller_mesos_connected", Help: "1 while subscribed to the Mesos master.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sprint_controller_leader", Help: "1 while this node runs the controller.",
		}),
		statusBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sprint_controller_status_batch_size", Help: "Status updates per Raft entry.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 10),
		}),
		statusWrite: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sprint_controller_status_write_seconds", Help: "Time a status batch's store write (one Raft entry) took, from proposal to its apply here.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_events_dropped_total", Help: "Run events dropped because the buffer was full.",
		}),
		gcDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_gc_deleted_total", Help: "Finished Runs deleted by garbage collection.",
		}),
		strayKills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_controller_stray_kills_total", Help: "Kills of tasks that belong to no live attempt.",
		}),
		scheduleFirings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_schedule_firings_total", Help: "Schedule firings committed with their Runs.",
		}),
		scheduleMissed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_schedule_missed_firings_total", Help: "Schedule firings missed (past startingDeadlineSeconds, or beyond the one catch-up after downtime).",
		}),
		scheduleSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_schedule_skipped_firings_total", Help: "Schedule firings skipped by concurrencyPolicy Forbid.",
		}),
		scheduleConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_schedule_firing_conflicts_total", Help: "Firings refused because the Schedule had fired meanwhile (another leader).",
		}),
		scheduleLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sprint_schedule_firing_lag_seconds", Help: "Commit time of a firing minus its scheduled time.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		scheduleHistoryDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_schedule_history_deleted_total", Help: "Finished Runs of Schedules deleted beyond their history limits.",
		}),
	}
	for _, c := range []prometheus.Collector{m.scheduleFirings, m.scheduleMissed, m.scheduleSkipped, m.scheduleConflicts,
		m.scheduleLag, m.scheduleHistoryDeleted, m.runsByPhase, m.launches, m.kills, m.retries, m.offersUsed,
		m.offersDeclined, m.offersReceived, m.revives, m.reconcileLatency, m.reconcileErrors, m.queueDepth, m.mesosConnected, m.leader,
		m.statusBatch, m.statusWrite, m.eventsDropped, m.gcDeleted, m.strayKills} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, p := range []apis.RunPhase{apis.PhasePending, apis.PhaseStarting, apis.PhaseRunning,
		apis.PhaseSucceeded, apis.PhaseFailed, apis.PhaseKilled} {
		m.runsByPhase.WithLabelValues(string(p))
	}
	return m, nil
}
