package e2e

import (
	"crypto/tls"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Raft address other machines can reach is refused without mutual TLS,
// with one readable line and a failing exit code, before anything is
// written; --insecure lets it through.
func TestSprint_RefusesReachableRaftAddressWithoutTLS(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(filepath.Join(binDir, "sprint"), "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--raft-addr", "0.0.0.0:0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "sprint started: %s", out)
	assert.NotZero(t, exit.ExitCode())
	assert.Equal(t, "sprint: raft address 0.0.0.0:0: refusing a non-loopback Raft address without mutual TLS: give --raft-tls-cert, --raft-tls-key and --raft-tls-ca (sprint certs makes them), or --insecure\n", string(out))
	assert.NoDirExists(t, dataDir)

	// Half the TLS flags is a usage error too.
	out, err = exec.Command(filepath.Join(binDir, "sprint"), "--raft-tls-cert", "x.crt").CombinedOutput()
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Equal(t, "sprint: --raft-tls-cert, --raft-tls-key and --raft-tls-ca go together: give all three or none\n", string(out))
}

// requireRaftTLS checks that n's Raft port speaks TLS with a certificate of
// the cluster CA and ends a handshake that brings no client certificate.
func (c *cluster) requireRaftTLS(t *testing.T, n *node) {
	t.Helper()
	cfg := c.sec.tls.Clone()
	cfg.ServerName = "127.0.0.1"
	conn, err := tls.Dial("tcp", n.raft, cfg)
	require.NoError(t, err, "%s: the Raft port presents a certificate of the cluster CA", n.id)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(conn) // TLS 1.3: the server's verdict on our (absent) certificate
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "certificate required"), "%s: a client without a certificate is refused: %v", n.id, err)
}
