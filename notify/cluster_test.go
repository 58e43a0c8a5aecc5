package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/notify"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// receiver is a webhook endpoint that fails while down and records the
// idempotency key of every request it accepts.
type receiver struct {
	down  atomic.Bool
	tried chan struct{} // one value per request, for the test to wait on
	mu    sync.Mutex
	keys  []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	_, _ = io.Copy(io.Discard, req.Body)
	select {
	case r.tried <- struct{}{}:
	default:
	}
	if r.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.keys = append(r.keys, req.Header.Get(notify.HeaderIdempotencyKey))
	r.mu.Unlock()
}

// A three-node cluster over loopback TCP, each node running a delivery
// Service: the leader is stopped while its notifications are undelivered
// (the receiver is down); the new leader delivers every one of them, and
// a notification arrives twice only with the same idempotency key.
func TestCluster_NewLeaderDeliversTheOutbox(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	recv := &receiver{tried: make(chan struct{}, 1)}
	recv.down.Store(true)
	srv := httptest.NewServer(recv)
	defer srv.Close()

	stops := map[string]func(){}
	start := func(node *raftstoretest.Node) {
		s, err := notify.New(notify.Config{
			Poll:    50 * time.Millisecond,
			Backoff: backoff.Policy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
			// The receiver listens on loopback, which the default list denies.
			DenyCIDRs: []netip.Prefix{},
		}, node.Store, nil, nil, nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		stops[node.ID] = func() { cancel(); <-done }
	}
	for _, n := range c.Running() {
		start(n)
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()

	n := &apis.Notifier{Metadata: apis.ObjectMeta{Name: "etl"}, Spec: apis.NotifierSpec{
		Selector: "pipeline=etl", On: []string{apis.NotifyFailed}, Webhook: &apis.Webhook{URL: srv.URL},
	}}
	apis.SetNotifierDefaults(n)
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		_, err := s.CreateNotifier(t.Context(), n)
		if errors.Is(err, apis.ErrAlreadyExists) {
			return nil
		}
		return err
	}))
	var updates []apis.StatusUpdate
	for _, name := range []string{"extract", "transform", "load"} {
		run := &apis.Run{Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"pipeline": "etl"}},
			Spec: apis.RunSpec{Command: "false", Cpus: 0.1, Mem: 16}}
		require.NoError(t, c.Do(func(s *raftstore.Store) error {
			_, err := s.CreateRun(t.Context(), run)
			if errors.Is(err, apis.ErrAlreadyExists) {
				return nil
			}
			return err
		}))
		updates = append(updates, apis.StatusUpdate{Run: apis.RunRef{Name: name},
			Status: apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Attempts: 1}})
	}
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		_, err := s.BatchUpdateStatus(t.Context(), updates)
		return err
	}))
	recs, err := c.Leader().Store.Outbox(t.Context(), "", 0)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	want := map[string]bool{}
	for _, r := range recs {
		want[r.IdempotencyKey] = true
	}

	<-recv.tried // the leader is trying, and failing
	old := c.Leader()
	stops[old.ID]()
	delete(stops, old.ID)
	c.Shutdown(old.ID)
	recv.down.Store(false)

	leader := c.Leader()
	require.Eventually(t, func() bool {
		got, err := leader.Store.GetNotifier(t.Context(), "etl")
		return err == nil && got.Status.Delivered == 3
	}, 30*time.Second, 20*time.Millisecond, "the new leader delivers the three notifications")
	got, err := leader.Store.GetNotifier(t.Context(), "etl")
	require.NoError(t, err)
	assert.Equal(t, apis.NotifierStatus{Delivered: 3}, got.Status)
	left, err := leader.Store.Outbox(t.Context(), "", 0)
	require.NoError(t, err)
	assert.Empty(t, left)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	seen := map[string]bool{}
	for _, k := range recv.keys {
		assert.True(t, want[k], "only the outbox's keys arrive: %s", k)
		seen[k] = true
	}
	assert.Len(t, seen, 3, "every notification arrived")
}
