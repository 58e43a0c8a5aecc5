package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

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
	policy := apis.DefaultPolicy()
	policy.NotifierSecretDir = "/etc/sprint" // --notifier-secret-dir, which secretFile needs
	e, _ := raftEnvWith(t, server.Config{Policy: &policy})
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
