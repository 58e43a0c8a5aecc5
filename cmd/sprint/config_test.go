package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

	env := envMap(map[string]string{"SPRINT_DATA_DIR": "/env", "SPRINT_GC_MAX_FINISHED": "7", "SPRINT_INSECURE": "true"})
	c, err = ParseFlags([]string{"--data-dir", "/flag"}, env, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "/flag", c.DataDir, "a flag wins over the environment")
	assert.Equal(t, 7, c.GCMaxFinished)
	assert.True(t, c.Insecure)
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
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseFlags(tc.args, envMap(tc.env), io.Discard)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

func TestEnvName(t *testing.T) {
	assert.Equal(t, "SPRINT_DATA_DIR", EnvName("data-dir"))
	assert.Equal(t, "SPRINT_TLS_CERT", EnvName("tls-cert"))
}
