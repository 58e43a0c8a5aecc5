package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// embeddedSimURL finds the embedded Mesos simulator's URL in a node's log
// ("embedded Mesos simulator started url=http://127.0.0.1:PORT").
func embeddedSimURL(t *testing.T, p *proc) string {
	t.Helper()
	m := regexp.MustCompile(`embedded Mesos simulator started"? url=(http://127\.0\.0\.1:[0-9]+)`).FindStringSubmatch(p.out.String())
	require.NotNil(t, m, "no embedded simulator in the log:\n%s", p.out.String())
	return m[1]
}

// runStatus reads a Run's status through sprintctl.
func runStatus(t *testing.T, server, name string) (phase, message string) {
	t.Helper()
	out, errOut, code := ctl(t, server, "", "get", "runs", name, "-o", "json")
	require.Equal(t, 0, code, errOut)
	var run struct {
		Status struct {
			Phase   string `json:"phase"`
			Message string `json:"message"`
		} `json:"status"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &run))
	return run.Status.Phase, run.Status.Message
}

// applyAndWait applies a one-Run manifest and waits for its phase.
func applyAndWait(t *testing.T, server, manifest, name, phase string) {
	t.Helper()
	_, errOut, code := ctl(t, server, manifest, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)
	out, errOut, code := ctl(t, server, "", "wait", "run", name, "--for=phase="+phase, "--timeout", "60s")
	if code != 0 {
		p, msg := runStatus(t, server, name)
		t.Fatalf("wait %s: %s %s (phase %s: %s)", name, out, errOut, p, msg)
	}
}

// The embedded simulator of a local node: other local users cannot use it
// (every endpoint wants the credential only the sprint process knows),
// yet the node runs Runs and reads their logs; its tasks see none of
// sprint's environment; their sandboxes live outside the 0700 data dir and
// go away with the node; as root, spec.user is honoured.
func TestEmbeddedSim_LocksOutLocalUsersAndIsolatesTasks(t *testing.T) {
	listen, raft := freePort(t), freePort(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	node := start(t, "sprint", []string{"SPRINT_E2E_CANARY=canary-9d2e", "AWS_SECRET_ACCESS_KEY=canary-aws"},
		"--data-dir", dataDir, "--listen", listen, "--raft-addr", raft)
	server := "http://" + listen
	waitHTTP(t, server+"/readyz", 30*time.Second)
	simURL := embeddedSimURL(t, node)
	assert.NotContains(t, node.out.String(), "canary", "the environment is not logged")

	// Everything on the simulator's port wants the credential.
	fi, err := os.Stat(dataDir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "data dir")
	check := func(method, path, body, user, pass, realm string) {
		t.Helper()
		req, err := http.NewRequest(method, simURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s", method, path)
		assert.Equal(t, `Basic realm="`+realm+`"`, resp.Header.Get("WWW-Authenticate"), "%s %s", method, path)
	}
	subscribe := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"intruder"}}}`
	check(http.MethodPost, "/api/v1/scheduler", subscribe, "", "", "mesos-master-scheduler")
	check(http.MethodPost, "/api/v1/scheduler", subscribe, "sprint", "guess", "mesos-master-scheduler")
	check(http.MethodGet, "/master/state", "", "", "", "mesos-master-readonly")
	check(http.MethodGet, "/files/read?path=/etc/hostname&offset=0", "", "", "", "mesos-agent-readonly")
	check(http.MethodPost, "/sim/v1/agents/gone", `{"agent_id":"x"}`, "", "", "mesos-master-readwrite")

	// sprint itself gets through: a task that prints its environment.
	applyAndWait(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"env"},"spec":{"command":"env","cpus":0.1,"mem":16}}`, "env", "Succeeded")
	out, errOut, code := ctl(t, server, "", "logs", "env")
	require.Equal(t, 0, code, errOut)
	env := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	assert.NotContains(t, out, "canary", "sprint's environment does not reach tasks")
	for _, k := range []string{"PATH", "HOME", "MESOS_SANDBOX", "MESOS_DIRECTORY", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID", "MESOS_AGENT_ENDPOINT", "HOST", "MESOS_TASK_ID"} {
		assert.NotEmpty(t, env[k], "%s in the task's environment", k)
	}
	assert.Equal(t, "env", env["SPRINT_RUN_NAME"])
	sandbox := env["MESOS_SANDBOX"]
	absData, err := filepath.Abs(dataDir)
	require.NoError(t, err)
	assert.False(t, strings.HasPrefix(sandbox, absData), "sandbox %s outside the data dir", sandbox)
	root := sandbox[:strings.Index(sandbox, "/slaves/")]
	assert.True(t, strings.HasPrefix(filepath.Base(root), "sprint-sandboxes-"), root)

	if os.Geteuid() == 0 {
		applyAndWait(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"as-nobody"},"spec":{"command":"id -un","user":"nobody","cpus":0.1,"mem":16}}`, "as-nobody", "Succeeded")
		out, errOut, code = ctl(t, server, "", "logs", "as-nobody")
		require.Equal(t, 0, code, errOut)
		assert.Equal(t, "nobody\n", out)

		applyAndWait(t, server, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"ghost"},"spec":{"command":"true","user":"no-such-user-e2e","cpus":0.1,"mem":16}}`, "ghost", "Failed")
		_, msg := runStatus(t, server, "ghost")
		assert.Contains(t, msg, "Failed to chown directory to 'no-such-user-e2e': No such user 'no-such-user-e2e'")
	} else {
		t.Log("not root: spec.user is not tried here (mesos/sim covers the non-root refusal)")
	}

	// The sandboxes go with the node.
	require.True(t, node.stop(8*time.Second))
	_, err = os.Stat(root)
	assert.True(t, os.IsNotExist(err), "%s removed at shutdown: %v", root, err)
}

// A token file other users can read is refused at start: one line naming
// the file and the fix, exit status 1.
func TestSprint_RefusesATokenFileOthersCanRead(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	require.NoError(t, os.WriteFile(tokens, []byte("t0ken\n"), 0o644))
	require.NoError(t, os.Chmod(tokens, 0o644))
	p := start(t, "sprint", nil, "--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", freePort(t),
		"--raft-addr", freePort(t), "--token-file", tokens)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("sprint did not exit")
	}
	assert.Equal(t, 1, p.cmd.ProcessState.ExitCode())
	assert.Equal(t, "sprint: --token-file: "+tokens+": permissions 0644 are too open (its group or other users may read it); run: chmod 600 "+tokens+"\n", p.out.String())
}
