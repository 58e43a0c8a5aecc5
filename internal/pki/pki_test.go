package pki

import (
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeName(t *testing.T) {
	tests := map[string]struct {
		uris []string
		want string
		ok   bool
	}{
		"node URI":     {[]string{"spiffe://x/y", "sprint://node/n1"}, "n1", true},
		"no URI":       {nil, "", false},
		"other host":   {[]string{"sprint://user/n1"}, "", false},
		"other scheme": {[]string{"https://node/n1"}, "", false},
		"empty name":   {[]string{"sprint://node/"}, "", false},
		"no path":      {[]string{"sprint://node"}, "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &x509.Certificate{}
			for _, u := range tc.uris {
				p, err := url.Parse(u)
				require.NoError(t, err)
				c.URIs = append(c.URIs, p)
			}
			got, ok := NodeName(c)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestValidNodeName(t *testing.T) {
	for _, ok := range []string{"n1", "node-1.example", "a_b", "N9"} {
		assert.NoError(t, ValidNodeName(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", "-n", "n 1", string(make([]byte, 64))} {
		assert.Error(t, ValidNodeName(bad), "%q", bad)
	}
}

func TestIssue_NodeCertificate(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test", now, time.Hour)
	require.NoError(t, err)
	certPEM, _, err := ca.Issue(NodeLeaf("n1", []string{"10.0.0.1", "[::1]", "node1.example", " "}, now, time.Hour))
	require.NoError(t, err)
	certs, err := ParseCerts(certPEM)
	require.NoError(t, err)
	c := certs[0]
	name, ok := NodeName(c)
	assert.True(t, ok)
	assert.Equal(t, "n1", name)
	assert.Equal(t, []string{"node1.example"}, c.DNSNames)
	require.Len(t, c.IPAddresses, 2)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, c.ExtKeyUsage)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err = c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "10.0.0.1"})
	assert.NoError(t, err)

	_, _, err = ca.Issue(Leaf{CommonName: "x", Node: "../x", NotBefore: now, NotAfter: now.Add(time.Hour)})
	assert.Error(t, err, "a node name is checked")
}

func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("a", time.Now(), time.Hour)
	require.NoError(t, err)
	other, err := NewCA("b", time.Now(), time.Hour)
	require.NoError(t, err)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	crt, key := write("ca.crt", ca.CertPEM), write("ca.key", ca.KeyPEM)
	got, err := LoadCA(crt, key)
	require.NoError(t, err)
	assert.True(t, got.Cert.Equal(ca.Cert))

	_, err = LoadCA(crt, write("other.key", other.KeyPEM))
	assert.ErrorContains(t, err, "does not match")
	leaf, leafKey, err := ca.Issue(NodeLeaf("n1", nil, time.Now(), time.Hour))
	require.NoError(t, err)
	_, err = LoadCA(write("leaf.crt", leaf), write("leaf.key", leafKey))
	assert.ErrorContains(t, err, "not a CA certificate")
	_, err = LoadCA(crt, write("junk.key", []byte("junk")))
	assert.ErrorContains(t, err, "no PEM block")
	_, err = LoadCA(filepath.Join(dir, "missing"), key)
	assert.Error(t, err)
}
