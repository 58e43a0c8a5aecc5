package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// binDir holds the binaries TestMain builds once for every test.
var binDir string

func TestMain(m *testing.M) {
	if dir := os.Getenv("SPRINT_E2E_BIN"); dir != "" {
		// Binaries built elsewhere, e.g. from another revision to
		// compare benchmarks (scripts/bench-watch.sh).
		binDir = dir
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "sprint-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "github.com/sprint-project/sprint/cmd/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// longTests reports whether the long fault scenarios should run.
func longTests() bool { return os.Getenv("SPRINT_E2E") != "" }

// freePort returns a loopback address nothing listens on right now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// proc is a started binary whose output is kept for failure reports.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{} // closed and replaced by every Write while someone waits
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

// waitCount waits until the output holds substr at least n times, waking
// on each write (no polling), and fails the test after timeout.
func (s *syncBuffer) waitCount(t testing.TB, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got := strings.Count(s.b.String(), substr)
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("%q appeared %d times in the output within %v, not %d", substr, got, timeout, n)
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs binary name with args and env; the process is killed at test end
// and its output logged if the test failed.
func start(t testing.TB, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, name), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// 8 s: net/http's Shutdown waits up to 5 s for a connection a
		// client opened but sent nothing on yet (StateNew).
		if !p.stop(8 * time.Second) {
			out := p.out.String()
			if i := strings.Index(out, "SIGQUIT"); i >= 0 {
				out = out[i:]
			}
			t.Logf("%s (pid %d) did not exit within 8 s of SIGINT; its goroutines (SIGQUIT):\n%s", name, p.cmd.Process.Pid, out[:min(len(out), 60000)])
		}
		if t.Failed() {
			t.Logf("--- output of %s %s:\n%s", name, strings.Join(args, " "), p.out.String())
		}
		if dir := os.Getenv("SPRINT_E2E_LOGDIR"); dir != "" {
			// Kept for a look after the run: node logs, raft's
			// snapshot lines, GODEBUG=gctrace=1 output.
			path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), name, p.cmd.Process.Pid))
			if err := os.WriteFile(path, []byte(strings.Join(args, " ")+"\n"+p.out.String()), 0o644); err != nil {
				t.Logf("keep output of %s: %v", name, err)
			}
		}
	})
	return p
}

// stop sends SIGINT and waits up to grace before SIGKILL. It reports
// whether the process exited by itself.
func (p *proc) stop(grace time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		// SIGQUIT makes a Go program print every goroutine's stack: the
		// report says where shutdown hangs.
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		return false
	}
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitHTTP waits until GET url answers 200.
func waitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, timeout, 100*time.Millisecond, "%s never answered 200", url)
}

// ctl runs sprintctl against server and returns stdout, stderr and the exit code.
func ctl(t *testing.T, server string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "sprintctl"), append([]string{"--server", server}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "sprintctl %v: %v", args, err)
		code = ee.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

// repoRoot is the module root, for manifests.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}
