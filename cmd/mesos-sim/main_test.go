package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/mesos/sim"
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
			err: "--listen 0.0.0.0:5050 is not a loopback address: without authentication anyone who can reach it can run commands as this user through its process executor; listen on 127.0.0.1, require credentials (--credentials with --authenticate-http-frameworks, --authenticate-http-readonly and --authenticate-http-readwrite), or pass --insecure if that is what you want"},
		"empty host": {args: []string{"--listen", ":5050"},
			err: "--listen :5050 is not a loopback address: without authentication anyone who can reach it can run commands as this user through its process executor; listen on 127.0.0.1, require credentials (--credentials with --authenticate-http-frameworks, --authenticate-http-readonly and --authenticate-http-readwrite), or pass --insecure if that is what you want"},
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

// credsFile writes a credentials file with mode perm.
func credsFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	require.NoError(t, os.Chmod(p, perm))
	return p
}

func TestParseFlags_Authentication(t *testing.T) {
	good := credsFile(t, `{"credentials":[{"principal":"sprint","secret":"kitesurf"}]}`, 0o600)
	text := credsFile(t, "sprint kitesurf\n", 0o400)
	loose := credsFile(t, `{"credentials":[{"principal":"sprint","secret":"kitesurf"}]}`, 0o644)
	empty := credsFile(t, "\n", 0o600)
	bad := credsFile(t, `{"credentials":[{"secret":"kitesurf"}]}`, 0o600)

	m := &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--credentials", good, "--authenticate-http-frameworks", "--authenticate-http-readonly", "--authenticate-http-readwrite"}))
	assert.Equal(t, map[string]string{"sprint": "kitesurf"}, m.credentials)
	assert.True(t, m.AuthenticateFrameworks && m.AuthenticateReadOnly && m.AuthenticateReadWrite)
	assert.True(t, m.SwitchUser, "--switch-user defaults to true, as Mesos' --switch_user")
	assert.Nil(t, m.ExecutorEnv, "no executor environment by default, as Mesos")

	// Mesos' spellings, file:// paths, its 1.10 text format.
	m = &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--credentials=file://" + text, "--authenticate_http_frameworks", "--authenticate_http_readonly=true",
		"--authenticate_http_readwrite", "--switch_user=false", "--work_dir", "/tmp/x",
		`--executor_environment_variables={"PATH":"/bin:/usr/bin","LANG":"C"}`}))
	assert.Equal(t, map[string]string{"sprint": "kitesurf"}, m.credentials)
	assert.True(t, m.AuthenticateFrameworks && m.AuthenticateReadOnly && m.AuthenticateReadWrite)
	assert.False(t, m.SwitchUser)
	assert.Equal(t, "/tmp/x", m.WorkDir)
	assert.Equal(t, map[string]string{"PATH": "/bin:/usr/bin", "LANG": "C"}, m.ExecutorEnv)
	m = &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--credentials", good, "--authenticate-frameworks"}))
	assert.True(t, m.AuthenticateFrameworks, "--authenticate-frameworks: the v0 name, for HTTP frameworks here")

	envFile := filepath.Join(t.TempDir(), "env.json")
	require.NoError(t, os.WriteFile(envFile, []byte(`{"HOME":"/home/tasks"}`), 0o600))
	m = &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--executor-environment-variables", "file://" + envFile}))
	assert.Equal(t, map[string]string{"HOME": "/home/tasks"}, m.ExecutorEnv)

	tests := map[string]struct {
		args []string
		err  string
	}{
		"auth without credentials": {args: []string{"--authenticate-http-frameworks"},
			err: "--authenticate-http-frameworks, --authenticate-http-readonly and --authenticate-http-readwrite need --credentials: the principals and secrets to accept"},
		"readonly without credentials": {args: []string{"--authenticate_http_readonly"}, err: "need --credentials"},
		"readable by others": {args: []string{"--credentials", loose},
			err: "--credentials: " + loose + ": permissions 0644 are too open (its group or other users may read it); run: chmod 600 " + loose},
		"no credentials in file": {args: []string{"--credentials", empty}, err: "--credentials " + empty + ": no credentials in the file"},
		"bad credentials":        {args: []string{"--credentials", bad}, err: "--credentials " + bad + ": credentials[0]: missing principal"},
		"missing file":           {args: []string{"--credentials", "/nonexistent/creds"}, err: "--credentials: open /nonexistent/creds: no such file or directory"},
		"env not an object":      {args: []string{"--executor-environment-variables", `["PATH"]`}, err: "--executor-environment-variables: want a JSON object"},
		"env not strings": {args: []string{"--executor-environment-variables", `{"N":1}`},
			err: "--executor-environment-variables: `executor_environment_variables` must only contain string values (N is not)"},
		"env bad name": {args: []string{"--executor-environment-variables", `{"A=B":"x"}`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := &Main{Stderr: io.Discard}
			err := m.ParseFlags(tc.args)
			if err == nil {
				// Some settings are only checked when the simulator is built.
				_, err = sim.New(sim.Config{ExecutorEnvironment: m.ExecutorEnv})
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.NotContains(t, err.Error(), "kitesurf")
		})
	}

	// Every endpoint authenticated: a non-loopback address needs no --insecure.
	m = &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--listen", "0.0.0.0:5050", "--credentials", good,
		"--authenticate-http-frameworks", "--authenticate-http-readonly", "--authenticate-http-readwrite"}))
	assert.Error(t, (&Main{Stderr: io.Discard}).ParseFlags([]string{"--listen", "0.0.0.0:5050", "--credentials", good,
		"--authenticate-http-frameworks", "--authenticate-http-readonly"}), "the fault controls stay open")
}

// The binary's flags end to end: with authentication on, /master/state and
// SUBSCRIBE answer 401 without the credential and work with it.
func TestRunWithAuthentication(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	creds := credsFile(t, `{"credentials":[{"principal":"ops","secret":"kitesurf"}]}`, 0o600)
	m := &Main{Stderr: io.Discard}
	require.NoError(t, m.ParseFlags([]string{"--listen", addr, "--executor", "simulated", "--credentials", creds,
		"--authenticate_http_frameworks", "--authenticate_http_readonly", "--authenticate_http_readwrite"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	get := func(user, pass string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/master/state", nil)
		require.NoError(t, err)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Eventually(t, func() bool { return get("", "") == http.StatusUnauthorized }, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, get("ops", "wrong"))
	assert.Equal(t, http.StatusOK, get("ops", "kitesurf"))
	resp, err := http.Post("http://"+addr+"/api/v1/scheduler", "application/json", strings.NewReader(`{"type":"SUBSCRIBE"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Basic realm="mesos-master-scheduler"`, resp.Header.Get("WWW-Authenticate"))
}

// The agents advertise the host the master listens on (or --hostname), not
// 127.0.0.1: a scheduler on another host reads sandboxes, with its
// credential, at the address /master/state gives, and 127.0.0.1 would be
// its own loopback.
func TestRun_AgentsAdvertiseTheListenHost(t *testing.T) {
	tests := map[string]struct {
		listenHost string
		args       []string
		want       string
	}{
		"listen host":   {listenHost: "127.0.0.2", want: "127.0.0.2"},
		"--hostname":    {listenHost: "127.0.0.2", args: []string{"--hostname", "agents.example.com"}, want: "agents.example.com"},
		"IPv6 loopback": {listenHost: "::1", want: "::1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", net.JoinHostPort(tc.listenHost, "0"))
			if err != nil {
				t.Skipf("cannot listen on %s: %v", tc.listenHost, err)
			}
			addr := l.Addr().String()
			require.NoError(t, l.Close())
			_, port, err := net.SplitHostPort(addr)
			require.NoError(t, err)

			m := &Main{Stderr: io.Discard}
			require.NoError(t, m.ParseFlags(append([]string{"--listen", addr, "--agents", "2", "--executor", "simulated"}, tc.args...)))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() {
				cancel()
				require.NoError(t, <-done)
			}()
			var state struct {
				Hostname string
				Slaves   []struct{ Hostname, PID string }
			}
			require.Eventually(t, func() bool {
				resp, err := http.Get("http://" + addr + "/master/state")
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				return json.NewDecoder(resp.Body).Decode(&state) == nil
			}, 5*time.Second, 20*time.Millisecond)
			assert.Equal(t, tc.want, state.Hostname, "the master")
			require.Len(t, state.Slaves, 2)
			for i, s := range state.Slaves {
				assert.Equal(t, tc.want, s.Hostname, "agent %d", i)
				assert.Equal(t, fmt.Sprintf("slave(%d)@%s", i+1, net.JoinHostPort(tc.want, port)), s.PID, "agent %d", i)
			}
		})
	}
}

func TestAdvertisedHost(t *testing.T) {
	for _, tc := range []struct{ listen, hostname, want string }{
		{"127.0.0.1:5050", "", "127.0.0.1"},
		{"198.51.100.5:5050", "", "198.51.100.5"},
		{"[2001:db8::5]:5050", "", "2001:db8::5"},
		{"mesos-1.example.com:5050", "", "mesos-1.example.com"},
		{"0.0.0.0:5050", "", ""},
		{"[::]:5050", "", ""},
		{":5050", "", ""},
		{"0.0.0.0:5050", "198.51.100.5", "198.51.100.5"},
	} {
		assert.Equal(t, tc.want, advertisedHost(tc.listen, tc.hostname), "--listen %s --hostname %q", tc.listen, tc.hostname)
	}
}
