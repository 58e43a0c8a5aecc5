package e2e

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// A follower killed with SIGKILL and restarted on its data dir, and a node
// whose data dir was wiped and that re-joined with --join, both catch up:
// they list the same Runs, at the same resourceVersions, as the leader.
func TestCluster_FollowerRestartAndWipedRejoinCatchUp(t *testing.T) {
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	n := 60
	if longTests() {
		n = 600
	}
	names := runNames("mb", n)
	apply := func(names []string) {
		var specs []*apis.Run
		for _, name := range names {
			specs = append(specs, simRun(name, "membership", 100*time.Millisecond))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		newApplier(c, 4).applyAll(ctx, specs)
		require.NoError(t, ctx.Err())
	}

	// Kill a follower, write while it is down, restart it.
	apply(names[:n/3])
	f := c.followers()[0]
	c.kill9(f)
	apply(names[n/3 : 2*n/3])
	c.restart(f)
	c.waitSameRuns(t, f)
	t.Logf("restarted follower %s caught up after %v", f.id, time.Since(began).Round(time.Millisecond))

	// Wipe another follower's data dir and re-join it; write meanwhile.
	var w *node
	for _, x := range c.followers() {
		if x != f {
			w = x
		}
	}
	require.NotNil(t, w)
	c.wipeAndRejoin(w)
	apply(names[2*n/3:])
	c.waitAllPhase(t, nil, "suite=membership", n, apis.PhaseSucceeded, 3*time.Minute)
	c.waitSameRuns(t, w)
	c.waitSameRuns(t, f)

	// The cluster has three voters again.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	info, err := c.leader().client.Cluster(ctx)
	cancel()
	require.NoError(t, err)
	require.Len(t, info.Members, 3, "%+v", info.Members)
	t.Logf("wiped node %s caught up; total %v", w.id, time.Since(began).Round(time.Millisecond))
}

// waitSameRuns waits until node n lists the same Runs at the same
// resourceVersions as the leader, and fails with the difference.
func (c *cluster) waitSameRuns(t *testing.T, n *node) {
	t.Helper()
	var diff string
	ok := waitFor(time.Minute, func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		want, _, err := listAll(ctx, l.client, "")
		if err != nil {
			diff = err.Error()
			return false
		}
		got, _, err := listAll(ctx, n.client, "")
		if err != nil {
			diff = err.Error()
			return false
		}
		diff = runsDiff(want, got)
		return diff == ""
	})
	require.True(t, ok, "%s did not catch up with the leader: %s", n.id, diff)
}

// runsDiff describes how two Run lists differ by name and resourceVersion.
func runsDiff(want, got []apis.Run) string {
	key := func(rs []apis.Run) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			m[r.Metadata.Name] = r.Metadata.ResourceVersion + "/" + string(r.Status.Phase)
		}
		return m
	}
	w, g := key(want), key(got)
	var out []string
	for name, v := range w {
		if g[name] != v {
			out = append(out, fmt.Sprintf("%s: leader %s, node %q", name, v, g[name]))
		}
	}
	for name, v := range g {
		if _, ok := w[name]; !ok {
			out = append(out, fmt.Sprintf("%s: only on node (%s)", name, v))
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("… %d more", len(out)-10))
	}
	return strings.Join(out, "; ")
}

// A node whose disk was replaced comes back with the same id and address
// and --join, without an operator removing it first: the leader still
// lists it as a voter, re-adds it (same id, same address) and sends it the
// log or a snapshot; it catches up. The cluster runs Raft over mutual TLS
// and the HTTPS API with tokens, so the join call goes over HTTPS
// (--tls-ca) and the leader's probe of the new member is a TLS handshake.
func TestCluster_WipedNodeRejoinsWithoutRemoval(t *testing.T) {
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 1}, secure: true})
	var specs []*apis.Run
	for _, name := range runNames("wr", 40) {
		specs = append(specs, simRun(name, "rejoin", 50*time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newApplier(c, 4).applyAll(ctx, specs)
	require.NoError(t, ctx.Err())

	w := c.followers()[0]
	c.kill9(w)
	require.NoError(t, os.RemoveAll(w.dataDir))
	via := c.leader()
	t.Logf("rejoin %s (wiped, not removed) via %s", w.id, via.id)
	c.launch(w, "--join", via.url)
	c.waitReady(w, time.Minute)
	require.Eventually(t, func() bool { return strings.Contains(w.current().out.String(), "joined cluster") }, time.Minute, 100*time.Millisecond,
		"the join call over HTTPS succeeded")
	c.waitAllPhase(t, nil, "suite=rejoin", 40, apis.PhaseSucceeded, 2*time.Minute)
	c.waitSameRuns(t, w)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// The same disk replacement when the node is started again by its
// unchanged unit file (--peers, not --join): the fresh node bootstraps the
// static configuration at index 1, which the leader's log overrides; it
// must not form a cluster of its own and must catch up.
func TestCluster_WipedNodeRestartsWithPeers(t *testing.T) {
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 1}})
	var specs []*apis.Run
	for _, name := range runNames("wp", 40) {
		specs = append(specs, simRun(name, "wipepeers", 50*time.Millisecond))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	newApplier(c, 4).applyAll(ctx, specs)
	require.NoError(t, ctx.Err())

	w := c.followers()[0]
	c.kill9(w)
	require.NoError(t, os.RemoveAll(w.dataDir))
	c.restart(w)
	c.waitAllPhase(t, nil, "suite=wipepeers", 40, apis.PhaseSucceeded, 2*time.Minute)
	c.waitSameRuns(t, w)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}
