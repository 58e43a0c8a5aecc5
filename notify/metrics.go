package notify

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the delivery counters per notifier.
type metrics struct {
	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
	retried   *prometheus.CounterVec
	pending   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_notifications_delivered_total", Help: "Notifications delivered, by notifier.",
		}, []string{"notifier"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_notifications_failed_total", Help: "Notifications given up on (permanent error or older than --notify-max-age), by notifier.",
		}, []string{"notifier"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_notification_retries_total", Help: "Delivery attempts that failed and will be retried, by notifier.",
		}, []string{"notifier"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sprint_notifications_pending", Help: "Notifications in the outbox, by notifier, as the leader last read it.",
		}, []string{"notifier"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.delivered, m.failed, m.retried, m.pending} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("notify metrics: %w", err)
		}
	}
	return m, nil
}
