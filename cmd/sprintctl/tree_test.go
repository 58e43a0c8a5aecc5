package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

// seedPipeline stores extract → transform → load plus an audit that waits
// for extract to complete and a report that waits for load and audit:
// extract failed, transform and load failed with it, audit runs.
func (e *env) seedPipeline(t *testing.T) {
	t.Helper()
	runs := []struct {
		name   string
		deps   []apis.RunDependency
		status apis.RunStatus
	}{
		{"extract", nil, apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Message: "exit status 1", Attempts: 1}},
		{"transform", []apis.RunDependency{{Name: "extract", Condition: apis.ConditionSucceeded}}, apis.RunStatus{
			Phase: apis.PhaseFailed, Reason: apis.ReasonDependencyFailed, Message: "dependency extract ended Failed (TaskFailed); it needed Succeeded"}},
		{"audit", []apis.RunDependency{{Name: "extract", Condition: apis.ConditionCompleted}}, apis.RunStatus{Phase: apis.PhaseRunning, Attempts: 1}},
		{"load", []apis.RunDependency{{Name: "transform", Condition: apis.ConditionSucceeded}}, apis.RunStatus{
			Phase: apis.PhaseFailed, Reason: apis.ReasonDependencyFailed, Message: "dependency transform ended Failed (DependencyFailed); it needed Succeeded"}},
		{"report", []apis.RunDependency{{Name: "load", Condition: apis.ConditionCompleted}, {Name: "audit", Condition: apis.ConditionSucceeded}}, apis.RunStatus{
			Phase: apis.PhasePending, Reason: apis.ReasonWaitingForDependencies, Message: "waiting for audit (Succeeded)"}},
		{"unrelated", nil, apis.RunStatus{Phase: apis.PhaseSucceeded, Reason: apis.ReasonCompleted}},
	}
	for _, r := range runs {
		_, err := e.srv.Store.CreateRun(t.Context(), &apis.Run{
			Metadata: apis.ObjectMeta{Name: r.name},
			Spec:     apis.RunSpec{Command: "run " + r.name, Cpus: 0.5, Mem: 128, DependsOn: r.deps},
		})
		require.NoError(t, err)
		require.NoError(t, e.srv.Store.SetStatus(r.name, r.status))
	}
}

func TestTree_Golden(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seedPipeline(t)
	var transcript strings.Builder
	for _, args := range [][]string{
		{"tree", "run", "extract"},
		{"tree", "run", "load"},
		{"tree", "run", "missing"},
		{"tree", "pods", "x"},
		{"get", "runs", "--tree"},
		{"get", "runs", "--tree", "-o", "wide"},
		{"describe", "run", "audit"},
		{"describe", "run", "report"},
	} {
		transcript.WriteString("### sprintctl " + strings.Join(args, " ") + "\n" + e.run(t, "", args...).transcript())
	}
	golden(t, "tree", transcript.String())
}
