package raftstore

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/pki"
)

func testPeerTLS(t *testing.T, name string) *PeerTLS {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Now(), time.Hour)
	require.NoError(t, err)
	certPEM, keyPEM, err := ca.Issue(pki.NodeLeaf(name, nil, time.Now(), time.Hour))
	require.NoError(t, err)
	p, err := NewPeerTLS(certPEM, keyPEM, ca.CertPEM, time.Now())
	require.NoError(t, err)
	return p
}

// A client that connects and says nothing neither holds up the handshakes
// of others (each runs in its own goroutine) nor stays connected past the
// handshake deadline.
func TestTLSStreamLayer_SilentClientBlocksNobodyAndIsDropped(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	const deadline = 300 * time.Millisecond
	l := newTLSStreamLayer(ln, nil, testPeerTLS(t, "n1"), deadline, slog.New(slog.DiscardHandler), newMetrics().tlsRefused)
	t.Cleanup(func() { _ = l.Close() })

	silent, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer silent.Close()

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	peer, err := l.Dial(raft.ServerAddress(ln.Addr().String()), 5*time.Second)
	require.NoError(t, err, "a peer completes its handshake while the silent client waits")
	defer peer.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the authenticated connection was not handed to raft")
	}

	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(silent) // EOF or a reset once the server closes it
	var ne net.Error
	if errors.As(err, &ne) {
		assert.False(t, ne.Timeout(), "the silent client was closed at the handshake deadline, not left open")
	}
}

// Close ends Accept and pending handshakes.
func TestTLSStreamLayer_CloseEndsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := newTLSStreamLayer(ln, nil, testPeerTLS(t, "n1"), time.Minute, slog.New(slog.DiscardHandler), newMetrics().tlsRefused)
	silent, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer silent.Close()
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	require.NoError(t, l.Close())
	assert.ErrorIs(t, <-done, net.ErrClosed)
}
