package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rootedRun asks for the agent three ways: a privileged container, the
// agent's / mounted read-write, and /etc/shadow fetched into the sandbox.
const rootedRun = `apiVersion: sprint/v1
kind: Run
metadata: {name: rooted}
spec:
  command: cat /host/etc/shadow
  cpus: 0.1
  mem: 16
  container:
    type: DOCKER
    docker:
      image: alpine:3.20
      parameters: [{key: privileged, value: "true"}]
    volumes: [{containerPath: /host, hostPath: /, mode: RW}]
  uris: [{value: "file:///etc/shadow"}]
`

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out), "%s: %s", url, b)
	return resp.StatusCode
}

// A node on its defaults refuses every way to the agent, on the native and
// the Sprint API, stores nothing, and says so in one line per cause.
func TestPolicy_DefaultNodeRefusesTheAgent(t *testing.T) {
	server, _ := startNode(t)

	out, errOut, code := ctl(t, server, rootedRun, "apply", "-f", "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, out)
	assert.Equal(t, `error: stdin: Run "rooted" is forbidden by the admission policy:
  spec.container.docker.parameters[0]: "privileged=true" runs the container with every capability and device of the agent; start sprint with --allow-privileged to allow it
  spec.container.volumes[0].hostPath: "/" is not under an allowed host path (allowed: none); start sprint with --allow-host-paths=/ to allow it
  spec.uris[0].value: scheme "file" is not allowed (allowed: http, https, hdfs, s3, ftp); start sprint with --allow-uri-schemes=http,https,hdfs,s3,ftp,file to allow it
`, errOut)
	_, errOut, code = ctl(t, server, "", "get", "runs", "rooted")
	assert.NotEqual(t, 0, code, "nothing was stored")
	assert.Contains(t, errOut, "not found")

	body := `{"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine","parameters":[{"key":"pid","value":"host"}]}}}`
	resp, err := http.Post(server+"/v1/runs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	var st struct {
		Kind, Reason string
		Code         int
		Details      struct {
			Causes []struct{ Field, Message string }
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "Status", st.Kind)
	assert.Equal(t, "Forbidden", st.Reason)
	require.Len(t, st.Details.Causes, 1)
	assert.Equal(t, "container.docker.parameters[0]", st.Details.Causes[0].Field)
	var runs []any
	require.Equal(t, http.StatusOK, getJSON(t, server+"/v1/runs?includeFinished=true", &runs))
	assert.Empty(t, runs, "the Sprint submission was not stored")

	var policy map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, server+"/api/v1/policy", &policy))
	assert.Equal(t, false, policy["allowPrivileged"])
	assert.Equal(t, []any{}, policy["allowedHostPaths"])
	assert.Equal(t, []any{"http", "https", "hdfs", "s3", "ftp"}, policy["allowedURISchemes"])
}

// The policy flags, also from SPRINT_ALLOW_* variables, widen the policy;
// a bad value stops sprint at start with the flag named.
func TestPolicy_FlagsAndEnvironmentWidenIt(t *testing.T) {
	listen, raft := freePort(t), freePort(t)
	start(t, "sprint", []string{"SPRINT_ALLOW_PRIVILEGED=true", "SPRINT_ALLOW_URI_SCHEMES=https,FILE"},
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--listen", listen, "--raft-addr", raft,
		"--allow-host-paths", "/srv/etl:ro,/scratch/")
	server := "http://" + listen
	waitHTTP(t, server+"/readyz", 30*time.Second)

	var policy struct {
		AllowedHostPaths []struct {
			PathPrefix string
			ReadOnly   bool
		}
		AllowPrivileged   bool
		AllowedURISchemes []string
	}
	require.Equal(t, http.StatusOK, getJSON(t, server+"/api/v1/policy", &policy))
	assert.True(t, policy.AllowPrivileged)
	assert.Equal(t, []string{"https", "file"}, policy.AllowedURISchemes)
	require.Len(t, policy.AllowedHostPaths, 2)
	assert.Equal(t, "/srv/etl", policy.AllowedHostPaths[0].PathPrefix)
	assert.True(t, policy.AllowedHostPaths[0].ReadOnly)
	assert.Equal(t, "/scratch", policy.AllowedHostPaths[1].PathPrefix)

	allowed := strings.NewReplacer(
		"hostPath: /, mode: RW", "hostPath: /srv/etl/in/, mode: RO",
		"file:///etc/shadow", "file:///srv/etl/x.csv",
	).Replace(rootedRun)
	out, errOut, code := ctl(t, server, allowed, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "run.sprint/rooted created\n", out)

	rw := strings.Replace(allowed, "mode: RO", "mode: RW", 1)
	rw = strings.Replace(rw, "name: rooted", "name: rw", 1)
	_, errOut, code = ctl(t, server, rw, "apply", "-f", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `spec.container.volumes[0].hostPath: "/srv/etl/in/" is under /srv/etl, which is allowed read-only`)

	out, _, code = ctl(t, server, "", "cluster", "status")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "  Host Paths:         /srv/etl:ro, /scratch\n")
	assert.Contains(t, out, "  Privileged:         allowed\n")

	for flag, want := range map[string]string{
		"--allow-uri-schemes=https,gopher": `--allow-uri-schemes: unknown scheme "gopher"`,
		"--allow-host-paths=/srv/../etc":   `--allow-host-paths: "/srv/../etc" has a ".." element`,
	} {
		cmd := exec.Command(filepath.Join(binDir, "sprint"), "--data-dir", filepath.Join(t.TempDir(), "d"), flag)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s: %s", flag, b)
		assert.NotEqual(t, 0, ee.ExitCode())
		assert.Contains(t, string(b), want)
	}
}
