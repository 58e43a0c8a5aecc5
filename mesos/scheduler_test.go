package mesos

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var codecNames = []string{"protobuf", "json"}

const waitFor = 10 * time.Second

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testConfig(codec string, masters ...string) Config {
	return Config{
		Masters:       masters,
		FrameworkName: "sprint-test",
		User:          "tester",
		Principal:     "sprint",
		Secret:        "s3cret",
		Codec:         codec,
		MinBackoff:    5 * time.Millisecond,
		MaxBackoff:    50 * time.Millisecond,
		Timeout:       5 * time.Second,
	}
}

// runScheduler starts s.Run and stops it at the end of the test. The
// returned func waits for Run's result.
func runScheduler(t testing.TB, s *Scheduler, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	var result error
	finished := false
	wait := func() error {
		if !finished {
			select {
			case result = <-done:
				finished = true
			case <-time.After(waitFor):
				t.Fatal("Run did not return")
			}
		}
		return result
	}
	t.Cleanup(func() {
		cancel()
		_ = wait()
	})
	return func() error {
		cancel()
		return wait()
	}
}

func newTestScheduler(t *testing.T, cfg Config, ids FrameworkIDStore) *Scheduler {
	t.Helper()
	s, err := New(cfg, ids, testLogger(t))
	require.NoError(t, err)
	return s
}

func waitConnected(t *testing.T, s *Scheduler) {
	t.Helper()
	require.Eventually(t, s.Connected, waitFor, 2*time.Millisecond)
}

func TestScheduler_SubscribeNewFrameworkStoresIDFirst(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			ids := &MemoryIDStore{}
			s := newTestScheduler(t, testConfig(codec, m.url()), ids)
			rec := &recorder{}
			rec.onSubscribed = func(id string) {
				stored, _ := ids.FrameworkID(context.Background())
				rec.add("stored-at-subscribed " + stored)
			}
			runScheduler(t, s, rec)

			waitConnected(t, s)
			require.Eventually(t, func() bool { return rec.has("subscribed master-1-0000") }, waitFor, time.Millisecond)
			assert.True(t, rec.has("stored-at-subscribed master-1-0000"), "the id is stored before the handler hears of it")
			assert.Equal(t, "master-1-0000", s.FrameworkID())

			subs := m.callsOf(scheduler.Call_SUBSCRIBE)
			require.Len(t, subs, 1)
			sub := subs[0]
			assert.Empty(t, sub.streamID, "SUBSCRIBE carries no stream id")
			assert.Equal(t, map[string]string{"protobuf": "application/x-protobuf", "json": "application/json"}[codec], sub.contentType)
			assert.Equal(t, "sprint", sub.user)
			assert.Equal(t, "s3cret", sub.pass)
			assert.Nil(t, sub.call.FrameworkID)
			fi := sub.call.GetSubscribe().GetFrameworkInfo()
			require.NotNil(t, fi)
			assert.Nil(t, fi.ID)
			assert.Equal(t, "tester", fi.User)
			assert.Equal(t, "sprint-test", fi.Name)
			assert.Equal(t, []string{"*"}, fi.Roles)
			assert.Nil(t, fi.Role, "MULTI_ROLE frameworks must not set role")
			assert.Equal(t, "sprint", fi.GetPrincipal())
			assert.InDelta(t, DefaultFailoverTimeout.Seconds(), fi.GetFailoverTimeout(), 1e-9)
			assert.True(t, fi.GetCheckpoint())
			var caps []string
			for _, c := range fi.Capabilities {
				caps = append(caps, c.GetType().String())
			}
			assert.ElementsMatch(t, []string{"MULTI_ROLE", "PARTITION_AWARE", "TASK_KILLING_STATE"}, caps)
		})
	}
}

// Checklist F4/F8, client side: re-subscription carries the stored ID.
func TestScheduler_SubscribeWithStoredID(t *testing.T) {
	m := newFakeMaster(t)
	ids := &MemoryIDStore{}
	require.NoError(t, ids.SetFrameworkID(context.Background(), "fw-stored"))
	s := newTestScheduler(t, testConfig("protobuf", m.url()), ids)
	rec := &recorder{}
	runScheduler(t, s, rec)
	require.Eventually(t, func() bool { return rec.has("subscribed fw-stored") }, waitFor, time.Millisecond)
	sub := m.callsOf(scheduler.Call_SUBSCRIBE)[0].call
	assert.Equal(t, "fw-stored", sub.GetFrameworkID().GetValue())
	assert.Equal(t, "fw-stored", sub.GetSubscribe().GetFrameworkInfo().GetID().GetValue())
}

func TestScheduler_EventsInOrderFromOneGoroutine(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			s := newTestScheduler(t, testConfig(codec, m.url()), nil)
			rec := &recorder{}
			runScheduler(t, s, rec)
			st := m.stream(0)
			st.events <- &scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesosproto.Offer{*testOffer()}}}
			st.events <- &scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesosproto.OfferID{Value: "offer-1"}}}
			st.events <- &scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesosproto.AgentID{Value: "agent-1"}}}
			st.events <- &scheduler.Event{Type: scheduler.Event_MESSAGE, Message: &scheduler.Event_Message{
				AgentID: mesosproto.AgentID{Value: "a"}, ExecutorID: mesosproto.ExecutorID{Value: "e"}, Data: []byte("x")}}
			st.events <- updateEvent("task-1", mesosproto.TASK_RUNNING, []byte("0123456789abcdef"))
			require.Eventually(t, func() bool { return rec.has("update task-1 TASK_RUNNING") }, waitFor, time.Millisecond)
			assert.Equal(t, []string{
				"subscribed master-1-0000",
				"offers offer-1",
				"rescind offer-1",
				"failure agent-1 ",
				"update task-1 TASK_RUNNING",
			}, rec.snapshot())
		})
	}
}

func updateEvent(taskID string, state mesosproto.TaskState, uuid []byte) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: mesosproto.TaskStatus{
		TaskID:  mesosproto.TaskID{Value: taskID},
		State:   state.Enum(),
		AgentID: &mesosproto.AgentID{Value: "agent-1"},
		UUID:    uuid,
	}}}
}

// Checklist T6/T7, client side: an update is acknowledged only when the
// consumer says it is durable, and master-generated ones never (§6.1).
func TestScheduler_AcknowledgesOnlyWhenAsked(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			s := newTestScheduler(t, testConfig(codec, m.url()), nil)
			rec := &recorder{}
			runScheduler(t, s, rec)
			st := m.stream(0)
			uuid := []byte("0123456789abcdef")
			st.events <- updateEvent("task-1", mesosproto.TASK_RUNNING, uuid)
			st.events <- updateEvent("task-2", mesosproto.TASK_LOST, nil) // master-generated
			// A later event proves both updates went through the handler.
			st.events <- &scheduler.Event{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesosproto.OfferID{Value: "x"}}}
			require.Eventually(t, func() bool { return rec.has("rescind x") }, waitFor, time.Millisecond)
			assert.Empty(t, m.callsOf(scheduler.Call_ACKNOWLEDGE), "nothing is acknowledged before the consumer asks")

			rec.mu.Lock()
			updates := append([]mesosproto.TaskStatus(nil), rec.update...)
			rec.mu.Unlock()
			require.Len(t, updates, 2)
			assert.True(t, NeedsAck(updates[0]))
			assert.False(t, NeedsAck(updates[1]))
			require.NoError(t, s.Acknowledge(context.Background(), updates[1]))
			assert.Empty(t, m.callsOf(scheduler.Call_ACKNOWLEDGE), "updates without uuid are never acknowledged")

			require.NoError(t, s.Acknowledge(context.Background(), updates[0]))
			acks := m.callsOf(scheduler.Call_ACKNOWLEDGE)
			require.Len(t, acks, 1)
			ack := acks[0]
			assert.Equal(t, "stream-0", ack.streamID)
			assert.Equal(t, "master-1-0000", ack.call.GetFrameworkID().GetValue())
			assert.Equal(t, "task-1", ack.call.GetAcknowledge().TaskID.Value)
			assert.Equal(t, "agent-1", ack.call.GetAcknowledge().AgentID.Value)
			assert.Equal(t, uuid, ack.call.GetAcknowledge().UUID)
		})
	}
}

func TestScheduler_CallsCarryFrameworkAndStreamID(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			s := newTestScheduler(t, testConfig(codec, m.url()), nil)
			runScheduler(t, s, &recorder{})
			waitConnected(t, s)
			ctx := context.Background()
			offer := testOffer()
			task, err := NewTaskInfo(testRun(nil), "etl.1.x", offer, nil, TaskOptions{})
			require.NoError(t, err)

			require.NoError(t, s.Accept(ctx, []mesosproto.OfferID{offer.ID},
				[]mesosproto.Offer_Operation{LaunchOperation(task)}, RefuseFilters(10*time.Second)))
			require.NoError(t, s.Decline(ctx, []mesosproto.OfferID{{Value: "o2"}}, 0))
			require.NoError(t, s.Revive(ctx))
			require.NoError(t, s.Suppress(ctx, "*"))
			require.NoError(t, s.Kill(ctx, "etl.1.x", "agent-1", 7*time.Second))
			require.NoError(t, s.Reconcile(ctx, nil))
			require.NoError(t, s.Reconcile(ctx, []TaskRef{{TaskID: "etl.1.x", AgentID: "agent-1"}, {TaskID: "b"}}))
			require.NoError(t, s.Message(ctx, "agent-1", "exec", []byte("hi")))

			for _, typ := range []scheduler.Call_Type{scheduler.Call_ACCEPT, scheduler.Call_DECLINE, scheduler.Call_REVIVE,
				scheduler.Call_SUPPRESS, scheduler.Call_KILL, scheduler.Call_RECONCILE, scheduler.Call_MESSAGE} {
				cs := m.callsOf(typ)
				require.NotEmpty(t, cs, typ.String())
				for _, c := range cs {
					assert.Equal(t, "stream-0", c.streamID, typ.String())
					assert.Equal(t, "master-1-0000", c.call.GetFrameworkID().GetValue(), typ.String())
				}
			}
			group := LaunchGroupOperation(mesosproto.ExecutorInfo{
				Type:       mesosproto.ExecutorInfo_DEFAULT,
				ExecutorID: mesosproto.ExecutorID{Value: "group-exec"},
			}, task)
			require.NoError(t, s.Accept(ctx, []mesosproto.OfferID{offer.ID}, []mesosproto.Offer_Operation{group}, nil))
			lg := m.callsOf(scheduler.Call_ACCEPT)[1].call.GetAccept()
			require.Len(t, lg.Operations, 1)
			assert.Equal(t, mesosproto.Offer_Operation_LAUNCH_GROUP, lg.Operations[0].GetType())
			assert.Equal(t, "group-exec", lg.Operations[0].GetLaunchGroup().Executor.ExecutorID.Value)
			assert.Equal(t, "etl.1.x", lg.Operations[0].GetLaunchGroup().TaskGroup.Tasks[0].TaskID.Value)
			assert.Nil(t, lg.Filters, "nil filters: Mesos' default")

			acc := m.callsOf(scheduler.Call_ACCEPT)[0].call.GetAccept()
			require.Len(t, acc.Operations, 1)
			assert.Equal(t, mesosproto.Offer_Operation_LAUNCH, acc.Operations[0].GetType())
			assert.Equal(t, "etl.1.x", acc.Operations[0].GetLaunch().TaskInfos[0].TaskID.Value)
			assert.InDelta(t, 10, acc.GetFilters().GetRefuseSeconds(), 1e-9)
			dec := m.callsOf(scheduler.Call_DECLINE)[0].call.GetDecline()
			require.NotNil(t, dec.Filters.RefuseSeconds, "refuse 0 is sent explicitly: no filter")
			assert.Zero(t, dec.GetFilters().GetRefuseSeconds())
			assert.Empty(t, m.callsOf(scheduler.Call_REVIVE)[0].call.GetRevive().GetRoles())
			assert.Equal(t, []string{"*"}, m.callsOf(scheduler.Call_SUPPRESS)[0].call.GetSuppress().GetRoles())
			kill := m.callsOf(scheduler.Call_KILL)[0].call.GetKill()
			assert.Equal(t, "agent-1", kill.GetAgentID().GetValue())
			assert.Equal(t, (7 * time.Second).Nanoseconds(), kill.GetKillPolicy().GetGracePeriod().GetNanoseconds())
			recs := m.callsOf(scheduler.Call_RECONCILE)
			require.Len(t, recs, 2)
			assert.NotNil(t, recs[0].call.Reconcile, "implicit reconciliation sends an empty reconcile message")
			assert.Empty(t, recs[0].call.GetReconcile().GetTasks())
			tasks := recs[1].call.GetReconcile().GetTasks()
			require.Len(t, tasks, 2)
			assert.Equal(t, "agent-1", tasks[0].GetAgentID().GetValue())
			assert.Nil(t, tasks[1].AgentID)
		})
	}
}

func TestScheduler_CallsBeforeSubscriptionFailFast(t *testing.T) {
	m := newFakeMaster(t)
	s := newTestScheduler(t, testConfig("protobuf", m.url()), nil)
	err := s.Revive(context.Background())
	require.ErrorIs(t, err, ErrNotConnected)
	assert.Zero(t, m.hitCount())
}

// §11.3: a non-2xx answer must not drop the subscription.
func TestScheduler_FailedCallKeepsSubscription(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			s := newTestScheduler(t, testConfig(codec, m.url()), nil)
			rec := &recorder{}
			runScheduler(t, s, rec)
			waitConnected(t, s)
			m.set(func(m *fakeMaster) { m.callStatus[scheduler.Call_DECLINE] = http.StatusBadRequest })

			err := s.Decline(context.Background(), []mesosproto.OfferID{{Value: "o"}}, time.Second)
			var se *StatusError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, http.StatusBadRequest, se.Code)
			assert.Contains(t, se.Message, "injected failure")
			assert.False(t, se.Temporary())

			assert.True(t, s.Connected())
			require.NoError(t, s.Revive(context.Background()), "the same stream still works")
			assert.Len(t, m.callsOf(scheduler.Call_SUBSCRIBE), 1)
			assert.Zero(t, rec.count("disconnected"))
		})
	}
}

// Checklist W6, client side, and the mesos-go redirect bug of §1.5.
func TestScheduler_FollowsRedirectOnSubscribe(t *testing.T) {
	leader := newFakeMaster(t)
	standby := newFakeMaster(t)
	standby.set(func(m *fakeMaster) { m.redirectTo = leader.host() })
	// The standby is listed first: SUBSCRIBE gets a 307 and follows it.
	s := newTestScheduler(t, testConfig("protobuf", standby.url(), leader.url()), nil)
	runScheduler(t, s, &recorder{})
	waitConnected(t, s)
	assert.Equal(t, 1, standby.hitCount())
	require.Len(t, leader.callsOf(scheduler.Call_SUBSCRIBE), 1)

	// Later calls go straight to the leader (mesos-go v0.0.11 sends them to
	// the configured endpoint).
	require.NoError(t, s.Revive(context.Background()))
	assert.Equal(t, 1, standby.hitCount())
	assert.Len(t, leader.callsOf(scheduler.Call_REVIVE), 1)
}

func TestScheduler_FollowsRedirectOnLaterCall(t *testing.T) {
	first := newFakeMaster(t)
	second := newFakeMaster(t)
	second.set(func(m *fakeMaster) { m.anyStream = true })
	s := newTestScheduler(t, testConfig("json", first.url()), nil)
	runScheduler(t, s, &recorder{})
	waitConnected(t, s)

	first.set(func(m *fakeMaster) { m.redirectTo = second.host() })
	require.NoError(t, s.Kill(context.Background(), "t1", "", 0))
	kills := second.callsOf(scheduler.Call_KILL)
	require.Len(t, kills, 1)
	assert.Equal(t, "stream-0", kills[0].streamID, "the redirected call keeps the stream id")
	assert.Equal(t, "master-1-0000", kills[0].call.GetFrameworkID().GetValue())
	assert.Nil(t, kills[0].call.GetKill().KillPolicy)

	hits := first.hitCount()
	require.NoError(t, s.Kill(context.Background(), "t2", "", 0))
	assert.Equal(t, hits, first.hitCount(), "the new leader is remembered")
	assert.Len(t, second.callsOf(scheduler.Call_KILL), 2)
}

// Checklist P6, client side: heartbeats stop on an open connection and the
// scheduler re-subscribes within HeartbeatMisses intervals.
func TestScheduler_HeartbeatWatchdogResubscribes(t *testing.T) {
	for _, codec := range codecNames {
		t.Run(codec, func(t *testing.T) {
			m := newFakeMaster(t)
			// Advertise 20 ms but send no heartbeats after the first: the
			// watchdog fires after 5 × 20 ms.
			m.set(func(m *fakeMaster) { m.heartbeat = 20 * time.Millisecond })
			ids := &MemoryIDStore{}
			s := newTestScheduler(t, testConfig(codec, m.url()), ids)
			rec := &recorder{}
			runScheduler(t, s, rec)
			m.stream(1)
			require.Eventually(t, func() bool { return rec.count("subscribed") >= 2 }, waitFor, time.Millisecond)
			rec.mu.Lock()
			firstErr := rec.errs[0]
			rec.mu.Unlock()
			require.ErrorIs(t, firstErr, ErrHeartbeatTimeout)
			subs := m.callsOf(scheduler.Call_SUBSCRIBE)
			require.GreaterOrEqual(t, len(subs), 2)
			assert.Equal(t, "master-1-0000", subs[1].call.GetFrameworkID().GetValue(), "re-subscribes as the same framework")
		})
	}
}

func TestScheduler_HeartbeatsKeepSubscription(t *testing.T) {
	m := newFakeMaster(t)
	// Without heartbeats resetting it, the watchdog would fire after 500 ms;
	// the margin keeps the test stable on a loaded machine.
	m.set(func(m *fakeMaster) { m.heartbeat, m.sendHeartbeats = 100*time.Millisecond, true })
	s := newTestScheduler(t, testConfig("protobuf", m.url()), nil)
	rec := &recorder{}
	runScheduler(t, s, rec)
	waitConnected(t, s)
	require.Never(t, func() bool { return rec.count("disconnected") > 0 }, 1200*time.Millisecond, 10*time.Millisecond)
	assert.Len(t, m.callsOf(scheduler.Call_SUBSCRIBE), 1)
}

func TestScheduler_ReconnectsWithBackoffAndTriesEveryMaster(t *testing.T) {
	down := newFakeMaster(t)
	down.srv.Close() // connection refused
	m := newFakeMaster(t)
	m.set(func(m *fakeMaster) { m.subscribeFails = 3 })
	s := newTestScheduler(t, testConfig("protobuf", down.url(), m.url()), nil)
	rec := &recorder{}
	start := time.Now()
	runScheduler(t, s, rec)
	waitConnected(t, s)
	// Three failed rounds wait at least 2.5 + 5 + 10 ms (half of each
	// un-jittered back-off).
	assert.GreaterOrEqual(t, time.Since(start), 17*time.Millisecond)
	assert.Len(t, m.callsOf(scheduler.Call_SUBSCRIBE), 4)

	// A stream cut by the master is reported and renewed.
	m.stream(0).close()
	require.Eventually(t, func() bool { return rec.count("subscribed") == 2 }, waitFor, time.Millisecond)
	assert.Equal(t, 1, rec.count("disconnected"))
}

func TestBackoff_CappedExponentialWithJitter(t *testing.T) {
	s := &Scheduler{cfg: Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}}
	lo, hi := s.cfg.MinBackoff, s.cfg.MaxBackoff
	for range 50 {
		r := s.resubscribe()
		for n := range 40 {
			want := hi
			if n < 5 {
				want = lo << n
			}
			d := r.Next()
			require.GreaterOrEqual(t, d, want/2, "attempt %d", n)
			require.LessOrEqual(t, d, want, "attempt %d", n)
		}
	}
}

// Checklist F5, client side: "Framework has been removed" clears the
// stored ID and the next SUBSCRIBE registers a new framework.
func TestScheduler_FrameworkRemovedClearsStoredID(t *testing.T) {
	m := newFakeMaster(t)
	m.set(func(m *fakeMaster) { m.removed["fw-gone"] = true })
	ids := &MemoryIDStore{}
	require.NoError(t, ids.SetFrameworkID(context.Background(), "fw-gone"))
	s := newTestScheduler(t, testConfig("protobuf", m.url()), ids)
	rec := &recorder{}
	runScheduler(t, s, rec)
	require.Eventually(t, func() bool { return rec.has("subscribed master-1-0000") }, waitFor, time.Millisecond)
	assert.True(t, rec.has("error Framework has been removed"))
	assert.Zero(t, rec.count("disconnected"), "a subscription never established is not reported as lost")
	subs := m.callsOf(scheduler.Call_SUBSCRIBE)
	require.Len(t, subs, 2)
	assert.Equal(t, "fw-gone", subs[0].call.GetFrameworkID().GetValue())
	assert.Nil(t, subs[1].call.FrameworkID, "registers anew")
	id, _ := ids.FrameworkID(context.Background())
	assert.Equal(t, "master-1-0000", id)
}

// Checklist F7, client side.
func TestScheduler_TeardownEndsRun(t *testing.T) {
	m := newFakeMaster(t)
	ids := &MemoryIDStore{}
	s := newTestScheduler(t, testConfig("protobuf", m.url()), ids)
	stop := runScheduler(t, s, &recorder{})
	waitConnected(t, s)
	require.NoError(t, s.Teardown(context.Background()))
	require.ErrorIs(t, stop(), ErrTornDown)
	assert.Len(t, m.callsOf(scheduler.Call_TEARDOWN), 1)
	id, _ := ids.FrameworkID(context.Background())
	assert.Empty(t, id)
	assert.False(t, s.Connected())
}

func TestScheduler_RunStopsOnContextCancel(t *testing.T) {
	m := newFakeMaster(t)
	s := newTestScheduler(t, testConfig("protobuf", m.url()), nil)
	rec := &recorder{}
	stop := runScheduler(t, s, rec)
	waitConnected(t, s)
	require.NoError(t, stop())
	assert.False(t, s.Connected())
	assert.Equal(t, 1, rec.count("disconnected"))
}

func TestScheduler_RunTwiceRefused(t *testing.T) {
	m := newFakeMaster(t)
	s := newTestScheduler(t, testConfig("protobuf", m.url()), nil)
	runScheduler(t, s, &recorder{})
	waitConnected(t, s)
	err := s.Run(context.Background(), &recorder{})
	require.Error(t, err)
}

func TestNew_InvalidConfig(t *testing.T) {
	_, err := New(Config{}, nil, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(Config{Masters: []string{"http://m:5050"}, Codec: "xml", User: "u"}, nil, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(Config{Masters: []string{"ftp://m:5050"}, User: "u"}, nil, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewWithCaller(Config{User: "u"}, nil, nil, nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
	s, err := New(Config{Masters: []string{"m:5050"}, User: "u"}, nil, nil)
	require.NoError(t, err)
	require.Error(t, s.Run(context.Background(), nil))
}

func TestParseMasterURL(t *testing.T) {
	for in, want := range map[string]string{
		"m1:5050":                          "http://m1:5050/api/v1/scheduler",
		"http://m1:5050":                   "http://m1:5050/api/v1/scheduler",
		"https://m1:5050/":                 "https://m1:5050/api/v1/scheduler",
		"http://lb.example/mesos/api/v1/x": "http://lb.example/mesos/api/v1/x",
	} {
		u, err := ParseMasterURL(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, u.String(), in)
	}
}

func TestResolveRedirect(t *testing.T) {
	base, err := ParseMasterURL("https://m1:5050")
	require.NoError(t, err)
	for loc, want := range map[string]string{
		"//m2:5050/api/v1/scheduler":      "https://m2:5050/api/v1/scheduler",
		"//m2:5050":                       "https://m2:5050/api/v1/scheduler",
		"http://m3:5051/api/v1/scheduler": "http://m3:5051/api/v1/scheduler",
	} {
		u, err := resolveRedirect(base, loc)
		require.NoError(t, err, loc)
		assert.Equal(t, want, u.String(), loc)
	}
	for _, bad := range []string{"", "::", "/relative/only"} {
		_, err := resolveRedirect(base, bad)
		if bad == "/relative/only" {
			require.NoError(t, err, "a same-host redirect is fine")
			continue
		}
		require.ErrorIs(t, err, ErrProtocol, bad)
	}
}

func TestStatusError(t *testing.T) {
	e := &StatusError{Code: 503, Message: "No leader elected\n"}
	assert.Equal(t, "master answered 503: No leader elected", e.Error())
	assert.True(t, e.Temporary())
	var target *StatusError
	assert.True(t, errors.As(error(e), &target))
	assert.Equal(t, "master answered 403: Forbidden", (&StatusError{Code: 403}).Error())
}

func TestScheduler_AcknowledgeAll(t *testing.T) {
	m := newFakeMaster(t)
	s := newTestScheduler(t, testConfig("protobuf", m.url()), nil)
	runScheduler(t, s, &recorder{})
	waitConnected(t, s)
	var batch []mesosproto.TaskStatus
	for i := range 20 {
		uuid := []byte("0123456789abcde")
		uuid = append(uuid, byte(i))
		batch = append(batch, updateEvent("t-"+string(rune('a'+i)), mesosproto.TASK_RUNNING, uuid).Update.Status)
		batch = append(batch, updateEvent("lost", mesosproto.TASK_LOST, nil).Update.Status)
	}
	require.NoError(t, s.AcknowledgeAll(context.Background(), batch))
	acks := m.callsOf(scheduler.Call_ACKNOWLEDGE)
	require.Len(t, acks, 20, "one per status with uuid")
	seen := map[string]bool{}
	for _, a := range acks {
		seen[string(a.call.GetAcknowledge().UUID)] = true
		assert.NotEqual(t, "lost", a.call.GetAcknowledge().TaskID.Value)
	}
	assert.Len(t, seen, 20)

	m.set(func(m *fakeMaster) { m.callStatus[scheduler.Call_ACKNOWLEDGE] = http.StatusServiceUnavailable })
	err := s.AcknowledgeAll(context.Background(), batch[:4])
	var se *StatusError
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Temporary())
	assert.Contains(t, err.Error(), "task t-a")
	assert.Contains(t, err.Error(), "task t-b")
}

func TestScheduler_RejectsMalformedStreamAndRetries(t *testing.T) {
	// The broken streams stay open: the client must not wait for their end.
	m := newFakeMaster(t)
	m.set(func(m *fakeMaster) { m.noStreamID, m.wrongType = 1, 1 })
	s := newTestScheduler(t, testConfig("json", m.url()), nil)
	rec := &recorder{}
	runScheduler(t, s, rec)
	require.Eventually(t, func() bool { return rec.count("subscribed") == 1 }, waitFor, time.Millisecond)
	assert.Len(t, m.callsOf(scheduler.Call_SUBSCRIBE), 3)
}

func TestScheduler_SuppressionSurvivesResubscription(t *testing.T) {
	m := newFakeMaster(t)
	cfg := testConfig("protobuf", m.url())
	cfg.Role = "batch"
	s := newTestScheduler(t, cfg, nil)
	rec := &recorder{}
	runScheduler(t, s, rec)
	waitConnected(t, s)
	assert.Empty(t, m.callsOf(scheduler.Call_SUBSCRIBE)[0].call.GetSubscribe().GetSuppressedRoles())

	require.NoError(t, s.Suppress(context.Background()))
	m.stream(0).close()
	require.Eventually(t, func() bool { return rec.count("subscribed") == 2 }, waitFor, time.Millisecond)
	assert.Equal(t, []string{"batch"}, m.callsOf(scheduler.Call_SUBSCRIBE)[1].call.GetSubscribe().GetSuppressedRoles())

	require.NoError(t, s.Revive(context.Background(), "other"), "another role leaves ours suppressed")
	m.stream(1).close()
	require.Eventually(t, func() bool { return rec.count("subscribed") == 3 }, waitFor, time.Millisecond)
	assert.Equal(t, []string{"batch"}, m.callsOf(scheduler.Call_SUBSCRIBE)[2].call.GetSubscribe().GetSuppressedRoles())

	require.NoError(t, s.Revive(context.Background(), "batch"))
	m.stream(2).close()
	require.Eventually(t, func() bool { return rec.count("subscribed") == 4 }, waitFor, time.Millisecond)
	assert.Empty(t, m.callsOf(scheduler.Call_SUBSCRIBE)[3].call.GetSubscribe().GetSuppressedRoles())

	m.set(func(m *fakeMaster) { m.callStatus[scheduler.Call_SUPPRESS] = http.StatusServiceUnavailable })
	require.Error(t, s.Suppress(context.Background()))
	m.stream(3).close()
	require.Eventually(t, func() bool { return rec.count("subscribed") == 5 }, waitFor, time.Millisecond)
	assert.Empty(t, m.callsOf(scheduler.Call_SUBSCRIBE)[4].call.GetSubscribe().GetSuppressedRoles(), "a failed SUPPRESS changes nothing")
}
