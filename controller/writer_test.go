package controller

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// Two status batches commit at once, but never two writing the same Run:
// while a batch writing Run a is held in the store, a batch writing b
// commits, and a later write of a waits for the held one and then applies
// to the Run as it left it.
func TestStatusWriter_PipelinesBatchesOfDifferentRuns(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		store := newFakeStore(&actionLog{})
		for _, n := range []string{"a", "b"} {
			store.mu.Lock()
			store.add(&apis.Run{Metadata: apis.ObjectMeta{Name: n}}, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
			store.mu.Unlock()
		}
		hold := make(chan struct{})
		store.statusGate = func(us []apis.StatusUpdate) <-chan struct{} {
			if len(us) == 1 && us[0].Run.Name == "a" && us[0].Status.Message == "first" {
				return hold
			}
			return nil
		}
		cfg := Config{}.withDefaults()
		m, err := newMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
		require.NoError(t, err)
		log := slog.New(slog.DiscardHandler)
		w := newStatusWriter(writerDeps{
			store: store, clock: clock.Real{}, cfg: cfg, m: m, log: log,
			attempts: newRegistry(), queue: newQueue(clock.Real{}, time.Millisecond, time.Second),
			events: newEventRecorder(store, cfg, m.eventsDropped, log),
			apply:  func(*apis.Run, *mesos.TaskStatus, time.Time) transition { return transition{} },
			ack:    func(context.Context, mesos.TaskStatus) {},
			kill:   func(context.Context, string, string, string) error { return nil },
		})
		done := make(chan struct{})
		go func() { w.run(ctx); close(done) }()

		// message appends msg to the Run's message, so a write made on a
		// stale copy of the Run would lose an earlier one.
		message := func(msg string) mutation {
			return func(r *apis.Run, _ time.Time) *statusChange {
				s := r.Status
				if s.Message != "" && s.Message != fakeInitialMessage {
					s.Message += "," + msg
				} else {
					s.Message = msg
				}
				return &statusChange{status: s}
			}
		}
		first := make(chan error, 1)
		go func() { first <- w.mutate(ctx, "a", message("first"), true) }()
		time.Sleep(time.Second) // past the batch window: a's batch is in the store, held
		synctest.Wait()
		require.NoError(t, w.mutate(ctx, "b", message("other"), true), "b commits while a's batch is held")
		second := make(chan error, 1)
		go func() { second <- w.mutate(ctx, "a", message("second"), true) }()
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Empty(t, second, "a's second write waits for its first")
		assert.Equal(t, fakeInitialMessage, store.run("a").Status.Message)

		close(hold)
		require.NoError(t, <-first)
		require.NoError(t, <-second)
		assert.Equal(t, "first,second", store.run("a").Status.Message)
		assert.Equal(t, "other", store.run("b").Status.Message)
		cancel()
		<-done
	})
}

// splitBatch keeps each Run's writes in order and groups whole: a request
// waits while one of its Runs is in flight or held by an earlier request.
func TestSplitBatch(t *testing.T) {
	req := func(name string) writeReq { return writeReq{name: name} }
	group := func(names ...string) writeReq {
		g := writeReq{}
		for _, n := range names {
			g.group = append(g.group, req(n))
		}
		return g
	}
	show := func(rs []writeReq) []string {
		var out []string
		for _, r := range rs {
			out = append(out, strings.Join(reqNames(r), "+"))
		}
		return out
	}
	tests := map[string]struct {
		reqs      []writeReq
		inflight  map[string]int
		max       int
		now, wait []string
	}{
		"nothing in flight":      {reqs: []writeReq{req("a"), req("b")}, max: 10, now: []string{"a", "b"}},
		"a Run in flight waits":  {reqs: []writeReq{req("a"), req("b"), req("a")}, inflight: map[string]int{"a": 1}, max: 10, now: []string{"b"}, wait: []string{"a", "a"}},
		"a group waits whole":    {reqs: []writeReq{group("a", "b"), req("c")}, inflight: map[string]int{"b": 1}, max: 10, now: []string{"c"}, wait: []string{"a+b"}},
		"behind a waiting group": {reqs: []writeReq{group("a", "b"), req("a")}, inflight: map[string]int{"b": 1}, max: 10, wait: []string{"a+b", "a"}},
		"past max, in order":     {reqs: []writeReq{req("a"), req("b"), req("a")}, max: 1, now: []string{"a"}, wait: []string{"b", "a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now, wait := splitBatch(tc.reqs, tc.inflight, tc.max)
			assert.Equal(t, tc.now, show(now))
			assert.Equal(t, tc.wait, show(wait))
		})
	}
}

// An idle status writer commits a write at once: no batching window
// delays it (here a window of an hour, which the old writer waited out
// in full for a lone write). Batches form only from what queues while
// earlier ones commit.
func TestStatusWriter_IdleWriteCommitsWithoutWaiting(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		store := newFakeStore(&actionLog{})
		store.mu.Lock()
		store.add(&apis.Run{Metadata: apis.ObjectMeta{Name: "a"}}, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
		store.mu.Unlock()
		cfg := Config{StatusBatchWindow: time.Hour}.withDefaults()
		m, err := newMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
		require.NoError(t, err)
		log := slog.New(slog.DiscardHandler)
		w := newStatusWriter(writerDeps{
			store: store, clock: clock.Real{}, cfg: cfg, m: m, log: log,
			attempts: newRegistry(), queue: newQueue(clock.Real{}, time.Millisecond, time.Second),
			events: newEventRecorder(store, cfg, m.eventsDropped, log),
			apply:  func(*apis.Run, *mesos.TaskStatus, time.Time) transition { return transition{} },
			ack:    func(context.Context, mesos.TaskStatus) {},
			kill:   func(context.Context, string, string, string) error { return nil },
		})
		done := make(chan struct{})
		go func() { w.run(ctx); close(done) }()

		began := time.Now()
		wrote := make(chan error, 1)
		go func() {
			wrote <- w.mutate(ctx, "a", func(r *apis.Run, _ time.Time) *statusChange {
				s := r.Status
				s.Message = "now"
				return &statusChange{status: s}
			}, true)
		}()
		synctest.Wait()
		select {
		case err := <-wrote:
			require.NoError(t, err)
		default:
			t.Fatal("the write waits for a batching window on an idle writer")
		}
		assert.Equal(t, began, time.Now(), "no (fake) time passed")
		assert.Equal(t, "now", store.run("a").Status.Message)
		cancel()
		<-done
	})
}

// TASK_STARTING is acknowledged before its write only while the ackers
// are nearly idle: behind a queue of acknowledgements, early ones would
// hold up those of committed batches (and with them the status writer).
func TestTerm_TryAckOnlyWhileTheAckersKeepUp(t *testing.T) {
	tm := &term{acks: make(chan mesos.TaskStatus, 4096)}
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_STARTING.Enum(), UUID: []byte("u")}
	for range earlyAckQueue - 1 {
		tm.acks <- st
	}
	assert.True(t, tm.tryAck(st), "room below the bound")
	assert.False(t, tm.tryAck(st), "the bound reached: acknowledged after the write")
	<-tm.acks
	assert.True(t, tm.tryAck(st))
	noUUID := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_STARTING.Enum()}
	assert.True(t, tm.tryAck(noUUID), "nothing to acknowledge")
	assert.Len(t, tm.acks, earlyAckQueue)
}
