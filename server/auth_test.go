package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func TestAuth_BearerTokens(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{Tokens: []string{"s3cret", "other-token"}})
	tests := map[string]struct {
		path, auth string
		code       int
	}{
		"no token":          {path: "/api/v1/runs", code: 401},
		"wrong token":       {path: "/api/v1/runs", auth: "Bearer nope", code: 401},
		"prefix of a token": {path: "/api/v1/runs", auth: "Bearer s3c", code: 401},
		"wrong scheme":      {path: "/api/v1/runs", auth: "Basic s3cret", code: 401},
		"valid":             {path: "/api/v1/runs", auth: "Bearer s3cret", code: 200},
		"second token":      {path: "/api/v1/runs", auth: "bearer other-token", code: 200},
		"sprint api":        {path: "/v1/runs", code: 401},
		"metrics":           {path: "/metrics", code: 401},
		"unknown path":      {path: "/nowhere", code: 401},
		"healthz open":      {path: "/healthz", code: 200},
		"readyz open":       {path: "/readyz", code: 200},
		"ping open":         {path: "/status/ping", code: 200},
		"docs open":         {path: "/docs", code: 200},
		"openapi open":      {path: "/openapi.json", code: 200},
		"schema open":       {path: "/schemas/run.json", code: 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if tc.auth != "" {
				hdr = []string{"Authorization", tc.auth}
			}
			r := call(t, "GET", srv.URL+tc.path, "", hdr...)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.code == 401 {
				st := r.status(t)
				assert.Equal(t, "Unauthorized", st.Reason)
				assert.NotContains(t, string(r.body), "s3cret")
				assert.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
}

func TestCheckListenSecurity(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		addr             string
		tokens, insecure bool
		wantErr          bool
	}{
		"loopback v4":             {addr: "127.0.0.1:9090"},
		"loopback v6":             {addr: "[::1]:9090"},
		"localhost":               {addr: "localhost:9090"},
		"all interfaces":          {addr: ":9090", wantErr: true},
		"any v4":                  {addr: "0.0.0.0:9090", wantErr: true},
		"lan address":             {addr: "10.0.0.5:9090", wantErr: true},
		"lan address with tokens": {addr: "10.0.0.5:9090", tokens: true},
		"lan address insecure":    {addr: "0.0.0.0:9090", insecure: true},
		"malformed":               {addr: "nonsense", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := server.CheckListenSecurity(tc.addr, tc.tokens, tc.insecure)
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			if tc.addr != "nonsense" {
				assert.ErrorIs(t, err, server.ErrInsecureListen)
			}
		})
	}
}

func TestLoadTokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "tokens")
	require.NoError(t, os.WriteFile(good, []byte("# ops team\nalpha\n\n  beta  \n"), 0o600))
	tokens, err := server.LoadTokens(good)
	require.NoError(t, err)
	assert.Equal(t, []string{"alpha", "beta"}, tokens)

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing\n\n"), 0o600))
	_, err = server.LoadTokens(empty)
	require.Error(t, err, "an empty token file must not disable authentication")

	_, err = server.LoadTokens(filepath.Join(dir, "missing"))
	require.Error(t, err)
}

func TestServe_TLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := servertest.SelfSignedCert(t, dir)
	srv := servertest.Start(t, server.Config{TLSCertFile: cert, TLSKeyFile: key}, nil, nil)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(cert)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.URL + "/status/ping")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.NotNil(t, resp.TLS)

	_, err = server.New(server.Config{TLSCertFile: cert}, servertest.NewStore(), nil, nil)
	require.Error(t, err, "a certificate without a key is a configuration error")
}
