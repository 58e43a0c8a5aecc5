package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flushRecorder counts flushes. httptest.ResponseRecorder only says
// whether there was one; the leader's answer must come back whole either
// way, and a stream must be flushed as it comes.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
	onFlush func()
}

func (r *flushRecorder) Flush() {
	r.flushes++
	r.ResponseRecorder.Flush()
	if r.onFlush != nil {
		r.onFlush()
	}
}

// TestForwardProxy_FlushesStreamsOnly: the leader's answer to a forwarded
// write (known length) is relayed in one piece at its end, not flushed
// header first and then body; an answer of unknown length (a watch, a
// followed log) is still flushed as it comes.
func TestForwardProxy_FlushesStreamsOnly(t *testing.T) {
	t.Parallel()
	// The leader sends a watch's second event only once the proxy has
	// flushed what came before it (or after 5 s, which fails the count):
	// two events read from the socket at once would be one write.
	relayed := make(chan struct{}, 16)
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") == "true" {
			for i, ev := range []string{`{"type":"ADDED"}` + "\n", `{"type":"MODIFIED"}` + "\n"} {
				if i > 0 {
					select {
					case <-relayed:
					case <-time.After(5 * time.Second):
					}
				}
				_, _ = io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", "11")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"a":"run"}`)
	}))
	defer leader.Close()
	target, err := url.Parse(leader.URL)
	require.NoError(t, err)
	s := &Server{cfg: Config{NodeID: "n2", ForwardTransport: NewForwardTransport()}}
	proxy := s.newForwardProxy()

	tests := map[string]struct {
		uri, body  string
		code       int
		streamed   bool
		wantLength string
	}{
		"a write's answer": {uri: "/api/v1/runs/a", code: http.StatusCreated, body: `{"a":"run"}`, wantLength: "11"},
		"a watch":          {uri: "/api/v1/runs?watch=true", code: http.StatusOK, body: `{"type":"ADDED"}` + "\n" + `{"type":"MODIFIED"}` + "\n", streamed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, tc.uri, strings.NewReader("{}"))
			req = req.WithContext(context.WithValue(req.Context(), forwardKey{}, &forwardState{target: target, body: []byte("{}")}))
			rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder(), onFlush: func() {
				select {
				case relayed <- struct{}{}:
				default:
				}
			}}
			proxy.ServeHTTP(rec, req)
			assert.Equal(t, tc.code, rec.Code)
			assert.Equal(t, tc.body, rec.Body.String())
			assert.Equal(t, tc.wantLength, rec.Header().Get("Content-Length"))
			if tc.streamed {
				assert.GreaterOrEqual(t, rec.flushes, 2, "every event is flushed as it comes")
			} else {
				assert.Zero(t, rec.flushes, "the answer is written once, at its end")
			}
		})
	}
}

// TestReadAll: a body is read whole whatever length was announced, up to
// the limit (the bytes beyond it are left unread); an announced length
// sizes the buffer (up to maxPresizedBody), so a body of the announced
// size takes one allocation.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("x", 1200)
	const noLimit = 1 << 30
	for name, tc := range map[string]struct {
		body      string
		announced int64
		limit     int64
		want      string
	}{
		"as announced":            {body: body, announced: 1200, limit: noLimit, want: body},
		"unknown length":          {body: body, announced: -1, limit: noLimit, want: body},
		"announced too little":    {body: body, announced: 10, limit: noLimit, want: body},
		"announced far too much":  {body: body, announced: 1 << 40, limit: noLimit, want: body},
		"empty":                   {body: "", announced: 0, limit: noLimit, want: ""},
		"beyond the presized cap": {body: strings.Repeat("y", maxPresizedBody+100), announced: maxPresizedBody + 100, limit: noLimit, want: strings.Repeat("y", maxPresizedBody+100)},
		"exactly the limit":       {body: body, announced: 1200, limit: 1200, want: body},
		"beyond the limit":        {body: body, announced: 1200, limit: 1001, want: body[:1001]},
		"beyond it, unannounced":  {body: body, announced: -1, limit: 700, want: body[:700]},
		"beyond it, understated":  {body: body, announced: 10, limit: 11, want: body[:11]},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := readAll(iotest.OneByteReader(strings.NewReader(tc.body)), tc.announced, tc.limit)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			got, err = readAll(strings.NewReader(tc.body), tc.announced, tc.limit)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
		})
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := readAll(strings.NewReader(body), int64(len(body)), noLimit); err != nil {
			t.Fatal(err)
		}
	})
	assert.Equal(t, 2.0, allocs, "the buffer and the strings.Reader's copy")
}

// TestStreams: which requests stream (and lift their write deadline, also
// when a follower relays them).
func TestStreams(t *testing.T) {
	for uri, want := range map[string]bool{
		"/api/v1/runs/a":                     false,
		"/api/v1/runs?watch=true":            true,
		"/api/v1/runs?watch=1":               true,
		"/api/v1/runs?watch=false":           false,
		"/api/v1/runs?watch=":                false,
		"/api/v1/runs?watch=bogus":           false,
		"/api/v1/runs/a/log?follow=true":     true,
		"/api/v1/runs/a/log?stream=stderr":   false,
		"/api/v1/runs?limit=5&watch=T":       true,
		"/api/v1/runs/a?dryRun=true":         false,
		"/api/v1/runs/a/log?follow=0&x=true": false,
	} {
		assert.Equal(t, want, streams(httptest.NewRequest(http.MethodGet, uri, nil)), uri)
	}
}
