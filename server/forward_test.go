package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// follower starts a server whose store follows the leader at leaderURL.
func follower(t *testing.T, cfg server.Config, leaderURL string) *servertest.Server {
	t.Helper()
	store := servertest.NewStore()
	store.SetLeader(false, "n1", leaderURL)
	if cfg.NodeID == "" {
		cfg.NodeID = "n2"
	}
	if cfg.ForwardRetryWait == 0 {
		cfg.ForwardRetryWait = 5 * time.Millisecond
	}
	return servertest.Start(t, cfg, store, nil)
}

// recorded is what a stand-in leader saw.
type recorded struct {
	method, uri, body string
	header            http.Header
}

func TestForward_KeepsRequestIntact(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []recorded
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, recorded{method: r.Method, uri: r.RequestURI, body: string(b), header: r.Header.Clone()})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(server.HeaderApplyResult, server.ApplyCreated)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"from":"leader"}`))
	}))
	defer leader.Close()
	f := follower(t, server.Config{Tokens: []string{"tok"}}, leader.URL)

	body := "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: x}\nspec: {command: 'true', cpus: 1, mem: 1}\n"
	r := call(t, "PUT", f.URL+"/api/v1/runs/x?dryRun=true", body,
		"Content-Type", "application/yaml", "Authorization", "Bearer tok", "X-Custom", "kept")
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.JSONEq(t, `{"from":"leader"}`, string(r.body))
	assert.Equal(t, server.ApplyCreated, r.header.Get(server.HeaderApplyResult), "the leader's headers come back")

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 1)
	got := seen[0]
	assert.Equal(t, "PUT", got.method)
	assert.Equal(t, "/api/v1/runs/x?dryRun=true", got.uri)
	assert.Equal(t, body, got.body)
	assert.Equal(t, "Bearer tok", got.header.Get("Authorization"), "the token is forwarded")
	assert.Equal(t, "application/yaml", got.header.Get("Content-Type"))
	assert.Equal(t, "kept", got.header.Get("X-Custom"))
	assert.Equal(t, "1.1 sprint-n2", got.header.Get("Via"))
	assert.Equal(t, "127.0.0.1", got.header.Get("X-Forwarded-For"))
}

func TestForward_FollowerToRealLeader(t *testing.T) {
	t.Parallel()
	leader := servertest.Start(t, server.Config{NodeID: "n1", Tokens: []string{"tok"}}, nil, nil)
	f := follower(t, server.Config{Tokens: []string{"tok"}}, leader.URL)
	auth := []string{"Authorization", "Bearer tok"}

	r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("via-follower"), auth...)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	_, err := leader.Store.GetRun(t.Context(), "via-follower")
	require.NoError(t, err, "the write landed on the leader")

	r = call(t, "GET", f.URL+"/api/v1/runs/via-follower", "", auth...)
	require.Equal(t, http.StatusOK, r.code, "linearizable reads go to the leader: %s", r.body)

	r = call(t, "POST", f.URL+"/v1/runs", `{"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine"}}}`, auth...)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)

	// Lists are served locally: the follower's own (empty) store.
	r = call(t, "GET", f.URL+"/api/v1/runs", "", auth...)
	require.Equal(t, http.StatusOK, r.code)
	var list apis.RunList
	require.NoError(t, json.Unmarshal(r.body, &list))
	assert.Empty(t, list.Items)

	// The leader's errors come back as they are.
	r = call(t, "POST", f.URL+"/api/v1/runs", runJSON("via-follower"), auth...)
	require.Equal(t, http.StatusConflict, r.code, "body: %s", r.body)
	assert.Equal(t, "AlreadyExists", r.status(t).Reason)

	// A follower with no token of its own does not get to forward.
	r = call(t, "POST", f.URL+"/api/v1/runs", runJSON("anon"))
	require.Equal(t, http.StatusUnauthorized, r.code)
}

func TestForward_Refusals(t *testing.T) {
	t.Parallel()
	t.Run("no leader", func(t *testing.T) {
		f := follower(t, server.Config{ForwardTimeout: 50 * time.Millisecond}, "")
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("x"))
		require.Equal(t, http.StatusServiceUnavailable, r.code, "body: %s", r.body)
		assert.Equal(t, "ServiceUnavailable", r.status(t).Reason)
		assert.Contains(t, r.status(t).Message, "no leader")
	})
	t.Run("loop", func(t *testing.T) {
		f := follower(t, server.Config{NodeID: "n2"}, "http://127.0.0.1:1")
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("x"), "Via", "1.1 sprint-n3, 1.1 sprint-n2")
		require.Equal(t, http.StatusLoopDetected, r.code, "body: %s", r.body)
		assert.Equal(t, "LoopDetected", r.status(t).Reason)
	})
	t.Run("two nodes pointing at each other", func(t *testing.T) {
		a := servertest.NewStore()
		b := servertest.NewStore()
		sa := servertest.Start(t, server.Config{NodeID: "a", ForwardTimeout: -1}, a, nil)
		sb := servertest.Start(t, server.Config{NodeID: "b", ForwardTimeout: -1}, b, nil)
		a.SetLeader(false, "b", sb.URL)
		b.SetLeader(false, "a", sa.URL)
		r := call(t, "POST", sa.URL+"/api/v1/runs", runJSON("x"))
		require.Equal(t, http.StatusLoopDetected, r.code, "body: %s", r.body)
	})
	t.Run("leader unreachable", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		f := follower(t, server.Config{ForwardTimeout: 50 * time.Millisecond}, dead.URL)
		r := call(t, "DELETE", f.URL+"/api/v1/runs/x", "")
		require.Equal(t, http.StatusServiceUnavailable, r.code, "body: %s", r.body)
		assert.Contains(t, r.status(t).Message, "forward to leader")
	})
}

func TestForward_RetriesAcrossLeaderChange(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls int
	var bodies []string
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls++
		n := calls
		bodies = append(bodies, string(b))
		mu.Unlock()
		if n == 1 {
			// Lost leadership just now: the follower must try again.
			w.Header().Set(server.HeaderNotLeader, "true")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer leader.Close()
	f := follower(t, server.Config{}, leader.URL)
	body := runJSON("retry")
	r := call(t, "POST", f.URL+"/api/v1/runs", body)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, calls)
	assert.Equal(t, []string{body, body}, bodies, "the buffered body is replayed")
}

func TestForward_LeaderAnswersNotLeaderWithHeader(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	store.SetLeader(false, "", "")
	srv := servertest.Start(t, server.Config{ForwardTimeout: -1}, store, nil)
	r := call(t, "POST", srv.URL+"/api/v1/runs", runJSON("x"))
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, "true", r.header.Get(server.HeaderNotLeader))
}

func TestForward_StreamsLogs(t *testing.T) {
	t.Parallel()
	leader := servertest.Start(t, server.Config{NodeID: "n1"}, nil, nil)
	mustCreate(t, leader, "job")
	leader.Logs.Append("job", "stdout", "hello from the leader\n")
	leader.Logs.End("job", "stdout")
	f := follower(t, server.Config{}, leader.URL)
	r := call(t, "GET", f.URL+"/api/v1/runs/job/log?follow=true", "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, "hello from the leader\n", string(r.body))
	assert.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/plain"))
}

func TestForward_SteppingDownLeaderWaitsInsteadOfLooping(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	srv := servertest.Start(t, server.Config{NodeID: "n1", ForwardTimeout: 20 * time.Millisecond, ForwardRetryWait: time.Millisecond}, store, nil)
	store.SetLeader(false, "n1", srv.URL) // raft still reports itself
	r := call(t, "POST", srv.URL+"/api/v1/runs", runJSON("x"))
	require.Equal(t, http.StatusServiceUnavailable, r.code, "body: %s", r.body)
	assert.Contains(t, r.status(t).Message, "no leader")
}

// A Raft election takes a second or two: a follower keeps retrying for up
// to ForwardTimeout while nothing can have been written.
func TestForward_WaitsOutAnElection(t *testing.T) {
	t.Parallel()
	t.Run("no leader for a while, then one", func(t *testing.T) {
		leader := servertest.Start(t, server.Config{NodeID: "n1"}, nil, nil)
		store := servertest.NewStore()
		store.SetLeader(false, "", "")
		f := servertest.Start(t, server.Config{NodeID: "n2", ForwardRetryWait: 5 * time.Millisecond}, store, nil)
		// The election ends only after the follower asked for a leader
		// five times, i.e. kept retrying while none was known.
		asked := store.LeaderQueries(5)
		go func() {
			<-asked
			store.SetLeader(false, "n1", leader.URL)
		}()
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("elected"))
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	})
	t.Run("leader refuses connections, then a new one answers", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		leader := servertest.Start(t, server.Config{NodeID: "n1"}, nil, nil)
		f := follower(t, server.Config{}, dead.URL)
		asked := f.Store.LeaderQueries(5) // retried after refused connections
		go func() {
			<-asked
			f.Store.SetLeader(false, "n1", leader.URL)
		}()
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("moved"))
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	})
	t.Run("bounded", func(t *testing.T) {
		f := follower(t, server.Config{ForwardTimeout: 200 * time.Millisecond}, "")
		start := time.Now()
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("x"))
		require.Equal(t, http.StatusServiceUnavailable, r.code, "body: %s", r.body)
		assert.Less(t, time.Since(start), 2*time.Second)
		assert.Equal(t, "true", r.header.Get(server.HeaderNotLeader), "a client may retry: nothing was written")
	})
	t.Run("no retry once a write may have happened", func(t *testing.T) {
		var mu sync.Mutex
		calls := 0
		leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			mu.Unlock()
			// The leader took the request and then vanished.
			hj, ok := w.(http.Hijacker)
			require.True(t, ok)
			conn, _, err := hj.Hijack()
			require.NoError(t, err)
			_ = conn.Close()
		}))
		defer leader.Close()
		f := follower(t, server.Config{}, leader.URL)
		r := call(t, "POST", f.URL+"/api/v1/runs", runJSON("maybe"))
		require.Equal(t, http.StatusServiceUnavailable, r.code, "body: %s", r.body)
		assert.Empty(t, r.header.Get(server.HeaderNotLeader), "the outcome is unknown: not a not-leader answer")
		assert.Contains(t, r.status(t).Message, "may or may not have been applied")
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, 1, calls)
	})
}

// Concurrent forwarded writes reuse kept-alive connections to the leader
// instead of dialing one per request (http.DefaultTransport keeps 2).
func TestForward_ReusesConnectionsToTheLeader(t *testing.T) {
	var conns atomic.Int64
	leader := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{}`)
	}))
	leader.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	leader.Start()
	defer leader.Close()
	f := follower(t, server.Config{}, leader.URL)
	const writers, rounds = 16, 5
	hc := &http.Client{Transport: server.NewForwardTransport()}
	for range rounds {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/api/v1/runs/r%d", f.URL, w), strings.NewReader(runJSON(fmt.Sprintf("r%d", w))))
				if !assert.NoError(t, err) {
					return
				}
				resp, err := hc.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusCreated, resp.StatusCode)
			}()
		}
		wg.Wait()
	}
	assert.LessOrEqual(t, conns.Load(), int64(writers), "%d requests in rounds of %d opened %d connections to the leader", writers*rounds, writers, conns.Load())
}

// TestForward_FollowsTheLeaderItIsTold: the leader's address, parsed once
// per leader, is parsed again when another node leads.
func TestForward_FollowsTheLeaderItIsTold(t *testing.T) {
	t.Parallel()
	leaderAt := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := leaderAt("a"), leaderAt("b")
	f := follower(t, server.Config{}, a.URL)
	for i, tc := range []struct{ leaderID, url, want string }{
		{"a", a.URL, "a"}, {"a", a.URL, "a"}, {"b", b.URL, "b"}, {"b", b.URL, "b"}, {"a", a.URL, "a"},
	} {
		f.Store.SetLeader(false, tc.leaderID, tc.url)
		r := call(t, "PUT", f.URL+"/api/v1/runs/x", runJSON("x"))
		require.Equal(t, http.StatusCreated, r.code, "request %d: %s", i, r.body)
		assert.Equal(t, tc.want, string(r.body), "request %d", i)
	}
}
