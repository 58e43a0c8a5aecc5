package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// Each format reaches a real HTTP server signed with the secret, with the
// idempotency key and the custom headers, in the shape the format names.
func TestWebhook_Formats(t *testing.T) {
	tests := []struct {
		format string
		check  func(t *testing.T, body map[string]any)
	}{
		{apis.FormatJSON, func(t *testing.T, b map[string]any) {
			assert.Equal(t, PayloadAPIVersion, b["apiVersion"])
			assert.Equal(t, "Failed", b["event"])
			assert.Equal(t, "TaskFailed", b["reason"])
			assert.Equal(t, "exited with status 3", b["message"])
			assert.Equal(t, float64(3), b["exitCode"])
			assert.Equal(t, "data-team@example.com", b["owner"])
			assert.Equal(t, "extract", b["object"].(map[string]any)["metadata"].(map[string]any)["name"])
			assert.Equal(t, "Run", b["object"].(map[string]any)["kind"])
			blocked := b["blocked"].([]any)
			require.Len(t, blocked, 2)
			assert.Equal(t, "transform", blocked[0].(map[string]any)["name"])
			assert.Equal(t, "load", blocked[1].(map[string]any)["name"])
			assert.Equal(t, "transform", blocked[1].(map[string]any)["dependsOn"])
		}},
		{apis.FormatSlack, func(t *testing.T, b map[string]any) {
			assert.Equal(t, "Run extract failed (TaskFailed), exit code 3", b["text"])
			blocks := b["blocks"].([]any)
			require.NotEmpty(t, blocks)
			assert.Equal(t, "section", blocks[0].(map[string]any)["type"])
		}},
		{apis.FormatPagerDuty, func(t *testing.T, b map[string]any) {
			assert.Equal(t, "s3cret", b["routing_key"])
			assert.Equal(t, "trigger", b["event_action"])
			assert.Equal(t, "sprint/run/extract", b["dedup_key"])
			p := b["payload"].(map[string]any)
			assert.Equal(t, "error", p["severity"])
			assert.Equal(t, "sprint", p["source"])
			assert.Contains(t, p["summary"], "Run extract failed")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			got := make(chan received, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- received{header: r.Header.Clone(), body: b}
			}))
			defer srv.Close()
			store := newFakeStore()
			n := webhookNotifier("hook", srv.URL+"/hook", tt.format)
			rec := store.add(n, apis.NotifyFailed, failedRun("extract"), time.Now())
			store.runs = []apis.Run{
				{Metadata: apis.ObjectMeta{Name: "transform"}, Spec: apis.RunSpec{DependsOn: []apis.RunDependency{{Name: "extract"}}}},
				{Metadata: apis.ObjectMeta{Name: "load"}, Spec: apis.RunSpec{DependsOn: []apis.RunDependency{{Name: "transform"}}}},
				{Metadata: apis.ObjectMeta{Name: "unrelated"}},
			}
			s := newTestService(t, store, Config{DenyCIDRs: allowAll}) // the receiver is on loopback
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); _ = s.Run(ctx) }()
			defer func() { cancel(); <-done }()
			store.lead(true)

			r := <-got
			assert.Equal(t, Sign([]byte("s3cret"), r.body), r.header.Get(HeaderSignature), "signed with the secret file's content")
			assert.Equal(t, rec.IdempotencyKey, r.header.Get(HeaderIdempotencyKey))
			assert.Equal(t, "data", r.header.Get("X-Team"))
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			var body map[string]any
			require.NoError(t, json.Unmarshal(r.body, &body))
			tt.check(t, body)
			res := <-store.done
			assert.True(t, res.Delivered)
			assert.Equal(t, int64(1), store.notifier("hook").Status.Delivered)
		})
	}
}

// flaky answers with the status codes of codes in turn, then 200, and
// records each request's time.
type flaky struct {
	mu    sync.Mutex
	codes []int
	got   []received
	// until, when set, answers 503 before that time.
	until time.Time
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	f.got = append(f.got, received{header: r.Header.Clone(), body: b, at: time.Now()})
	switch {
	case time.Now().Before(f.until):
		w.WriteHeader(http.StatusServiceUnavailable)
	case len(f.codes) > 0:
		w.WriteHeader(f.codes[0])
		f.codes = f.codes[1:]
	}
}

func (f *flaky) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// runService runs s in the bubble and leads at once; stop ends it.
func runService(t *testing.T, s *Service, store *fakeStore) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	store.lead(true)
	return func() { cancel(); <-done }
}

func TestDelivery_RetriesOn500ThenSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &flaky{codes: []int{500, 502, 429}}
		store := newFakeStore()
		rec := store.add(webhookNotifier("hook", "http://receiver.test/x", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), time.Now())
		reg := prometheus.NewRegistry()
		s, err := New(Config{Transport: handlerTransport{h}, Backoff: backoff.Policy{Initial: time.Second, Max: time.Minute},
			SecretDir: testSecretDir}, store, nil, nil, reg)
		require.NoError(t, err)
		useSecretDir(t, s, writeSecrets(t, testSecrets))
		stop := runService(t, s, store)
		defer stop()
		res := <-store.done
		assert.True(t, res.Delivered)
		synctest.Wait() // the loop counts the commit
		assert.Equal(t, 3.0, metricValue(t, reg, "sprint_notification_retries_total", "hook"), "retries counted")
		assert.Equal(t, 1.0, metricValue(t, reg, "sprint_notifications_delivered_total", "hook"))
		assert.Equal(t, 0.0, metricValue(t, reg, "sprint_notifications_failed_total", "hook"))
		got := h.requests()
		require.Len(t, got, 4)
		for i := 1; i < len(got); i++ {
			gap := got[i].at.Sub(got[i-1].at)
			want := time.Second << (i - 1)
			assert.GreaterOrEqual(t, gap, want, "retry %d waits the back-off", i)
			assert.Less(t, gap, want+2*time.Second, "retry %d starts by the next poll after its back-off", i)
			assert.Equal(t, rec.IdempotencyKey, got[i].header.Get(HeaderIdempotencyKey), "every try carries the same key")
		}
		assert.Equal(t, apis.NotifierStatus{Delivered: 1}, store.notifier("hook").Status)
	})
}

func TestDelivery_ReceiverDownForAWhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h := &flaky{until: start.Add(20 * time.Minute)}
		store := newFakeStore()
		store.add(webhookNotifier("hook", "http://receiver.test/x", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), start)
		s := newTestService(t, store, Config{Transport: handlerTransport{h}}) // default back-off: 1s doubling to 5m, jitter
		stop := runService(t, s, store)
		defer stop()
		res := <-store.done
		assert.True(t, res.Delivered)
		got := h.requests()
		last := got[len(got)-1].at
		assert.False(t, last.Before(start.Add(20*time.Minute)), "delivered once the receiver is back")
		assert.Less(t, last.Sub(start), 26*time.Minute, "within one capped back-off (5m) of its return")
		assert.Less(t, len(got), 20, "back-off keeps the tries few: %d", len(got))
		for i := 2; i < len(got); i++ {
			assert.GreaterOrEqual(t, got[i].at.Sub(got[i-1].at), time.Duration(float64(time.Second<<min(i-1, 8))*0.5),
				"retry %d waits at least half its back-off (jitter)", i)
		}
	})
}

func TestDelivery_PermanentFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &flaky{codes: []int{404}}
		store := newFakeStore()
		store.add(webhookNotifier("hook", "http://receiver.test/x?token=secret", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), time.Now())
		s := newTestService(t, store, Config{Transport: handlerTransport{h}})
		stop := runService(t, s, store)
		defer stop()
		res := <-store.done
		assert.False(t, res.Delivered)
		assert.Len(t, h.requests(), 1, "a 404 is not retried")
		st := store.notifier("hook").Status
		assert.Equal(t, int64(1), st.Failed)
		assert.Contains(t, st.LastError, "HTTP 404")
		assert.NotContains(t, st.LastError, "token=secret", "the URL's query is left out of messages")
	})
}

func TestDelivery_MaxAgeExceeded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h := &flaky{until: start.Add(1000 * time.Hour)}
		store := newFakeStore()
		store.add(webhookNotifier("hook", "http://receiver.test/x", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), start)
		s := newTestService(t, store, Config{Transport: handlerTransport{h}, MaxAge: time.Hour})
		stop := runService(t, s, store)
		defer stop()
		res := <-store.done
		assert.False(t, res.Delivered)
		assert.LessOrEqual(t, time.Since(start), time.Hour, "given up before the max age passed")
		st := store.notifier("hook").Status
		assert.Equal(t, int64(1), st.Failed)
		assert.Contains(t, st.LastError, "gave up after")
		assert.Contains(t, st.LastError, "HTTP 503")
	})
}

// A new term (a new leader) delivers what the last one left in the outbox.
func TestDelivery_NewTermResumes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &flaky{until: time.Now().Add(time.Hour)}
		store := newFakeStore()
		rec := store.add(webhookNotifier("hook", "http://receiver.test/x", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), time.Now())
		s := newTestService(t, store, Config{Transport: handlerTransport{h}})
		stop := runService(t, s, store)
		time.Sleep(10 * time.Minute)
		store.lead(false) // leadership lost: the term stops, the record stays
		synctest.Wait()
		n := len(h.requests())
		require.NotZero(t, n)
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Len(t, h.requests(), n, "no delivery while not leading")
		store.lead(true)
		res := <-store.done
		stop()
		assert.True(t, res.Delivered)
		for _, r := range h.requests() {
			assert.Equal(t, rec.IdempotencyKey, r.header.Get(HeaderIdempotencyKey))
		}
	})
}

// metricValue is the value of a counter or gauge of reg for a notifier (0
// when it has none).
func metricValue(t *testing.T, reg *prometheus.Registry, name, notifier string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "notifier" && l.GetValue() == notifier {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

type refusing struct{}

func (refusing) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 192.0.2.1:443: connect: connection refused")
}

// A URL's query (which may hold a token) stays out of lastError, also
// when the request never reached the receiver.
func TestDelivery_ErrorsLeaveTheQueryOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newFakeStore()
		store.add(webhookNotifier("hook", "https://receiver.test/x?token=secret", apis.FormatJSON), apis.NotifyFailed, failedRun("extract"), time.Now())
		s := newTestService(t, store, Config{Transport: refusing{}, MaxAge: time.Minute})
		stop := runService(t, s, store)
		defer stop()
		res := <-store.done
		assert.False(t, res.Delivered)
		assert.Contains(t, res.Error, "connection refused")
		assert.Contains(t, res.Error, "https://receiver.test/x")
		assert.NotContains(t, res.Error, "token=secret")
	})
}
