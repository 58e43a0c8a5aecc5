package sim

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authConfig has two principals and authentication on everywhere.
func authConfig() Config {
	cfg := fastConfig()
	cfg.Credentials = map[string]string{"alice": "s3cret-alice", "bob": "s3cret-bob"}
	cfg.AuthenticateFrameworks = true
	cfg.AuthenticateHTTPReadOnly = true
	cfg.AuthenticateHTTPReadWrite = true
	return cfg
}

// withUser returns base with HTTP Basic credentials in its userinfo, which
// net/http sends as an Authorization header.
func withUser(t *testing.T, base, user, pass string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// assertUnauthorized checks a 401 as libprocess' Basic authenticator
// answers it.
func assertUnauthorized(t *testing.T, resp *http.Response, realm string) {
	t.Helper()
	body := readBody(t, resp)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, body)
	assert.Equal(t, `Basic realm="`+realm+`"`, resp.Header.Get("WWW-Authenticate"))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "401 Unauthorized.", body)
}

func subscribeBody(t *testing.T, media string, principal *string) []byte {
	fi := frameworkInfo("auth")
	fi.Principal = principal
	return marshalCall(t, media, &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: fi}})
}

// TestW1_BasicAuthentication: with --authenticate_http_frameworks a
// SUBSCRIBE without valid credentials is 401 before anything else, a
// FrameworkInfo.principal other than the authenticated one is 400, and
// the right credential subscribes, in both codecs.
func TestW1_BasicAuthentication(t *testing.T) {
	tm := startMaster(t, authConfig())
	alice, bob := "alice", "bob"
	for _, media := range []string{mediaProtobuf, mediaJSON} {
		t.Run(media, func(t *testing.T) {
			send := func(header string, body []byte) *http.Response {
				t.Helper()
				req, err := http.NewRequest(http.MethodPost, tm.url+"/api/v1/scheduler", bytes.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", media)
				req.Header.Set("Accept", media)
				if header != "" {
					req.Header.Set("Authorization", header)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				return resp
			}
			basic := func(user, pass string) string {
				r, _ := http.NewRequest(http.MethodGet, "/", nil)
				r.SetBasicAuth(user, pass)
				return r.Header.Get("Authorization")
			}
			for name, header := range map[string]string{
				"no credentials":    "",
				"wrong secret":      basic("alice", "s3cret-bob"),
				"unknown principal": basic("mallory", "s3cret-alice"),
				"empty secret":      basic("alice", ""),
				"not basic":         "Bearer s3cret-alice",
				"not base64":        "Basic !!!",
			} {
				t.Run(name, func(t *testing.T) {
					assertUnauthorized(t, send(header, subscribeBody(t, media, &alice)), realmScheduler)
				})
			}
			// Authentication comes first, even before the body is read.
			assertUnauthorized(t, send("", []byte("not a call")), realmScheduler)

			resp := send(basic("alice", "s3cret-alice"), subscribeBody(t, media, &bob))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Equal(t, "Failed to validate scheduler::Call: Authenticated principal 'alice' does not match principal 'bob' set in `FrameworkInfo`", readBody(t, resp))

			fi := frameworkInfo("auth")
			fi.Principal = &alice
			s := subscribe(t, withUser(t, tm.url, "alice", "s3cret-alice"), media, fi)
			s.subscribed()

			// Calls of alice's framework with bob's valid credential: 400, as
			// Mesos answers a principal that does not own the framework.
			other := post(t, withUser(t, tm.url, "bob", "s3cret-bob"),
				map[string]string{"Content-Type": media, "Mesos-Stream-Id": s.streamID},
				marshalCall(t, media, &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: s.fwID}}))
			assert.Equal(t, http.StatusBadRequest, other.StatusCode)
			assert.Equal(t, "Authenticated principal 'bob' does not match principal 'alice' set in `FrameworkInfo`", readBody(t, other))
			code, body := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
			assert.Equal(t, http.StatusAccepted, code, body)
		})
	}
}

// An authenticated framework that names no principal gets the
// authenticated one, as Mesos sets it (and /master/state shows it).
func TestAuth_FrameworkWithoutPrincipalGetsTheAuthenticatedOne(t *testing.T) {
	tm := startMaster(t, authConfig())
	s := subscribe(t, withUser(t, tm.url, "bob", "s3cret-bob"), mediaJSON, frameworkInfo("noprincipal"))
	s.subscribed()
	resp, err := http.Get(withUser(t, tm.url, "bob", "s3cret-bob") + "/master/state")
	require.NoError(t, err)
	var st struct {
		Frameworks []struct {
			ID        string `json:"id"`
			Principal string `json:"principal"`
		} `json:"frameworks"`
	}
	require.NoError(t, json.Unmarshal([]byte(readBody(t, resp)), &st))
	require.Len(t, st.Frameworks, 1)
	assert.Equal(t, "bob", st.Frameworks[0].Principal)
	// Re-subscribing as alice with the same framework id changes the
	// principal: refused as Mesos refuses it.
	fi := frameworkInfo("noprincipal")
	fi.ID = &mesos.FrameworkID{Value: s.fwID}
	again := subscribe(t, withUser(t, tm.url, "alice", "s3cret-alice"), mediaJSON, fi)
	e := again.next(5 * time.Second)
	require.Equal(t, scheduler.Event_ERROR, e.Type)
	assert.Equal(t, "Changing framework's principal is not allowed.", e.Error.Message)
}

// The read-only endpoints (master state, the agents' state and files) and
// the read-write fault controls require credentials when their flag is on,
// each with its Mesos realm; /health and /redirect never do; a flag that
// is off leaves its endpoints open.
func TestAuth_HTTPEndpoints(t *testing.T) {
	type check struct {
		method, path string
		realm        string // "" when no credential is needed
	}
	readOnly := []check{
		{http.MethodGet, "/master/state", realmMasterReadOnly},
		{http.MethodGet, "/master/state.json", realmMasterReadOnly},
		{http.MethodGet, "/state", realmAgentReadOnly},
		{http.MethodGet, "/files/read?path=/etc/passwd", realmAgentReadOnly},
		{http.MethodGet, "/files/read.json?path=/etc/passwd", realmAgentReadOnly},
	}
	readWrite := []check{{http.MethodPost, "/sim/v1/agents/gone", realmMasterReadWrite}}
	open := []check{{http.MethodGet, "/health", ""}, {http.MethodGet, "/master/redirect", ""}, {http.MethodGet, "/redirect", ""}}
	tests := map[string]struct {
		ro, rw bool
		checks []check
	}{
		"all on":         {ro: true, rw: true, checks: append(append(append([]check{}, readOnly...), readWrite...), open...)},
		"read-only only": {ro: true, checks: append(append([]check{}, readOnly...), check{http.MethodPost, "/sim/v1/heartbeats", ""})},
		"read-write only": {rw: true, checks: append(append([]check{}, readWrite...),
			check{http.MethodGet, "/master/state", ""}, check{http.MethodGet, "/files/read?path=x", ""})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := authConfig()
			cfg.AuthenticateFrameworks = false
			cfg.AuthenticateHTTPReadOnly, cfg.AuthenticateHTTPReadWrite = tc.ro, tc.rw
			tm := startMaster(t, cfg)
			agent := tm.AgentIDs()[0]
			do := func(base string, c check) *http.Response {
				req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(`{"agent_id":"`+agent+`","on":true}`))
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				return resp
			}
			for _, c := range tc.checks {
				resp := do(tm.url, c)
				if c.realm == "" {
					body := readBody(t, resp)
					assert.NotEqual(t, http.StatusUnauthorized, resp.StatusCode, "%s %s: %s", c.method, c.path, body)
					continue
				}
				assertUnauthorized(t, resp, c.realm)
				assertUnauthorized(t, do(withUser(t, tm.url, "alice", "wrong"), c), c.realm)
			}
			if tc.rw {
				// The agent was not marked gone by the refused calls; with the
				// credential it is.
				assert.Equal(t, []string{agent}, activeAgents(t, tm))
				resp := do(withUser(t, tm.url, "alice", "s3cret-alice"), readWrite[0])
				assert.Equal(t, http.StatusOK, resp.StatusCode, readBody(t, resp))
				assert.Empty(t, activeAgents(t, tm))
			}
			if tc.ro {
				resp := do(withUser(t, tm.url, "bob", "s3cret-bob"), readOnly[0])
				assert.Equal(t, http.StatusOK, resp.StatusCode, readBody(t, resp))
			}
		})
	}
}

// activeAgents lists the agents the master considers active.
func activeAgents(t *testing.T, tm *testMaster) []string {
	t.Helper()
	tm.mu.Lock()
	defer tm.mu.Unlock()
	var out []string
	for _, a := range tm.agentList {
		if a.state == agentActive {
			out = append(out, a.id)
		}
	}
	return out
}

func TestAuth_ConfigNeedsCredentials(t *testing.T) {
	tests := map[string]struct {
		mutate func(*Config)
		err    string
	}{
		"frameworks without credentials": {func(c *Config) { c.AuthenticateFrameworks = true }, "authentication is on but no credentials were given"},
		"readonly without credentials":   {func(c *Config) { c.AuthenticateHTTPReadOnly = true }, "authentication is on but no credentials were given"},
		"colon in principal": {func(c *Config) {
			c.Credentials = map[string]string{"a:b": "x"}
		}, `principal "a:b": must not contain ':' or control characters`},
		"empty secret": {func(c *Config) { c.Credentials = map[string]string{"a": ""} }, `principal "a": empty secret`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := fastConfig()
			tc.mutate(&cfg)
			_, err := New(cfg)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := map[string]struct {
		in   string
		want map[string]string
		err  string
	}{
		"mesos json": {in: `{"credentials":[{"principal":"sherman","secret":"kitesurf"},{"principal":"sprint","secret":"s"}]}`,
			want: map[string]string{"sherman": "kitesurf", "sprint": "s"}},
		"unknown members ignored": {in: `{"credentials":[{"principal":"p","secret":"s","note":1}],"x":2}`, want: map[string]string{"p": "s"}},
		"mesos 1.10 text":         {in: "sherman kitesurf\n\nsprint  s\n", want: map[string]string{"sherman": "kitesurf", "sprint": "s"}},
		"empty":                   {in: " \n", want: map[string]string{}},
		"bad json":                {in: `{"credentials":[`, err: "invalid JSON credentials"},
		"json not a list":         {in: `{"credentials":{"principal":"p"}}`, err: "invalid JSON credentials"},
		"missing principal":       {in: `{"credentials":[{"secret":"s"}]}`, err: "credentials[0]: missing principal"},
		"missing secret":          {in: `{"credentials":[{"principal":"p"}]}`, err: `credentials[0]: principal "p": empty secret`},
		"duplicate":               {in: "p a\np b\n", err: `line 2: principal "p" is listed twice`},
		"three fields":            {in: "p a b\n", err: `line 1: want "principal secret"`},
		"trailing json":           {in: `{"credentials":[]} {}`, err: "data after the object"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseCredentials([]byte(tc.in))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.NotContains(t, err.Error(), "kitesurf", "errors never show a secret")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// Neither the configuration, refused requests nor accepted ones put a
// secret in the log.
func TestAuth_SecretsNeverLogged(t *testing.T) {
	var logs syncBuf
	cfg := authConfig()
	tm := startMaster(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	assertUnauthorized(t, post(t, withUser(t, tm.url, "alice", "guess-one"), map[string]string{"Content-Type": mediaJSON}, subscribeBody(t, mediaJSON, nil)), realmScheduler)
	s := subscribe(t, withUser(t, tm.url, "alice", "s3cret-alice"), mediaJSON, frameworkInfo("quiet"))
	s.subscribed()
	out := logs.String()
	assert.Contains(t, out, "principals=\"[alice bob]\"")
	for _, secret := range []string{"s3cret-alice", "s3cret-bob", "guess-one"} {
		assert.NotContains(t, out, secret)
	}
}

// syncBuf is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FuzzParseCredentials: any file content is parsed or refused without a
// panic, and every credential it yields is one authentication can use.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte(`{"credentials":[{"principal":"p","secret":"s"}]}`))
	f.Add([]byte("p s\nq t\n"))
	f.Add([]byte(`{"credentials":[{"principal":"","secret":"s"},{"principal":"a:b"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // secret files are small; secretfile.Read caps them at 1 MiB
		}
		creds, err := ParseCredentials(data)
		if err != nil {
			return
		}
		for p, s := range creds {
			if err := checkCredential(p, s); err != nil {
				t.Fatalf("accepted an unusable credential: %v", err)
			}
		}
	})
}
