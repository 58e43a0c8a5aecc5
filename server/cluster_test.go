package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

func TestCluster_Membership(t *testing.T) {
	t.Parallel()
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

// A join with an address no peer can dial would add a voter that never
// votes: the quorum grows and may never be reached again.
func TestCluster_JoinValidatesBody(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{NodeID: "n1"})
	long := strings.Repeat("n", 129)
	tests := map[string]struct {
		body    string
		message string
		causes  []apis.StatusCause
	}{
		"raftAddr nonsense": {
			body:    `{"id":"x","raftAddr":"nonsense"}`,
			message: `Member "x" is invalid: raftAddr: must be host:port, e.g. 10.0.0.7:9091`,
			causes:  []apis.StatusCause{{Field: "raftAddr", Message: "must be host:port, e.g. 10.0.0.7:9091"}},
		},
		"raftAddr without host": {
			body:    `{"id":"x","raftAddr":":9091"}`,
			message: `Member "x" is invalid: raftAddr: must be host:port, e.g. 10.0.0.7:9091`,
			causes:  []apis.StatusCause{{Field: "raftAddr", Message: "must be host:port, e.g. 10.0.0.7:9091"}},
		},
		"raftAddr port not a number": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:raft"}`,
			message: `Member "x" is invalid: raftAddr: port "raft" must be a number from 1 to 65535`,
			causes:  []apis.StatusCause{{Field: "raftAddr", Message: `port "raft" must be a number from 1 to 65535`}},
		},
		"raftAddr port 0": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:0"}`,
			message: `Member "x" is invalid: raftAddr: port "0" must be a number from 1 to 65535`,
			causes:  []apis.StatusCause{{Field: "raftAddr", Message: `port "0" must be a number from 1 to 65535`}},
		},
		"raftAddr port too big": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:65536"}`,
			message: `Member "x" is invalid: raftAddr: port "65536" must be a number from 1 to 65535`,
			causes:  []apis.StatusCause{{Field: "raftAddr", Message: `port "65536" must be a number from 1 to 65535`}},
		},
		"everything missing": {
			body:    `{}`,
			message: `Member is invalid: id: required value; raftAddr: required value`,
			causes:  []apis.StatusCause{{Field: "id", Message: "required value"}, {Field: "raftAddr", Message: "required value"}},
		},
		"id with a space": {
			body:    `{"id":"n 4","raftAddr":"10.0.0.7:9091"}`,
			message: `Member is invalid: id: must be printable characters without spaces, got "n 4"`,
			causes:  []apis.StatusCause{{Field: "id", Message: `must be printable characters without spaces, got "n 4"`}},
		},
		"id with a control character": {
			body:    `{"id":"n\u00074","raftAddr":"10.0.0.7:9091"}`,
			message: `Member is invalid: id: must be printable characters without spaces, got "n\a4"`,
			causes:  []apis.StatusCause{{Field: "id", Message: `must be printable characters without spaces, got "n\a4"`}},
		},
		"id too long": {
			body:    `{"id":"` + long + `","raftAddr":"10.0.0.7:9091"}`,
			message: `Member is invalid: id: must be no more than 128 characters`,
			causes:  []apis.StatusCause{{Field: "id", Message: "must be no more than 128 characters"}},
		},
		"httpAddr not a URL": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:9091","httpAddr":"10.0.0.7:9090"}`,
			message: `Member "x" is invalid: httpAddr: must be an http or https URL with a host, e.g. http://10.0.0.7:9090`,
			causes:  []apis.StatusCause{{Field: "httpAddr", Message: "must be an http or https URL with a host, e.g. http://10.0.0.7:9090"}},
		},
		"httpAddr without host": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:9091","httpAddr":"http://"}`,
			message: `Member "x" is invalid: httpAddr: must be an http or https URL with a host, e.g. http://10.0.0.7:9090`,
			causes:  []apis.StatusCause{{Field: "httpAddr", Message: "must be an http or https URL with a host, e.g. http://10.0.0.7:9090"}},
		},
		"httpAddr bad port": {
			body:    `{"id":"x","raftAddr":"10.0.0.7:9091","httpAddr":"http://10.0.0.7:99999"}`,
			message: `Member "x" is invalid: httpAddr: port "99999" must be a number from 1 to 65535`,
			causes:  []apis.StatusCause{{Field: "httpAddr", Message: `port "99999" must be a number from 1 to 65535`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", srv.URL+"/api/v1/cluster/members", tc.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.code, "body: %s", r.body)
			st := r.status(t)
			assert.Equal(t, "Invalid", st.Reason)
			assert.Equal(t, tc.message, st.Message)
			require.NotNil(t, st.Details)
			assert.Equal(t, tc.causes, st.Details.Causes)
		})
	}
	r := call(t, "GET", srv.URL+"/api/v1/cluster", "")
	var info server.ClusterInfo
	require.NoError(t, json.Unmarshal(r.body, &info))
	assert.Len(t, info.Members, 1, "no refused join reached the store")

	for _, ok := range []string{
		`{"id":"n2","raftAddr":"10.0.0.7:9091"}`,
		`{"id":"n3","raftAddr":"[::1]:9091","httpAddr":"https://node3.example:9090"}`,
		`{"id":"n4","raftAddr":"node4.example:1"}`,
	} {
		r := call(t, "POST", srv.URL+"/api/v1/cluster/members", ok)
		assert.Equal(t, http.StatusCreated, r.code, "%s: %s", ok, r.body)
	}
}
