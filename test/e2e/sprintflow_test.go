package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sprintRun is Sprint's GET /v1/runs/{id} answer, the fields tests read.
type sprintRun struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Message string `json:"message"`
}

func getSprintRun(t *testing.T, base, id string) (sprintRun, int) {
	t.Helper()
	resp, err := http.Get(base + "/v1/runs/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var r sprintRun
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, &r), "%s", b)
	}
	return r, resp.StatusCode
}

// The Sprint seed's client flow, through a follower of a three-node
// cluster (writes are forwarded to the leader): POST /v1/runs, GET its
// state, DELETE. A Docker image cannot run on this host, so that Run ends
// Failed with a message saying so. DELETE kills a running Run and keeps
// the record, as Sprint does.
func TestCluster_SprintClientFlowThroughFollower(t *testing.T) {
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 1, executor: "process",
		resources: "cpus:4;mem:8192;disk:10000;ports:[31000-32000]"}})
	f := c.followers()[0]
	leader := c.leader()

	resp, err := http.Get(f.url + "/status/leading")
	require.NoError(t, err)
	resp.Body.Close()
	assert.NotEqual(t, http.StatusOK, resp.StatusCode, "a follower does not lead")
	resp, err = http.Get(leader.url + "/status/leading")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	post := func(body string) sprintRun {
		t.Helper()
		resp, err := http.Post(f.url+"/v1/runs", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", b)
		var r sprintRun
		require.NoError(t, json.Unmarshal(b, &r), "%s", b)
		assert.Equal(t, "Created", r.State)
		require.NotEmpty(t, r.ID)
		return r
	}
	docker := post(`{"labels":{"name":"testing","tier":"local"},"cpus":0.1,"mem":100,
	  "container":{"type":"DOCKER","docker":{"image":"hello-world:latest"}}}`)
	// Sprint runs need an image; a plain command comes in through the
	// native API (also through the follower) and is read and killed through
	// Sprint's.
	_, errOut, code := ctl(t, f.url, `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"plain","labels":{"name":"plain"}},"spec":{"command":"sleep 30","cpus":0.1,"mem":16}}`, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)
	plain := sprintRun{ID: "plain"}

	var got sprintRun
	require.Eventually(t, func() bool {
		got, _ = getSprintRun(t, f.url, docker.ID)
		return got.State == "Failed"
	}, time.Minute, 200*time.Millisecond, "docker run state %q", got.State)
	out, _, code := ctl(t, f.url, "", "describe", "run", docker.ID)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "cannot run container images")

	require.Eventually(t, func() bool {
		got, _ = getSprintRun(t, f.url, plain.ID)
		return got.State == "Running"
	}, time.Minute, 200*time.Millisecond, "plain run state %q", got.State)

	// The list through the follower has both; labels filter.
	resp, err = http.Get(f.url + "/v1/runs?includeFinished=true&labels=name:testing")
	require.NoError(t, err)
	var list []sprintRun
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	require.Len(t, list, 1)
	assert.Equal(t, docker.ID, list[0].ID)

	// DELETE through the follower kills the running one; the record stays.
	for _, id := range []string{plain.ID, docker.ID} {
		req, err := http.NewRequest(http.MethodDelete, f.url+"/v1/runs/"+id, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Less(t, resp.StatusCode, 300, "DELETE %s", id)
	}
	require.Eventually(t, func() bool {
		got, _ = getSprintRun(t, f.url, plain.ID)
		return got.State == "Killed"
	}, time.Minute, 200*time.Millisecond, "plain run state %q after DELETE", got.State)
	got, code = getSprintRun(t, f.url, docker.ID)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "Failed", got.State, "a finished run stays as it was")
	c.waitNoActiveTasks(t, 30*time.Second)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// A Run's sandbox output read through a follower (the log API reaches the
// agent's /files/read via the Mesos master the node was given, with the
// node's Mesos credential), and sprintctl wait through another follower.
func TestCluster_LogsThroughFollower(t *testing.T) {
	// mesos-sim requires credentials everywhere: the nodes subscribe with
	// --mesos-principal/--mesos-secret-file and read sandboxes with them.
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 1, executor: "process", credentials: true,
		resources: "cpus:4;mem:8192;disk:10000;ports:[31000-32000]"}})
	fs := c.followers()
	manifest := `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"echo"},"spec":{"command":"echo out-$SPRINT_RUN_NAME; echo err >&2","cpus":0.1,"mem":16}}`
	out, errOut, code := ctl(t, fs[0].url, manifest, "apply", "-f", "-")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "run.sprint/echo created\n", out)
	out, errOut, code = ctl(t, fs[1].url, "", "wait", "run", "echo", "--for=phase=Succeeded", "--timeout", "60s")
	require.Equal(t, 0, code, "%s %s\n%s", out, errOut, c.describeRun("echo", nil))
	out, errOut, code = ctl(t, fs[0].url, "", "logs", "echo")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "out-echo\n", out)
	out, errOut, code = ctl(t, fs[1].url, "", "logs", "echo", "--stderr")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "err\n", out)
	resp, err := http.Get(c.sim.masterURL + "/master/state")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the logs came through an authenticating mesos-sim")
}
