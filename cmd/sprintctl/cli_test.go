package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func TestApply_Golden(t *testing.T) {
	e := newEnv(t, server.Config{})
	dir := t.TempDir()
	writeFile(t, dir, "hello.yaml", helloYAML)
	writeFile(t, dir, "multi.yaml", `apiVersion: sprint/v1
kind: Run
metadata: {name: first}
spec: {command: "true", cpus: 0.1, mem: 16}
---
apiVersion: sprint/v1
kind: Run
metadata: {name: broken}
spec: {command: "true", cpus: 0, mem: 16}
`)
	writeFile(t, dir, "nested/deep.json", `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"deep"},"spec":{"args":["/bin/true"],"cpus":0.1,"mem":16}}`)
	writeFile(t, dir, "notes.txt", "not a manifest")

	var transcript strings.Builder
	step := func(title string, r result) {
		transcript.WriteString("### " + title + "\n" + r.transcript())
	}
	step("apply -f DIR (one invalid Run)", e.run(t, "", "apply", "-f", dir))
	step("apply -R -f DIR again", e.run(t, "", "apply", "-R", "-f", dir))
	relabeled := strings.Replace(helloYAML, "team: data", "team: ops", 1)
	step("apply -f - (label changed) --dry-run", e.run(t, relabeled, "apply", "-f", "-", "--dry-run"))
	step("apply -f - (label changed)", e.run(t, relabeled, "apply", "-f", "-"))
	changed := strings.Replace(relabeled, "echo hello", "echo bye", 1)
	step("apply immutable change", e.run(t, changed, "apply", "-f", "-"))
	step("apply --force", e.run(t, changed, "apply", "-f", "-", "--force"))
	step("apply unknown field", e.run(t, strings.Replace(helloYAML, "cpus:", "cpu:", 1), "apply", "-f", "-"))
	step("apply missing file", e.run(t, "", "apply", "-f", dir+"/nope.yaml"))
	step("apply refused by the admission policy", e.run(t, forbiddenYAML, "apply", "-f", "-"))
	step("apply --dry-run refused by the admission policy", e.run(t, forbiddenYAML, "apply", "-f", "-", "--dry-run"))
	step("apply without -f", e.run(t, "", "apply"))
	golden(t, "apply", strings.ReplaceAll(transcript.String(), dir, "DIR"))

	r, err := e.srv.Store.GetRun(t.Context(), "hello")
	require.NoError(t, err)
	assert.Equal(t, "echo bye", r.Spec.Command)
	_, err = e.srv.Store.GetRun(t.Context(), "deep")
	require.NoError(t, err, "-R reads subdirectories")
}

// forbiddenYAML asks for the agent three ways the default policy refuses.
const forbiddenYAML = `apiVersion: sprint/v1
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

func TestGet_Golden(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	var transcript strings.Builder
	for _, args := range [][]string{
		{"get", "runs"},
		{"get", "runs", "-o", "wide"},
		{"get", "runs", "-l", "team=data"},
		{"get", "runs", "--field-selector", "status.phase=Failed"},
		{"get", "runs", "-o", "name"},
		{"get", "runs", "hello", "-o", "yaml"},
		{"get", "runs", "report", "-o", "json"},
		{"get", "runs", "hello", "missing"},
		{"get", "runs", "-l", "team=nobody"},
		{"get", "runs", "-o", "table"},
		{"get", "pods"},
	} {
		transcript.WriteString("### sprintctl " + strings.Join(args, " ") + "\n" + e.run(t, "", args...).transcript())
	}
	golden(t, "get", transcript.String())
}

func TestDescribe_Golden(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	e.srv.Store.AddEvent("report", apis.RunEvent{Time: now.Add(-4 * time.Minute), Type: apis.EventNormal, Reason: "Launched", Message: "task report.1.aa11 on agent-1"})
	e.srv.Store.AddEvent("report", apis.RunEvent{Time: now.Add(-3 * time.Minute), Type: apis.EventWarning, Reason: "TaskFailed", Message: "exit status 3", Count: 2})
	var transcript strings.Builder
	for _, name := range []string{"report", "hello", "missing"} {
		transcript.WriteString("### sprintctl describe run " + name + "\n" + e.run(t, "", "describe", "run", name).transcript())
	}
	golden(t, "describe", transcript.String())
}

func TestGet_WatchPrintsChanges(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, done := e.start(ctx, "get", "runs", "-w", "--output-watch-events")

	require.Eventually(t, func() bool { return strings.Contains(out.String(), "waiting") }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, e.srv.Store.SetStatus("waiting", apis.RunStatus{Phase: apis.PhaseRunning, Hostname: "agent-3"}))
	modified := regexp.MustCompile(`(?m)^MODIFIED +waiting +Running +5m +agent-3 +<none>$`)
	require.Eventually(t, func() bool { return modified.MatchString(out.String()) }, 5*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case r := <-done:
		assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		assert.Equal(t, "EVENT   NAME          PHASE       AGE   HOST      EXIT", lines[0])
		assert.Len(t, lines, 6)
	case <-time.After(5 * time.Second):
		t.Fatal("get -w did not stop on interrupt")
	}
}

// get -w with a selector shows a Run that starts to match as ADDED, one
// that stops matching as DELETED, and nothing of a Run that matches
// neither before nor after its change.
func TestGet_WatchWithSelectorShowsRunsEnterAndLeave(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, done := e.start(ctx, "get", "runs", "-w", "-l", "team=data", "--output-watch-events")
	out.waitFor(t, "listing", func(s string) bool { return strings.Count(s, "\n") == 3 })

	relabel := func(name string, labels map[string]string) {
		r, err := e.srv.Store.GetRun(ctx, name)
		require.NoError(t, err)
		r.Metadata.Labels = labels
		_, err = e.srv.Store.UpdateRun(ctx, r)
		require.NoError(t, err)
	}
	relabel("waiting", map[string]string{"team": "data"})           // enters
	relabel("hello", map[string]string{"team": "ml"})               // leaves
	relabel("report", map[string]string{"team": "infra"})           // neither
	relabel("waiting", map[string]string{"team": "data", "x": "1"}) // stays
	out.waitFor(t, "the last change", func(s string) bool { return strings.Contains(s, "MODIFIED") })
	cancel()
	r := <-done
	assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		f := strings.Fields(l)
		got = append(got, f[0]+" "+f[1])
	}
	assert.Equal(t, []string{
		"ADDED etl-nightly", "ADDED hello",
		"ADDED waiting", "DELETED hello", "MODIFIED waiting",
	}, got, r.stdout)
}

// When the server cuts the watch off (410: its history was replaced, or
// the client read too slowly), get -w lists again and goes on: it prints
// what changed meanwhile, once, and nothing it printed already.
func TestGet_WatchCarriesOnAfterGone(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, done := e.start(ctx, "get", "runs", "-w", "--output-watch-events")
	out.waitFor(t, "listing", func(s string) bool { return strings.Count(s, "\n") == 5 })

	e.srv.Store.ExpireWatches()
	require.NoError(t, e.srv.Store.SetStatus("waiting", apis.RunStatus{Phase: apis.PhaseRunning}))
	_, _, err := e.srv.Store.RequestDelete(ctx, "report", "")
	require.NoError(t, err)
	_, err = e.srv.Store.CreateRun(ctx, &apis.Run{Metadata: apis.ObjectMeta{Name: "late"}, Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32}})
	require.NoError(t, err)
	require.NoError(t, e.srv.Store.SetStatus("late", apis.RunStatus{Phase: apis.PhaseSucceeded}))
	lateDone := regexp.MustCompile(`(?m)^(ADDED|MODIFIED) +late +Succeeded `)
	reportGone := regexp.MustCompile(`(?m)^DELETED +report `)
	out.waitFor(t, "late's last state and report's deletion", func(s string) bool {
		return lateDone.MatchString(s) && reportGone.MatchString(s)
	})
	cancel()
	r := <-done
	assert.Equal(t, 0, r.code, "stderr: %s", r.stderr)

	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		f := strings.Fields(l)
		count[f[0]+" "+f[1]]++
	}
	// late may have been listed at either of its versions, or seen
	// created and then changed: the relist raced with its writes.
	if count["MODIFIED late"] == 1 {
		delete(count, "MODIFIED late")
	}
	assert.Equal(t, map[string]int{
		"ADDED etl-nightly": 1, "ADDED hello": 1, "ADDED report": 1, "ADDED waiting": 1,
		"MODIFIED waiting": 1, "DELETED report": 1, "ADDED late": 1,
	}, count, r.stdout)
}

func TestWait_ExitCodes(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)

	r := e.run(t, "", "wait", "run", "etl-nightly", "--for=phase=Succeeded")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "run.sprint/etl-nightly condition met\n", r.stdout)

	r = e.run(t, "", "wait", "run", "report", "--for=phase=Succeeded")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "error: Run \"report\" is Failed (TaskFailed), not Succeeded: condition can no longer be met\n", r.stderr)

	r = e.run(t, "", "wait", "run", "waiting", "--for=phase=Succeeded", "--timeout", "50ms")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "error: timed out after 50ms waiting for phase=Succeeded on run.sprint/waiting\n", r.stderr)

	r = e.run(t, "", "wait", "run", "missing", "--for=phase=Succeeded")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "error: Run \"missing\" not found\n", r.stderr)

	r = e.run(t, "", "wait", "run", "hello", "--for=color=red")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "want phase=PHASE")

	// Waiting while the controller moves the Run along.
	done := make(chan result, 1)
	go func() { done <- e.run(t, "", "wait", "run", "hello", "--for=phase=succeeded", "--timeout", "10s") }()
	require.NoError(t, e.srv.Store.SetStatus("hello", apis.RunStatus{Phase: apis.PhaseSucceeded}))
	select {
	case r := <-done:
		assert.Equal(t, 0, r.code, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("wait did not return")
	}
}

func TestDeleteKillLogs(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	ctx := t.Context()

	r := e.run(t, "", "kill", "run", "hello", "missing")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "run.sprint/hello killed\n", r.stdout)
	assert.Equal(t, "error: Run \"missing\" not found\n", r.stderr)
	got, err := e.srv.Store.GetRun(ctx, "hello")
	require.NoError(t, err)
	assert.True(t, got.Spec.Cancel)

	e.srv.Logs.Append("report", "stdout", "line 1\nline 2\nline 3\n")
	e.srv.Logs.Append("report", "stderr", "boom\n")
	e.srv.Logs.End("report", "stdout")
	e.srv.Logs.End("report", "stderr")
	r = e.run(t, "", "logs", "report", "--tail", "2")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "line 2\nline 3\n", r.stdout)
	r = e.run(t, "", "logs", "report", "--stderr", "-f")
	assert.Equal(t, "boom\n", r.stdout)
	r = e.run(t, "", "logs", "waiting")
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "error: "), r.stderr)

	r = e.run(t, "", "delete", "run", "etl-nightly", "report")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "run.sprint/etl-nightly deleted\nrun.sprint/report deleted\n", r.stdout)

	// hello is Running: delete --wait returns once the task is gone.
	done := make(chan result, 1)
	go func() { done <- e.run(t, "", "delete", "run", "hello", "--wait") }()
	require.Eventually(t, func() bool {
		r, err := e.srv.Store.GetRun(ctx, "hello")
		return err == nil && r.Metadata.DeletionTimestamp != nil
	}, 5*time.Second, 5*time.Millisecond)
	select {
	case <-done:
		t.Fatal("delete --wait returned before the task ended")
	default:
	}
	require.NoError(t, e.srv.Store.SetStatus("hello", apis.RunStatus{Phase: apis.PhaseKilled}))
	select {
	case r := <-done:
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "run.sprint/hello deleted\n", r.stdout)
	case <-time.After(5 * time.Second):
		t.Fatal("delete --wait did not return")
	}

	dir := t.TempDir()
	f := writeFile(t, dir, "w.yaml", "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: waiting}\nspec: {command: x, cpus: 1, mem: 1}\n")
	r = e.run(t, "", "delete", "-f", f)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "run.sprint/waiting deleted\n", r.stdout)

	r = e.run(t, "", "delete", "run")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "give exactly one of")
	r = e.run(t, "", "delete", "run", "-l", "team=nobody")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "No runs found.\n", r.stderr)
}

func TestCluster_Golden(t *testing.T) {
	e := newEnv(t, server.Config{NodeID: "n1"})
	var transcript strings.Builder
	for _, args := range [][]string{
		{"cluster", "join", "n2", "127.0.0.1:9093", "http://127.0.0.1:9092"},
		{"cluster", "join", "x", "nonsense"},
		{"cluster", "join", "x", "127.0.0.1:9095", "127.0.0.1:9094"},
		{"cluster", "status"},
		{"cluster", "remove", "n2"},
		{"cluster", "remove", "n2"},
		{"version"},
	} {
		transcript.WriteString("### sprintctl " + strings.Join(args, " ") + "\n" + e.run(t, "", args...).transcript())
	}
	golden(t, "cluster", transcript.String())
}

func TestErrors_OneLineAndExitCode(t *testing.T) {
	e := newEnv(t, server.Config{Tokens: []string{"tok"}})
	tests := map[string]struct {
		args []string
		want string
	}{
		"no token":         {args: []string{"get", "runs"}, want: "error: a valid bearer token is required (Authorization: Bearer <token>) (set --token or SPRINT_TOKEN)\n"},
		"wrong token":      {args: []string{"--token", "bad", "get", "runs"}, want: "error: a valid bearer token is required (Authorization: Bearer <token>) (set --token or SPRINT_TOKEN)\n"},
		"server down":      {args: []string{"--server", "http://127.0.0.1:1", "get", "runs"}, want: "error: GET http://127.0.0.1:1/api/v1/runs?limit=500: dial tcp 127.0.0.1:1: connect: connection refused\n"},
		"bad server":       {args: []string{"--server", "ftp://x", "get", "runs"}, want: "error: server address \"ftp://x\": scheme must be http or https\n"},
		"unknown command":  {args: []string{"frobnicate"}, want: "error: unknown command \"frobnicate\" for \"sprintctl\"\n"},
		"unknown flag":     {args: []string{"get", "runs", "--colour"}, want: "error: unknown flag: --colour\n"},
		"missing resource": {args: []string{"describe", "run"}, want: "error: accepts 2 arg(s), received 1\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.run(t, "", tc.args...)
			assert.Equal(t, 1, r.code)
			assert.Equal(t, tc.want, r.stderr)
			assert.Empty(t, r.stdout)
		})
	}
	r := e.run(t, "", "--token", "tok", "get", "runs")
	assert.Equal(t, 0, r.code, r.stderr)
}

func TestCompletionAndVersion(t *testing.T) {
	e := newEnv(t, server.Config{})
	for _, shell := range []string{"bash", "zsh", "fish"} {
		r := e.run(t, "", "completion", shell)
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "sprintctl")
	}
	r := e.run(t, "", "completion", "tcsh")
	assert.Equal(t, 1, r.code)
	r = e.run(t, "", "version", "--client")
	assert.Equal(t, "Client Version: "+clientVersion()+"\n", r.stdout)
}

func TestRun_Entry(t *testing.T) {
	var out, errb strings.Builder
	assert.Equal(t, 0, run([]string{"version", "--client"}, strings.NewReader(""), &out, &errb))
	assert.Contains(t, out.String(), "Client Version:")
	assert.Equal(t, 1, run([]string{"nope"}, strings.NewReader(""), &out, &errb))
}

func TestTLS_CertificateAuthority(t *testing.T) {
	cert, key := servertest.SelfSignedCert(t, t.TempDir())
	srv := servertest.Start(t, server.Config{TLSCertFile: cert, TLSKeyFile: key, Version: "v1"}, nil, nil)
	e := &env{srv: srv}
	r := e.run(t, "", "version")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "certificate", "an unknown CA is refused")
	r = e.run(t, "", "--certificate-authority", cert, "version")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Server Version: v1")
	r = e.run(t, "", "--certificate-authority", key, "version")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no PEM certificates")
}

func TestApply_ExampleManifests(t *testing.T) {
	// volumes-uris.yaml mounts /srv/etl, as its comment says. The
	// examples hold Schedules: a server over a real store serves them.
	e, _ := raftEnvWith(t, server.Config{Policy: &apis.Policy{
		AllowedHostPaths:  []apis.AllowedHostPath{{PathPrefix: "/srv/etl"}},
		AllowedURISchemes: apis.DefaultPolicy().AllowedURISchemes,
	}})
	r := e.run(t, "", "apply", "-f", "../../manifests/examples")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.True(t, strings.HasSuffix(l, " created"), l)
	}
	r = e.run(t, "", "apply", "-f", "../../manifests/examples/hello.yaml")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "run.sprint/hello unchanged\n", r.stdout)
}

func TestApply_GenerateNameAndErrorOrigins(t *testing.T) {
	e := newEnv(t, server.Config{})
	dir := t.TempDir()
	gen := writeFile(t, dir, "gen.yaml", "apiVersion: sprint/v1\nkind: Run\nmetadata: {generateName: flaky-}\nspec: {command: 'true', cpus: 0.1, mem: 16}\n")
	created := regexp.MustCompile(`^run\.sprint/flaky-[a-z0-9]{5} created\n$`)
	r := e.run(t, "", "apply", "-f", gen)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, created, r.stdout)
	first := r.stdout
	r = e.run(t, "", "apply", "-f", gen)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, created, r.stdout)
	assert.NotEqual(t, first, r.stdout, "every apply of a generateName manifest creates a new Run")

	r = e.run(t, "", "apply", "-f", "../../manifests/examples/retries.yaml")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^run\.sprint/flaky-[a-z0-9]{5} created\n$`, r.stdout)

	bad := writeFile(t, dir, "bad.yaml", "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: x}\nspec: {command: 'true', cpus: 0, mem: 16}\n")
	list := writeFile(t, dir, "list.json", `{"apiVersion":"sprint/v1","kind":"RunList","items":[{"metadata":{"name":"ok"},"spec":{"command":"true","cpus":1,"mem":1}},{"metadata":{},"spec":{"command":"true","cpus":1,"mem":1}}]}`)
	tests := map[string]struct {
		args   []string
		stdin  string
		stderr string
	}{
		"server 422 names the file": {
			args:   []string{"apply", "-f", bad},
			stderr: "error: DIR/bad.yaml: Run \"x\" is invalid: spec.cpus: must be greater than 0\n",
		},
		"stdin, second document": {
			args:   []string{"apply", "-f", "-"},
			stdin:  "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: doc-one}\nspec: {command: 'true', cpus: 1, mem: 1}\n---\napiVersion: sprint/v1\nkind: Run\nmetadata: {name: doc-two}\nspec: {command: 'true', cpus: 1, mem: -1}\n",
			stderr: "error: stdin: document 2: Run \"doc-two\" is invalid: spec.mem: must be greater than 0\n",
		},
		"client-side refusal names the file": {
			args:   []string{"apply", "-f", list},
			stderr: "error: DIR/list.json: apply: the Run has neither metadata.name nor metadata.generateName\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.run(t, tc.stdin, tc.args...)
			assert.Equal(t, 1, r.code)
			assert.Equal(t, tc.stderr, strings.ReplaceAll(r.stderr, dir, "DIR"))
		})
	}
}

func TestQAFixes_Sprintctl(t *testing.T) {
	e := newEnv(t, server.Config{})
	e.seed(t)
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.yaml", "")
	comments := writeFile(t, dir, "comments.yaml", "# nothing here\n---\n")
	tests := map[string]struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		"apply empty file":   {args: []string{"apply", "-f", empty}, code: 1, stderr: "error: no objects passed to apply\n"},
		"apply comment only": {args: []string{"apply", "-f", comments}, code: 1, stderr: "error: no objects passed to apply\n"},
		"apply empty stdin":  {args: []string{"apply", "-f", "-"}, code: 1, stderr: "error: no objects passed to apply\n"},
		"get missing name":   {args: []string{"get", "runs", "nosuch"}, code: 1, stderr: "error: Run \"nosuch\" not found\n"},
		"kill finished":      {args: []string{"kill", "run", "etl-nightly"}, code: 0, stdout: "run.sprint/etl-nightly already Succeeded; nothing to kill\n"},
		"kill failed":        {args: []string{"kill", "run", "report"}, code: 0, stdout: "run.sprint/report already Failed; nothing to kill\n"},
		"wrong base path": {args: []string{"--server", e.srv.URL + "/api", "get", "runs"}, code: 1,
			stderr: "error: GET " + e.srv.URL + "/api/api/v1/runs?limit=500: 404 Not Found (is --server the sprint API's base URL?)\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.run(t, "", tc.args...)
			assert.Equal(t, tc.code, r.code)
			assert.Equal(t, tc.stdout, r.stdout)
			assert.Equal(t, tc.stderr, r.stderr)
		})
	}
	for _, name := range []string{"etl-nightly", "report"} {
		got, err := e.srv.Store.GetRun(t.Context(), name)
		require.NoError(t, err)
		assert.False(t, got.Spec.Cancel, "kill leaves a finished Run alone")
	}
}

func TestGet_WatchFromEmptyListAlignsColumns(t *testing.T) {
	e := newEnv(t, server.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, done := e.start(ctx, "get", "runs", "-w")
	require.Eventually(t, func() bool { return e.srv.Store.Watchers() == 1 }, 5*time.Second, 5*time.Millisecond)
	e.seed(t)
	require.Eventually(t, func() bool { return strings.Count(out.String(), "\n") >= 5 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	header := lines[0]
	for _, col := range []string{"PHASE", "AGE", "HOST", "EXIT"} {
		at := strings.Index(header, col)
		for _, l := range lines[1:] {
			require.Greater(t, len(l), at, l)
			assert.NotEqual(t, byte(' '), l[at], "column %s of %q starts under its header %q", col, l, header)
			assert.Equal(t, byte(' '), l[at-1], "column %s of %q starts under its header %q", col, l, header)
		}
	}
}

// cluster status shows the state machine's rejected entries, with the
// last one, and each member's store level, as GET /api/v1/cluster reports
// them.
func TestCluster_StatusShowsRejectedEntries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"nodeID":"n1","leader":"n1","state":"Leader","term":3,"commitIndex":9,"appliedIndex":9,"lastIndex":9,`+
			`"members":[{"id":"n1","raftAddr":"127.0.0.1:9091","suffrage":"Voter","leader":true,"storeLevel":3},`+
			`{"id":"n2","raftAddr":"127.0.0.1:9092","suffrage":"Voter"}],`+
			`"rejectedEntries":2,"lastRejectedEntry":{"index":7,"type":"cmd(42)","reason":"unknown_type","message":"unknown command type 42"}}`)
	}))
	defer srv.Close()
	var stdout, stderr strings.Builder
	code := run([]string{"--server", srv.URL, "cluster", "status"}, strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "Rejected Entries:     2 (last: index 7, cmd(42), unknown_type: unknown command type 42)\n")
	// Each member's store level, <none> for a binary older than levels.
	assert.Regexp(t, `(?m)^n1 +Voter +127\.0\.0\.1:9091 +<none> +3 +\*$`, stdout.String())
	assert.Regexp(t, `(?m)^n2 +Voter +127\.0\.0\.1:9092 +<none> +<none>\s*$`, stdout.String())
}

// A file of 1,000 Runs is applied in a few bulk requests (each one Raft
// entry on a real store), with kubectl's line per object, in order.
func TestApply_ThousandDocumentsInBulk(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, server.Config{Registry: reg})
	var b strings.Builder
	var want strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "---\napiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: r%04d\n  annotations:\n    pad: %s\nspec:\n  command: echo %d\n  cpus: 0.1\n  mem: 8\n",
			i, strings.Repeat("x", 900), i)
		fmt.Fprintf(&want, "run.sprint/r%04d created\n", i)
	}
	file := writeFile(t, t.TempDir(), "many.yaml", b.String())
	start := time.Now()
	r := e.run(t, "", "apply", "-f", file)
	t.Logf("1000 Runs applied in %v", time.Since(start))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, want.String(), r.stdout)

	requests := 0.0
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "sprint_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "apply") {
					requests += m.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, 2.0, requests, "1000 Runs of ~1 KiB: two requests of at most 768 KiB")

	r = e.run(t, "", "apply", "-f", file)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, strings.ReplaceAll(want.String(), "created", "unchanged"), r.stdout)
}
