package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func dependsOn(deps ...apis.RunDependency) func(*apis.Run) {
	return func(r *apis.Run) { r.Spec.DependsOn = deps }
}

func dep(name, cond string) apis.RunDependency {
	return apis.RunDependency{Name: name, Condition: cond}
}

// finish ends a Run as Mesos would have, without a task: the tests drive a
// dependency's phase directly.
func (f *fixture) finish(name string, phase apis.RunPhase, reason string) {
	f.store.edit(name, func(r *apis.Run) {
		r.Status.Phase, r.Status.Reason = phase, reason
		now := f.clock.Now()
		r.Status.CompletionTime = &now
	})
}

func (f *fixture) status(name string) apis.RunStatus {
	r := f.store.run(name)
	require.NotNil(f.t, r, "run %s", name)
	return r.Status
}

func (f *fixture) noTaskOf(name string) {
	f.t.Helper()
	for _, id := range f.sched.taskIDs() {
		require.False(f.t, strings.HasPrefix(id, name+"."), "task %s launched", id)
	}
}

func TestDependencies_EachConditionMetOrNeverMet(t *testing.T) {
	type outcome int
	const (
		launched outcome = iota
		failed
	)
	tests := []struct {
		condition string
		phase     apis.RunPhase
		reason    string
		want      outcome
	}{
		{apis.ConditionSucceeded, apis.PhaseSucceeded, apis.ReasonCompleted, launched},
		{apis.ConditionSucceeded, apis.PhaseFailed, apis.ReasonTaskFailed, failed},
		{apis.ConditionSucceeded, apis.PhaseKilled, apis.ReasonCancelled, failed},
		{apis.ConditionFailed, apis.PhaseFailed, apis.ReasonTaskFailed, launched},
		{apis.ConditionFailed, apis.PhaseKilled, apis.ReasonTaskKilled, launched},
		{apis.ConditionFailed, apis.PhaseSucceeded, apis.ReasonCompleted, failed},
		{apis.ConditionCompleted, apis.PhaseSucceeded, apis.ReasonCompleted, launched},
		{apis.ConditionCompleted, apis.PhaseFailed, apis.ReasonTaskFailed, launched},
		{apis.ConditionCompleted, apis.PhaseKilled, apis.ReasonCancelled, launched},
	}
	for _, tc := range tests {
		t.Run(tc.condition+"/"+string(tc.phase), func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				f := newFixture(t, Config{})
				f.createRun("extract", func(r *apis.Run) { r.Spec.Cpus = 64 }) // never fits: stays Pending
				f.createRun("transform", dependsOn(dep("extract", tc.condition)))
				f.settle()
				s := f.status("transform")
				assert.Equal(t, apis.PhasePending, s.Phase)
				assert.Equal(t, apis.ReasonWaitingForDependencies, s.Reason)
				assert.Equal(t, "waiting for extract ("+tc.condition+")", s.Message)

				f.offer("o1", "a1", 4, 1024) // room for transform, not for extract
				f.settle()
				f.noTaskOf("transform")

				f.finish("extract", tc.phase, tc.reason)
				if tc.want == launched {
					r := f.waitPhase("transform", apis.PhasePending)
					assert.Empty(t, r.Status.Reason)
					f.offer("o2", "a1", 4, 1024)
					f.launchedTask("transform", 1)
					return
				}
				r := f.waitPhase("transform", apis.PhaseFailed)
				assert.Equal(t, apis.ReasonDependencyFailed, r.Status.Reason)
				assert.Equal(t, fmt.Sprintf("dependency extract ended %s (%s); it needed %s", tc.phase, tc.reason, tc.condition), r.Status.Message)
				assert.NotNil(t, r.Status.CompletionTime)
				assert.Zero(t, r.Status.Attempts)
				f.offer("o2", "a1", 4, 1024)
				f.settle()
				f.noTaskOf("transform")
			})
		})
	}
}

// A failed extract fails transform, load and everything else downstream
// that needed it to succeed, in one status batch; a Run that waits for
// transform to fail has its condition met instead.
func TestDependencies_DependencyFailedCascadesInOneBatch(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("extract", func(r *apis.Run) { r.Spec.Cpus = 64 })
		f.createRun("transform", dependsOn(dep("extract", apis.ConditionSucceeded)))
		f.createRun("load", dependsOn(dep("transform", apis.ConditionSucceeded)))
		f.createRun("report", dependsOn(dep("load", apis.ConditionSucceeded), dep("transform", apis.ConditionSucceeded)))
		f.createRun("cleanup", dependsOn(dep("transform", apis.ConditionFailed)))
		f.settle()
		for _, n := range []string{"transform", "load", "report", "cleanup"} {
			require.Equal(t, apis.ReasonWaitingForDependencies, f.status(n).Reason, n)
		}
		assert.Equal(t, "waiting for load (Succeeded), transform (Succeeded)", f.status("report").Message)

		f.store.mu.Lock()
		before := len(f.store.batchRuns)
		f.store.mu.Unlock()
		f.finish("extract", apis.PhaseFailed, apis.ReasonTaskFailed)
		f.expect(func() bool { return f.phase("report") == apis.PhaseFailed }, "report never failed")

		f.store.mu.Lock()
		var cascade [][]string
		for _, b := range f.store.batchRuns[before:] {
			if slices.Contains(b, "transform") || slices.Contains(b, "load") || slices.Contains(b, "report") {
				cascade = append(cascade, b)
			}
		}
		f.store.mu.Unlock()
		require.Len(t, cascade, 1, "one status batch for the whole subtree: %v", cascade)
		assert.ElementsMatch(t, []string{"transform", "load", "report"}, cascade[0])

		for n, msg := range map[string]string{
			"transform": "dependency extract ended Failed (TaskFailed); it needed Succeeded",
			"load":      "dependency transform ended Failed (DependencyFailed); it needed Succeeded",
			"report":    "dependency transform ended Failed (DependencyFailed); it needed Succeeded",
		} {
			s := f.status(n)
			assert.Equal(t, apis.PhaseFailed, s.Phase, n)
			assert.Equal(t, apis.ReasonDependencyFailed, s.Reason, n)
			assert.Equal(t, msg, s.Message, n)
			ev := f.store.runEvents(n)
			require.NotEmpty(t, ev, n)
			assert.Equal(t, apis.ReasonDependencyFailed, ev[len(ev)-1].Reason, n)
		}
		// cleanup waited for transform to fail: it did.
		s := f.status("cleanup")
		assert.Equal(t, apis.PhasePending, s.Phase)
		assert.Empty(t, s.Reason)
		f.offer("o1", "a1", 4, 1024)
		f.launchedTask("cleanup", 1)
		for _, n := range []string{"transform", "load", "report"} {
			f.noTaskOf(n)
		}
	})
}

func TestDependencies_DependencyAppliedAfterItsDependent(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("load", dependsOn(dep("extract", apis.ConditionSucceeded), dep("transform", apis.ConditionCompleted)))
		f.settle()
		s := f.status("load")
		assert.Equal(t, apis.ReasonWaitingForDependencies, s.Reason)
		assert.Equal(t, "waiting for extract (not found), transform (not found)", s.Message)

		f.createRun("extract")
		f.expect(func() bool {
			return f.status("load").Message == "waiting for extract (Succeeded), transform (not found)"
		},
			"load not re-evaluated when extract appeared: %q", f.status("load").Message)

		f.createRun("transform", func(r *apis.Run) { r.Spec.Cpus = 64 })
		f.settle()
		task := f.launchedTaskAfterOffer("extract")
		f.update(task, mesos.TASK_FINISHED, "Command exited with status 0")
		f.waitPhase("extract", apis.PhaseSucceeded)
		assert.Equal(t, "waiting for transform (Completed)", f.status("load").Message)
		f.finish("transform", apis.PhaseFailed, apis.ReasonTaskFailed)
		f.waitPhase("load", apis.PhasePending)
		f.offer("o9", "a1", 4, 1024)
		f.launchedTask("load", 1)
	})
}

// launchedTaskAfterOffer offers room for a 1-cpu Run and returns the task
// of name's first attempt.
func (f *fixture) launchedTaskAfterOffer(name string) string {
	f.t.Helper()
	f.offer("o-"+name, "a1", 1, 1024)
	return f.launchedTask(name, 1)
}

// A deleted dependency is waited for again, as one not created yet: it may
// be applied again under its name (Kubernetes waits for a ConfigMap a Pod
// names in the same way).
func TestDependencies_DeletedDependencyIsWaitedForAgain(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("extract", func(r *apis.Run) { r.Spec.Cpus = 64 })
		f.createRun("transform", dependsOn(dep("extract", apis.ConditionSucceeded)))
		f.settle()
		require.Equal(t, "waiting for extract (Succeeded)", f.status("transform").Message)
		_, deleted, err := f.store.RequestDelete(t.Context(), "extract", "")
		require.NoError(t, err)
		require.True(t, deleted)
		f.expect(func() bool { return f.status("transform").Message == "waiting for extract (not found)" },
			"transform not re-evaluated when extract went: %q", f.status("transform").Message)
		assert.Equal(t, apis.PhasePending, f.status("transform").Phase)
		assert.Equal(t, apis.ReasonWaitingForDependencies, f.status("transform").Reason)
	})
}

// GC keeps a finished Run while another still waits for it: with
// ttlSecondsAfterFinished 0 the dependency would otherwise be gone before
// its dependent saw it finish, and the dependent would wait for good.
func TestGC_KeepsFinishedDependencyOthersStillWaitFor(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		zero := int64(0)
		f := newFixture(t, Config{GCInterval: time.Minute, GCBatch: 10, GCMaxAge: time.Hour})
		f.createRun("extract", func(r *apis.Run) { r.Spec.TTLSecondsAfterFinished = &zero })
		f.createRun("other", func(r *apis.Run) { r.Spec.TTLSecondsAfterFinished = &zero })
		// A dependent the controller has not decided yet: as after a
		// leader change, or between the dependency's finish and the
		// dependent's reconcile.
		f.createRun("transform", dependsOn(dep("extract", apis.ConditionSucceeded), dep("later", apis.ConditionSucceeded)))
		f.settle()
		for _, n := range []string{"extract", "other"} {
			f.store.quietly(n, func(r *apis.Run) {
				now := f.clock.Now()
				r.Status = apis.RunStatus{Phase: apis.PhaseSucceeded, Reason: apis.ReasonCompleted, CompletionTime: &now}
			})
		}
		f.clock.Advance(time.Minute)
		f.expect(func() bool { return f.store.run("other") == nil }, "other never collected")
		assert.NotNil(t, f.store.run("extract"), "transform still waits for extract")
	})
}

// A new leader rebuilds the index of dependents from the store: a pipeline
// whose first step failed while no controller ran fails at the start of
// the term, in one batch, and the Run waiting for the failure launches.
func TestDependencies_NewTermDecidesFromTheStore(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{}, func(f *fixture) {
			f.createRun("extract", func(r *apis.Run) {
				r.Status = apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Attempts: 1}
			})
			f.createRun("transform", dependsOn(dep("extract", apis.ConditionSucceeded)), func(r *apis.Run) {
				r.Status = apis.RunStatus{Phase: apis.PhasePending, Reason: apis.ReasonWaitingForDependencies, Message: "waiting for extract (Succeeded)"}
			})
			f.createRun("load", dependsOn(dep("transform", apis.ConditionSucceeded)), func(r *apis.Run) {
				r.Status = apis.RunStatus{Phase: apis.PhasePending, Reason: apis.ReasonWaitingForDependencies, Message: "waiting for transform (Succeeded)"}
			})
			f.createRun("cleanup", dependsOn(dep("extract", apis.ConditionFailed)))
		})
		f.expect(func() bool { return f.phase("load") == apis.PhaseFailed }, "load never failed")
		assert.Equal(t, apis.ReasonDependencyFailed, f.status("transform").Reason)
		assert.Equal(t, apis.ReasonDependencyFailed, f.status("load").Reason)
		f.offer("o1", "a1", 4, 1024)
		f.launchedTask("cleanup", 1)
		f.noTaskOf("transform")
		f.noTaskOf("load")
	})
}
