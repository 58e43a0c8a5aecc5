package raftstore

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons: the reason label of sprint_raft_rejected_entries_total
// and RejectedEntry.Reason.
const (
	// RejectUnknownType is an entry whose type byte this FSM does not know
	// and whose ignorable bit is not set.
	RejectUnknownType = "unknown_type"
	// RejectDecode is an empty entry or one whose payload does not decode.
	RejectDecode = "decode"
	// RejectInvalid is a decoded command that fails validation (a Run that
	// apis.ValidateRun refuses, an empty or oversized key).
	RejectInvalid = "invalid"
	// RejectPanic is a command whose handler panicked.
	RejectPanic = "panic"
)

var rejectReasons = []string{RejectUnknownType, RejectDecode, RejectInvalid, RejectPanic}

// metrics are the store's Prometheus collectors.
type metrics struct {
	rejected   *prometheus.CounterVec
	tlsRefused prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sprint_raft_rejected_entries_total",
			Help: "Committed Raft entries this node's state machine rejected (applied as no-ops), by reason: unknown_type, decode, invalid, panic. GET /api/v1/cluster shows the replicated total and the last one.",
		}, []string{"reason"}),
		tlsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sprint_raft_tls_handshake_failures_total",
			Help: "Incoming Raft connections closed because their TLS handshake failed (no or a foreign certificate, timeout, a port probe).",
		}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r) // export zeros, so alerts see the series
	}
	return m
}

// register adds the collectors to reg (nil: not exported).
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.rejected, m.tlsRefused} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("register raftstore metrics: %w", err)
	}
	return nil
}
