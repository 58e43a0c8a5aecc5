package raftstore_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/pki"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// attackerStream is a raft.StreamLayer that dials with an arbitrary TLS
// client configuration (nil: plain TCP), as a hostile peer would.
type attackerStream struct {
	net.Listener
	tls *tls.Config
}

func (a *attackerStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if a.tls == nil {
		return d.Dial("tcp", string(addr))
	}
	return tls.DialWithDialer(d, "tcp", string(addr), a.tls)
}

// attackerTransport is a raw hashicorp/raft NetworkTransport speaking
// raft's RPCs over the given TLS configuration.
func attackerTransport(t *testing.T, cfg *tls.Config) *raft.NetworkTransport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &attackerStream{Listener: ln, tls: cfg}, MaxPool: 1, Timeout: 2 * time.Second,
		Logger: hclog.NewNullLogger(),
	})
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// leafTLS is a client configuration presenting a certificate issued by ca
// for l (trusting any server: the attacker does not care who answers).
func leafTLS(t *testing.T, ca *pki.CA, l pki.Leaf) *tls.Config {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(l)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true}
}

// raftOps are the three RPCs that change a node's state, each from a
// would-be leader ten terms ahead that also tries to add a Run.
func raftOps(info raftstore.ClusterInfo) map[string]func(tr *raft.NetworkTransport, target raft.ServerAddress) error {
	term := info.Term + 10
	header := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("evil"), Addr: []byte("127.0.0.1:1")}
	run, _ := json.Marshal(map[string]any{"run": newRun("evil")})
	entry := &raft.Log{Index: info.LastIndex + 1, Term: term, Type: raft.LogCommand, Data: append([]byte{raftstore.CmdCreateRunForTest}, run...)}
	return map[string]func(tr *raft.NetworkTransport, target raft.ServerAddress) error{
		"append": func(tr *raft.NetworkTransport, target raft.ServerAddress) error {
			var resp raft.AppendEntriesResponse
			return tr.AppendEntries("solo", target, &raft.AppendEntriesRequest{
				RPCHeader: header, Term: term, PrevLogEntry: info.LastIndex, PrevLogTerm: info.Term,
				Entries: []*raft.Log{entry}, LeaderCommitIndex: entry.Index,
			}, &resp)
		},
		"vote": func(tr *raft.NetworkTransport, target raft.ServerAddress) error {
			var resp raft.RequestVoteResponse
			return tr.RequestVote("solo", target, &raft.RequestVoteRequest{
				RPCHeader: header, Term: term, LastLogIndex: info.LastIndex + 100, LastLogTerm: term, LeadershipTransfer: true,
			}, &resp)
		},
		"install snapshot": func(tr *raft.NetworkTransport, target raft.ServerAddress) error {
			var resp raft.InstallSnapshotResponse
			return tr.InstallSnapshot("solo", target, &raft.InstallSnapshotRequest{
				RPCHeader: header, SnapshotVersion: raft.SnapshotVersionMax, Term: term,
				LastLogIndex: info.LastIndex + 100, LastLogTerm: term, Size: 4,
			}, &resp, io.NopCloser(bytes.NewReader([]byte("evil"))))
		},
	}
}

// A peer without a node certificate of the cluster CA cannot append, vote
// or install a snapshot: the handshake fails before raft reads an RPC, so
// the node's term and log do not move. The same RPCs with a cluster
// certificate do move them, which shows the test would notice.
func TestTLS_PeerWithoutClusterCertificateCannotAppendVoteOrInstallSnapshot(t *testing.T) {
	cluster := raftstoretest.NewPKI(t)
	s := startSingle(t, t.TempDir(), cluster.Tune)
	for leading := range s.LeadershipChanges() {
		if leading {
			break // the leader's own writes (its member record) are done
		}
	}
	target := raft.ServerAddress(s.RaftAddr())
	before, err := s.Cluster()
	require.NoError(t, err)

	other := raftstoretest.NewPKI(t)
	now := time.Now()
	attackers := map[string]*tls.Config{
		"plain TCP":                 nil,
		"TLS without a certificate": {InsecureSkipVerify: true},
		"certificate of another CA": leafTLS(t, other.CA, pki.NodeLeaf("n9", []string{"127.0.0.1"}, now, time.Hour)),
		"cluster CA, not a node":    leafTLS(t, cluster.CA, pki.Leaf{CommonName: "api", Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)}),
		"cluster CA, server only":   leafTLS(t, cluster.CA, pki.Leaf{CommonName: "n9", Node: "n9", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)}),
		"expired node certificate":  leafTLS(t, cluster.CA, pki.NodeLeaf("n9", nil, now.Add(-2*time.Hour), time.Hour)),
	}
	for name, cfg := range attackers {
		tr := attackerTransport(t, cfg)
		for op, call := range raftOps(before) {
			err := call(tr, target)
			assert.Error(t, err, "%s: %s must fail", name, op)
		}
	}

	after, err := s.Cluster()
	require.NoError(t, err)
	assert.Equal(t, before.Term, after.Term, "term not bumped")
	assert.Equal(t, before.LastIndex, after.LastIndex, "no new entries")
	assert.Equal(t, "Leader", after.State)
	_, err = s.GetRun(t.Context(), "evil")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	_, err = s.CreateRun(t.Context(), newRun("still-serving"))
	require.NoError(t, err)

	// Control: with a node certificate of the cluster CA the same append
	// gets through and moves the term (the node follows the "leader").
	after, err = s.Cluster()
	require.NoError(t, err)
	tr := attackerTransport(t, leafTLS(t, cluster.CA, pki.NodeLeaf("n9", nil, now, time.Hour)))
	require.NoError(t, raftOps(after)["append"](tr, target))
	ctl, err := s.Cluster()
	require.NoError(t, err)
	assert.Greater(t, ctl.Term, after.Term, "a cluster peer's append moves the term")
}

// A three-node cluster over mutual TLS on loopback: bootstrap and joins
// (the leader's join probe is a TLS handshake), writes, a leader change,
// remove and re-join.
func TestCluster_MutualTLS(t *testing.T) {
	ca := raftstoretest.NewPKI(t)
	c := raftstoretest.New(t, 3, ca.Tune)
	ctx := t.Context()
	for i := range 10 {
		createRun(t, c, newRun(fmt.Sprintf("a%d", i)))
	}
	c.EnsureSame()

	old := c.Leader()
	c.Shutdown(old.ID)
	createRun(t, c, newRun("after-failover"))
	assert.NotEqual(t, old.ID, c.Leader().ID)
	c.Restart(old.ID)
	c.EnsureSame()

	victim := c.Followers()[0]
	require.NoError(t, c.Do(func(s *raftstore.Store) error { return s.Remove(ctx, victim.ID) }))
	c.Shutdown(victim.ID)
	createRun(t, c, newRun("while-removed"))
	c.Restart(victim.ID)
	c.Join(victim.ID)
	c.EnsureSame()
	list, err := c.Node(victim.ID).Store.ListRuns(ctx, raftstore.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 12)
}

// A join naming a Raft address that does not present a node certificate
// of the cluster CA is refused before the configuration changes.
func TestCluster_TLSJoinRefusesPeerOfAnotherCA(t *testing.T) {
	ca := raftstoretest.NewPKI(t)
	c := raftstoretest.New(t, 1, ca.Tune)
	leader := c.Leader()

	other := raftstoretest.NewPKI(t)
	stranger := startSingle(t, t.TempDir(), other.Tune)
	err := leader.Store.Join(t.Context(), "stranger", stranger.RaftAddr(), "http://127.0.0.1:1")
	require.Error(t, err)
	assert.ErrorIs(t, err, apis.ErrInvalid)
	assert.Contains(t, err.Error(), "raftAddr: no Raft TLS peer of this cluster answers there")
	info, err := leader.Store.Cluster()
	require.NoError(t, err)
	assert.Len(t, info.Members, 1)
}

func TestNewPeerTLS_RefusesWhatPeersWouldRefuse(t *testing.T) {
	cluster := raftstoretest.NewPKI(t)
	other := raftstoretest.NewPKI(t)
	now := time.Now()
	issue := func(ca *pki.CA, l pki.Leaf) ([]byte, []byte) {
		c, k, err := ca.Issue(l)
		require.NoError(t, err)
		return c, k
	}
	goodCert, goodKey := issue(cluster.CA, pki.NodeLeaf("n1", nil, now, time.Hour))
	_, otherKey := issue(cluster.CA, pki.NodeLeaf("n2", nil, now, time.Hour))
	foreignCert, foreignKey := issue(other.CA, pki.NodeLeaf("n1", nil, now, time.Hour))
	apiCert, apiKey := issue(cluster.CA, pki.Leaf{CommonName: "api", NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour)})
	oldCert, oldKey := issue(cluster.CA, pki.NodeLeaf("n1", nil, now.Add(-3*time.Hour), time.Hour))

	tests := map[string]struct {
		cert, key, ca []byte
		want          string
	}{
		"key of another certificate": {goodCert, otherKey, cluster.CA.CertPEM, "private key does not match public key"},
		"another CA":                 {foreignCert, foreignKey, cluster.CA.CertPEM, "not a certificate of the cluster CA"},
		"not a node certificate":     {apiCert, apiKey, cluster.CA.CertPEM, "no node URI SAN"},
		"expired":                    {oldCert, oldKey, cluster.CA.CertPEM, "expired"},
		"CA file without a cert":     {goodCert, goodKey, []byte("nothing"), "no PEM certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := raftstore.NewPeerTLS(tc.cert, tc.key, tc.ca, now)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	p, err := raftstore.NewPeerTLS(goodCert, goodKey, cluster.CA.CertPEM, now)
	require.NoError(t, err)
	assert.Equal(t, "n1", p.NodeName())
	assert.WithinDuration(t, now.Add(time.Hour), p.NotAfter(), time.Second)
}
