package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pipeline across the real binaries: extract fails, so transform and
// load end DependencyFailed without a task, cleanup (waiting for extract
// to fail) runs and succeeds, and a create closing a cycle is refused.
// The dependents are applied before the Run they wait for.
func TestPipeline_FailedStepFailsDownstreamAndRunsCleanup(t *testing.T) {
	server, node := startNode(t)
	node.limitRSS(t, 512<<20)
	const manifest = `apiVersion: sprint/v1
kind: Run
metadata: {name: load}
spec: {command: "echo load", cpus: 0.1, mem: 32, dependsOn: [{name: transform}]}
---
apiVersion: sprint/v1
kind: Run
metadata: {name: transform}
spec: {command: "echo transform", cpus: 0.1, mem: 32, dependsOn: [{name: extract, condition: Succeeded}]}
---
apiVersion: sprint/v1
kind: Run
metadata: {name: cleanup}
spec: {command: "echo cleanup", cpus: 0.1, mem: 32, dependsOn: [{name: extract, condition: Failed}]}
`
	out, errOut, code := ctl(t, server, manifest, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "run.sprint/load created\nrun.sprint/transform created\nrun.sprint/cleanup created\n", out)

	out, errOut, code = ctl(t, server, "", "wait", "run", "transform", "--for=phase=Pending", "--timeout", "30s")
	require.Equal(t, 0, code, "wait: %s %s", out, errOut)
	out, _, code = ctl(t, server, "", "describe", "run", "transform")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "Waiting for:        extract (not found)")

	// extract closing a cycle back to load is refused, with the cycle.
	_, errOut, code = ctl(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"extract"},"spec":{"command":"exit 1","cpus":0.1,"mem":32,"dependsOn":[{"name":"load"}]}}`, "apply", "-f", "-")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "spec.dependsOn: a cycle: extract → load → transform → extract")

	_, errOut, code = ctl(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"extract"},"spec":{"command":"echo extracting; exit 1","cpus":0.1,"mem":32}}`, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)

	out, errOut, code = ctl(t, server, "", "wait", "run", "cleanup", "--for=phase=Succeeded", "--timeout", "60s")
	require.Equal(t, 0, code, "wait cleanup: %s %s", out, errOut)
	for _, name := range []string{"transform", "load"} {
		out, _, code = ctl(t, server, "", "get", "runs", name, "-o", "json")
		require.Equal(t, 0, code)
		var run struct {
			Status struct {
				Phase    string `json:"phase"`
				Reason   string `json:"reason"`
				Attempts int    `json:"attempts"`
			} `json:"status"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &run))
		assert.Equal(t, "Failed", run.Status.Phase, name)
		assert.Equal(t, "DependencyFailed", run.Status.Reason, name)
		assert.Zero(t, run.Status.Attempts, "%s never launched", name)
	}
	out, _, code = ctl(t, server, "", "tree", "run", "extract")
	require.Equal(t, 0, code)
	assert.Equal(t, strings.Join([]string{
		"extract  Failed (TaskFailed)",
		"├── cleanup  Succeeded (Completed)  needs extract Failed",
		"└── transform  Failed (DependencyFailed)  needs extract Succeeded",
		"    └── load  Failed (DependencyFailed)  needs transform Succeeded",
	}, "\n")+"\n", out)
}
