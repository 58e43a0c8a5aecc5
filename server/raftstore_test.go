package server_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
	"github.com/sprint-project/sprint/server"
)

// startRaftNode starts a real single-node raftstore (it bootstraps
// itself) and serves the API over it.
func startRaftNode(t *testing.T) (*raftstore.Store, string) {
	t.Helper()
	return startRaftNodeWith(t, nil, nil)
}

// startRaftNodeWith is startRaftNode with the store's configuration
// adjusted by tune and the API's listener wrapped by wrap (each when not
// nil).
func startRaftNodeWith(t *testing.T, tune func(*raftstore.Config), wrap func(net.Listener) net.Listener) (*raftstore.Store, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if wrap != nil {
		ln = wrap(ln)
	}
	url := "http://" + ln.Addr().String()
	cfg := raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", HTTPAddr: url, DataDir: t.TempDir()}
	raftstoretest.SoloConfig(&cfg)
	if tune != nil {
		tune(&cfg)
	}
	logger := raftstoretest.TestLogger(t)
	store, err := raftstore.New(cfg, logger)
	require.NoError(t, err)
	require.NoError(t, store.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	raftstoretest.WaitLeader(t, store, 20*time.Second)
	require.True(t, store.Ready())

	// The Notifier tests' secret files are in /etc/sprint.
	policy := apis.DefaultPolicy()
	policy.NotifierSecretDir = "/etc/sprint"
	srv, err := server.New(server.Config{NodeID: "n1", Policy: &policy}, wiring.NewServerStore(store), nil, logger)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	return store, url
}

// TestRaftstore_SingleNode drives the API over a real raftstore, directly
// and through a follower that forwards to it.
func TestRaftstore_SingleNode(t *testing.T) {
	t.Parallel()
	store, url := startRaftNode(t)
	f := follower(t, server.Config{}, url)
	ctx := t.Context()
	c, err := client.New(f.URL, "")
	require.NoError(t, err)
	direct, err := client.New(url, "")
	require.NoError(t, err)

	w, err := direct.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err)
	defer w.Stop()

	run := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "hello", Labels: map[string]string{"team": "data"}},
		Spec:     apis.RunSpec{Command: "echo hello", Cpus: 0.1, Mem: 32},
	}
	_, res, err := c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Created, res)
	_, res, err = c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Unchanged, res, "an unchanged apply writes nothing")

	got, err := c.Get(ctx, "hello")
	require.NoError(t, err, "a linearizable read through the follower")
	assert.Equal(t, "echo hello", got.Spec.Command)

	select {
	case ev := <-w.Events():
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, "hello", ev.Run.Metadata.Name)
	case <-time.After(10 * time.Second):
		t.Fatal("the watch saw nothing")
	}

	run.Metadata.Labels["team"] = "ops"
	_, res, err = c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Configured, res)
	run.Spec.Command = "echo changed"
	_, _, err = c.Apply(ctx, run, client.ApplyOptions{})
	assert.True(t, client.IsInvalid(err), "%v", err)
	stale := *got
	stale.Spec.Cancel = true
	_, _, err = c.Apply(ctx, &stale, client.ApplyOptions{})
	assert.True(t, client.IsConflict(err), "a stale resourceVersion: %v", err)

	killed, err := c.Kill(ctx, "hello")
	require.NoError(t, err)
	assert.True(t, killed.Spec.Cancel)

	l, err := direct.List(ctx, client.ListOptions{LabelSelector: "team=ops"})
	require.NoError(t, err)
	assert.Len(t, l.Items, 1)

	info, err := c.Cluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Follower", info.State, "cluster status is the follower's own view")
	info, err = direct.Cluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, "n1", info.Leader)
	require.Len(t, info.Members, 1)
	assert.Equal(t, url, info.LeaderAddr)

	_, err = c.Delete(ctx, "hello", client.DeleteOptions{Wait: true})
	require.NoError(t, err, "a Run never launched goes at once")
	_, err = store.GetRun(ctx, "hello")
	assert.ErrorIs(t, err, apis.ErrNotFound)

	r := call(t, "POST", f.URL+"/v1/runs", seedRun)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	r = call(t, "GET", url+"/readyz", "")
	assert.Equal(t, http.StatusOK, r.code)
}

// TestRaftstore_ThreeNodes serves the API from every node of a real
// three-node raftstore cluster and drives it through a follower: writes
// and reads forwarded to the leader, watches and lists served locally.
func TestRaftstore_ThreeNodes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a three-node Raft cluster")
	}
	cluster := raftstoretest.New(t, 3, nil)
	// The cluster advertises http://nX.test; the forwarding transport
	// dials each name's real loopback listener.
	listeners := map[string]net.Listener{}
	dialTo := map[string]string{}
	for _, n := range cluster.Nodes() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		listeners[n.ID] = ln
		dialTo[n.ID+".test:80"] = ln.Addr().String()
	}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if real, ok := dialTo[addr]; ok {
			addr = real
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(transport.CloseIdleConnections)
	urls := map[string]string{}
	for _, n := range cluster.Nodes() {
		srv, err := server.New(server.Config{NodeID: n.ID, ForwardTransport: transport, ForwardRetryWait: 20 * time.Millisecond},
			wiring.NewServerStore(n.Store), nil, raftstoretest.TestLogger(t))
		require.NoError(t, err)
		done := make(chan error, 1)
		ln := listeners[n.ID]
		go func() { done <- srv.Serve(context.Background(), ln) }()
		t.Cleanup(func() {
			require.NoError(t, srv.Close())
			require.NoError(t, <-done)
		})
		urls[n.ID] = "http://" + ln.Addr().String()
	}
	leader := cluster.Leader()
	follower := cluster.Followers()[0]
	ctx := t.Context()
	c, err := client.New(urls[follower.ID], "")
	require.NoError(t, err)

	w, err := c.Watch(ctx, client.WatchOptions{})
	require.NoError(t, err, "watches are served by the follower itself")
	defer w.Stop()

	run := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "hello", Labels: map[string]string{"team": "data"}},
		Spec:     apis.RunSpec{Command: "echo hello", Cpus: 0.1, Mem: 32},
	}
	_, res, err := c.Apply(ctx, run, client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Created, res)
	got, err := c.Get(ctx, "hello")
	require.NoError(t, err, "a linearizable read through a follower sees the write")
	assert.Equal(t, "echo hello", got.Spec.Command)
	_, err = leader.Store.GetRun(ctx, "hello")
	require.NoError(t, err, "the write landed on the leader")

	select {
	case ev := <-w.Events():
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, "hello", ev.Run.Metadata.Name)
	case <-time.After(10 * time.Second):
		t.Fatal("the follower's watch saw nothing")
	}
	// The follower's watch serves its own applied state: its list, read
	// after the event, has the Run too.
	l, err := c.List(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, l.Items, 1, "the follower's own list has caught up")

	info, err := c.Cluster(ctx)
	require.NoError(t, err)
	assert.Equal(t, leader.ID, info.Leader)
	assert.Equal(t, follower.ID, info.NodeID)
	assert.Len(t, info.Members, 3)

	_, err = c.Delete(ctx, "hello", client.DeleteOptions{Wait: true})
	require.NoError(t, err)
	r := call(t, "POST", urls[follower.ID]+"/v1/runs", seedRun)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
}
