package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
	"github.com/sprint-project/sprint/server"
)

// raftEnv serves the API over a real one-node raftstore, which (unlike
// servertest's fake) stores Notifiers.
func raftEnv(t *testing.T) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	cfg := raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", HTTPAddr: url, DataDir: t.TempDir()}
	raftstoretest.SoloConfig(&cfg)
	logger := raftstoretest.TestLogger(t)
	store, err := raftstore.New(cfg, logger)
	require.NoError(t, err)
	require.NoError(t, store.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	raftstoretest.WaitLeader(t, store, 20*time.Second)
	srv, err := server.New(server.Config{NodeID: "n1"}, wiring.NewServerStore(store), nil, logger)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	return &env{url: url}
}

const pipelineYAML = `apiVersion: sprint/v1
kind: Run
metadata:
  name: extract
  labels: {pipeline: etl}
spec: {command: "true", cpus: 0.1, mem: 16}
---
apiVersion: sprint/v1
kind: Notifier
metadata:
  name: etl-failures
spec:
  selector: pipeline=etl
  on: [Failed, DependencyFailed]
  webhook:
    url: https://hooks.example.com/sprint?token=x
    format: slack
    secretFile: /etc/sprint/hook.secret
`

func TestNotifiers_CLI(t *testing.T) {
	e := raftEnv(t)
	dir := t.TempDir()
	f := writeFile(t, dir, "pipeline.yaml", pipelineYAML)

	r := e.run(t, "", "apply", "-f", f)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "run.sprint/extract created\nnotifier.sprint/etl-failures created\n", r.stdout)
	r = e.run(t, "", "apply", "-f", f)
	assert.Contains(t, r.stdout, "notifier.sprint/etl-failures unchanged")

	r = e.run(t, "", "get", "notifiers")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, []string{"NAME", "TARGET", "ON", "DELIVERED", "FAILED", "PENDING", "LAST", "ERROR"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"etl-failures", "webhook/slack", "hooks.example.com", "Failed,DependencyFailed", "0", "0", "0", "<none>"}, strings.Fields(lines[1]),
		"the URL's path and query (which may hold a token) are not shown")

	r = e.run(t, "", "get", "notifier", "etl-failures", "-o", "yaml")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "kind: Notifier")
	assert.Contains(t, r.stdout, "secretFile: /etc/sprint/hook.secret")

	r = e.run(t, "", "describe", "notifier", "etl-failures")
	require.Equal(t, 0, r.code, r.stderr)
	for _, want := range []string{"  Selector:           pipeline=etl\n", "  Format:             slack\n", "  Pending:            0\n", "  Last Error:         <none>\n"} {
		assert.Contains(t, r.stdout, want)
	}

	bad := strings.Replace(pipelineYAML, "format: slack", "format: xml", 1)
	r = e.run(t, bad, "apply", "-f", "-")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "error: stdin: document 2: ")
	assert.Contains(t, r.stderr, "spec.webhook.format")

	r = e.run(t, "", "get", "notifiers", "missing")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "error: Notifier \"missing\" not found\n", r.stderr)

	r = e.run(t, "", "delete", "-f", f)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "notifier.sprint/etl-failures deleted")
	r = e.run(t, "", "get", "notifiers")
	assert.Equal(t, "No notifiers found.\n", r.stderr)
}
