package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	m := &Main{}
	require.NoError(t, m.ParseFlags([]string{"--agents", "3", "--executor", "simulated", "--seed", "9", "--heartbeat-interval", "2s", "--log-format", "json"}))
	assert.Equal(t, 3, m.Agents)
	assert.Equal(t, "simulated", m.Executor)
	assert.Equal(t, uint64(9), m.Seed)
	assert.Equal(t, 2*time.Second, m.HeartbeatInterval)
	assert.Equal(t, "127.0.0.1:5050", m.Listen)
	assert.Equal(t, 10*time.Second, m.UpdateRetry, "Mesos' agent default")
	assert.Equal(t, 10*time.Minute, m.UpdateRetryMax)
	require.NoError(t, m.ParseFlags([]string{"--status-update-retry", "1s", "--status-update-retry-max", "5s"}))
	assert.Equal(t, time.Second, m.UpdateRetry)
	assert.Equal(t, 5*time.Second, m.UpdateRetryMax)
	for _, bad := range [][]string{{"--executor", "docker"}, {"--log-format", "xml"}, {"--agents", "-1"}, {"--nope"},
		{"--status-update-retry", "0s"}, {"--status-update-retry", "1m", "--status-update-retry-max", "30s"}} {
		assert.Error(t, (&Main{Stderr: io.Discard}).ParseFlags(bad), "%v", bad)
	}
}

func TestParseFlags_RefusesUnsafeSettings(t *testing.T) {
	tests := map[string]struct {
		args []string
		err  string
	}{
		"any address": {args: []string{"--listen", "0.0.0.0:5050"},
			err: "--listen 0.0.0.0:5050 is not a loopback address: mesos-sim has no authentication and its process executor runs any command a scheduler sends, so anyone who can reach it can run commands as this user; listen on 127.0.0.1, or pass --insecure if that is what you want"},
		"empty host": {args: []string{"--listen", ":5050"},
			err: "--listen :5050 is not a loopback address: mesos-sim has no authentication and its process executor runs any command a scheduler sends, so anyone who can reach it can run commands as this user; listen on 127.0.0.1, or pass --insecure if that is what you want"},
		"not host:port":      {args: []string{"--listen", "5050"}, err: `--listen "5050": address 5050: missing port in address`},
		"zero heartbeat":     {args: []string{"--heartbeat-interval", "0s"}, err: "--heartbeat-interval must be > 0, not 0s"},
		"negative heartbeat": {args: []string{"--heartbeat-interval", "-1s"}, err: "--heartbeat-interval must be > 0, not -1s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.EqualError(t, (&Main{Stderr: io.Discard}).ParseFlags(tc.args), tc.err)
		})
	}
	for _, ok := range [][]string{
		{"--listen", "0.0.0.0:5050", "--insecure"},
		{"--listen", "localhost:5050"},
		{"--listen", "[::1]:5050"},
		{"--listen", "127.0.0.2:5050"},
	} {
		assert.NoError(t, (&Main{Stderr: io.Discard}).ParseFlags(ok), "%v", ok)
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	m := &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--listen", addr, "--agents", "2", "--executor", "process", "--work-dir", t.TempDir()}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var state struct {
		Slaves []struct{ ID string }
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/master/state")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&state) == nil
	}, 5*time.Second, 20*time.Millisecond)
	assert.Len(t, state.Slaves, 2)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("mesos-sim did not shut down")
	}
}
