package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseFlags_DefaultsEnvAndPrecedence(t *testing.T) {
	c, err := ParseFlags(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "./sprint-data", c.DataDir)
	assert.Equal(t, "127.0.0.1:9090", c.Listen)
	assert.Equal(t, "127.0.0.1:9091", c.RaftAddr)
	assert.Equal(t, time.Minute, c.GCInterval)
	assert.Equal(t, 168*time.Hour, c.GCMaxAge)
	assert.Equal(t, 2000, c.GCMaxFinished)
	assert.Equal(t, 5*time.Minute, c.StagingTimeout)
	assert.Equal(t, 15*time.Minute, c.UnreachableTimeout)
	assert.Equal(t, uint64(8192), c.RaftSnapshotThreshold)
	assert.Equal(t, 5*time.Second, c.RaftSnapshotInterval)
	assert.Equal(t, uint64(10240), c.RaftTrailingLogs)
	assert.Equal(t, 10000, c.MaxWatches)
	assert.Equal(t, 1000, c.MaxClientWatches)
	assert.Equal(t, 4, c.MaxClientLists)
	assert.Equal(t, 10*time.Second, c.WatchWriteTimeout)
	assert.Equal(t, 10*time.Second, c.HTTPHeaderTimeout)
	assert.Equal(t, 10*time.Second, c.HTTPBodyTimeout)
	assert.Equal(t, int64(32<<10), c.HTTPMinBodyRate)
	assert.Equal(t, time.Minute, c.HTTPWriteTimeout)
	assert.Equal(t, 2*time.Minute, c.HTTPIdleTimeout)

	env := envMap(map[string]string{"SPRINT_DATA_DIR": "/env", "SPRINT_GC_MAX_FINISHED": "7", "SPRINT_INSECURE": "true", "SPRINT_MAX_WATCHES": "50"})
	c, err = ParseFlags([]string{"--data-dir", "/flag"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/flag", c.DataDir, "a flag wins over the environment")
	assert.Equal(t, 7, c.GCMaxFinished)
	assert.True(t, c.Insecure)
	assert.Equal(t, 50, c.MaxWatches)
}

func TestParseFlags_Errors(t *testing.T) {
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"bad env value": {env: map[string]string{"SPRINT_GC_MAX_FINISHED": "abc"},
			want: `SPRINT_GC_MAX_FINISHED="abc": invalid value for --gc-max-finished (beyond this many finished Runs the oldest are deleted): parse error`},
		"log format":       {args: []string{"--log-format", "xml"}, want: `--log-format: must be text or json, not "xml"`},
		"log level":        {args: []string{"--log-level", "loud"}, want: `--log-level: must be debug, info, warn or error, not "loud"`},
		"codec":            {args: []string{"--mesos-codec", "xml"}, want: `--mesos-codec: must be protobuf or json, not "xml"`},
		"peers and join":   {args: []string{"--peers", "a=b=c", "--join", "http://x"}, want: "--peers and --join are exclusive: bootstrap a static cluster or join a running one"},
		"tls half":         {args: []string{"--tls-cert", "c.pem"}, want: "--tls-cert and --tls-key go together"},
		"negative gc":      {args: []string{"--gc-max-finished", "-1"}, want: "--gc-max-finished: must be 0 or more, not -1"},
		"zero gc interval": {args: []string{"--gc-interval", "0s"}, want: "--gc-interval: must be positive, not 0s"},
		"negative dur":     {args: []string{"--staging-timeout", "-1s"}, want: "--staging-timeout: must not be negative"},
		"stray argument":   {args: []string{"run"}, want: `unexpected argument "run"`},
		"relative host path": {args: []string{"--allow-host-paths", "/srv,data"},
			want: `--allow-host-paths: "data" is not an absolute path`},
		"dot-dot host path": {env: map[string]string{"SPRINT_ALLOW_HOST_PATHS": "/srv/../etc"},
			want: `--allow-host-paths: "/srv/../etc" has a ".." element: name the directory itself`},
		"unknown scheme": {args: []string{"--allow-uri-schemes", "https,gopher"},
			want: `--allow-uri-schemes: unknown scheme "gopher": sprint fetches http, https, ftp, ftps, hdfs, s3, s3a, s3n, file`},
		"privileged env not a bool": {env: map[string]string{"SPRINT_ALLOW_PRIVILEGED": "yes"},
			want: `SPRINT_ALLOW_PRIVILEGED="yes": invalid value for --allow-privileged (admit Runs with privileged Docker parameters (privileged, host namespaces, cap-add, devices, security-opt, volume/mount, …) and spec.user root outside a Docker container): parse error`},
		"zero threshold":    {args: []string{"--raft-snapshot-threshold", "0"}, want: "--raft-snapshot-threshold and --raft-trailing-logs: must be at least 1"},
		"short interval":    {args: []string{"--raft-snapshot-interval", "1ms"}, want: "--raft-snapshot-interval: must be at least 5ms, not 1ms"},
		"negative limit":    {args: []string{"--max-client-lists", "-1"}, want: "--max-client-lists: must be 0 (no limit) or more, not -1"},
		"no write timeout":  {args: []string{"--watch-write-timeout", "0s"}, want: "--watch-write-timeout: must be positive, not 0s"},
		"zero http timeout": {args: []string{"--http-body-timeout", "0s"}, want: "--http-body-timeout: must be positive, not 0s"},
		"zero body rate":    {args: []string{"--http-min-body-rate", "0"}, want: "--http-min-body-rate: must be positive, not 0"},
		"relative secret dir": {args: []string{"--notifier-secret-dir", "secrets"},
			want: `--notifier-secret-dir: "secrets" is not an absolute path`},
		"dot-dot secret dir": {env: map[string]string{"SPRINT_NOTIFIER_SECRET_DIR": "/etc/sprint/../.."},
			want: `--notifier-secret-dir: "/etc/sprint/../.." has a ".." element: name the directory itself`},
		"bad deny cidr": {env: map[string]string{"SPRINT_NOTIFIER_DENY_CIDRS": "127.0.0.0/8,localhost"},
			want: `--notifier-deny-cidrs: "localhost" is not a CIDR prefix (like 10.0.0.0/8) or an IP address`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFlags(tc.args, envMap(tc.env), io.Discard)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestParseFlags_AdmissionPolicy(t *testing.T) {
	c, err := ParseFlags(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	p, err := c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Equal(t, apis.DefaultPolicy(), p, "no flags: the default policy")

	c, err = ParseFlags([]string{"--allow-host-paths", "/srv/data/,/opt/ref:ro", "--allow-privileged", "--allow-uri-schemes", "HTTPS,file"}, envMap(nil), io.Discard)
	require.NoError(t, err)
	p, err = c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Equal(t, apis.Policy{
		AllowedHostPaths:  []apis.AllowedHostPath{{PathPrefix: "/srv/data"}, {PathPrefix: "/opt/ref", ReadOnly: true}},
		AllowPrivileged:   true,
		AllowedURISchemes: []string{"https", "file"},
		NotifierDenyCIDRs: apis.DefaultPolicy().NotifierDenyCIDRs,
	}, p)

	env := envMap(map[string]string{
		"SPRINT_ALLOW_HOST_PATHS":  "/scratch",
		"SPRINT_ALLOW_PRIVILEGED":  "true",
		"SPRINT_ALLOW_URI_SCHEMES": "",
	})
	c, err = ParseFlags([]string{"--allow-host-paths", "/flag"}, env, io.Discard)
	require.NoError(t, err)
	p, err = c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Equal(t, []apis.AllowedHostPath{{PathPrefix: "/flag"}}, p.AllowedHostPaths, "a flag wins over the environment")
	assert.True(t, p.AllowPrivileged, "SPRINT_ALLOW_PRIVILEGED")
	assert.Empty(t, p.AllowedURISchemes, "SPRINT_ALLOW_URI_SCHEMES set empty allows no URI")
}

// --notifier-secret-dir is part of the admission policy (none by default);
// --notifier-deny-cidrs defaults to the notify package's list, and "" (as
// the flag or the environment) denies nothing.
func TestParseFlags_Notifiers(t *testing.T) {
	c, err := ParseFlags(nil, envMap(nil), io.Discard)
	require.NoError(t, err)
	p, err := c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Empty(t, p.NotifierSecretDir, "no secret files by default")
	deny, err := c.NotifyDenyCIDRs()
	require.NoError(t, err)
	def, err := apis.ParseNotifierDenyCIDRs(apis.DefaultNotifierDenyCIDRs)
	require.NoError(t, err)
	assert.Equal(t, def, deny)
	assert.Equal(t, def, p.NotifierDenyCIDRs, "admission refuses what delivery would")
	assert.Contains(t, c.NotifierDenyCIDRs, "127.0.0.0/8")
	assert.Contains(t, c.NotifierDenyCIDRs, "169.254.0.0/16")

	c, err = ParseFlags([]string{"--notifier-secret-dir", "/etc/sprint/notify/", "--notifier-deny-cidrs", ""}, envMap(nil), io.Discard)
	require.NoError(t, err)
	p, err = c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Equal(t, "/etc/sprint/notify", p.NotifierSecretDir)
	deny, err = c.NotifyDenyCIDRs()
	require.NoError(t, err)
	assert.NotNil(t, deny)
	assert.Empty(t, deny, "an empty flag denies nothing")
	assert.Empty(t, p.NotifierDenyCIDRs)

	c, err = ParseFlags(nil, envMap(map[string]string{"SPRINT_NOTIFIER_SECRET_DIR": "/srv/n", "SPRINT_NOTIFIER_DENY_CIDRS": "10.0.0.0/8"}), io.Discard)
	require.NoError(t, err)
	p, err = c.AdmissionPolicy()
	require.NoError(t, err)
	assert.Equal(t, "/srv/n", p.NotifierSecretDir)
	deny, err = c.NotifyDenyCIDRs()
	require.NoError(t, err)
	assert.Equal(t, "[10.0.0.0/8]", fmt.Sprint(deny))
}

// The secret directory must exist and must not hold the node's own
// credentials or data.
func TestCheckNotifierSecretDir(t *testing.T) {
	base := t.TempDir()
	secrets := filepath.Join(base, "notify")
	require.NoError(t, os.Mkdir(secrets, 0o700))
	file := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name string
		cfg  Config
		dir  string
		err  string
	}{
		{name: "none", dir: ""},
		{name: "a directory of its own", cfg: Config{DataDir: filepath.Join(base, "data"), RaftTLSKey: filepath.Join(base, "certs/n1.key")}, dir: secrets},
		{name: "missing", dir: filepath.Join(base, "missing"), err: "--notifier-secret-dir: stat " + base + "/missing: no such file or directory"},
		{name: "a file", dir: file, err: "is not a directory"},
		{name: "holds the raft key", cfg: Config{RaftTLSKey: filepath.Join(secrets, "n1.key")}, dir: secrets,
			err: "--notifier-secret-dir " + secrets + " holds --raft-tls-key " + secrets + "/n1.key: any API token holder could have the leader send it"},
		{name: "holds the token file", cfg: Config{TokenFile: filepath.Join(secrets, "sub/tokens")}, dir: secrets, err: "holds --token-file"},
		{name: "is the data dir", cfg: Config{DataDir: secrets}, dir: secrets, err: "holds --data-dir"},
		{name: "is /", cfg: Config{DataDir: filepath.Join(base, "data")}, dir: "/", err: "holds --data-dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.CheckNotifierSecretDir(tc.dir)
			if tc.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

func TestEnvName(t *testing.T) {
	assert.Equal(t, "SPRINT_DATA_DIR", EnvName("data-dir"))
	assert.Equal(t, "SPRINT_TLS_CERT", EnvName("tls-cert"))
}

func TestParseFlags_RaftTLS(t *testing.T) {
	for _, args := range [][]string{
		{"--raft-tls-cert", "c"},
		{"--raft-tls-cert", "c", "--raft-tls-key", "k"},
		{"--raft-tls-ca", "ca"},
	} {
		_, err := ParseFlags(args, envMap(nil), io.Discard)
		require.Error(t, err, args)
		assert.Equal(t, "--raft-tls-cert, --raft-tls-key and --raft-tls-ca go together: give all three or none", err.Error())
	}
	env := envMap(map[string]string{"SPRINT_RAFT_TLS_CERT": "c", "SPRINT_RAFT_TLS_KEY": "k", "SPRINT_RAFT_TLS_CA": "ca", "SPRINT_TLS_CA": "api-ca"})
	c, err := ParseFlags(nil, env, io.Discard)
	require.NoError(t, err)
	assert.True(t, c.RaftTLS())
	assert.Equal(t, []string{"c", "k", "ca", "api-ca"}, []string{c.RaftTLSCert, c.RaftTLSKey, c.RaftTLSCA, c.TLSCA})
}
