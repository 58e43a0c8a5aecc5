package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func newRun(name string) *apis.Run {
	return &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"team": "data"}},
		Spec:     apis.RunSpec{Command: "echo hi", Cpus: 0.1, Mem: 32},
	}
}

func setup(t *testing.T, cfg server.Config, token string) (*servertest.Server, *client.Client) {
	t.Helper()
	srv := servertest.Start(t, cfg, nil, nil)
	c, err := client.New(srv.URL, token)
	require.NoError(t, err)
	return srv, c
}

func TestNew_Addresses(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"http://127.0.0.1:9090": true, "127.0.0.1:9090": true, "https://h:1/": true, "": true,
		"ftp://x": false, "http://": false,
	} {
		_, err := client.New(addr, "")
		assert.Equal(t, ok, err == nil, "%q: %v", addr, err)
	}
}

func TestApply_Results(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	run := newRun("job")

	_, res, err := c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Created, res)
	_, res, err = c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Unchanged, res)
	run.Metadata.Labels["team"] = "ops"
	got, res, err := c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Configured, res)
	assert.Equal(t, "ops", got.Metadata.Labels["team"])

	// An immutable change fails with a 422 Status, unless forced.
	run.Spec.Command = "echo changed"
	_, _, err = c.Apply(ctx, run, client.ApplyOptions{})
	require.Error(t, err)
	assert.True(t, client.IsInvalid(err))
	var st *apis.Status
	require.True(t, errors.As(err, &st))
	assert.Equal(t, 422, st.Code)

	old, err := c.Get(ctx, "job")
	require.NoError(t, err)
	_, res, err = c.Apply(ctx, run, client.ApplyOptions{Force: true, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, client.Replaced, res)
	same, err := c.Get(ctx, "job")
	require.NoError(t, err)
	assert.Equal(t, old.Metadata.UID, same.Metadata.UID, "a forced dry run deletes nothing")

	got, res, err = c.Apply(ctx, run, client.ApplyOptions{Force: true})
	require.NoError(t, err)
	assert.Equal(t, client.Replaced, res)
	assert.Equal(t, "echo changed", got.Spec.Command)
	assert.NotEqual(t, old.Metadata.UID, got.Metadata.UID, "forced apply re-creates the Run")
	_ = srv
}

func TestApply_ForceWaitsForKill(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	run := newRun("job")
	_, err := c.Create(ctx, run)
	require.NoError(t, err)
	require.NoError(t, srv.Store.SetStatus("job", apis.RunStatus{Phase: apis.PhaseRunning}))

	run.Spec.Command = "echo changed"
	changes, err := srv.Store.Watch(ctx, server.WatchOptions{ResourceVersion: srv.Store.ResourceVersion()})
	require.NoError(t, err)
	defer changes.Stop()
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Apply(ctx, run, client.ApplyOptions{Force: true})
		done <- err
	}()
	// The controller kills the task: only then is the Run re-created.
	awaitChange(t, changes, func(r *apis.Run) bool { return r.Metadata.Name == "job" && r.Metadata.DeletionTimestamp != nil })
	require.NoError(t, srv.Store.SetStatus("job", apis.RunStatus{Phase: apis.PhaseKilled}))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("forced apply did not finish")
	}
	r, err := srv.Store.GetRun(ctx, "job")
	require.NoError(t, err)
	assert.Equal(t, "echo changed", r.Spec.Command)
}

func TestRuns_CreateGetListDeleteKill(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c"} {
		_, err := c.Create(ctx, newRun(n))
		require.NoError(t, err)
	}
	_, err := c.Create(ctx, newRun("a"))
	assert.True(t, client.IsConflict(err), "%v", err)

	_, err = c.Get(ctx, "zzz")
	assert.True(t, client.IsNotFound(err), "%v", err)

	page, err := c.List(ctx, client.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page, err = c.List(ctx, client.ListOptions{Limit: 2, Continue: page.Metadata.Continue})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "c", page.Items[0].Metadata.Name)

	sel, err := c.List(ctx, client.ListOptions{FieldSelector: "metadata.name=b"})
	require.NoError(t, err)
	require.Len(t, sel.Items, 1)

	killed, err := c.Kill(ctx, "b")
	require.NoError(t, err)
	assert.True(t, killed.Spec.Cancel)
	_, err = c.Kill(ctx, "b")
	require.NoError(t, err, "kill is idempotent")

	_, err = c.Delete(ctx, "a", client.DeleteOptions{Wait: true})
	require.NoError(t, err)
	_, err = srv.Store.GetRun(ctx, "a")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	_, err = c.Delete(ctx, "a", client.DeleteOptions{})
	assert.True(t, client.IsNotFound(err))

	srv.Store.AddEvent("c", apis.RunEvent{Type: apis.EventNormal, Reason: "Scheduled", Message: "on agent-1"})
	events, err := c.Events(ctx, "c")
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, "Scheduled", events[0].Reason)
}

func TestAuth_TokenAndStatusErrors(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{Tokens: []string{"tok"}}, "tok")
	_, err := c.Create(t.Context(), newRun("a"))
	require.NoError(t, err)

	anon, err := client.New(srv.URL, "")
	require.NoError(t, err)
	_, err = anon.Get(t.Context(), "a")
	require.Error(t, err)
	assert.Equal(t, 401, client.StatusCode(err))
}

func TestWatch_ListsThenStreams(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	_, err := c.Create(ctx, newRun("a"))
	require.NoError(t, err)

	w, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Stop()
	ev := recv(t, w)
	assert.Equal(t, apis.Added, ev.Type)
	assert.Equal(t, "a", ev.Run.Metadata.Name)

	require.NoError(t, srv.Store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseRunning}))
	ev = recv(t, w)
	assert.Equal(t, apis.Modified, ev.Type)
	assert.Equal(t, apis.PhaseRunning, ev.Run.Status.Phase)

	w.Stop()
	_, open := <-w.Events()
	assert.False(t, open)
	assert.NoError(t, w.Err())
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Store.WaitWatchers(wait, 0), "the server's watcher is released")
}

func TestWatch_RelistsWhenTooOld(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	store.HistorySize = 1
	srv := servertest.Start(t, server.Config{}, store, nil)
	c, err := client.New(srv.URL, "")
	require.NoError(t, err)
	ctx := t.Context()
	for _, n := range []string{"a", "b"} {
		_, err := c.Create(ctx, newRun(n))
		require.NoError(t, err)
	}
	_, err = c.Delete(ctx, "a", client.DeleteOptions{})
	require.NoError(t, err)
	_, err = c.Create(ctx, newRun("c"))
	require.NoError(t, err)

	// From version 1 the history is gone: the watcher lists instead.
	w, err := c.Watch(ctx, client.WatchOptions{ResourceVersion: "1"})
	require.NoError(t, err)
	defer w.Stop()
	got := map[string]apis.EventType{}
	for len(got) < 2 {
		ev := recv(t, w)
		got[ev.Run.Metadata.Name] = ev.Type
	}
	assert.Equal(t, map[string]apis.EventType{"b": apis.Added, "c": apis.Added}, got)

	require.NoError(t, store.SetStatus("c", apis.RunStatus{Phase: apis.PhaseRunning}))
	ev := recv(t, w)
	assert.Equal(t, "c", ev.Run.Metadata.Name)
	assert.Equal(t, apis.Modified, ev.Type)
}

func TestWatch_ResumesAfterDisconnect(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	srv, err := server.New(server.Config{}, store, nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Close()) }()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	c, err := client.New(hs.URL, "")
	require.NoError(t, err)
	ctx := t.Context()
	_, err = c.Create(ctx, newRun("a"))
	require.NoError(t, err)
	w, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Stop()
	assert.Equal(t, apis.Added, recv(t, w).Type)

	// Drop the stream; a change made meanwhile arrives after the
	// watcher reconnects from the last version it saw, and nothing twice.
	hs.CloseClientConnections()
	require.NoError(t, store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseRunning}))
	ev := recv(t, w)
	assert.Equal(t, apis.Modified, ev.Type)
	assert.Equal(t, apis.PhaseRunning, ev.Run.Status.Phase)
	require.NoError(t, store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseSucceeded}))
	ev = recv(t, w)
	assert.Equal(t, apis.PhaseSucceeded, ev.Run.Status.Phase)
}

func TestWait_Phase(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	_, err := c.Create(ctx, newRun("ok"))
	require.NoError(t, err)
	_, err = c.Create(ctx, newRun("bad"))
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		r, err := c.Wait(ctx, "ok", client.PhaseIs(apis.PhaseSucceeded))
		if err == nil && r.Status.Phase != apis.PhaseSucceeded {
			err = errors.New("wrong phase")
		}
		done <- err
	}()
	require.NoError(t, srv.Store.SetStatus("ok", apis.RunStatus{Phase: apis.PhaseRunning}))
	require.NoError(t, srv.Store.SetStatus("ok", apis.RunStatus{Phase: apis.PhaseSucceeded}))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return")
	}

	require.NoError(t, srv.Store.SetStatus("bad", apis.RunStatus{Phase: apis.PhaseFailed, Reason: "TaskFailed"}))
	_, err = c.Wait(ctx, "bad", client.PhaseIs(apis.PhaseSucceeded))
	require.ErrorIs(t, err, client.ErrConditionUnreachable)
	assert.Contains(t, err.Error(), "Failed (TaskFailed)")

	_, err = c.Wait(ctx, "ok", client.PhaseIs(apis.PhaseFailed))
	require.ErrorIs(t, err, client.ErrConditionUnreachable, "Succeeded is terminal")
	_, err = c.Create(ctx, newRun("slow"))
	require.NoError(t, err)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Wait(short, "slow", client.PhaseIs(apis.PhaseSucceeded))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLogsAndCluster(t *testing.T) {
	t.Parallel()
	srv, c := setup(t, server.Config{NodeID: "n1", Version: "v9"}, "")
	ctx := t.Context()
	_, err := c.Create(ctx, newRun("job"))
	require.NoError(t, err)
	srv.Logs.Append("job", "stderr", "warning\n")
	srv.Logs.End("job", "stderr")
	var buf bytes.Buffer
	require.NoError(t, c.Logs(ctx, "job", client.LogOptions{Stderr: true, Follow: true}, &buf))
	assert.Equal(t, "warning\n", buf.String())
	err = c.Logs(ctx, "job", client.LogOptions{}, &buf)
	assert.True(t, client.IsNotFound(err), "%v", err)

	require.NoError(t, c.Join(ctx, "n2", "127.0.0.1:9093", "http://127.0.0.1:9092"))
	info, err := c.Cluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, "n1", info.Leader)
	require.Len(t, info.Members, 2)
	assert.Equal(t, "http://127.0.0.1:9092", info.Members[1].HTTPAddr)
	require.NoError(t, c.Remove(ctx, "n2"))
	assert.True(t, client.IsNotFound(c.Remove(ctx, "n2")))

	v, err := c.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, "v9", v)
}

func TestPolicyAndForbidden(t *testing.T) {
	t.Parallel()
	_, c := setup(t, server.Config{NodeID: "n1", Policy: &apis.Policy{AllowedURISchemes: []string{"https"}}}, "")
	ctx := t.Context()
	for _, local := range []bool{false, true} {
		p, err := c.Policy(ctx, local)
		require.NoError(t, err)
		assert.Equal(t, "n1", p.NodeID)
		assert.True(t, p.Leader)
		assert.Equal(t, []string{"https"}, p.AllowedURISchemes)
		assert.False(t, p.AllowPrivileged)
	}

	r := newRun("rooted")
	r.Spec.URIs = []apis.URI{{Value: "file:///etc/shadow"}}
	_, err := c.Create(ctx, r)
	require.Error(t, err)
	assert.True(t, client.IsForbidden(err), "%v", err)
	assert.False(t, client.IsInvalid(err))
	var st *apis.Status
	require.ErrorAs(t, err, &st)
	require.Len(t, st.Details.Causes, 1)
	assert.Equal(t, "spec.uris[0].value", st.Details.Causes[0].Field)
	_, err = c.Get(ctx, "rooted")
	assert.True(t, client.IsNotFound(err), "nothing stored: %v", err)
}

func recv(t *testing.T, w *client.Watcher) client.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		require.True(t, ok, "watch ended: %v", w.Err())
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return client.Event{}
	}
}

func TestListAll_FollowsPages(t *testing.T) {
	t.Parallel()
	_, c := setup(t, server.Config{}, "")
	ctx := t.Context()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		_, err := c.Create(ctx, newRun(n))
		require.NoError(t, err)
	}
	all, err := c.ListAll(ctx, client.ListOptions{}, 2)
	require.NoError(t, err)
	var names []string
	for _, r := range all.Items {
		names = append(names, r.Metadata.Name)
	}
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, names)
	assert.NotEmpty(t, all.Metadata.ResourceVersion)
	assert.Empty(t, all.Metadata.Continue)
}

func TestClient_WaitsOutAnElection(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	store.SetLeader(false, "", "")
	srv, err := server.New(server.Config{ForwardTimeout: -1}, store, nil, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Close()) }()
	var mu sync.Mutex
	calls := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		if calls == 3 {
			store.SetLeader(true, "n1", "") // elected after two refusals
		}
		mu.Unlock()
		srv.Handler().ServeHTTP(w, r)
	}))
	defer hs.Close()

	impatient, err := client.New(hs.URL, "", client.WithLeaderWait(0))
	require.NoError(t, err)
	_, err = impatient.Create(t.Context(), newRun("a"))
	require.Equal(t, http.StatusServiceUnavailable, client.StatusCode(err), "%v", err)

	c, err := client.New(hs.URL, "")
	require.NoError(t, err)
	_, err = c.Create(t.Context(), newRun("a"))
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, calls)
}

func TestApply_GenerateNameCreatesEachTime(t *testing.T) {
	t.Parallel()
	_, c := setup(t, server.Config{}, "")
	run := newRun("")
	run.Metadata.GenerateName = "flaky-"
	a, res, err := c.Apply(t.Context(), run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Created, res)
	b, _, err := c.Apply(t.Context(), run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Regexp(t, `^flaky-`, a.Metadata.Name)
	assert.NotEqual(t, a.Metadata.Name, b.Metadata.Name)
	_, _, err = c.Apply(t.Context(), newRun(""), client.ApplyOptions{})
	assert.ErrorContains(t, err, "neither metadata.name nor metadata.generateName")
}

// A 503 without Sprint-Not-Leader means the outcome is unknown (the write
// may have happened): the client must not send it again.
func TestClient_DoesNotRetryUnknownOutcome(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"kind":"Status","code":503,"reason":"ServiceUnavailable","message":"lost leadership while committing: outcome unknown"}`))
	}))
	defer hs.Close()
	c, err := client.New(hs.URL, "")
	require.NoError(t, err)
	_, err = c.Create(t.Context(), newRun("a"))
	require.EqualError(t, err, "lost leadership while committing: outcome unknown")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, calls)
}

// awaitChange pulls changes from w until one satisfies cond, waiting on the
// watcher's Ready between them; it fails after 5 s.
func awaitChange(t *testing.T, w server.Watcher, cond func(*apis.Run) bool) {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		ready := w.Ready()
		ev, ok, err := w.Next()
		require.NoError(t, err)
		if ok {
			var r apis.Run
			require.NoError(t, json.Unmarshal(ev.Object, &r))
			if cond(&r) {
				return
			}
			continue
		}
		select {
		case <-ready:
		case <-timeout.C:
			t.Fatal("the change never came")
		}
	}
}
