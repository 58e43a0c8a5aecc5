package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// raftEnv is a sprintctl environment over a real one-node store, which
// serves Schedules; its clock (the store's and the server's) is fixed at
// now minus 5 minutes, as newEnv's.
func raftEnv(t *testing.T) (*env, *servertest.RaftServer) {
	t.Helper()
	return raftEnvWith(t, server.Config{})
}

// raftEnvWith is raftEnv with the server configured by cfg.
func raftEnvWith(t *testing.T, cfg server.Config) (*env, *servertest.RaftServer) {
	t.Helper()
	cfg.Now = func() time.Time { return now.Add(-5 * time.Minute) }
	srv := servertest.StartRaft(t, cfg)
	return &env{srv: &servertest.Server{URL: srv.URL}}, srv
}

const mixedYAML = `apiVersion: sprint/v1
kind: Run
metadata: {name: once}
spec: {command: "true", cpus: 0.1, mem: 16}
---
apiVersion: sprint/v1
kind: Schedule
metadata: {name: nightly-etl, labels: {team: data}}
spec:
  schedule: "30 2 * * *"
  timeZone: Europe/Berlin
  concurrencyPolicy: Forbid
  runTemplate:
    metadata: {labels: {team: data}}
    spec: {command: "etl --day $(date +%F)", cpus: 1, mem: 512}
---
apiVersion: sprint/v1
kind: Schedule
metadata: {name: etl-batch}
spec:
  interval: 60s
  parallelism: 2
  runTemplate: {spec: {command: "mesos-http-scheduler-task", cpus: 0.5, mem: 128}}
`

func TestSchedules_CLI(t *testing.T) {
	e, srv := raftEnv(t)
	ctx := t.Context()

	r := e.run(t, mixedYAML, "apply", "-f", "-")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Equal(t, "run.sprint/once created\nschedule.sprint/nightly-etl created\nschedule.sprint/etl-batch created\n", r.stdout)
	r = e.run(t, mixedYAML, "apply", "-f", "-")
	assert.Contains(t, r.stdout, "schedule.sprint/nightly-etl unchanged\n")
	r = e.run(t, strings.Replace(mixedYAML, "Europe/Berlin", "Mars/Olympus", 1), "apply", "-f", "-")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "error: stdin: document 2: ")
	assert.Contains(t, r.stderr, "spec.timeZone")

	// The controller's status, with fixed times.
	sc, err := srv.Store.GetSchedule(ctx, "nightly-etl")
	require.NoError(t, err)
	last := now.Add(-90 * time.Minute)
	next := now.Add(14*time.Hour + 30*time.Minute)
	fired := apis.RunFromTemplate(sc, apis.FiredRunName("nightly-etl", last, 0))
	require.NoError(t, srv.Store.FireSchedule(ctx, apis.Firing{Schedule: apis.RunRef{Name: "nightly-etl", UID: sc.Metadata.UID},
		ScheduleTime: last, Runs: []apis.Run{fired},
		Events: []apis.RunEvent{{Time: last, Type: apis.EventNormal, Reason: apis.ReasonFired, Message: "fired 1 run"}}}))
	require.NoError(t, srv.Store.UpdateScheduleStatus(ctx, apis.RunRef{Name: "nightly-etl"},
		apis.ScheduleStatus{NextScheduleTime: &next, Active: []string{fired.Metadata.Name}}))

	r = e.run(t, "", "get", "schedules")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Equal(t, `NAME          SCHEDULE                         SUSPEND   ACTIVE   LAST      NEXT
etl-batch     every 60s after the last batch   false     0        <none>    <none>
nightly-etl   30 2 * * *                       false     1        90m ago   in 14h
`, r.stdout)
	r = e.run(t, "", "get", "schedule", "nightly-etl", "-o", "yaml")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Contains(t, r.stdout, "kind: Schedule\n")
	assert.Contains(t, r.stdout, "timeZone: Europe/Berlin\n")
	r = e.run(t, "", "get", "schedules", "--tree")
	assert.Equal(t, "error: --tree shows Run dependencies: use it with get runs\n", r.stderr)
	r = e.run(t, "", "get", "schedule", "nope")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "error: Schedule \"nope\" not found\n", r.stderr)

	r = e.run(t, "", "get", "runs", "-l", "sprint/schedule=nightly-etl")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Contains(t, r.stdout, fired.Metadata.Name)
	assert.NotContains(t, r.stdout, "once")

	r = e.run(t, "", "describe", "schedule", "nightly-etl")
	require.Equal(t, 0, r.code, r.transcript())
	for _, want := range []string{
		"  Schedule:           30 2 * * *\n", "  Time Zone:          Europe/Berlin\n", "  Concurrency Policy: Forbid\n",
		"  History Limits:     3 succeeded, 1 failed\n",
		"  Active:             " + fired.Metadata.Name + "\n", "Runs:\n", "  " + fired.Metadata.Name + "   Pending",
		"  Normal   Fired    90m   fired 1 run\n", "    Command:          etl --day $(date +%F)\n",
		"  Next Schedule:      2026-11-22T02:30:00Z (in 14h)\n",
	} {
		assert.Contains(t, r.stdout, want)
	}
	r = e.run(t, "", "describe", "run", fired.Metadata.Name)
	require.Equal(t, 0, r.code, r.transcript())
	assert.Contains(t, r.stdout, "Controlled By:        Schedule/nightly-etl\n")

	r = e.run(t, "", "suspend", "schedule", "nightly-etl")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Equal(t, "schedule.sprint/nightly-etl suspended\n", r.stdout)
	r = e.run(t, "", "get", "schedules", "nightly-etl")
	assert.Contains(t, r.stdout, "nightly-etl   30 2 * * *   true      1        90m ago   <none>\n")
	r = e.run(t, "", "resume", "schedule", "nightly-etl")
	assert.Equal(t, "schedule.sprint/nightly-etl resumed\n", r.stdout)
	r = e.run(t, "", "suspend", "run", "x")
	assert.Equal(t, 1, r.code)

	r = e.run(t, "", "create", "run", "--from", "schedule/etl-batch")
	require.Equal(t, 0, r.code, r.transcript())
	id := apis.NewManualFiringID(now.Add(-5 * time.Minute))[:7] // the time part; 4 random characters follow
	m := regexp.MustCompile(`^run\.sprint/(etl-batch-m` + id + `[a-z0-9]{4})-0 created\nrun\.sprint/etl-batch-m` + id + `[a-z0-9]{4}-1 created\n$`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, "manual Run names: %q", r.stdout)
	r = e.run(t, "", "create", "run", "--from", "run/etl-batch")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "want schedule/NAME")

	r = e.run(t, "", "delete", "schedule", "etl-batch", "--cascade=orphan")
	require.Equal(t, 0, r.code, r.transcript())
	assert.Equal(t, "schedule.sprint/etl-batch deleted\n", r.stdout)
	_, err = srv.Store.GetRun(ctx, m[1]+"-0")
	assert.NoError(t, err, "orphaned")
	r = e.run(t, "", "delete", "schedule", "nightly-etl", "--cascade=sideways")
	assert.Equal(t, 1, r.code)
	r = e.run(t, "", "delete", "schedule", "nightly-etl")
	require.Equal(t, 0, r.code, r.transcript())
	_, err = srv.Store.GetRun(ctx, fired.Metadata.Name)
	assert.ErrorIs(t, err, apis.ErrNotFound, "cascade")
	r = e.run(t, "", "get", "schedules")
	assert.Equal(t, "No schedules found.\n", r.stderr)
}
