package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is the fixed clock of the golden tests; Runs are created 5 minutes
// before it.
var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // closed and replaced by every Write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// waitFor returns the output once match accepts it, waking on each write
// (no polling); it fails the test after 10 s.
func (s *syncBuffer) waitFor(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		out := s.b.String()
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		if match(out) {
			return out
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("no %s in the output within 10 s:\n%s", what, out)
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type result struct {
	stdout, stderr string
	code           int
}

// transcript renders a result for golden files.
func (r result) transcript() string {
	return fmt.Sprintf("exit: %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

type env struct {
	srv *servertest.Server
	// url, when set, is the server to use instead of srv's.
	url string
}

func newEnv(t *testing.T, cfg server.Config) *env {
	t.Helper()
	store := servertest.NewStore()
	store.Now = func() time.Time { return now.Add(-5 * time.Minute) }
	var mu sync.Mutex
	n := 0
	store.NewUID = func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	}
	if cfg.Version == "" {
		cfg.Version = "v0.0.0-test"
	}
	return &env{srv: servertest.Start(t, cfg, store, nil)}
}

// run runs sprintctl against the env's server.
func (e *env) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return e.runContext(t.Context(), stdin, &syncBuffer{}, args...)
}

// start runs sprintctl with args until ctx ends, in the background: its
// output so far, and its result once it returns.
func (e *env) start(ctx context.Context, args ...string) (*syncBuffer, <-chan result) {
	out := &syncBuffer{}
	done := make(chan result, 1)
	go func() { done <- e.runContext(ctx, "", out, args...) }()
	return out, done
}

func (e *env) runContext(ctx context.Context, stdin string, stdout *syncBuffer, args ...string) result {
	var stderr syncBuffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: stdout, stderr: &stderr,
		getenv: func(k string) string {
			if k == "SPRINT_SERVER" {
				if e.url != "" {
					return e.url
				}
				return e.srv.URL
			}
			return ""
		},
		now: func() time.Time { return now },
	}
	code := a.execute(ctx, args)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/sprintctl -update to create it")
	assert.Equal(t, string(want), got, "golden file %s differs (go test ./cmd/sprintctl -update rewrites it)", path)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

const helloYAML = `apiVersion: sprint/v1
kind: Run
metadata:
  name: hello
  labels: {team: data}
spec:
  command: echo hello
  cpus: 0.5
  mem: 64
`

// seed creates Runs in several phases, as the controller would leave them.
func (e *env) seed(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	exit0, exit3 := int32(0), int32(3)
	started := now.Add(-4 * time.Minute)
	done := now.Add(-3 * time.Minute)
	runs := []struct {
		name   string
		labels map[string]string
		status apis.RunStatus
	}{
		{"etl-nightly", map[string]string{"team": "data", "tier": "batch"}, apis.RunStatus{
			Phase: apis.PhaseSucceeded, Reason: apis.ReasonCompleted, Attempts: 1, TaskID: "etl-nightly.1.ab12",
			AgentID: "agent-1-S0", Hostname: "agent-1", ExitCode: &exit0, MesosState: "TASK_FINISHED",
			StartTime: &started, CompletionTime: &done}},
		{"hello", map[string]string{"team": "data"}, apis.RunStatus{
			Phase: apis.PhaseRunning, Attempts: 1, TaskID: "hello.1.cd34", AgentID: "agent-2-S0", Hostname: "agent-2",
			Ports: []int32{31004}, MesosState: "TASK_RUNNING", StartTime: &started}},
		{"report", map[string]string{"team": "ops"}, apis.RunStatus{
			Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Message: "exit status 3", Attempts: 2,
			TaskID: "report.2.ef56", Hostname: "agent-1", ExitCode: &exit3, MesosState: "TASK_FAILED"}},
		{"waiting", nil, apis.RunStatus{Phase: apis.PhasePending, Message: "no agent has cpus 64"}},
	}
	for _, r := range runs {
		run := &apis.Run{
			TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
			Metadata: apis.ObjectMeta{Name: r.name, Labels: r.labels},
			Spec:     apis.RunSpec{Command: "run " + r.name, Cpus: 0.5, Mem: 128},
		}
		_, err := e.srv.Store.CreateRun(ctx, run)
		require.NoError(t, err)
		require.NoError(t, e.srv.Store.SetStatus(r.name, r.status))
	}
}
