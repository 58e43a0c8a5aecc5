package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/client"
)

// simOptions size the mesos-sim process a cluster talks to.
type simOptions struct {
	agents    int
	resources string
	executor  string // "simulated" (timers) or "process" (real processes)
	// credentials turns on Mesos authentication: mesos-sim gets a
	// --credentials file and --authenticate-http-{frameworks,readonly,
	// readwrite}; sprint nodes get --mesos-principal and --mesos-secret-file.
	credentials bool
	// extra are more mesos-sim flags.
	extra []string
}

// simProc is a running mesos-sim.
type simProc struct {
	// url is for the test's own requests: with credentials it carries them
	// as userinfo, which net/http sends as HTTP Basic authentication.
	url string
	// masterURL is what sprint nodes get as --mesos-master: never with
	// credentials, so they must authenticate through their own flags.
	masterURL string
	// principal and secretFile are the nodes' credential (empty without).
	principal, secretFile string
	proc                  *proc
}

// writeSimCredentials writes a random credential for principal "sprint"
// as a mesos-sim --credentials file and a --mesos-secret-file, both 0600.
func writeSimCredentials(t testing.TB) (credsFile, secretFile, secret string) {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	secret = hex.EncodeToString(b)
	dir := t.TempDir()
	credsFile, secretFile = filepath.Join(dir, "credentials.json"), filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(credsFile, []byte(`{"credentials":[{"principal":"sprint","secret":"`+secret+`"}]}`), 0o600))
	require.NoError(t, os.WriteFile(secretFile, []byte(secret+"\n"), 0o600))
	return credsFile, secretFile, secret
}

// startSim starts mesos-sim on a loopback port and waits until it serves
// /master/state.
func startSim(t testing.TB, o simOptions) *simProc {
	t.Helper()
	if o.agents == 0 {
		o.agents = 1
	}
	if o.executor == "" {
		o.executor = "simulated"
	}
	if o.resources == "" {
		o.resources = "cpus:64;mem:65536;disk:100000;ports:[31000-32000]"
	}
	var auth []string
	var principal, secretFile, secret string
	if o.credentials {
		var creds string
		creds, secretFile, secret = writeSimCredentials(t)
		principal = "sprint"
		auth = []string{"--credentials", creds, "--authenticate-http-frameworks", "--authenticate-http-readonly", "--authenticate-http-readwrite"}
	}
	for attempt := 1; ; attempt++ {
		addr := freePort(t)
		args := append([]string{"--listen", addr, "--agents", fmt.Sprint(o.agents),
			"--agent-resources", o.resources, "--executor", o.executor,
			"--work-dir", filepath.Join(t.TempDir(), "sandboxes"), "--heartbeat-interval", "2s"}, auth...)
		args = append(args, o.extra...)
		p := start(t, "mesos-sim", nil, args...)
		s := &simProc{url: "http://" + addr, masterURL: "http://" + addr, principal: principal, secretFile: secretFile, proc: p}
		if o.credentials {
			s.url = "http://" + principal + ":" + secret + "@" + addr
		}
		ok := waitFor(30*time.Second, func() bool {
			select {
			case <-p.done:
				return true // exited: perhaps the port was taken meanwhile
			default:
			}
			resp, err := http.Get(s.url + "/master/state")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		require.True(t, ok, "mesos-sim never served /master/state")
		select {
		case <-p.done:
			require.Contains(t, p.out.String(), "address already in use", "mesos-sim exited at start")
			require.Less(t, attempt, 3, "mesos-sim could not bind a port")
			continue
		default:
		}
		return s
	}
}

// fault posts one /sim/v1/ control and returns its JSON answer.
func (s *simProc) fault(t testing.TB, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(s.url+"/sim/v1/"+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST /sim/v1/%s %s", path, b)
	return out
}

// node is one sprint process of a cluster; it keeps its ports and data
// dir across restarts.
type node struct {
	id      string
	listen  string
	raft    string
	url     string
	dataDir string
	client  *client.Client

	mu   sync.Mutex // guards proc: workload goroutines ask alive() while a restart replaces it
	proc *proc
}

// current returns the node's latest process (nil before the first start).
func (n *node) current() *proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// cluster is three (or n) sprint nodes bootstrapped with --peers, all
// talking to one mesos-sim.
type cluster struct {
	t     testing.TB
	sim   *simProc
	nodes []*node
	peers string
	extra []string
	sec   *security // nil: plain HTTP and Raft on loopback, no tokens
	hc    *http.Client
}

// clusterOptions configure startCluster.
type clusterOptions struct {
	nodes int
	sim   simOptions
	// extra are flags every sprint node gets (e.g. --gc-max-finished).
	extra []string
	// secure runs the nodes as a deployment should: Raft over mutual TLS
	// and the HTTPS API with certificates `sprint certs` made, and bearer
	// tokens.
	secure bool
}

// security is what a secure cluster's nodes and clients share.
type security struct {
	dir   string // sprint certs output: ca.crt, nN.crt, nN.key
	token string
	tls   *tls.Config // trusts the cluster CA
}

// newSecurity makes certificates for count nodes with the sprint binary
// (as an operator would) and a token file.
func newSecurity(t testing.TB, count int) *security {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	var names []string
	for i := 1; i <= count; i++ {
		names = append(names, fmt.Sprintf("n%d", i))
	}
	out, err := exec.Command(filepath.Join(binDir, "sprint"), "certs", "--dir", dir,
		"--nodes", strings.Join(names, ","), "--hosts", "127.0.0.1,localhost").CombinedOutput()
	require.NoError(t, err, "sprint certs: %s", out)
	s := &security{dir: dir, token: "e2e-" + strings.Repeat("t", 32)}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte(s.token+"\n"), 0o600))
	s.tls, err = client.LoadCA(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	return s
}

// flags are node id's security flags.
func (s *security) flags(id string) []string {
	f := func(name string) string { return filepath.Join(s.dir, name) }
	return []string{
		"--raft-tls-cert", f(id + ".crt"), "--raft-tls-key", f(id + ".key"), "--raft-tls-ca", f("ca.crt"),
		"--tls-cert", f(id + ".crt"), "--tls-key", f(id + ".key"), "--tls-ca", f("ca.crt"),
		"--token-file", f("token"),
	}
}

// startCluster starts mesos-sim and n sprint nodes with a static --peers
// bootstrap, and waits until every node is ready and one leads. Ports are
// picked free but may be taken by another process before a node binds
// them: then the whole cluster is started again on new ports.
func startCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	c := &cluster{t: t, sim: startSim(t, o.sim), extra: o.extra, hc: http.DefaultClient}
	if o.secure {
		c.sec = newSecurity(t, o.nodes)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = c.sec.tls
		c.hc = &http.Client{Transport: tr}
	}
	for attempt := 1; ; attempt++ {
		if c.tryStart(o.nodes) {
			break
		}
		require.Less(t, attempt, 3, "sprint nodes could not bind their ports")
		t.Logf("a port was taken before a node bound it; starting the cluster again on new ports")
		for _, n := range c.nodes {
			n.current().stop(5 * time.Second)
		}
	}
	c.leader()
	return c
}

// tryStart starts n nodes on fresh ports and reports whether all became
// ready; false when one exited because its address was in use.
func (c *cluster) tryStart(count int) bool {
	t := c.t
	t.Helper()
	c.nodes = nil
	var peers []string
	for i := 1; i <= count; i++ {
		listen, raft := freePort(t), freePort(t)
		scheme, token, opts := "http", "", []client.Option(nil)
		if c.sec != nil {
			scheme, token = "https", c.sec.token
			opts = append(opts, client.WithTLSConfig(c.sec.tls))
		}
		n := &node{
			id: fmt.Sprintf("n%d", i), listen: listen, raft: raft, url: scheme + "://" + listen,
			dataDir: filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i)),
		}
		cl, err := client.New(n.url, token, opts...)
		require.NoError(t, err)
		n.client = cl
		c.nodes = append(c.nodes, n)
		peers = append(peers, n.id+"="+raft+"="+n.url)
	}
	c.peers = strings.Join(peers, ",")
	for _, n := range c.nodes {
		c.launch(n, "--peers", c.peers)
	}
	for _, n := range c.nodes {
		ok := waitFor(60*time.Second, func() bool {
			return !n.alive() || c.ready(n)
		})
		require.True(t, ok, "%s never became ready", n.id)
		if !n.alive() {
			out := n.current().out.String()
			require.Contains(t, out, "address already in use", "%s exited at start", n.id)
			return false
		}
	}
	return true
}

// launch starts node n's process with its fixed identity plus args.
func (c *cluster) launch(n *node, args ...string) {
	c.t.Helper()
	base := []string{
		"--node-id", n.id, "--data-dir", n.dataDir, "--listen", n.listen, "--raft-addr", n.raft,
		"--mesos-master", c.sim.masterURL, "--staging-timeout", "1m",
	}
	if c.sim.principal != "" {
		base = append(base, "--mesos-principal", c.sim.principal, "--mesos-secret-file", c.sim.secretFile)
	}
	if c.sec != nil {
		base = append(base, c.sec.flags(n.id)...)
	}
	base = append(base, c.extra...)
	p := start(c.t, "sprint", nil, append(base, args...)...)
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
}

// ready reports whether n answers 200 on /readyz.
func (c *cluster) ready(n *node) bool {
	resp, err := c.hc.Get(n.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitReady waits until n answers 200 on /readyz.
func (c *cluster) waitReady(n *node, timeout time.Duration) {
	c.t.Helper()
	require.Eventually(c.t, func() bool { return c.ready(n) }, timeout, 100*time.Millisecond, "%s never became ready", n.id)
}

// alive reports whether n's process runs.
func (n *node) alive() bool {
	p := n.current()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill9 SIGKILLs node n.
func (c *cluster) kill9(n *node) {
	c.t.Helper()
	c.t.Logf("SIGKILL %s", n.id)
	n.current().kill()
}

// restart starts a killed node again on the same data dir (its Raft state
// remembers the cluster; --peers on a used data dir is ignored).
func (c *cluster) restart(n *node) {
	c.t.Helper()
	require.False(c.t, n.alive(), "%s still runs", n.id)
	c.t.Logf("restart %s", n.id)
	c.launch(n, "--peers", c.peers)
	c.waitReady(n, 60*time.Second)
}

// wipeAndRejoin stops node n, removes it from the cluster, wipes its data
// dir and starts it again with --join through another node, as an operator
// replaces a broken disk.
func (c *cluster) wipeAndRejoin(n *node) {
	c.t.Helper()
	if n.alive() {
		c.kill9(n)
	}
	via := c.leader()
	require.NotSame(c.t, via, n)
	c.retry(func(ctx context.Context) error { return via.client.Remove(ctx, n.id) })
	require.NoError(c.t, os.RemoveAll(n.dataDir))
	c.t.Logf("rejoin %s (wiped) via %s", n.id, via.id)
	c.launch(n, "--join", via.url)
	c.waitReady(n, 60*time.Second)
}

// leader returns the node that all live nodes agree leads, waiting up to a
// minute for an election.
func (c *cluster) leader() *node {
	c.t.Helper()
	var found *node
	require.Eventually(c.t, func() bool {
		found = c.leaderNow()
		return found != nil
	}, 60*time.Second, 100*time.Millisecond, "no leader agreed on by every live node")
	return found
}

// leaderNow is leader without waiting: nil while live nodes disagree.
func (c *cluster) leaderNow() *node {
	var leaderID string
	for _, n := range c.nodes {
		if !n.alive() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		info, err := n.client.Cluster(ctx)
		cancel()
		if err != nil || info.Leader == "" || (leaderID != "" && info.Leader != leaderID) {
			return nil
		}
		leaderID = info.Leader
	}
	for _, n := range c.nodes {
		if n.id == leaderID && n.alive() {
			return n
		}
	}
	return nil
}

// followers returns the live nodes other than the leader.
func (c *cluster) followers() []*node {
	l := c.leader()
	var out []*node
	for _, n := range c.nodes {
		if n != l && n.alive() {
			out = append(out, n)
		}
	}
	return out
}

// live returns the running nodes.
func (c *cluster) live() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.alive() {
			out = append(out, n)
		}
	}
	return out
}

// retry runs f until it succeeds, with a fresh 10 s context each time,
// for up to a minute: writes during an election answer 503 for a while.
func (c *cluster) retry(f func(ctx context.Context) error) {
	c.t.Helper()
	require.NoError(c.t, retryErr(f))
}

// retryErr is retry returning the last error; safe off the test goroutine.
func retryErr(f func(ctx context.Context) error) error {
	var err error
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = f(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond) // back-off between attempts, not synchronisation
	}
	return err
}
