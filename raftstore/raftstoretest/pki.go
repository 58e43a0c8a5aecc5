package raftstoretest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/pki"
	"github.com/sprint-project/sprint/raftstore"
)

// PKI is a cluster CA for tests that issues node certificates on demand.
type PKI struct {
	t  testing.TB
	CA *pki.CA

	mu    sync.Mutex
	nodes map[string]*raftstore.PeerTLS
}

// NewPKI creates a fresh CA.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca, err := pki.NewCA("sprint test CA", time.Now(), time.Hour)
	require.NoError(t, err)
	return &PKI{t: t, CA: ca, nodes: map[string]*raftstore.PeerTLS{}}
}

// Node returns node name's Raft TLS (one certificate per name).
func (p *PKI) Node(name string) *raftstore.PeerTLS {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if tl, ok := p.nodes[name]; ok {
		return tl
	}
	certPEM, keyPEM, err := p.CA.Issue(pki.NodeLeaf(name, []string{"127.0.0.1", "localhost"}, time.Now(), time.Hour))
	require.NoError(p.t, err)
	tl, err := raftstore.NewPeerTLS(certPEM, keyPEM, p.CA.CertPEM, time.Now())
	require.NoError(p.t, err)
	p.nodes[name] = tl
	return tl
}

// Tune gives every node of a cluster its certificate: pass it (or call it
// from) New's tune function.
func (p *PKI) Tune(cfg *raftstore.Config) { cfg.TLS = p.Node(cfg.NodeID) }
