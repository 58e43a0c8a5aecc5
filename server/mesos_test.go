package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

// mesosSource is a fixed MesosSource.
type mesosSource struct {
	state *apis.MesosState
	err   error
}

func (m mesosSource) MesosState(context.Context) (*apis.MesosState, error) { return m.state, m.err }

func TestMesosState(t *testing.T) {
	t.Run("reported", func(t *testing.T) {
		srv := start(t, server.Config{NodeID: "n1", Mesos: mesosSource{state: &apis.MesosState{
			Connected: true, FrameworkID: "fw-1", FrameworkName: "sprint", Role: "*",
			Agents: []apis.MesosAgent{{ID: "a1", Hostname: "h1", Active: true,
				Total: apis.MesosResources{CPUs: 4, Mem: 8192}, Free: apis.MesosResources{CPUs: 3.5, Mem: 8000}}},
		}}})
		r := call(t, http.MethodGet, srv.URL+"/api/v1/cluster/mesos", "")
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var got apis.MesosState
		require.NoError(t, json.Unmarshal(r.body, &got))
		assert.Equal(t, "n1", got.NodeID, "the answering node fills in its id")
		assert.True(t, got.Connected)
		assert.Equal(t, "fw-1", got.FrameworkID)
		assert.Equal(t, []string{}, got.Masters)
		require.Len(t, got.Agents, 1)
		assert.Equal(t, 3.5, got.Agents[0].Free.CPUs)
	})
	t.Run("agents unknown", func(t *testing.T) {
		srv := start(t, server.Config{Mesos: mesosSource{state: &apis.MesosState{AgentsError: "master unreachable"}}})
		r := call(t, http.MethodGet, srv.URL+"/api/v1/cluster/mesos", "")
		require.Equal(t, http.StatusOK, r.code)
		assert.JSONEq(t, `[]`, string(mustField(t, r.body, "agents")), "agents is a list, never null")
		assert.Contains(t, string(r.body), "master unreachable")
	})
	t.Run("no source", func(t *testing.T) {
		srv := start(t, server.Config{})
		r := call(t, http.MethodGet, srv.URL+"/api/v1/cluster/mesos", "")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		assert.Equal(t, "ServiceUnavailable", r.status(t).Reason)
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := start(t, server.Config{Mesos: mesosSource{err: context.DeadlineExceeded}})
		r := call(t, http.MethodGet, srv.URL+"/api/v1/cluster/mesos", "")
		assert.Equal(t, http.StatusGatewayTimeout, r.code)
	})
	t.Run("follower forwards to the leader", func(t *testing.T) {
		srv := start(t, server.Config{ForwardTimeout: -1, Mesos: mesosSource{err: errors.New("must not be asked")}})
		srv.Store.SetLeader(false, "", "")
		r := call(t, http.MethodGet, srv.URL+"/api/v1/cluster/mesos", "")
		assert.Equal(t, http.StatusServiceUnavailable, r.code, "no leader known: %s", r.body)
	})
}

func mustField(t *testing.T, body []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	return m[name]
}
