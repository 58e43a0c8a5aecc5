package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
)

func TestCluster_Membership(t *testing.T) {
	srv := start(t, server.Config{NodeID: "n1"})
	members := func() []string {
		r := call(t, "GET", srv.URL+"/api/v1/cluster", "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		var info server.ClusterInfo
		require.NoError(t, json.Unmarshal(r.body, &info))
		assert.Equal(t, "n1", info.Leader)
		assert.Equal(t, "n1", info.NodeID)
		var ids []string
		for _, m := range info.Members {
			ids = append(ids, m.ID)
		}
		return ids
	}
	assert.Equal(t, []string{"n1"}, members())

	tests := []struct {
		name, method, path, body string
		code                     int
		reason                   string
	}{
		{name: "join", method: "POST", path: "/api/v1/cluster/members", body: `{"id":"n2","raftAddr":"127.0.0.1:9093","httpAddr":"http://127.0.0.1:9092"}`, code: 201},
		{name: "join without raftAddr", method: "POST", path: "/api/v1/cluster/members", body: `{"id":"n3"}`, code: 422, reason: "Invalid"},
		{name: "join unknown field", method: "POST", path: "/api/v1/cluster/members", body: `{"id":"n3","raft":"x"}`, code: 400, reason: "BadRequest"},
		{name: "join yaml refused", method: "POST", path: "/api/v1/cluster/members", body: `{"id":"n3"}`, code: 415, reason: "UnsupportedMediaType"},
		{name: "remove missing", method: "DELETE", path: "/api/v1/cluster/members/n9", code: 404, reason: "NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.code == 415 {
				hdr = []string{"Content-Type", "application/yaml"}
			}
			r := call(t, tc.method, srv.URL+tc.path, tc.body, hdr...)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, r.status(t).Reason)
			}
		})
	}
	assert.Equal(t, []string{"n1", "n2"}, members())
	r := call(t, "DELETE", srv.URL+"/api/v1/cluster/members/n2", "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, []string{"n1"}, members())
}
