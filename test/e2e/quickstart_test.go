package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startNode starts one sprint node on its embedded defaults (simulated
// Mesos master with one local agent) in a fresh data dir and returns its
// API URL.
func startNode(t *testing.T, extra ...string) (string, *proc) {
	t.Helper()
	listen, raft := freePort(t), freePort(t)
	args := append([]string{"--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", listen, "--raft-addr", raft}, extra...)
	p := start(t, "sprint", nil, args...)
	url := "http://" + listen
	waitHTTP(t, url+"/readyz", 30*time.Second)
	return url, p
}

// The README's quickstart: apply hello.yaml, see it succeed, read its log.
func TestQuickstart_HelloSucceedsAndLogsItsOutput(t *testing.T) {
	server, node := startNode(t)
	// A single node running the quickstart stays far below this; the bound
	// turns a memory regression into a failure rather than a swapping host.
	node.limitRSS(t, 512<<20)
	hello := filepath.Join(repoRoot(t), "manifests", "examples", "hello.yaml")

	out, errOut, code := ctl(t, server, "", "apply", "-f", hello)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "run.sprint/hello created\n", out)

	out, errOut, code = ctl(t, server, "", "wait", "run", "hello", "--for=phase=Succeeded", "--timeout", "60s")
	require.Equal(t, 0, code, "wait: %s %s", out, errOut)

	out, errOut, code = ctl(t, server, "", "logs", "hello")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "hello from sprint")

	out, _, code = ctl(t, server, "", "get", "runs", "hello", "-o", "json")
	require.Equal(t, 0, code)
	var run struct {
		Status struct {
			Phase    string `json:"phase"`
			ExitCode *int   `json:"exitCode"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &run))
	assert.Equal(t, "Succeeded", run.Status.Phase)
	require.NotNil(t, run.Status.ExitCode)
	assert.Equal(t, 0, *run.Status.ExitCode)

	// Applying the same manifest again changes nothing.
	out, errOut, code = ctl(t, server, "", "apply", "-f", hello)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "run.sprint/hello unchanged\n", out)
}

// Bad input: one readable line and a non-zero exit, nothing stored.
func TestQuickstart_InvalidManifestIsRefusedWithFieldPath(t *testing.T) {
	server, _ := startNode(t)
	_, errOut, code := ctl(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"bad"},"spec":{"cpu":1}}`, "apply", "-f", "-")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, errOut, "spec.cpu: unknown field; did you mean spec.cpus?")
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(errOut), "\n")+1, "one line: %q", errOut)

	_, _, code = ctl(t, server, "", "get", "runs", "bad")
	assert.NotEqual(t, 0, code, "nothing was stored")
}

// The Sprint seed's client flow, its curl example as written: POST /v1/runs,
// GET its state, DELETE. No Docker runs here, so the Run ends Failed with a
// message saying so.
func TestQuickstart_SprintClientFlow(t *testing.T) {
	server, _ := startNode(t)
	body := `{"labels":{"name":"testing","tier":"local"},"cpus":0.1,"mem":100,
	  "container":{"type":"DOCKER","docker":{"image":"hello-world:latest"}}}`
	resp, err := http.Post(server+"/v1/runs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	var created struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&created))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "Created", created.State)
	require.NotEmpty(t, created.ID)

	require.Eventually(t, func() bool {
		resp, err := http.Get(server + "/v1/runs/" + created.ID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var got struct{ State string }
		return json.NewDecoder(resp.Body).Decode(&got) == nil && got.State == "Failed"
	}, 60*time.Second, 200*time.Millisecond)
	out, _, code := ctl(t, server, "", "describe", "run", created.ID)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "cannot run container images")

	req, err := http.NewRequest(http.MethodDelete, server+"/v1/runs/"+created.ID, nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Less(t, resp.StatusCode, 300)
}
