package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// TestReconcile_OneRunRecordsTheseActions is sample-controller's test of
// syncHandler: the store and Mesos hold a given state, one Run is
// reconciled synchronously, and the side effects it caused — store writes
// and scheduler calls, recorded in order by the fakes — are compared with
// the expected ones, no more and no fewer. The controller first settles on
// the seeded state; the change under test is then made without a watch
// event, so that only the Reconcile call reacts to it.
func TestReconcile_OneRunRecordsTheseActions(t *testing.T) {
	t.Parallel()
	const task = "r.1.abcdef"
	running := func(f *fixture) {
		f.createRun("r", func(r *apis.Run) { r.Spec.ActiveDeadlineSeconds = 600 })
		f.store.mu.Lock()
		defer f.store.mu.Unlock()
		started := f.clock.Now().Add(-time.Minute)
		f.store.runs["r"].Status = apis.RunStatus{Phase: apis.PhaseRunning, Attempts: 1, TaskID: task, AgentID: "a1",
			MesosState: "TASK_RUNNING", StartTime: &started, LastTransitionTime: &started}
		f.store.attempts["r"] = []apis.Attempt{{Run: "r", Number: 1, TaskID: task, AgentID: "a1", LaunchTime: started}}
	}
	pending := func(f *fixture) { f.createRun("r") }
	tests := []struct {
		name    string
		seed    func(f *fixture)
		change  func(r *apis.Run, now time.Time)
		want    []string
		ordered bool // want is in order; otherwise two goroutines (the status writer, the launcher) interleave
		requeue time.Duration
	}{
		{
			name:    "a running task within its deadline: nothing to do but come back at the deadline",
			seed:    running,
			change:  func(*apis.Run, time.Time) {},
			want:    nil,
			requeue: 9 * time.Minute,
		},
		{
			name:    "a running task past activeDeadlineSeconds: the reason first, then the KILL",
			seed:    running,
			change:  func(r *apis.Run, _ time.Time) { r.Spec.ActiveDeadlineSeconds = 30 },
			want:    []string{"store.status r Running DeadlineExceeded", "sched.kill " + task},
			ordered: true,
		},
		{
			name:    "a running task cancelled: the reason first, then the KILL",
			seed:    running,
			change:  func(r *apis.Run, _ time.Time) { r.Spec.Cancel = true },
			want:    []string{"store.status r Running Cancelled", "sched.kill " + task},
			ordered: true,
		},
		{
			name: "a running task deleted: the reason first, then the KILL; the Run stays until the task ends",
			seed: running,
			change: func(r *apis.Run, now time.Time) {
				r.Metadata.DeletionTimestamp = &now
				r.Spec.Cancel = true // deletion is the stronger reason
			},
			want:    []string{"store.status r Running Deleted", "sched.kill " + task},
			ordered: true,
		},
		{
			name:   "a pending Run cancelled before launch: Killed, and offers are no longer needed",
			seed:   pending,
			change: func(r *apis.Run, _ time.Time) { r.Spec.Cancel = true },
			want:   []string{"store.status r Killed Cancelled", "sched.suppress"},
		},
		{
			name:   "a pending Run deleted before launch: gone at once",
			seed:   pending,
			change: func(r *apis.Run, now time.Time) { r.Metadata.DeletionTimestamp = &now },
			want:   []string{"store.delete 1", "store.deleted r", "sched.suppress"},
		},
		{
			name:   "a pending Run unchanged: nothing is written again",
			seed:   pending,
			change: func(*apis.Run, time.Time) {},
			want:   nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				f := newFixture(t, Config{}, tc.seed)
				f.settle()
				f.store.quietly("r", func(r *apis.Run) { tc.change(r, f.clock.Now()) })
				f.log.reset()

				res, err := f.c.Reconcile(t.Context(), "r")
				require.NoError(t, err)
				f.settle() // the status writer and the launcher act on what Reconcile asked
				got, want := f.log.list(), slices.Clone(tc.want)
				if !tc.ordered {
					slices.Sort(got)
					slices.Sort(want)
				}
				assert.Equal(t, want, got)
				if tc.requeue > 0 {
					assert.Equal(t, tc.requeue, res.RequeueAfter)
				}
			})
		})
	}
}
