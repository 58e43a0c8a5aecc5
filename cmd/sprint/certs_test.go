package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/raftstore"
)

func certs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runCerts(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// sprint certs writes a CA and node certificates that serve both Raft
// mutual TLS and the HTTPS API, with private keys 0600.
func TestCerts_WritesAClusterPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	code, out, errOut := certs(t, "--dir", dir, "--nodes", "n1,n2,n3", "--hosts", "127.0.0.1,localhost")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "wrote "+filepath.Join(dir, "ca.crt"))

	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	for name, mode := range map[string]os.FileMode{
		"ca.key": 0o600, "ca.crt": 0o644, "n1.key": 0o600, "n1.crt": 0o644, "n3.key": 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		assert.Equal(t, mode, st.Mode().Perm(), name)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	for _, n := range []string{"n1", "n2", "n3"} {
		p, err := raftstore.LoadPeerTLS(filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key"), filepath.Join(dir, "ca.crt"))
		require.NoError(t, err, n)
		assert.Equal(t, n, p.NodeName())

		// The same files serve HTTPS: the certificate is valid for the hosts.
		kp, err := tls.LoadX509KeyPair(filepath.Join(dir, n+".crt"), filepath.Join(dir, n+".key"))
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(kp.Certificate[0])
		require.NoError(t, err)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			assert.NoError(t, err, "%s for %s", n, host)
		}
	}
}

func TestCerts_NeverOverwritesUnlessForced(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := certs(t, "--dir", dir, "--nodes", "n1")
	require.Equal(t, 0, code, errOut)
	caKey, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	n1, err := os.ReadFile(filepath.Join(dir, "n1.crt"))
	require.NoError(t, err)

	// Again for n1: refused, nothing changes.
	code, _, errOut = certs(t, "--dir", dir, "--nodes", "n1")
	assert.Equal(t, 1, code)
	assert.Equal(t, "sprint certs: "+filepath.Join(dir, "n1.crt")+" exists: pass --force to replace it\n", errOut)

	// A new node is signed by the existing CA, which stays as it was.
	code, out, errOut := certs(t, "--dir", dir, "--nodes", "n2")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "using the existing CA")
	got, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	assert.Equal(t, caKey, got)
	_, err = raftstore.LoadPeerTLS(filepath.Join(dir, "n2.crt"), filepath.Join(dir, "n2.key"), filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)

	// --force makes a new CA and new node files.
	code, _, errOut = certs(t, "--dir", dir, "--nodes", "n1", "--force")
	require.Equal(t, 0, code, errOut)
	got, err = os.ReadFile(filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	assert.NotEqual(t, caKey, got)
	got, err = os.ReadFile(filepath.Join(dir, "n1.crt"))
	require.NoError(t, err)
	assert.NotEqual(t, n1, got)
}

func TestCerts_Errors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("x"), 0o644))
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"no dir":       {[]string{"--nodes", "n1"}, 1, "sprint certs: --dir is required"},
		"no nodes":     {[]string{"--dir", t.TempDir()}, 1, "sprint certs: --nodes is required: the node names, e.g. n1,n2,n3"},
		"path in name": {[]string{"--dir", t.TempDir(), "--nodes", "../n1"}, 1, `sprint certs: node name "../n1": must be`},
		"twice":        {[]string{"--dir", t.TempDir(), "--nodes", "n1,n1"}, 1, `sprint certs: node "n1" listed twice`},
		"ca name":      {[]string{"--dir", t.TempDir(), "--nodes", "ca"}, 1, `would overwrite the CA files`},
		"cert, no key": {[]string{"--dir", dir, "--nodes", "n1"}, 1, "exists without"},
		"bad validity": {[]string{"--dir", t.TempDir(), "--nodes", "n1", "--validity", "-1h"}, 1, "--validity must be positive"},
		"stray arg":    {[]string{"--dir", t.TempDir(), "--nodes", "n1", "x"}, 1, `unexpected argument "x"`},
		"unknown flag": {[]string{"--nope"}, 2, "flag provided but not defined: -nope"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := certs(t, tc.args...)
			assert.Equal(t, tc.code, code)
			assert.Contains(t, errOut, tc.want)
			if tc.code == 1 {
				assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
			}
		})
	}
}

// A Raft address other machines can reach is refused without mutual TLS
// (or --insecure), before anything is created.
func TestMain_RefusesNonLoopbackRaftWithoutTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "10.1.2.3:9091", "node1.example:9091"} {
		dataDir := filepath.Join(t.TempDir(), "data")
		m := NewMain(Config{DataDir: dataDir, Listen: "127.0.0.1:0", RaftAddr: addr, LogFormat: "text", LogLevel: "error"}, &bytes.Buffer{})
		err := m.Run(t.Context())
		require.ErrorIs(t, err, raftstore.ErrInsecureRaftAddr, addr)
		assert.NotContains(t, err.Error(), "\n")
		_, statErr := os.Stat(dataDir)
		assert.True(t, os.IsNotExist(statErr), "nothing was created for %s", addr)
		require.NoError(t, m.Close())
	}
}
