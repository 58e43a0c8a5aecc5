package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func TestLogs_Read(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "job")
	mustCreate(t, srv, "quiet")
	srv.Logs.Append("job", "stdout", "one\ntwo\nthree\n")
	srv.Logs.Append("job", "stderr", "oops\n")
	srv.Logs.End("job", "stdout")
	srv.Logs.End("job", "stderr")

	tests := map[string]struct {
		query  string
		code   int
		body   string
		reason string
	}{
		"stdout":        {query: "/job/log", code: 200, body: "one\ntwo\nthree\n"},
		"stderr":        {query: "/job/log?stream=stderr", code: 200, body: "oops\n"},
		"tail":          {query: "/job/log?tail=2", code: 200, body: "two\nthree\n"},
		"bad stream":    {query: "/job/log?stream=stdin", code: 400, reason: "BadRequest"},
		"bad tail":      {query: "/job/log?tail=x", code: 400, reason: "BadRequest"},
		"missing run":   {query: "/nope/log", code: 404, reason: "NotFound"},
		"no output yet": {query: "/quiet/log", code: 404, reason: "NotFound"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, "GET", srv.URL+"/api/v1/runs"+tc.query, "")
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, r.status(t).Reason)
				return
			}
			assert.Equal(t, tc.body, string(r.body))
			assert.Contains(t, r.header.Get("Content-Type"), "text/plain")
		})
	}
}

func TestLogs_Follow(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "job")
	srv.Logs.Append("job", "stdout", "first\n")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/runs/job/log?follow=true", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	lines := make(chan string, 10)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	recv := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no log line within 5s")
			return ""
		}
	}
	assert.Equal(t, "first", recv())
	srv.Logs.Append("job", "stdout", "second\n")
	assert.Equal(t, "second", recv())
	srv.Logs.End("job", "stdout")
	select {
	case _, ok := <-lines:
		assert.False(t, ok, "the stream ends with the task's output")
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end")
	}
}

func TestLogs_NoSource(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "job")
	s, err := server.New(server.Config{}, srv.Store, nil, nil)
	require.NoError(t, err)
	r := callHandler(t, s.Handler(), "GET", "/api/v1/runs/job/log", "")
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
}

func TestLogs_SourceErrors(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	_, err := store.CreateRun(t.Context(), &apis.Run{Metadata: apis.ObjectMeta{Name: "job"}, Spec: apis.RunSpec{Command: "x", Cpus: 1, Mem: 1}})
	require.NoError(t, err)
	tests := map[string]struct {
		copy func(w io.Writer) error
		code int
		body string
	}{
		"fails before writing": {copy: func(io.Writer) error { return fmt.Errorf("agent gone: %w", server.ErrLogUnavailable) }, code: 404},
		"breaks mid-stream": {copy: func(w io.Writer) error {
			_, _ = io.WriteString(w, "partial\n")
			return errors.New("connection reset")
		}, code: 200, body: "partial\n"},
		"empty":         {copy: func(io.Writer) error { return nil }, code: 200, body: ""},
		"other failure": {copy: func(io.Writer) error { return errors.New("boom") }, code: 500},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := server.LogSourceFunc(func(_ context.Context, _ *apis.Run, opts server.LogOptions, w io.Writer) error {
				assert.Equal(t, "stderr", opts.Stream)
				return tc.copy(w)
			})
			s, err := server.New(server.Config{}, store, src, nil)
			require.NoError(t, err)
			r := callHandler(t, s.Handler(), "GET", "/api/v1/runs/job/log?stream=stderr", "")
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.code == 200 {
				assert.Equal(t, tc.body, string(r.body))
			} else {
				assert.Equal(t, "Status", r.status(t).Kind)
			}
		})
	}
}
