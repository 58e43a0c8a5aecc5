package sim

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func resByName(o mesos.Offer, name string) *mesos.Resource {
	for i := range o.Resources {
		if o.Resources[i].Name == name {
			return &o.Resources[i]
		}
	}
	return nil
}

func TestO1_OfferShape(t *testing.T) {
	cases := map[string]struct {
		caps       []mesos.FrameworkInfo_Capability_Type
		roles      []string
		allocInfo  bool
		starRole   bool
		offerRoles string
	}{
		"plain":                  {nil, nil, false, true, "*"},
		"multi-role":             {[]mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_MULTI_ROLE}, []string{"eng"}, true, true, "eng"},
		"reservation-refinement": {[]mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_MULTI_ROLE, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT}, []string{"*"}, true, false, "*"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := fastConfig()
			cfg.Agents = []AgentConfig{{Hostname: "agent1.local", Resources: "cpus:2;mem:1024;disk:100;ports:[31000-31009,31020-31029]", Attributes: "rack:r1;cores:8"}}
			tm := startMaster(t, cfg)
			fi := frameworkInfo(name, c.caps...)
			fi.Roles = c.roles
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			offers := s.offers(5 * time.Second)
			require.Len(t, offers, 1, "one offer per agent and role")
			o := offers[0]
			assert.Equal(t, "agent1.local", o.Hostname)
			assert.Equal(t, s.fwID, o.FrameworkID.Value)
			require.NotNil(t, o.URL)
			assert.Equal(t, "http", o.URL.Scheme)
			assert.Equal(t, "/slave(1)", o.URL.GetPath())
			assert.Equal(t, "agent1.local", o.URL.Address.GetHostname())
			require.Len(t, o.Attributes, 2)
			assert.Equal(t, "cores", o.Attributes[0].Name)
			assert.Equal(t, 8.0, o.Attributes[0].Scalar.Value)
			assert.Equal(t, "r1", o.Attributes[1].Text.Value)
			assert.Empty(t, o.ExecutorIDs)
			assert.Equal(t, 2.0, resByName(o, "cpus").Scalar.Value)
			assert.Equal(t, 1024.0, resByName(o, "mem").Scalar.Value)
			assert.Equal(t, []mesos.Value_Range{{Begin: 31000, End: 31009}, {Begin: 31020, End: 31029}}, resByName(o, "ports").Ranges.Range)
			if c.allocInfo {
				require.NotNil(t, o.AllocationInfo)
				assert.Equal(t, c.offerRoles, o.AllocationInfo.GetRole())
			} else {
				assert.Nil(t, o.AllocationInfo)
			}
			for _, r := range o.Resources {
				assert.Equal(t, c.allocInfo, r.AllocationInfo != nil, r.Name)
				assert.Equal(t, c.starRole, r.Role != nil, r.Name)
				assert.Equal(t, "*", r.GetRole())
				assert.Empty(t, r.Reservations)
			}
		})
	}
}

func TestO2_DeclineFilters(t *testing.T) {
	cases := map[string]struct {
		refuse    *float64
		quietFor  time.Duration
		offeredBy time.Duration
	}{
		"no filters → 5 s":     {nil, 4 * time.Second, 6 * time.Second},
		"refuse 0 → next tick": {f64(0), 0, time.Second},
		"refuse 0.1 → ≥ 1 s":   {f64(0.1), 0, time.Second},
		"negative → 5 s":       {f64(-3), 4 * time.Second, 6 * time.Second},
		"refuse 10 s":          {f64(10), 9 * time.Second, 11 * time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tm, clk := manualMaster(t, fastConfig())
			s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o2"))
			s.subscribed()
			o := s.offers(5 * time.Second)[0]
			s.mustCall(decline(o, c.refuse))
			if c.quietFor > 0 {
				clk.Advance(c.quietFor)
				assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS), "filtered")
			}
			clk.Advance(c.offeredBy - c.quietFor)
			assert.NotEmpty(t, ofType(s.drain(), scheduler.Event_OFFERS), "offered again")
		})
	}
	t.Run("huge → capped at 365 days", func(t *testing.T) {
		tm, clk := manualMaster(t, fastConfig())
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o2"))
		s.subscribed()
		o := s.offers(5 * time.Second)[0]
		s.mustCall(decline(o, f64(1e12)))
		s.drain()
		tm.mu.Lock()
		fs := tm.frameworks[s.fwID].filters[filterKey("*", o.AgentID.Value)]
		require.Len(t, fs, 1)
		assert.Equal(t, clk.Now().Add(365*24*time.Hour), fs[0].expiry)
		tm.mu.Unlock()
	})
}

func TestO3_FilterIsASubsetTest(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o3"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	ti := commandTask("t", o, "true", scalar("cpus", 1), scalar("mem", 64))
	ti.Labels = simLabels("SIM_DURATION", "10s")
	c := launch(o, ti)
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(3600)}
	s.mustCall(c)
	clk.Advance(5 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS), "the declined rest is filtered for an hour")
	clk.Advance(6 * time.Second) // the task ends: more than the filtered set is free
	offers := ofType(s.drain(), scheduler.Event_OFFERS)
	require.NotEmpty(t, offers)
	assert.Equal(t, 4.0, resByName(offers[0].Offers.Offers[0], "cpus").Scalar.Value)
}

func TestO4_ReviveAndSuppress(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o4"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(decline(o, f64(3600)))
	s.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE})
	require.Len(t, ofType(s.drain(), scheduler.Event_OFFERS), 1, "REVIVE clears filters and allocates at once")

	// SUPPRESS keeps the outstanding offer (no RESCIND) but stops new ones.
	s.mustCall(&scheduler.Call{Type: scheduler.Call_SUPPRESS})
	assert.Empty(t, ofType(s.drain(), scheduler.Event_RESCIND))
	tm.mu.Lock()
	assert.Len(t, tm.frameworks[s.fwID].offers, 1)
	var held mesos.Offer
	for _, off := range tm.frameworks[s.fwID].offers {
		held = tm.offerProto(off)
	}
	tm.mu.Unlock()
	s.mustCall(decline(held, f64(0)))
	clk.Advance(3 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS), "suppressed")

	// A REVIVE naming a role the framework lacks is dropped entirely.
	s.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE, Revive: &scheduler.Call_Revive{Roles: []string{"*", "nope"}}})
	clk.Advance(2 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS))
	s.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE, Revive: &scheduler.Call_Revive{Roles: []string{"*"}}})
	assert.Len(t, ofType(s.drain(), scheduler.Event_OFFERS), 1)
}

func TestO5_PartialAcceptReturnsTheRestWithFilters(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o5"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	c := launch(o, longTask("a", o))
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
	s.mustCall(c)
	clk.Advance(time.Second)
	offers := ofType(s.drain(), scheduler.Event_OFFERS)
	require.Len(t, offers, 1, "rest re-offered with refuse_seconds 0")
	o2 := offers[0].Offers.Offers[0]
	assert.InDelta(t, 3.9, resByName(o2, "cpus").Scalar.Value, 1e-9)

	// Default filters: the rest waits 5 s.
	s.mustCall(launch(o2, longTask("b", o2)))
	clk.Advance(2 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS))
	clk.Advance(4 * time.Second)
	offers = ofType(s.drain(), scheduler.Event_OFFERS)
	require.Len(t, offers, 1)

	// LAUNCH with zero tasks is a decline (with the call's filters).
	o3 := offers[0].Offers.Offers[0]
	zero := launch(o3)
	zero.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(60)}
	s.mustCall(zero)
	clk.Advance(10 * time.Second)
	evs := s.drain()
	assert.Empty(t, ofType(evs, scheduler.Event_OFFERS))
	for _, e := range ofType(evs, scheduler.Event_UPDATE) {
		assert.NotEqual(t, mesos.TASK_LOST, e.Update.Status.GetState())
	}
}

func assertInvalidOffer(t *testing.T, st mesos.TaskStatus, want mesos.TaskState) {
	t.Helper()
	assert.Equal(t, want, st.GetState())
	assert.Equal(t, mesos.REASON_INVALID_OFFERS, st.GetReason())
	assert.Equal(t, mesos.SOURCE_MASTER, st.GetSource())
	assert.Empty(t, st.UUID)
	assert.Contains(t, st.GetMessage(), "Task launched with invalid offers: ")
}

func TestO6_ReusedOfferLosesTasks(t *testing.T) {
	for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
		t.Run(name, func(t *testing.T) {
			tm := startMaster(t, fastConfig())
			fi := frameworkInfo("o6")
			want := mesos.TASK_LOST
			if pa {
				fi = frameworkInfo("o6", mesos.FrameworkInfo_Capability_PARTITION_AWARE)
				want = mesos.TASK_DROPPED
			}
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			o := s.offers(5 * time.Second)[0]
			s.mustCall(launch(o, longTask("a", o)))
			s.mustCall(launch(o, longTask("b", o)))
			st := s.update(5*time.Second, "b")
			assertInvalidOffer(t, st, want)
			assert.Contains(t, st.GetMessage(), "Offer "+o.ID.Value+" is no longer valid")
		})
	}
}

func TestO7_BadOfferListsLoseTasks(t *testing.T) {
	cfg := fastConfig()
	cfg.Agents = []AgentConfig{{Hostname: "127.0.0.1"}, {Hostname: "127.0.0.1"}}
	tm := startMaster(t, cfg)
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o7"))
	s.subscribed()
	var offers []mesos.Offer
	for len(offers) < 2 {
		offers = append(offers, s.offers(5*time.Second)...)
	}
	mixed := launch(offers[0], longTask("mixed", offers[0]))
	mixed.Accept.OfferIDs = []mesos.OfferID{offers[0].ID, offers[1].ID}
	s.mustCall(mixed)
	st := s.update(5*time.Second, "mixed")
	assertInvalidOffer(t, st, mesos.TASK_LOST)
	assert.Contains(t, st.GetMessage(), "Aggregated offers must belong to one single agent")

	// The offers were discarded; new ones come without a filter.
	var fresh []mesos.Offer
	for len(fresh) < 2 {
		fresh = append(fresh, s.offers(5*time.Second)...)
	}
	dup := launch(fresh[0], longTask("dup", fresh[0]))
	dup.Accept.OfferIDs = []mesos.OfferID{fresh[0].ID, fresh[0].ID}
	s.mustCall(dup)
	st = s.update(5*time.Second, "dup")
	assertInvalidOffer(t, st, mesos.TASK_LOST)
	assert.Contains(t, st.GetMessage(), "Duplicate offer")

	empty := launch(fresh[1], longTask("empty", fresh[1]))
	empty.Accept.OfferIDs = nil
	s.mustCall(empty)
	st = s.update(5*time.Second, "empty")
	assertInvalidOffer(t, st, mesos.TASK_LOST)
	assert.Contains(t, st.GetMessage(), "No offers specified")
}

func TestO8_AgentLossRescindsAndDisconnectDiscards(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, withFailover(frameworkInfo("o8"), 60))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	require.NoError(t, tm.PartitionAgent(o.AgentID.Value, false))
	r := s.waitFor(5*time.Second, isType(scheduler.Event_RESCIND))
	assert.Equal(t, o.ID, r.Rescind.OfferID)
	require.NoError(t, tm.RestoreAgent(o.AgentID.Value))
	s.offers(5 * time.Second)

	s.close()
	require.Eventually(t, func() bool {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		return len(tm.offers) == 0 && len(tm.frameworks[s.fwID].offers) == 0 && tm.agentList[0].free.contains(tm.agentList[0].total)
	}, 5*time.Second, 5*time.Millisecond, "offers vanish silently on disconnect")
}

func TestO9_OfferTimeout(t *testing.T) {
	cfg := fastConfig()
	cfg.OfferTimeout = 10 * time.Second
	tm, clk := manualMaster(t, cfg)
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o9"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	clk.Advance(9 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_RESCIND))
	clk.Advance(2 * time.Second)
	r := ofType(s.drain(), scheduler.Event_RESCIND)
	require.Len(t, r, 1)
	assert.Equal(t, o.ID, r[0].Rescind.OfferID)
}

func TestO10_GPUAgentsAndMinAllocatable(t *testing.T) {
	cfg := fastConfig()
	cfg.Agents = []AgentConfig{{Resources: "cpus:4;mem:1024;gpus:1"}}
	tm := startMaster(t, cfg)
	plain := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("no-gpu"))
	plain.subscribed()
	assert.Empty(t, ofType(plain.drain(), scheduler.Event_OFFERS))
	gpu := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("gpu", mesos.FrameworkInfo_Capability_GPU_RESOURCES))
	gpu.subscribed()
	o := gpu.offers(5 * time.Second)[0]
	assert.Equal(t, 1.0, resByName(o, "gpus").Scalar.Value)

	cfg = fastConfig()
	cfg.Agents = []AgentConfig{{Resources: "cpus:0.005;mem:16"}}
	tm2 := startMaster(t, cfg)
	tiny := subscribe(t, tm2.url, mediaProtobuf, frameworkInfo("tiny"))
	tiny.subscribed()
	assert.Empty(t, ofType(tiny.drain(), scheduler.Event_OFFERS), "below cpus:0.01|mem:32")
	fi := frameworkInfo("small-ok")
	fi.OfferFilters = map[string]mesos.OfferFilters{"*": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{
		Quantities: []mesos.OfferFilters_ResourceQuantities{{Quantities: map[string]mesos.Value_Scalar{"mem": {Value: 8}}}},
	}}}
	ok := subscribe(t, tm2.url, mediaProtobuf, fi)
	ok.subscribed()
	assert.NotEmpty(t, ok.offers(5*time.Second), "framework offer_filters override the default")
}

func TestO11_ResourcesReturnOnTerminalAndExecutorExit(t *testing.T) {
	cfg := fastConfig()
	cfg.Agents = []AgentConfig{{Resources: "cpus:2;mem:256"}}
	tm, clk := manualMaster(t, cfg)
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("o11"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	ti := commandTask("short", o, "true", scalar("cpus", 1), scalar("mem", 64))
	ti.Labels = simLabels("SIM_DURATION", "5s")
	c := launch(o, ti)
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
	s.mustCall(c)
	clk.Advance(time.Second)
	offers := ofType(s.drain(), scheduler.Event_OFFERS)
	require.Len(t, offers, 1)
	assert.Equal(t, 1.0, resByName(offers[0].Offers.Offers[0], "cpus").Scalar.Value)
	s.mustCall(decline(offers[0].Offers.Offers[0], f64(0)))
	clk.Advance(5 * time.Second) // task ends; its updates are never ACKed
	s.drain()
	tm.mu.Lock()
	held := newResVec()
	var outstanding []mesos.Offer
	for _, off := range tm.frameworks[s.fwID].offers {
		held.add(off.res)
		outstanding = append(outstanding, tm.offerProto(off))
	}
	tm.mu.Unlock()
	assert.Equal(t, 2.0, held.scalar("cpus"), "freed before ACK and offered again")
	for _, off := range outstanding {
		s.mustCall(decline(off, f64(0)))
	}
	clk.Advance(time.Second)
	offers = ofType(s.drain(), scheduler.Event_OFFERS)
	require.Len(t, offers, 1)
	o = offers[0].Offers.Offers[0]
	require.Equal(t, 2.0, resByName(o, "cpus").Scalar.Value)

	// A custom executor is charged once per agent and freed when it exits.
	exec := mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "ex"}, Command: &mesos.CommandInfo{Value: ptr("./executor")},
		Resources: []mesos.Resource{scalar("cpus", 0.5), scalar("mem", 32)}}
	mk := func(id string) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID,
			Resources: []mesos.Resource{scalar("cpus", 0.5), scalar("mem", 32)}, Executor: &exec, Labels: simLabels("SIM_DURATION", "1h")}
	}
	c = launch(o, mk("e1"), mk("e2"))
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
	s.mustCall(c)
	clk.Advance(time.Second)
	evs := s.drain()
	for _, e := range ofType(evs, scheduler.Event_UPDATE) {
		assert.NotEqual(t, mesos.TASK_ERROR, e.Update.Status.GetState(), e.Update.Status.GetMessage())
	}
	offers = ofType(evs, scheduler.Event_OFFERS)
	require.Len(t, offers, 1)
	o = offers[0].Offers.Offers[0]
	assert.InDelta(t, 0.5, resByName(o, "cpus").Scalar.Value, 1e-9, "2 − 0.5 − 0.5 − executor 0.5")
	assert.Equal(t, []mesos.ExecutorID{{Value: "ex"}}, o.ExecutorIDs)
	s.mustCall(decline(o, f64(0)))
	s.mustCall(&scheduler.Call{Type: scheduler.Call_SHUTDOWN, Shutdown: &scheduler.Call_Shutdown{ExecutorID: exec.ExecutorID, AgentID: o.AgentID}})
	clk.Advance(time.Second)
	offers = ofType(s.drain(), scheduler.Event_OFFERS)
	require.NotEmpty(t, offers)
	assert.Equal(t, 2.0, resByName(offers[len(offers)-1].Offers.Offers[0], "cpus").Scalar.Value)
}

func ptr[T any](v T) *T { return &v }
