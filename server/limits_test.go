package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// clientFrom sends requests from a local address of its own (any
// 127.0.0.0/8 address is loopback), so one test can play several clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxConnsPerHost: 1}}
}

// get sends a GET with hc; header pairs follow.
func get(t *testing.T, hc *http.Client, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// watching opens a watch with hc and reads up to its listing's end.
func watching(t *testing.T, hc *http.Client, url string, header ...string) {
	t.Helper()
	resp := get(t, hc, url+"/api/v1/runs?watch=true", header...)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// tooMany checks a 429's Status and Retry-After and returns its message.
func tooMany(t *testing.T, resp *http.Response) string {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	r := reply{code: resp.StatusCode}
	var err error
	r.body, err = readAll(resp)
	require.NoError(t, err)
	st := r.status(t)
	assert.Equal(t, apis.ReasonTooMany, st.Reason)
	require.NotNil(t, st.Details)
	assert.Equal(t, 1, st.Details.RetryAfterSeconds)
	return st.Message
}

func TestLimits_MaxWatches(t *testing.T) {
	srv := start(t, server.Config{MaxWatches: 2, MaxClientWatches: -1})
	a, b := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	watching(t, a, srv.URL)
	watching(t, b, srv.URL)
	msg := tooMany(t, get(t, clientFrom("127.0.0.3"), srv.URL+"/api/v1/runs?watch=true"))
	assert.Equal(t, "too many requests: this server has 2 watches open, its limit (--max-watches): retry after 1s", msg)
	// Other calls go on.
	assert.Equal(t, http.StatusOK, get(t, clientFrom("127.0.0.3"), srv.URL+"/api/v1/runs").StatusCode)
}

func TestLimits_WatchesPerAddress(t *testing.T) {
	srv := start(t, server.Config{MaxClientWatches: 2})
	watching(t, clientFrom("127.0.0.1"), srv.URL)
	watching(t, clientFrom("127.0.0.1"), srv.URL)
	msg := tooMany(t, get(t, clientFrom("127.0.0.1"), srv.URL+"/api/v1/runs?watch=true"))
	assert.Equal(t, "too many requests: this client (127.0.0.1) has 2 watches open, its limit (--max-client-watches): retry after 1s", msg)
	watching(t, clientFrom("127.0.0.2"), srv.URL) // another client
}

// With authentication a client is its token, wherever it connects from.
func TestLimits_WatchesPerToken(t *testing.T) {
	srv := start(t, server.Config{MaxClientWatches: 1, Tokens: []string{"token-a", "token-b"}})
	watching(t, clientFrom("127.0.0.1"), srv.URL, "Authorization", "Bearer token-a")
	msg := tooMany(t, get(t, clientFrom("127.0.0.2"), srv.URL+"/api/v1/runs?watch=true", "Authorization", "Bearer token-a"))
	assert.Contains(t, msg, "this client (bearer token sha256:")
	assert.NotContains(t, msg, "token-a")
	watching(t, clientFrom("127.0.0.1"), srv.URL, "Authorization", "Bearer token-b")
}

// blockingStore holds lists without a limit until released.
type blockingStore struct {
	*servertest.Store
	entered, release chan struct{}
}

func (s blockingStore) ListRuns(ctx context.Context, o server.ListOptions) (*apis.RunList, error) {
	if o.Limit == 0 {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.ListRuns(ctx, o)
}

func TestLimits_UnpaginatedListsPerClient(t *testing.T) {
	store := blockingStore{Store: servertest.NewStore(), entered: make(chan struct{}, 4), release: make(chan struct{})}
	srv, err := server.New(server.Config{MaxClientLists: 1}, store, nil, nil)
	require.NoError(t, err)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(t.Context(), ln) }()
	url := "http://" + ln.Addr().String()

	first := clientFrom("127.0.0.1")
	done := make(chan int)
	go func() {
		resp, err := first.Get(url + "/api/v1/runs")
		if err != nil {
			done <- 0
			return
		}
		_, _ = readAll(resp)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-store.entered // the first list is in flight

	other := clientFrom("127.0.0.1")
	msg := tooMany(t, get(t, other, url+"/api/v1/runs?labelSelector=a%3Db"))
	assert.Contains(t, msg, "lists without limit in flight, its limit (--max-client-lists); page with limit= and continue=")
	tooMany(t, get(t, other, url+"/v1/runs"))
	assert.Equal(t, http.StatusOK, get(t, other, url+"/api/v1/runs?limit=10").StatusCode, "pages are not limited")

	close(store.release)
	require.Equal(t, http.StatusOK, <-done)
	// The same connection: the server reads this request only after the
	// first one's handler returned and gave its slot back.
	resp := get(t, first, url+"/api/v1/runs")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func readAll(resp *http.Response) ([]byte, error) { return io.ReadAll(resp.Body) }
