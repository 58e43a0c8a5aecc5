package controller

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// newSchedule is a Schedule with defaults for what tests do not care about.
func newSchedule(name, expr string, mutate ...func(*apis.Schedule)) apis.Schedule {
	sc := apis.Schedule{
		Metadata: apis.ObjectMeta{Name: name},
		Spec: apis.ScheduleSpec{
			Schedule:    expr,
			Parallelism: 1,
			RunTemplate: apis.RunTemplate{
				Metadata: apis.TemplateMeta{Labels: map[string]string{"team": "data"}, Annotations: map[string]string{"sprint/owner": "oncall@example.org"}},
				Spec:     apis.RunSpec{Command: "etl", Cpus: 1, Mem: 128},
			},
		},
	}
	for _, m := range mutate {
		m(&sc)
	}
	return sc
}

// withSchedule creates a Schedule before the controller starts, created
// ago before the fixture's start time.
func withSchedule(sc apis.Schedule, ago time.Duration) func(*fixture) {
	return func(f *fixture) { f.store.createSchedule(f.t, sc, f.clock.Now().Add(-ago)) }
}

func (f *fixture) createSchedule(sc apis.Schedule) *apis.Schedule {
	return f.store.createSchedule(f.t, sc, f.clock.Now())
}

// scheduleRuns lists the names of the Runs owned by a Schedule, sorted.
func (f *fixture) scheduleRuns(schedule string) []string {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	var out []string
	for name, r := range f.store.runs {
		if owner, _, ok := scheduleOwner(r); ok && owner == schedule {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// advance moves the manual clock and lets the controller settle.
func (f *fixture) advance(d time.Duration) {
	f.clock.Advance(d)
	f.settle()
}

// finishRun ends a Run as the status writer would after Mesos reported
// it, and lets the controller settle.
func (f *fixture) finishRun(name string, phase apis.RunPhase) {
	f.t.Helper()
	now := f.clock.Now()
	f.store.edit(name, func(r *apis.Run) {
		r.Status.Phase = phase
		r.Status.CompletionTime = &now
		r.Status.LastTransitionTime = &now
	})
	f.settle()
}

func (f *fixture) scheduleEvents(name string) []string {
	evs, _ := f.store.ScheduleEvents(name)
	var out []string
	for _, e := range evs {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

func unixName(schedule string, t time.Time, i int) string {
	return fmt.Sprintf("%s-%d-%d", schedule, t.Unix(), i)
}

func hasPrefixIn(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func TestSchedule_CronFiresRunsFromTheTemplate(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		sc := f.createSchedule(newSchedule("etl", "@every 1m", func(s *apis.Schedule) { s.Spec.Parallelism = 2 }))
		f.settle()
		assert.Empty(t, f.scheduleRuns("etl"), "nothing before the first period")
		got := f.store.schedule("etl")
		require.NotNil(t, got.Status.NextScheduleTime)
		assert.True(t, got.Status.NextScheduleTime.Equal(start.Add(time.Minute)), "nextScheduleTime %s", got.Status.NextScheduleTime)

		f.advance(time.Minute)
		first := start.Add(time.Minute)
		want := []string{unixName("etl", first, 0), unixName("etl", first, 1)}
		require.Equal(t, want, f.scheduleRuns("etl"))
		r := f.store.run(want[0])
		assert.Equal(t, map[string]string{"team": "data", apis.LabelSchedule: "etl"}, r.Metadata.Labels)
		assert.Equal(t, "oncall@example.org", r.Metadata.Annotations["sprint/owner"])
		assert.Equal(t, []apis.OwnerReference{{APIVersion: apis.APIVersion, Kind: apis.KindSchedule, Name: "etl", UID: sc.Metadata.UID, Controller: true}}, r.Metadata.OwnerReferences)
		assert.Equal(t, "etl", r.Spec.Command)

		got = f.store.schedule("etl")
		require.NotNil(t, got.Status.LastScheduleTime)
		assert.True(t, got.Status.LastScheduleTime.Equal(first))
		assert.True(t, got.Status.NextScheduleTime.Equal(first.Add(time.Minute)), "nextScheduleTime %s", got.Status.NextScheduleTime)
		assert.Equal(t, want, got.Status.Active, "the Runs are live (Pending)")
		assert.True(t, hasPrefixIn(f.scheduleEvents("etl"), "Fired: created [etl-"), "events %v", f.scheduleEvents("etl"))
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_schedule_firings_total", ""))
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_schedule_firing_lag_seconds", ""), "one lag observed")

		// Allow (the default): the next firing comes while these run.
		f.advance(time.Minute)
		assert.Len(t, f.scheduleRuns("etl"), 4)

		// A finished Run leaves status.active; a Succeeded one sets
		// lastSuccessfulTime.
		f.finishRun(want[0], apis.PhaseSucceeded)
		got = f.store.schedule("etl")
		assert.NotContains(t, got.Status.Active, want[0])
		require.NotNil(t, got.Status.LastSuccessfulTime)
		assert.True(t, got.Status.LastSuccessfulTime.Equal(f.clock.Now()))
	})
}

func TestSchedule_ForbidSkipsWhileARunIsLive(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("fb", "@every 1m", func(s *apis.Schedule) { s.Spec.ConcurrencyPolicy = apis.ConcurrencyForbid }))
		f.advance(time.Minute)
		first := unixName("fb", start.Add(time.Minute), 0)
		require.Equal(t, []string{first}, f.scheduleRuns("fb"))

		f.advance(time.Minute)
		assert.Equal(t, []string{first}, f.scheduleRuns("fb"), "skipped: the first Run is live")
		got := f.store.schedule("fb")
		assert.True(t, got.Status.LastScheduleTime.Equal(start.Add(2*time.Minute)), "the skipped firing is committed: lastScheduleTime %s", got.Status.LastScheduleTime)
		assert.Zero(t, got.Status.MissedFirings, "a skip is not a miss")
		assert.True(t, hasPrefixIn(f.scheduleEvents("fb"), "Skipped: "), "events %v", f.scheduleEvents("fb"))
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_schedule_skipped_firings_total", ""))

		// Once it finished, the next firing fires (on schedule, not at once).
		f.finishRun(first, apis.PhaseFailed)
		assert.Len(t, f.scheduleRuns("fb"), 1, "no catch-up of the skipped firing")
		f.advance(time.Minute)
		assert.Equal(t, []string{first, unixName("fb", start.Add(3*time.Minute), 0)}, f.scheduleRuns("fb"))
	})
}

func TestSchedule_ReplaceCancelsTheLiveRunsWithReasonReplaced(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("rp", "@every 1m", func(s *apis.Schedule) {
			s.Spec.ConcurrencyPolicy = apis.ConcurrencyReplace
			s.Spec.Parallelism = 2
			s.Spec.FailedRunsHistoryLimit = ptr[int32](5)
		}))
		f.advance(time.Minute)
		at1 := start.Add(time.Minute)
		running, pending := unixName("rp", at1, 0), unixName("rp", at1, 1)
		f.waitPhase(pending, apis.PhasePending)
		f.offer("o1", "a1", 1, 1024) // room for one of them
		task := f.launchedTask(running, 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase(running, apis.PhaseRunning)

		f.advance(time.Minute)
		at2 := start.Add(2 * time.Minute)
		assert.Equal(t, []string{running, pending, unixName("rp", at2, 0), unixName("rp", at2, 1)}, f.scheduleRuns("rp"))
		fires := f.store.firings()
		require.Len(t, fires, 2)
		assert.Equal(t, []apis.RunRef{
			{Name: running, UID: f.store.run(running).Metadata.UID},
			{Name: pending, UID: f.store.run(pending).Metadata.UID},
		}, fires[1].Replace, "cancelled in the firing's entry")
		assert.True(t, hasPrefixIn(f.scheduleEvents("rp"), "Replaced: cancelled ["+running+" "+pending+"]"), "events %v", f.scheduleEvents("rp"))

		// Not launched yet: Killed at once.
		r := f.waitPhase(pending, apis.PhaseKilled)
		assert.Equal(t, apis.ReasonReplaced, r.Status.Reason)
		// Running: killed, and the kill is attributed to the replacement.
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "kill of the replaced task")
		assert.Equal(t, apis.ReasonReplaced, f.store.run(running).Status.Reason, "reason written before the kill")
		f.update(task, mesos.TASK_KILLED, "")
		r = f.waitPhase(running, apis.PhaseKilled)
		assert.Equal(t, apis.ReasonReplaced, r.Status.Reason)
		assert.Equal(t, "killed: replaced", r.Status.Message)

		// A Run cancelled by a user is Cancelled, not Replaced.
		f.store.edit(unixName("rp", at2, 0), func(r *apis.Run) { r.Spec.Cancel = true })
		r = f.waitPhase(unixName("rp", at2, 0), apis.PhaseKilled)
		assert.Equal(t, apis.ReasonCancelled, r.Status.Reason)
	})
}

// The kill reason is what the entry that set spec.cancel recorded: a
// user's cancel of a Run whose Schedule has since fired with (a policy
// switched to) Replace is the user's, not Replaced.
func TestSchedule_UserCancelAfterAReplaceFiringIsCancelled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("uc", "@every 1m"))
		f.advance(time.Minute)
		first := unixName("uc", start.Add(time.Minute), 0)
		f.waitPhase(first, apis.PhasePending)
		f.advance(time.Minute) // Allow: the second firing leaves the first Run alone
		require.Len(t, f.store.firings(), 2)
		assert.False(t, f.store.run(first).Spec.Cancel)

		f.store.editSchedule("uc", func(sc *apis.Schedule) { sc.Spec.ConcurrencyPolicy = apis.ConcurrencyReplace })
		f.settle()
		f.store.edit(first, func(r *apis.Run) { r.Spec.Cancel = true })
		r := f.waitPhase(first, apis.PhaseKilled)
		assert.Equal(t, apis.ReasonCancelled, r.Status.Reason, "the user cancelled it; no firing replaced it")
	})
}

func TestSchedule_CatchUpAfterDowntime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline *int64
		fired    bool
		missed   int64
	}{
		{name: "no deadline: the most recent missed firing fires, the others are counted", fired: true, missed: 3},
		{name: "within the deadline: it fires", deadline: ptr[int64](300), fired: true, missed: 3},
		{name: "past the deadline: none fires, all are counted", deadline: ptr[int64](60), missed: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				f := newFixture(t, Config{})
				start := f.clock.Now() // 12:00
				f.createSchedule(newSchedule("cu", "*/5 * * * *", func(s *apis.Schedule) { s.Spec.StartingDeadlineSeconds = tc.deadline }))
				f.advance(5 * time.Minute)
				require.Equal(t, []string{unixName("cu", start.Add(5*time.Minute), 0)}, f.scheduleRuns("cu"))

				// No leader from 12:05 to 12:27: 12:10 … 12:25 are missed.
				f.store.setLeader(false)
				f.settle()
				f.clock.Advance(22 * time.Minute)
				f.store.setLeader(true)
				f.subscribed()

				runs := f.scheduleRuns("cu")
				latest := unixName("cu", start.Add(25*time.Minute), 0)
				got := f.store.schedule("cu")
				assert.True(t, got.Status.LastScheduleTime.Equal(start.Add(25*time.Minute)), "lastScheduleTime %s", got.Status.LastScheduleTime)
				assert.Equal(t, tc.missed, got.Status.MissedFirings)
				if tc.fired {
					assert.Equal(t, []string{unixName("cu", start.Add(5*time.Minute), 0), latest}, runs, "one catch-up: the most recent")
				} else {
					assert.Len(t, runs, 1, "nothing caught up")
				}
				assert.True(t, hasPrefixIn(f.scheduleEvents("cu"), fmt.Sprintf("Missed: missed %d firing(s)", tc.missed)), "events %v", f.scheduleEvents("cu"))
				assert.Equal(t, float64(tc.missed), metricValue(t, f.reg, "sprint_schedule_missed_firings_total", ""))

				// Back on schedule.
				f.advance(3 * time.Minute)
				assert.Contains(t, f.scheduleRuns("cu"), unixName("cu", start.Add(30*time.Minute), 0))
			})
		})
	}
}

func TestSchedule_IntervalWaitsForTheWholeBatch(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("iv", "", func(s *apis.Schedule) {
			s.Spec.Interval = "30s"
			s.Spec.Parallelism = 2
		}))
		f.settle()
		batch1 := []string{unixName("iv", start, 0), unixName("iv", start, 1)}
		require.Equal(t, batch1, f.scheduleRuns("iv"), "the first batch fires at once")

		f.advance(2 * time.Minute)
		f.finishRun(batch1[0], apis.PhaseSucceeded) // 12:02
		f.advance(2 * time.Minute)
		assert.Equal(t, batch1, f.scheduleRuns("iv"), "one Run of the batch still runs")
		f.finishRun(batch1[1], apis.PhaseFailed) // 12:04
		got := f.store.schedule("iv")
		require.NotNil(t, got.Status.NextScheduleTime)
		due := start.Add(4*time.Minute + 30*time.Second)
		assert.True(t, got.Status.NextScheduleTime.Equal(due), "next %s", got.Status.NextScheduleTime)

		f.advance(29 * time.Second)
		assert.Len(t, f.scheduleRuns("iv"), 2, "not before the interval passed")
		f.advance(time.Second)
		assert.Equal(t, append(batch1, unixName("iv", due, 0), unixName("iv", due, 1)), f.scheduleRuns("iv"))
	})
}

func TestSchedule_HistoryLimits(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("hl", "@every 1m", func(s *apis.Schedule) {
			s.Spec.SuccessfulRunsHistoryLimit = ptr[int32](2)
			s.Spec.FailedRunsHistoryLimit = ptr[int32](1)
		}))
		var names []string
		for i := 1; i <= 6; i++ {
			f.advance(time.Minute)
			n := unixName("hl", start.Add(time.Duration(i)*time.Minute), 0)
			names = append(names, n)
			phase := apis.PhaseSucceeded
			if i%3 == 0 {
				phase = apis.PhaseFailed
			}
			f.finishRun(n, phase)
		}
		// Succeeded: 1, 2, 4, 5 → keep 4, 5. Failed: 3, 6 → keep 6.
		assert.Equal(t, []string{names[3], names[4], names[5]}, f.scheduleRuns("hl"))
		assert.Equal(t, 3.0, metricValue(t, f.reg, "sprint_schedule_history_deleted_total", ""))
		// A live Run is never history.
		f.advance(time.Minute)
		assert.Len(t, f.scheduleRuns("hl"), 4)
	})
}

func TestSchedule_SuspendStopsFiringAndResumeCatchesUpOnce(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("sp", "@every 1m"))
		f.advance(time.Minute)
		require.Len(t, f.scheduleRuns("sp"), 1)

		f.store.editSchedule("sp", func(s *apis.Schedule) { s.Spec.Suspend = true })
		f.settle()
		assert.Nil(t, f.store.schedule("sp").Status.NextScheduleTime, "nothing is next while suspended")
		f.advance(10 * time.Minute)
		assert.Len(t, f.scheduleRuns("sp"), 1, "no firing while suspended")

		f.store.editSchedule("sp", func(s *apis.Schedule) { s.Spec.Suspend = false })
		f.settle()
		assert.Equal(t, []string{unixName("sp", start.Add(time.Minute), 0), unixName("sp", start.Add(11*time.Minute), 0)}, f.scheduleRuns("sp"),
			"as CronJob: the most recent missed firing fires on resume")
		assert.Equal(t, int64(9), f.store.schedule("sp").Status.MissedFirings)
	})
}

func TestSchedule_ConflictFromAnotherLeaderDoesNotDoubleFire(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("cf", "@every 1m"))
		f.settle()
		// Another leader commits the 12:01 firing just before this one
		// does: this commit must fail and must not be retried as it was.
		f.store.mu.Lock()
		f.store.scheds().beforeFire = func(fr apis.Firing) {
			f.store.scheds().beforeFire = nil
			other := fr
			other.Runs = slices.Clone(fr.Runs)
			f.store.fireAsOtherLeader(other)
		}
		f.store.mu.Unlock()
		f.advance(time.Minute)
		first := unixName("cf", start.Add(time.Minute), 0)
		assert.Equal(t, []string{first}, f.scheduleRuns("cf"))
		assert.Len(t, f.store.firings(), 1, "one firing committed")
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_schedule_firing_conflicts_total", ""))

		// The next firing goes on from the store's lastScheduleTime.
		f.advance(time.Minute)
		assert.Equal(t, []string{first, unixName("cf", start.Add(2*time.Minute), 0)}, f.scheduleRuns("cf"))
		assert.Len(t, f.store.firings(), 2)
	})
}

func TestSchedule_UnavailableCommitIsRetriedWithItsPrecondition(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("ua", "@every 1m"))
		f.settle()
		f.store.mu.Lock()
		f.store.scheds().failFire = []error{fmt.Errorf("leadership lost while committing: %w", apis.ErrUnavailable)}
		f.store.mu.Unlock()
		f.advance(time.Minute)
		assert.Empty(t, f.scheduleRuns("ua"))
		f.advance(time.Second) // past the retry back-off
		assert.Equal(t, []string{unixName("ua", start.Add(time.Minute), 0)}, f.scheduleRuns("ua"))
		assert.Len(t, f.store.firings(), 1)
	})
}

func TestSchedule_RefusedTemplateSetsTheMessageAndDoesNotFire(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createSchedule(newSchedule("rf", "@every 1m", func(s *apis.Schedule) {
			s.Spec.RunTemplate.Spec.URIs = []apis.URI{{Value: "file:///etc/shadow"}}
		}))
		f.advance(time.Minute)
		assert.Empty(t, f.scheduleRuns("rf"))
		got := f.store.schedule("rf")
		assert.Contains(t, got.Status.Message, "admission policy")
		assert.Nil(t, got.Status.LastScheduleTime)

		// Fixed: it fires (the firing due meanwhile, at once).
		f.store.editSchedule("rf", func(s *apis.Schedule) { s.Spec.RunTemplate.Spec.URIs = nil })
		f.settle()
		assert.Len(t, f.scheduleRuns("rf"), 1)
		assert.Empty(t, f.store.schedule("rf").Status.Message)
	})
}

func TestSchedule_BadTimeZoneSaysWhy(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{}, withSchedule(newSchedule("tz", "0 3 * * *", func(s *apis.Schedule) { s.Spec.TimeZone = "Mars/Olympus" }), 0))
		f.settle()
		got := f.store.schedule("tz")
		assert.Contains(t, got.Status.Message, `unknown time zone "Mars/Olympus"`)
		assert.Nil(t, got.Status.NextScheduleTime)
	})
}

func TestSchedule_ARunHoldingTheFiringsNameMakesItAMissedFiring(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("tk", "@every 1m"))
		taken := unixName("tk", start.Add(time.Minute), 0)
		f.createRun(taken) // not the Schedule's: left by an earlier one, say
		f.advance(time.Minute)
		got := f.store.schedule("tk")
		require.NotNil(t, got.Status.LastScheduleTime)
		assert.True(t, got.Status.LastScheduleTime.Equal(start.Add(time.Minute)), "the firing is committed, as missed")
		assert.Equal(t, int64(1), got.Status.MissedFirings)
		assert.Empty(t, f.scheduleRuns("tk"))
		assert.True(t, hasPrefixIn(f.scheduleEvents("tk"), "Missed: missed the firing at "), "events %v", f.scheduleEvents("tk"))

		f.advance(time.Minute)
		assert.Equal(t, []string{unixName("tk", start.Add(2*time.Minute), 0)}, f.scheduleRuns("tk"), "the next firing fires")
	})
}

func TestSchedule_ReleasedRunsAreNoLongerItsOwn(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("rl", "@every 1m", func(s *apis.Schedule) { s.Spec.ConcurrencyPolicy = apis.ConcurrencyForbid }))
		f.advance(time.Minute)
		first := unixName("rl", start.Add(time.Minute), 0)
		f.waitPhase(first, apis.PhasePending)
		require.Equal(t, []string{first}, f.store.schedule("rl").Status.Active)

		// Orphaned (the Schedule deleted with propagationPolicy=Orphan
		// and re-created, say): the Run is not the Schedule's any more.
		f.store.edit(first, func(r *apis.Run) { r.Metadata.OwnerReferences = nil })
		f.settle()
		assert.Empty(t, f.store.schedule("rl").Status.Active)
		f.advance(time.Minute)
		assert.Equal(t, []string{unixName("rl", start.Add(2*time.Minute), 0)}, f.scheduleRuns("rl"), "Forbid does not wait for it")
	})
}

func TestSchedule_StatusIsWrittenOnlyWhenItChanges(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createSchedule(newSchedule("sw", "@every 1m"))
		f.settle()
		writes := func() int {
			f.store.mu.Lock()
			defer f.store.mu.Unlock()
			return f.store.scheds().statusWrites
		}
		require.Equal(t, 1, writes(), "nextScheduleTime, once")
		f.advance(30 * time.Second)
		assert.Equal(t, 1, writes(), "nothing changed")
		f.advance(30 * time.Second) // fires; its Run turns Pending in the same window
		assert.Equal(t, 2, writes(), "one write for nextScheduleTime and active together")
		f.advance(20 * time.Second)
		assert.Equal(t, 2, writes())
	})
}

func TestSchedule_DependsOnFiresWhenEveryParentSucceededSinceItsLastFiring(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("extract", "@every 1m"))
		f.createSchedule(newSchedule("load", "@every 1m", func(s *apis.Schedule) { s.Spec.Parallelism = 2 }))
		f.createSchedule(newSchedule("report", "", func(s *apis.Schedule) {
			s.Spec.DependsOn = []apis.ScheduleDependency{{Schedule: "extract"}, {Schedule: "load"}, {Schedule: "audit"}}
		}))
		f.settle()
		assert.Contains(t, f.store.schedule("report").Status.Message, `parent schedule "audit", which does not exist`)
		f.store.editSchedule("report", func(s *apis.Schedule) { s.Spec.DependsOn = s.Spec.DependsOn[:2] })
		f.settle()
		assert.Empty(t, f.store.schedule("report").Status.Message)

		f.advance(time.Minute) // 12:01: extract and load fire
		at1 := start.Add(time.Minute)
		f.advance(10 * time.Second)
		f.finishRun(unixName("extract", at1, 0), apis.PhaseSucceeded)
		f.finishRun(unixName("load", at1, 0), apis.PhaseSucceeded)
		assert.Empty(t, f.scheduleRuns("report"), "one Run of load's firing still runs")
		f.advance(5 * time.Second)
		f.finishRun(unixName("load", at1, 1), apis.PhaseSucceeded) // 12:01:15: every parent succeeded
		first := unixName("report", start.Add(75*time.Second), 0)
		require.Equal(t, []string{first}, f.scheduleRuns("report"))
		assert.True(t, hasPrefixIn(f.scheduleEvents("report"), "Fired: "), "events %v", f.scheduleEvents("report"))

		// 12:02: extract succeeds again, load fails: report waits.
		f.advance(45 * time.Second)
		at2 := start.Add(2 * time.Minute)
		f.finishRun(unixName("extract", at2, 0), apis.PhaseSucceeded)
		f.finishRun(unixName("load", at2, 0), apis.PhaseSucceeded)
		f.finishRun(unixName("load", at2, 1), apis.PhaseFailed)
		assert.Len(t, f.scheduleRuns("report"), 1, "load's firing failed: no new success")

		// 12:03: both succeed: report fires again, once.
		f.advance(time.Minute)
		at3 := start.Add(3 * time.Minute)
		for _, n := range []string{unixName("extract", at3, 0), unixName("load", at3, 0), unixName("load", at3, 1)} {
			f.finishRun(n, apis.PhaseSucceeded)
		}
		assert.Equal(t, []string{first, unixName("report", at3, 0)}, f.scheduleRuns("report"))
		f.advance(10 * time.Second)
		assert.Len(t, f.scheduleRuns("report"), 2)
	})
}

// Schedules due together are committed in few FireSchedules calls (one
// Raft entry each), not one per firing.
func TestSchedule_ManyDueFiringsShareFewEntries(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		const n = 1000
		for i := range n {
			f.createSchedule(newSchedule(fmt.Sprintf("s%04d", i), "@every 1m"))
		}
		f.settle()
		f.advance(time.Minute)
		assert.Len(t, f.store.firings(), n, "every Schedule fired once")
		batches := f.store.fireBatches()
		assert.LessOrEqual(t, len(batches), 4, "1,000 firings due together go in 4 entries of up to %d: %v", maxFiringsPerBatch, batches)
		for _, b := range batches {
			assert.LessOrEqual(t, b, maxFiringsPerBatch)
		}
	})
}

// A lone firing goes out at once, with no added delay; firings that
// become due while every batch slot is taken go out together in the
// next batch, as soon as one returns.
func TestSchedule_FiringsDueWhileBatchesAreInFlightGoTogether(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.store.mu.Lock()
		gate := make(chan struct{})
		f.store.scheds().gate = gate
		f.store.mu.Unlock()
		// One Schedule due at each of maxBatchesInFlight seconds in a
		// row, then ten due together a second later.
		for i := range maxBatchesInFlight {
			f.createSchedule(newSchedule(fmt.Sprintf("lone%d", i), "@every 1m"))
			f.advance(time.Second)
		}
		for i := range 10 {
			f.createSchedule(newSchedule(fmt.Sprintf("group%d", i), "@every 1m"))
		}
		f.advance(time.Minute - time.Duration(maxBatchesInFlight)*time.Second)
		for i := range maxBatchesInFlight {
			assert.Equal(t, i+1, f.store.fireCalls(), "the lone firing due now is sent at once")
			f.advance(time.Second)
		}
		// Every slot holds a lone firing; the group is due now and waits.
		assert.Equal(t, maxBatchesInFlight, f.store.fireCalls(), "the group waits for a slot")
		assert.Empty(t, f.store.fireBatches(), "every call is held")
		close(gate)
		f.settle()
		batches := f.store.fireBatches()
		want := make([]int, maxBatchesInFlight)
		for i := range want {
			want[i] = 1
		}
		// The held calls return in whatever order their goroutines run,
		// and the group's call may commit before the lone ones record.
		assert.ElementsMatch(t, append(want, 10), batches, "each lone firing alone and at once, the group together")
		assert.Len(t, f.store.firings(), maxBatchesInFlight+10)
	})
}

// Interval mode honours startingDeadlineSeconds: a batch that could not
// start within it of becoming due (here: suspended) is skipped and
// counted, and the next is due an interval after the one skipped.
func TestSchedule_IntervalBatchPastItsDeadlineIsMissed(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		start := f.clock.Now()
		f.createSchedule(newSchedule("ivd", "", func(s *apis.Schedule) {
			s.Spec.Interval = "60s"
			s.Spec.StartingDeadlineSeconds = ptr[int64](10)
		}))
		f.settle()
		first := unixName("ivd", start, 0)
		require.Equal(t, []string{first}, f.scheduleRuns("ivd"), "the first batch fires at once")
		f.finishRun(first, apis.PhaseSucceeded) // due again at start+60s
		f.store.editSchedule("ivd", func(sc *apis.Schedule) { sc.Spec.Suspend = true })
		f.advance(3*time.Minute + 30*time.Second) // 2 intervals and 90 s past due
		f.store.editSchedule("ivd", func(sc *apis.Schedule) { sc.Spec.Suspend = false })
		f.settle()

		got := f.store.schedule("ivd")
		skipped := start.Add(3 * time.Minute) // the latest interval, 30 s old: past the deadline too
		require.NotNil(t, got.Status.LastScheduleTime)
		assert.True(t, got.Status.LastScheduleTime.Equal(skipped), "lastScheduleTime %s", got.Status.LastScheduleTime)
		assert.Equal(t, int64(3), got.Status.MissedFirings, "start+1m, +2m, +3m")
		assert.Equal(t, []string{first}, f.scheduleRuns("ivd"), "no batch started late")
		assert.True(t, hasPrefixIn(f.scheduleEvents("ivd"), "Missed: missed 3 firing(s)"), "events %v", f.scheduleEvents("ivd"))

		f.advance(29 * time.Second)
		assert.Equal(t, []string{first}, f.scheduleRuns("ivd"))
		f.advance(time.Second)
		assert.Equal(t, []string{first, unixName("ivd", skipped.Add(time.Minute), 0)}, f.scheduleRuns("ivd"), "back on the interval")
	})
}

// Runs fired by hand (create run --from schedule/NAME) are not the
// Schedule's firings: as CronJob's Forbid and Replace look only at the
// Jobs it created (its status.active), Forbid does not skip for them,
// Replace does not cancel them and status.active does not list them.
func TestSchedule_ManualRunsAreOutsideTheConcurrencyPolicy(t *testing.T) {
	for _, policy := range []string{apis.ConcurrencyForbid, apis.ConcurrencyReplace} {
		t.Run(policy, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				f := newFixture(t, Config{})
				start := f.clock.Now()
				sc := f.createSchedule(newSchedule("mn", "@every 1m", func(s *apis.Schedule) { s.Spec.ConcurrencyPolicy = policy }))
				f.settle()
				manual := apis.ManualRunName("mn", apis.NewManualFiringID(start), 0)
				run := apis.RunFromTemplate(sc, manual)
				f.store.mu.Lock()
				f.store.add(&run, start)
				f.store.mu.Unlock()
				f.settle()
				f.advance(time.Minute)
				assert.ElementsMatch(t, []string{manual, unixName("mn", start.Add(time.Minute), 0)}, f.scheduleRuns("mn"), "fired beside the live manual Run")
				assert.False(t, f.store.run(manual).Spec.Cancel, "the manual Run is not replaced")
				assert.False(t, hasPrefixIn(f.scheduleEvents("mn"), "Skipped: "), "events %v", f.scheduleEvents("mn"))
				f.advance(time.Second) // the status flush
				assert.Equal(t, []string{unixName("mn", start.Add(time.Minute), 0)}, f.store.schedule("mn").Status.Active,
					"status.active lists the fired Runs, not the manual one (as CronJob's)")
			})
		})
	}
}
