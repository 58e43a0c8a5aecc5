package controller

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestLaunch_RecordsAttemptBeforeAcceptAndRunsToSuccess(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("hello")
		f.waitPhase("hello", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("hello", 1)

		rec := f.log.index("store.attempt " + task)
		acc := f.log.index("sched.accept o1 " + task)
		require.GreaterOrEqual(t, rec, 0)
		assert.Less(t, rec, acc, "the attempt must be committed before the ACCEPT")
		// Its Starting status commits with it, in one store write.
		assert.Less(t, f.log.index("store.status hello Starting"), acc, "the Starting status commits with the attempt, before the ACCEPT")
		assert.Empty(t, f.log.matching("store.status hello Pending"), "the store created it Pending: no status write before the launch")

		r := f.waitPhase("hello", apis.PhaseStarting)
		assert.Equal(t, task, r.Status.TaskID)
		assert.Equal(t, int32(1), r.Status.Attempts)
		assert.Equal(t, "a1.example", r.Status.Hostname)

		f.update(task, mesos.TASK_STARTING, "")
		f.update(task, mesos.TASK_RUNNING, "")
		r = f.waitPhase("hello", apis.PhaseRunning)
		require.NotNil(t, r.Status.StartTime)
		assert.Equal(t, "TASK_RUNNING", r.Status.MesosState)

		f.update(task, mesos.TASK_FINISHED, "Command exited with status 0")
		r = f.waitPhase("hello", apis.PhaseSucceeded)
		assert.Equal(t, apis.ReasonCompleted, r.Status.Reason)
		require.NotNil(t, r.Status.ExitCode)
		assert.Equal(t, int32(0), *r.Status.ExitCode)
		require.NotNil(t, r.Status.CompletionTime)

		f.expect(func() bool { return len(f.log.matching("sched.ack "+task)) == 3 }, "three acks")
		// Every ack follows the status write it acknowledges.
		assert.Less(t, f.log.index("store.status hello Succeeded"), f.log.index("sched.ack "+task+" TASK_FINISHED"))
		att := f.store.recordedAttempts("hello")
		require.Len(t, att, 1)
		assert.True(t, att[0].Terminal)
	})
}

func TestLaunch_PacksSeveralRunsPerOfferInCreationOrder(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		for _, n := range []string{"r1", "r2", "r3", "r4"} {
			f.createRun(n) // 1 cpu each, created in this order
		}
		for _, n := range []string{"r1", "r2", "r3", "r4"} {
			f.waitPhase(n, apis.PhasePending)
		}
		f.offer("o1", "a1", 3, 4096) // room for three
		f.expect(func() bool { return len(f.log.matching("sched.accept o1")) == 1 }, "accept")
		acc := f.log.matching("sched.accept o1")[0]
		for _, n := range []string{"r1.1.", "r2.1.", "r3.1."} {
			assert.Contains(t, acc, n)
		}
		assert.NotContains(t, acc, "r4.", "the youngest Run waits")
		f.offer("o2", "a2", 1, 4096)
		f.launchedTask("r4", 1)
	})
}

func TestLaunch_UnschedulableRunNamesWhatIsMissing(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("big", func(r *apis.Run) {
			r.Spec.Cpus = 8
			r.Spec.Constraints = [][]string{{"rack", "LIKE", "r9"}}
		})
		f.waitPhase("big", apis.PhasePending)
		f.sendOffers(
			makeOffer("o1", "a1", 4, 1024, textAttr("rack", "r1")),
			makeOffer("o2", "a2", 2, 1024, textAttr("rack", "r1")),
			makeOffer("o3", "a3", 16, 1024, textAttr("rack", "r2")),
		)
		f.expect(func() bool {
			r := f.store.run("big")
			return r.Status.Reason == apis.ReasonUnschedulable
		}, "unschedulable")
		r := f.store.run("big")
		assert.Equal(t, apis.PhasePending, r.Status.Phase)
		assert.Equal(t, "0/3 agents satisfy: cpus (need 8, max 4 offered); constraint rack LIKE r9", r.Status.Message)
		// The offers nothing fits are declined with a filter.
		f.expect(func() bool { return len(f.log.matching("sched.decline")) > 0 }, "decline")
		assert.Contains(t, f.log.matching("sched.decline")[0], "refuse=5s")
	})
}

func TestLaunch_SuppressesWhenIdleAndRevivesWhenRunArrives(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.offer("o1", "a1", 4, 1024)
		// Nothing pending: the offer is held for OfferHold, then declined and
		// offers suppressed.
		f.settle()
		f.clock.Advance(2 * time.Second)
		f.expect(func() bool { return f.log.index("sched.decline o1 refuse=2m0s") >= 0 }, "declined after the hold")
		f.expect(func() bool {
			return f.log.lastIndex("sched.suppress") > f.log.lastIndex("sched.revive")
		}, "offers suppressed")

		f.createRun("late")
		f.expect(func() bool { return f.log.lastIndex("sched.revive") > f.log.lastIndex("sched.suppress") }, "revive")
		assert.Greater(t, f.log.lastIndex("sched.revive"), f.log.lastIndex("sched.suppress"))
		f.offer("o2", "a1", 4, 1024)
		f.launchedTask("late", 1)
	})
}

func TestLaunch_HostPortsFromOffer(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("web", func(r *apis.Run) {
			r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "nginx"},
				Network: apis.NetworkBridge, PortMappings: []apis.PortMapping{{ContainerPort: 80}, {ContainerPort: 443, HostPort: 31005}}}
		})
		f.waitPhase("web", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		f.launchedTask("web", 1)
		r := f.waitPhase("web", apis.PhaseStarting)
		assert.Equal(t, []int32{31000, 31005}, r.Status.Ports)
	})
}

func TestLaunch_RecordAttemptRefusedMeansNoAccept(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.store.mu.Lock()
		f.store.failRecordOnce = apis.ErrAttemptLive
		f.store.mu.Unlock()
		f.createRun("guarded")
		f.waitPhase("guarded", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		f.expect(func() bool { return f.log.index("sched.decline o1") >= 0 }, "offer returned")
		assert.Empty(t, f.log.matching("sched.accept"), "no ACCEPT without a recorded attempt")
		// The next offer launches it (the guard error was transient).
		f.offer("o2", "a1", 4, 1024)
		f.launchedTask("guarded", 1)
	})
}

func TestLaunch_ConstraintUniqueHostname(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		uniq := func(r *apis.Run) { r.Spec.Constraints = [][]string{{"hostname", "UNIQUE"}} }
		f.createRun("u1", uniq)
		f.createRun("u2", uniq)
		f.waitPhase("u1", apis.PhasePending)
		f.waitPhase("u2", apis.PhasePending)
		f.offer("o1", "a1", 8, 8192)
		f.launchedTask("u1", 1)
		f.expect(func() bool {
			return strings.Contains(f.store.run("u2").Status.Message, "constraint hostname UNIQUE")
		}, "u2 blocked by UNIQUE")
		f.offer("o2", "a2", 8, 8192)
		f.launchedTask("u2", 1)
		assert.NotContains(t, f.log.matching("sched.accept o1")[0], "u2.")
	})
}

// An ACCEPT whose fate is unknown is settled by asking Mesos: the attempt
// stays live (no second launch) until the answer, and a "never seen"
// answer relaunches without counting a failure.
func TestLaunch_FailedAcceptIsReconciledNotRelaunchedBlindly(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.sched.mu.Lock()
		f.sched.failAccepts = 1
		f.sched.mu.Unlock()
		f.createRun("doubt")
		f.waitPhase("doubt", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		f.expect(func() bool { return f.log.index("sched.accept-failed o1") >= 0 }, "accept failed")
		att := f.store.recordedAttempts("doubt")
		require.Len(t, att, 1)
		first := att[0].TaskID
		f.expect(func() bool { return f.log.index("sched.reconcile ["+first+"]") >= 0 }, "explicit reconcile of the doubtful task")
		f.offer("o2", "a1", 4, 1024)
		f.settle()
		assert.Len(t, f.store.recordedAttempts("doubt"), 1, "no relaunch before the answer")
		f.masterUpdate(first, mesos.TASK_GONE, mesos.REASON_RECONCILIATION)
		f.offer("o3", "a1", 4, 1024)
		second := f.launchedTask("doubt", 1)
		assert.NotEqual(t, first, second)
		f.expect(func() bool { return f.store.run("doubt").Status.TaskID == second }, "status follows the relaunch")
		assert.Equal(t, int32(1), f.store.run("doubt").Status.Attempts)
	})
}

func TestLaunch_RunsThatWaitForCapacityAreNotUnschedulable(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("first", func(r *apis.Run) { r.Spec.Cpus = 4 })
		f.createRun("second", func(r *apis.Run) { r.Spec.Cpus = 4 })
		f.waitPhase("first", apis.PhasePending)
		f.waitPhase("second", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		f.launchedTask("first", 1)
		f.settle()
		f.settle()
		r := f.store.run("second")
		assert.Equal(t, apis.PhasePending, r.Status.Phase)
		assert.Empty(t, r.Status.Reason, "it fits an agent; it only waits for capacity")
	})
}

func TestLaunch_RunMesosCannotExpressFailsWithoutAttempt(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{}, func(f *fixture) {
			f.build = func(run *apis.Run, taskID string, offer *mesos.Offer, ports []uint32) (mesos.TaskInfo, error) {
				if run.Metadata.Name == "bad" {
					return mesos.TaskInfo{}, fmt.Errorf("resource amount overflows: %w", apis.ErrInvalid)
				}
				return testBuild(run, taskID, offer, ports)
			}
		})
		f.createRun("bad")
		f.createRun("good")
		f.waitPhase("bad", apis.PhasePending)
		f.waitPhase("good", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		r := f.waitPhase("bad", apis.PhaseFailed)
		assert.Equal(t, apis.ReasonTaskError, r.Status.Reason)
		assert.Contains(t, r.Status.Message, "resource amount overflows")
		assert.Empty(t, f.store.recordedAttempts("bad"))
		f.launchedTask("good", 1)
		assert.NotContains(t, f.log.matching("sched.accept")[0], "bad.")
	})
}

// TASK_STARTING is acknowledged when it arrives, not after its write
// commits: the agent sends TASK_RUNNING only once TASK_STARTING is
// acknowledged, so waiting put a commit and a round trip on every
// launch's way to Running. TASK_RUNNING is still acknowledged only after
// its write, and nothing twice.
func TestLaunch_AcksStartingAtOnceAndRunningAfterItsWrite(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("hello")
		f.waitPhase("hello", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("hello", 1)

		hold := make(chan struct{})
		f.store.mu.Lock()
		f.store.statusGate = func(us []apis.StatusUpdate) <-chan struct{} {
			for _, u := range us {
				if u.Run.Name == "hello" && u.Status.MesosState != "" {
					return hold
				}
			}
			return nil
		}
		f.store.mu.Unlock()

		f.update(task, mesos.TASK_STARTING, "")
		f.expect(func() bool { return len(f.log.matching("sched.ack "+task+" TASK_STARTING")) == 1 },
			"TASK_STARTING is acknowledged while its write is held")
		f.update(task, mesos.TASK_RUNNING, "")
		f.settle()
		assert.Empty(t, f.log.matching("sched.ack "+task+" TASK_RUNNING"), "TASK_RUNNING is acknowledged only once written")
		assert.Equal(t, apis.PhaseStarting, f.phase("hello"))

		close(hold)
		r := f.waitPhase("hello", apis.PhaseRunning)
		assert.Equal(t, "TASK_RUNNING", r.Status.MesosState)
		f.expect(func() bool { return len(f.log.matching("sched.ack "+task+" TASK_RUNNING")) == 1 }, "TASK_RUNNING acknowledged")
		assert.Less(t, f.log.index("store.status hello Running"), f.log.index("sched.ack "+task+" TASK_RUNNING"))
		assert.Len(t, f.log.matching("sched.ack "+task+" TASK_STARTING"), 1, "acknowledged once")
	})
}

// holdLaunchOf makes the fake store hold the write that records name's
// attempt until the returned channel is closed.
func holdLaunchOf(f *fixture, name string) chan struct{} {
	hold := make(chan struct{})
	f.store.mu.Lock()
	f.store.statusGate = func(us []apis.StatusUpdate) <-chan struct{} {
		for _, u := range us {
			if u.Run.Name == name && u.Attempt != nil {
				return hold
			}
		}
		return nil
	}
	f.store.mu.Unlock()
	return hold
}

// A launch whose attempt is still committing does not hold up the next
// Run: the launcher plans it on another offer and ACCEPTs it meanwhile.
func TestLaunch_NextRunLaunchesWhileAnEarlierAttemptCommits(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		hold := holdLaunchOf(f, "first")
		f.createRun("first")
		f.waitPhase("first", apis.PhasePending)
		f.offer("o1", "a1", 1, 128)
		f.expect(func() bool { return len(f.log.matching("store.attempt")) == 0 && f.log.index("sched.accept o1") < 0 },
			"first's attempt is held")

		f.offer("o2", "a2", 1, 128)
		f.createRun("second")
		task := f.launchedTask("second", 1)
		assert.GreaterOrEqual(t, f.log.index("sched.accept o2 "+task), 0, "second is launched on o2 while first's write is held")
		assert.Less(t, f.log.index("sched.accept o1"), 0, "first is not accepted before its attempt commits")

		close(hold)
		first := f.launchedTask("first", 1)
		assert.Less(t, f.log.index("store.attempt "+first), f.log.index("sched.accept o1 "+first))
	})
}

// A Run whose launch is in flight counts for UNIQUE before its attempt
// is in the registry: another UNIQUE Run is not put on the same host.
func TestLaunch_UniqueCountsLaunchesInFlight(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		uniq := func(r *apis.Run) { r.Spec.Constraints = [][]string{{"hostname", "UNIQUE"}} }
		hold := holdLaunchOf(f, "u1")
		f.createRun("u1", uniq)
		f.waitPhase("u1", apis.PhasePending)
		f.offer("o1", "a1", 1, 128)
		f.settle()

		f.createRun("u2", uniq)
		f.offer("o2", "a1", 1, 128) // the same agent again
		f.settle()
		assert.Empty(t, f.log.matching("sched.accept o2"), "u2 must not share a1 with u1, whose launch is in flight")

		close(hold)
		f.launchedTask("u1", 1)
		f.offer("o3", "a2", 1, 128)
		u2 := f.launchedTask("u2", 1)
		assert.GreaterOrEqual(t, f.log.index("sched.accept o3 "+u2), 0)
	})
}

// A burst is spread over the held offers, at most maxPerOffer Runs each,
// rather than packed onto the first offer that holds them all: an offer
// is ACCEPTed only once all its Runs are recorded, so one offer of
// thousands of Runs held every task back until the last commit.
func TestLaunch_BurstSpreadsOverOffers(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		n := maxPerOffer + maxPerOffer/2
		small := func(r *apis.Run) { r.Spec.Cpus, r.Spec.Mem = 0.01, 1 }
		for i := range n {
			f.createRun(fmt.Sprintf("r%03d", i), small)
		}
		f.waitPhase(fmt.Sprintf("r%03d", n-1), apis.PhasePending)
		f.sendOffers(makeOffer("o1", "a1", 16, 65536), makeOffer("o2", "a2", 16, 65536))
		f.expect(func() bool { return len(f.sched.taskIDs()) == n }, "all %d launched", n)
		count := func(offer string) int {
			acc := f.log.matching("sched.accept " + offer + " ")
			require.Len(t, acc, 1)
			return strings.Count(acc[0], ",") + 1
		}
		assert.Equal(t, maxPerOffer, count("o1"), "the oldest Runs fill the first offer up to the bound")
		assert.Equal(t, n-maxPerOffer, count("o2"))
	})
}

// At most maxRecording attempts are recorded at once; the Runs beyond
// wait, pending, without the held offers being declined for them, and
// launch once earlier launches are over.
func TestLaunch_BoundsAttemptsInFlightWithoutDecliningOffers(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		hold := make(chan struct{})
		var mu sync.Mutex
		recording := map[string]bool{}
		f.store.mu.Lock()
		f.store.statusGate = func(us []apis.StatusUpdate) <-chan struct{} {
			for _, u := range us {
				if u.Attempt != nil {
					mu.Lock()
					for _, v := range us {
						recording[v.Run.Name] = true
					}
					mu.Unlock()
					return hold
				}
			}
			return nil
		}
		f.store.mu.Unlock()
		n := maxRecording + 10
		small := func(r *apis.Run) { r.Spec.Cpus, r.Spec.Mem = 0.01, 1 }
		for i := range n {
			f.createRun(fmt.Sprintf("r%04d", i), small)
		}
		f.waitPhase(fmt.Sprintf("r%04d", n-1), apis.PhasePending)
		var offers []mesos.Offer
		for i := range n/maxPerOffer + 2 {
			offers = append(offers, makeOffer(fmt.Sprintf("o%d", i), fmt.Sprintf("a%d", i), 16, 65536))
		}
		f.sendOffers(offers...)
		f.settle()
		mu.Lock()
		assert.LessOrEqual(t, len(recording), maxRecording)
		mu.Unlock()
		assert.Empty(t, f.log.matching("sched.decline"), "offers kept for the Runs held back")
		assert.Empty(t, f.log.matching("sched.accept"), "nothing accepted while every launch write is held")

		close(hold)
		f.expect(func() bool { return len(f.sched.taskIDs()) == n }, "all %d launched", n)
	})
}
