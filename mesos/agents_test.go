package mesos_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/mesos/sim"
)

// The simulator serves only /master/state: Agents falls back to it.
func TestAgents_FromTheSimulatorsState(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	master, err := sim.New(sim.Config{
		WorkDir: t.TempDir(), Seed: 1,
		Agents: []sim.AgentConfig{
			{Hostname: "agent-b", Resources: "cpus:2;mem:1024;disk:1000;ports:[31000-31100]", Executor: sim.ExecutorSimulated},
			{Hostname: "agent-a", Resources: "cpus:4;mem:2048;disk:500", Executor: sim.ExecutorSimulated},
		},
	})
	require.NoError(t, err)
	require.NoError(t, master.Start(ctx))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- master.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served; _ = master.Close() })

	agents, err := mesos.NewFiles(mesos.FilesConfig{}).Agents(ctx, []string{"http://" + ln.Addr().String()})
	require.NoError(t, err)
	require.Len(t, agents, 2)
	assert.Equal(t, "agent-a", agents[0].Hostname, "sorted by host name")
	assert.Equal(t, 4.0, agents[0].Total.CPUs)
	assert.Equal(t, 2048.0, agents[0].Free.Mem)
	assert.Equal(t, "[31000-31100]", agents[1].Total.Ports)
	assert.True(t, agents[1].Active)
	assert.NotEmpty(t, agents[1].ID)
}

// A real master answers /master/slaves, the small document: Agents reads
// it, never the large /master/state, with the framework's credentials.
func TestAgents_FromARealMastersSlaves(t *testing.T) {
	var stateCalls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /master/slaves", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "sprint" || p != "pw" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"slaves":[{"id":"S1","hostname":"h1","active":true,
			"resources":{"cpus":4,"mem":8192,"disk":100,"gpus":0,"ports":"[31000-32000]"},
			"used_resources":{"cpus":3.9,"mem":8192.5,"disk":0,"gpus":0,"ports":"[31000-31000]"},
			"offered_resources":{"cpus":0.1,"mem":0,"disk":0,"gpus":0},
			"attributes":{"rack":"r1","zone":7}}],"recovered_slaves":[]}`))
	})
	mux.HandleFunc("GET /master/state", func(w http.ResponseWriter, r *http.Request) {
		stateCalls.Add(1)
		http.Error(w, "too big to ask", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	agents, err := mesos.NewFiles(mesos.FilesConfig{Principal: "sprint", Secret: "pw"}).Agents(t.Context(), []string{srv.URL + "/api/v1/scheduler"})
	require.NoError(t, err)
	require.Len(t, agents, 1)
	a := agents[0]
	assert.Equal(t, 0.1, a.Free.CPUs, "no float noise")
	assert.Equal(t, 0.0, a.Free.Mem, "never negative")
	assert.Equal(t, 0.1, a.Offered.CPUs)
	assert.Equal(t, map[string]string{"rack": "r1", "zone": "7"}, a.Attributes)
	assert.Zero(t, stateCalls.Load())
}

func TestAgents_TriesEveryMaster(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "standby", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/master/slaves" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"slaves":[{"id":"S1","hostname":"h1","active":true,"resources":{"cpus":1}}]}`))
	}))
	t.Cleanup(up.Close)
	files := mesos.NewFiles(mesos.FilesConfig{})

	agents, err := files.Agents(t.Context(), []string{down.URL, up.URL})
	require.NoError(t, err)
	require.Len(t, agents, 1)

	_, err = files.Agents(t.Context(), []string{down.URL, "http://" + closedPort(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503")

	_, err = files.Agents(t.Context(), nil)
	assert.ErrorIs(t, err, mesos.ErrInvalidConfig)
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
