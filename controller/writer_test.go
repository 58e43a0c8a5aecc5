package controller

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
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
		w := newStatusWriter(testWriterDeps(t, store, cfg))
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
		w := newStatusWriter(testWriterDeps(t, store, cfg))
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

// TASK_STARTING is acknowledged before its write while the early lane has
// room, however far behind the ackers are on committed updates (in a
// burst they always were, and the old bound on the shared queue let no
// TASK_STARTING through early); past the lane's bound, after its write.
func TestTerm_TryAckWhileTheEarlyLaneHasRoom(t *testing.T) {
	tm := &term{clock: clock.Real{}, acks: make(chan mesos.TaskStatus, 4096), earlyAcks: make(chan earlyAckReq, earlyAckQueue)}
	st := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_STARTING.Enum(), UUID: []byte("u")}
	for range 1000 {
		tm.acks <- st // committed updates' acknowledgements waiting
	}
	for range earlyAckQueue - 1 {
		require.True(t, tm.tryAck(st, nil))
	}
	assert.True(t, tm.tryAck(st, nil), "room below the bound")
	assert.False(t, tm.tryAck(st, nil), "the bound reached: acknowledged after the write")
	<-tm.earlyAcks
	assert.True(t, tm.tryAck(st, nil))
	noUUID := mesos.TaskStatus{TaskID: mesos.TaskID{Value: "t"}, State: mesos.TASK_STARTING.Enum()}
	sent := new(atomic.Int64)
	assert.True(t, tm.tryAck(noUUID, sent), "nothing to acknowledge")
	assert.NotZero(t, sent.Load(), "nothing to wait for")
	assert.Len(t, tm.earlyAcks, earlyAckQueue)
	assert.Len(t, tm.acks, 1000)
}

// The ackers send the acknowledgements queued on receipt before those of
// committed updates: each lets a launch's TASK_RUNNING come.
func TestTerm_AckerSendsEarlyAcknowledgementsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		sched := newFakeScheduler(&actionLog{})
		tm := &term{sched: sched, clock: clock.Real{}, log: slog.New(slog.DiscardHandler), acks: make(chan mesos.TaskStatus, 16), earlyAcks: make(chan earlyAckReq, 16)}
		st := func(task string, s mesos.TaskState) mesos.TaskStatus {
			return mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: s.Enum(), UUID: []byte("u")}
		}
		tm.ack(ctx, st("a", mesos.TASK_RUNNING))
		tm.ack(ctx, st("b", mesos.TASK_FINISHED))
		cSent, dSent := new(atomic.Int64), new(atomic.Int64)
		require.True(t, tm.tryAck(st("c", mesos.TASK_STARTING), cSent))
		require.True(t, tm.tryAck(st("d", mesos.TASK_STARTING), dSent))
		done := make(chan struct{})
		go func() { tm.acker(ctx); close(done) }()
		synctest.Wait()
		sched.mu.Lock()
		assert.Equal(t, []string{"c TASK_STARTING", "d TASK_STARTING", "a TASK_RUNNING", "b TASK_FINISHED"}, sched.acked)
		sched.mu.Unlock()
		assert.Equal(t, time.Now().UnixNano(), cSent.Load(), "the writer learns when they were sent")
		assert.Equal(t, time.Now().UnixNano(), dSent.Load())
		cancel()
		<-done
	})
}

// A TASK_STARTING update acknowledged on receipt waits up to startingHold
// for its task's next update, so that TASK_STARTING and TASK_RUNNING make
// one write; alone, it is written when the hold ends; acknowledged only
// after its write (the ackers' queue full), it goes at once, since the
// agent sends nothing more until then.
func TestStatusWriter_StartingWaitsForItsTasksNextUpdate(t *testing.T) {
	t.Parallel()
	const task = "a.1.x"
	update := func(s mesos.TaskState) mesos.TaskStatus {
		return mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: s.Enum(), UUID: []byte("u")}
	}
	tests := map[string]struct {
		earlyAck     bool
		ackSentAfter time.Duration // when the early acknowledgement goes out; <0: never
		runningAfter time.Duration // 0: no TASK_RUNNING
		// wantBatches are the Mesos states written, one string per
		// UpdateStatuses call, and at what (fake) time after TASK_STARTING.
		wantBatches []string
		wantAt      []time.Duration
	}{
		"running within the hold: one write": {earlyAck: true, runningAfter: 5 * time.Millisecond,
			wantBatches: []string{"TASK_RUNNING"}, wantAt: []time.Duration{5 * time.Millisecond}},
		"alone: written when the hold ends": {earlyAck: true,
			wantBatches: []string{"TASK_STARTING"}, wantAt: []time.Duration{startingHold}},
		"running after the hold: two writes": {earlyAck: true, runningAfter: startingHold + time.Second,
			wantBatches: []string{"TASK_STARTING", "TASK_RUNNING"}, wantAt: []time.Duration{startingHold, startingHold + time.Second}},
		"acknowledgement sent late: held from its sending": {earlyAck: true, ackSentAfter: 3 * startingHold, runningAfter: 3*startingHold + 20*time.Millisecond,
			wantBatches: []string{"TASK_RUNNING"}, wantAt: []time.Duration{3*startingHold + 20*time.Millisecond}},
		"acknowledgement sent late, then alone": {earlyAck: true, ackSentAfter: 3*startingHold + time.Millisecond,
			wantBatches: []string{"TASK_STARTING"}, wantAt: []time.Duration{4*startingHold + time.Millisecond}},
		"acknowledgement never sent: written after startingHoldMax": {earlyAck: true, ackSentAfter: -1,
			wantBatches: []string{"TASK_STARTING"}, wantAt: []time.Duration{startingHoldMax}},
		"acknowledged after its write: at once": {earlyAck: false, runningAfter: 5 * time.Millisecond,
			wantBatches: []string{"TASK_STARTING", "TASK_RUNNING"}, wantAt: []time.Duration{0, 5 * time.Millisecond}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				store := newFakeStore(&actionLog{})
				store.mu.Lock()
				store.add(&apis.Run{Metadata: apis.ObjectMeta{Name: "a"}, Status: apis.RunStatus{Phase: apis.PhaseStarting, TaskID: task}},
					time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
				store.mu.Unlock()
				began := time.Now()
				var batches []string
				var at []time.Duration
				store.statusGate = func(us []apis.StatusUpdate) <-chan struct{} {
					var states []string
					for _, u := range us {
						states = append(states, u.Status.MesosState)
					}
					batches = append(batches, strings.Join(states, ","))
					at = append(at, time.Since(began))
					return nil
				}
				cfg := Config{}.withDefaults()
				deps := testWriterDeps(t, store, cfg)
				deps.attempts.add(liveAttempt{Attempt: apis.Attempt{Run: "a", Number: 1, TaskID: task}})
				var acked []string
				deps.apply = func(r *apis.Run, st *mesos.TaskStatus, _ time.Time) transition {
					s := r.Status
					s.MesosState = st.GetState().String()
					return transition{status: s}
				}
				deps.ack = func(_ context.Context, st mesos.TaskStatus) { acked = append(acked, st.GetState().String()) }
				deps.tryAck = func(_ mesos.TaskStatus, sent *atomic.Int64) bool {
					switch {
					case !tc.earlyAck || tc.ackSentAfter < 0:
					case tc.ackSentAfter == 0:
						sent.Store(time.Now().UnixNano())
					default:
						go func() { time.Sleep(tc.ackSentAfter); sent.Store(time.Now().UnixNano()) }()
					}
					return tc.earlyAck
				}
				w := newStatusWriter(deps)
				done := make(chan struct{})
				go func() { w.run(ctx); close(done) }()

				w.submitUpdate(ctx, update(mesos.TASK_STARTING))
				if tc.runningAfter > 0 {
					time.Sleep(tc.runningAfter)
					w.submitUpdate(ctx, update(mesos.TASK_RUNNING))
				}
				time.Sleep(startingHold + 2*time.Second)
				synctest.Wait()
				assert.Equal(t, tc.wantBatches, batches)
				assert.Equal(t, tc.wantAt, at)
				assert.Equal(t, "TASK_"+map[bool]string{true: "RUNNING", false: "STARTING"}[tc.runningAfter > 0], store.run("a").Status.MesosState)
				if tc.earlyAck {
					assert.NotContains(t, acked, "TASK_STARTING", "acknowledged on receipt, not again")
				} else {
					assert.Contains(t, acked, "TASK_STARTING", "acknowledged once written")
				}
				if tc.runningAfter > 0 {
					assert.Contains(t, acked, "TASK_RUNNING", "acknowledged once written")
				}
				cancel()
				<-done
			})
		})
	}
}

// holdStarting keeps each Run's writes in order: a held starting update
// goes out just before its Run's next request, whatever that is; a hold
// ends at its time (releaseDue).
func TestHoldStarting(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 22, 0, 0, 0, time.UTC)
	starting := func(run string, acked bool) writeReq {
		return writeReq{name: run, acked: acked, update: &mesos.TaskStatus{TaskID: mesos.TaskID{Value: run + ".1.x"}, State: mesos.TASK_STARTING.Enum()}}
	}
	running := func(run string) writeReq {
		return writeReq{name: run, acked: false, update: &mesos.TaskStatus{TaskID: mesos.TaskID{Value: run + ".1.x"}, State: mesos.TASK_RUNNING.Enum()}}
	}
	mutate := func(run string) writeReq { return writeReq{name: run} }
	group := func(runs ...string) writeReq {
		g := writeReq{}
		for _, r := range runs {
			g.group = append(g.group, mutate(r))
		}
		return g
	}
	show := func(rs []writeReq) []string {
		var out []string
		for _, r := range rs {
			s := strings.Join(reqNames(r), "+")
			if r.update != nil {
				s += ":" + strings.TrimPrefix(r.update.GetState().String(), "TASK_")
			}
			out = append(out, s)
		}
		return out
	}
	tests := map[string]struct {
		held      []writeReq
		reqs      []writeReq
		out, hold []string
	}{
		"acknowledged starting is held":                              {reqs: []writeReq{starting("a", true), mutate("b")}, out: []string{"b"}, hold: []string{"a:STARTING"}},
		"unacknowledged starting goes":                               {reqs: []writeReq{starting("a", false)}, out: []string{"a:STARTING"}},
		"running takes the held one along":                           {held: []writeReq{starting("a", true), starting("b", true)}, reqs: []writeReq{running("a")}, out: []string{"a:STARTING", "a:RUNNING"}, hold: []string{"b:STARTING"}},
		"any request of the Run releases it":                         {held: []writeReq{starting("a", true)}, reqs: []writeReq{mutate("c"), group("b", "a")}, out: []string{"c", "a:STARTING", "b+a"}},
		"a second starting replaces the first in the hold, in order": {held: []writeReq{starting("a", true)}, reqs: []writeReq{starting("a", true)}, out: []string{"a:STARTING"}, hold: []string{"a:STARTING"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var held []heldUpdate
			for _, r := range tc.held {
				held = append(held, heldUpdate{req: r, until: t0})
			}
			out, held := holdStarting(tc.reqs, held, t0)
			assert.Equal(t, tc.out, show(out))
			var h []writeReq
			for _, x := range held {
				h = append(h, x.req)
			}
			assert.Equal(t, tc.hold, show(h))
		})
	}

	held := []heldUpdate{{req: starting("a", true), until: t0}, {req: starting("b", true), until: t0.Add(time.Millisecond)}}
	due, rest := releaseDue(held, t0)
	assert.Equal(t, []string{"a:STARTING"}, show(due))
	require.Len(t, rest, 1)
	assert.Equal(t, "b", rest[0].req.name)

	// A hold ends startingHold after the acknowledgement was sent, looks
	// again at one not sent yet, and ends startingHoldMax after arrival.
	withAck := func(run string, sentAt time.Time) writeReq {
		r := starting(run, true)
		r.ackSent = new(atomic.Int64)
		if !sentAt.IsZero() {
			r.ackSent.Store(sentAt.UnixNano())
		}
		return r
	}
	now := t0.Add(startingHold)
	held = []heldUpdate{
		{req: withAck("unsent", time.Time{}), since: t0, until: now},
		{req: withAck("sent-late", now.Add(-time.Millisecond)), since: t0, until: now},
		{req: withAck("sent-early", t0), since: t0, until: now},
		{req: withAck("unsent-too-long", time.Time{}), since: now.Add(-startingHoldMax), until: now},
	}
	due, rest = releaseDue(held, now)
	assert.Equal(t, []string{"sent-early:STARTING", "unsent-too-long:STARTING"}, show(due))
	require.Len(t, rest, 2)
	assert.Equal(t, "unsent", rest[0].req.name)
	assert.Equal(t, now.Add(startingHold), rest[0].until)
	assert.Equal(t, "sent-late", rest[1].req.name)
	assert.WithinDuration(t, now.Add(startingHold-time.Millisecond), rest[1].until, 0)
	assert.WithinDuration(t, now.Add(startingHold-time.Millisecond), nextHoldEnd(rest), 0)
}

// testWriterDeps is a status writer's dependencies for a test over store:
// real time, a fresh registry and queue, and an apply, ack and kill that
// do nothing; a test sets what it looks at.
func testWriterDeps(t *testing.T, store Store, cfg Config) writerDeps {
	t.Helper()
	m, err := newMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	return writerDeps{
		store: store, clock: clock.Real{}, cfg: cfg, m: m, log: log,
		attempts: newRegistry(), queue: newQueue(clock.Real{}, time.Millisecond, time.Second),
		events: newEventRecorder(store, cfg, m.eventsDropped, log),
		apply:  func(*apis.Run, *mesos.TaskStatus, time.Time) transition { return transition{} },
		ack:    func(context.Context, mesos.TaskStatus) {},
		kill:   func(context.Context, string, string, string) error { return nil },
	}
}
