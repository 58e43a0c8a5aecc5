package mesos

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAgent serves /files/read over a real directory the way a Mesos
// agent does, capping each read at maxRead bytes, and /state when set.
type fakeAgent struct {
	srv     *httptest.Server
	maxRead int64

	mu    sync.Mutex
	state any // nil: /state is 404
}

func (a *fakeAgent) setState(v any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = v
}

func newFakeAgent(t *testing.T) *fakeAgent {
	a := &fakeAgent{maxRead: 7}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /files/read", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		if err != nil {
			http.Error(w, "bad offset", http.StatusBadRequest)
			return
		}
		b, err := os.ReadFile(p)
		if err != nil {
			http.Error(w, "No such file", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if offset == -1 {
			_ = json.NewEncoder(w).Encode(map[string]any{"data": "", "offset": len(b)})
			return
		}
		length := a.maxRead
		if l := r.URL.Query().Get("length"); l != "" {
			n, _ := strconv.ParseInt(l, 10, 64)
			length = min(n, a.maxRead)
		}
		start := min(offset, int64(len(b)))
		end := min(start+length, int64(len(b)))
		_ = json.NewEncoder(w).Encode(map[string]any{"data": string(b[start:end]), "offset": offset})
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		state := a.state
		a.mu.Unlock()
		if state == nil {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(state)
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func testFiles() *Files {
	return NewFiles(FilesConfig{PollMin: 2 * time.Millisecond, PollMax: 10 * time.Millisecond, ChunkSize: 5})
}

func TestFiles_ReadFile(t *testing.T) {
	a := newFakeAgent(t)
	p := filepath.Join(t.TempDir(), "stdout")
	require.NoError(t, os.WriteFile(p, []byte("hello world"), 0o600))
	f := testFiles()
	ctx := context.Background()

	data, next, err := f.ReadFile(ctx, a.srv.URL, p, 0, 5)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(data))
	assert.EqualValues(t, 5, next)

	data, next, err = f.ReadFile(ctx, a.srv.URL, p, 6, 100)
	require.NoError(t, err)
	assert.Equal(t, "world", string(data))
	assert.EqualValues(t, 11, next)

	data, size, err := f.ReadFile(ctx, a.srv.URL, p, -1, 0)
	require.NoError(t, err)
	assert.Empty(t, data)
	assert.EqualValues(t, 11, size)

	_, _, err = f.ReadFile(ctx, a.srv.URL, p+".missing", 0, 5)
	require.ErrorIs(t, err, ErrNotFound)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFiles_FollowUntilDone(t *testing.T) {
	a := newFakeAgent(t)
	p := filepath.Join(t.TempDir(), "stdout")
	f := testFiles()
	var mu sync.Mutex
	finished := false
	done := func() bool { mu.Lock(); defer mu.Unlock(); return finished }

	out := &syncBuffer{}
	result := make(chan int64, 1)
	go func() {
		off, err := f.Follow(context.Background(), a.srv.URL, p, 0, out, done)
		assert.NoError(t, err)
		result <- off
	}()
	// The file appears late and grows; Follow waits for it.
	fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(t, err)
	defer fh.Close()
	want := ""
	for i := range 5 {
		line := "line " + strconv.Itoa(i) + "\n"
		want += line
		_, err := fh.WriteString(line)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return out.String() == want }, waitFor, time.Millisecond)
	}
	_, err = fh.WriteString("last words\n")
	require.NoError(t, err)
	mu.Lock()
	finished = true
	mu.Unlock()
	select {
	case off := <-result:
		assert.Equal(t, want+"last words\n", out.String(), "output written before done is not lost")
		assert.EqualValues(t, len(want)+len("last words\n"), off)
	case <-time.After(waitFor):
		t.Fatal("Follow did not return after done")
	}
}

func TestFiles_FollowStopsOnContext(t *testing.T) {
	a := newFakeAgent(t)
	p := filepath.Join(t.TempDir(), "stderr")
	require.NoError(t, os.WriteFile(p, []byte("abc"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	result := make(chan error, 1)
	go func() {
		_, err := testFiles().Follow(ctx, a.srv.URL, p, 1, out, nil)
		result <- err
	}()
	require.Eventually(t, func() bool { return out.String() == "bc" }, waitFor, time.Millisecond)
	cancel()
	select {
	case err := <-result:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Follow did not return on cancel")
	}
}

func TestFiles_TailOffset(t *testing.T) {
	a := newFakeAgent(t)
	dir := t.TempDir()
	f := testFiles()
	tests := map[string]struct {
		content string
		n       int
		want    string
	}{
		"last two lines":          {"one\ntwo\nthree\nfour\n", 2, "three\nfour\n"},
		"more lines than file":    {"one\ntwo\n", 5, "one\ntwo\n"},
		"zero lines":              {"one\ntwo\n", 0, ""},
		"no final newline":        {"one\ntwo\nthree", 1, "three"},
		"long lines over chunks":  {"aaaaaaaaaaaa\nbbbbbbbbbbbbbbb\ncc\n", 2, "bbbbbbbbbbbbbbb\ncc\n"},
		"empty file":              {"", 3, ""},
		"blank lines count":       {"a\n\n\n", 2, "\n\n"},
		"exactly the whole file":  {"x\ny\n", 2, "x\ny\n"},
		"single line no newline":  {"solo", 1, "solo"},
		"single line and newline": {"solo\n", 1, "solo\n"},
	}
	i := 0
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			i++
			p := filepath.Join(dir, "f"+strconv.Itoa(i))
			require.NoError(t, os.WriteFile(p, []byte(tc.content), 0o600))
			off, err := f.TailOffset(context.Background(), a.srv.URL, p, tc.n)
			require.NoError(t, err)
			assert.Equal(t, tc.want, tc.content[off:])
		})
	}
}

func TestFiles_AgentURL(t *testing.T) {
	a := newFakeAgent(t)
	agentHost := a.srv.Listener.Addr().String()
	master := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/master/state", r.URL.Path)
		_ = json.NewEncoder(w).Encode(map[string]any{"slaves": []map[string]any{
			{"id": "S0", "pid": "slave(1)@" + agentHost, "hostname": "agent-0", "port": 5051},
			{"id": "S1", "hostname": "agent-1", "port": 5052},
		}})
	}))
	defer master.Close()
	mu, _ := url.Parse(master.URL)
	standby := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+mu.Host+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer standby.Close()

	f := testFiles()
	ctx := context.Background()
	got, err := f.AgentURL(ctx, master.URL, "S0")
	require.NoError(t, err)
	assert.Equal(t, "http://"+agentHost, got)
	got, err = f.AgentURL(ctx, standby.URL+"/api/v1/scheduler", "S1")
	require.NoError(t, err, "follows the standby's redirect")
	assert.Equal(t, "http://agent-1:5052", got)
	_, err = f.AgentURL(ctx, master.URL, "S9")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestFiles_SandboxDir(t *testing.T) {
	a := newFakeAgent(t)
	f := testFiles()
	ctx := context.Background()

	// Without /state the agent's virtual path is used.
	dir, err := f.SandboxDir(ctx, a.srv.URL, "fw-1", "etl.1.x")
	require.NoError(t, err)
	assert.Equal(t, "/frameworks/fw-1/executors/etl.1.x/runs/latest", dir)

	a.setState(map[string]any{
		"frameworks": []any{map[string]any{
			"id": "fw-1",
			"executors": []any{
				map[string]any{"id": "etl.1.x", "directory": "/var/lib/mesos/slaves/S0/frameworks/fw-1/executors/etl.1.x/runs/c1",
					"tasks": []any{map[string]any{"id": "etl.1.x"}}},
				map[string]any{"id": "custom-exec", "directory": "/sandbox/custom",
					"queued_tasks": []any{map[string]any{"id": "queued.1"}}},
			},
			"completed_executors": []any{
				map[string]any{"id": "old.1.y", "directory": "/sandbox/old",
					"completed_tasks": []any{map[string]any{"id": "old.1.y"}}},
			},
		}},
		"completed_frameworks": []any{map[string]any{
			"id":                  "fw-0",
			"completed_executors": []any{map[string]any{"id": "gone.1", "directory": "/sandbox/gone"}},
		}},
	})
	for task, want := range map[string]string{
		"etl.1.x":  "/var/lib/mesos/slaves/S0/frameworks/fw-1/executors/etl.1.x/runs/c1",
		"queued.1": "/sandbox/custom",
		"old.1.y":  "/sandbox/old",
	} {
		dir, err := f.SandboxDir(ctx, a.srv.URL, "fw-1", task)
		require.NoError(t, err, task)
		assert.Equal(t, want, dir, task)
	}
	dir, err = f.SandboxDir(ctx, a.srv.URL, "", "gone.1")
	require.NoError(t, err)
	assert.Equal(t, "/sandbox/gone", dir, "completed frameworks are searched too")
	dir, err = f.SandboxDir(ctx, a.srv.URL, "fw-1", "unlisted.1")
	require.NoError(t, err)
	assert.Equal(t, "/frameworks/fw-1/executors/unlisted.1/runs/latest", dir, "unlisted: the virtual path")
	_, err = f.SandboxDir(ctx, a.srv.URL, "", "unlisted.1")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestSandboxVirtualPath(t *testing.T) {
	assert.Equal(t, "/frameworks/f/executors/e/runs/latest", SandboxVirtualPath("f", "e"))
}

func TestFiles_LocateSandbox(t *testing.T) {
	a := newFakeAgent(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stdout"), []byte("out\n"), 0o600))
	a.setState(map[string]any{"frameworks": []any{map[string]any{
		"id":        "fw-1",
		"executors": []any{map[string]any{"id": "etl.1.x", "directory": dir}},
	}}})
	master := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"slaves": []map[string]any{
			{"id": "S0", "pid": "slave(1)@" + a.srv.Listener.Addr().String()},
		}})
	}))
	defer master.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	f := testFiles()
	ctx := context.Background()
	sb, err := f.LocateSandbox(ctx, []string{down.URL, master.URL}, "fw-1", "S0", "etl.1.x")
	require.NoError(t, err, "an unreachable master is skipped")
	assert.Equal(t, dir, sb.Dir)
	data, _, err := f.ReadFile(ctx, sb.AgentURL, sb.File("stdout"), 0, 100)
	require.NoError(t, err)
	assert.Equal(t, "out\n", string(data))

	_, err = f.LocateSandbox(ctx, []string{master.URL}, "fw-1", "S9", "etl.1.x")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = f.LocateSandbox(ctx, nil, "fw-1", "S0", "etl.1.x")
	require.ErrorIs(t, err, ErrInvalidConfig)
}
