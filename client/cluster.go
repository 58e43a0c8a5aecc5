package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sprint-project/sprint/apis"
)

// Cluster is the Raft cluster as one node sees it (GET /api/v1/cluster).
type Cluster = apis.Cluster

// Member is one server of the cluster.
type Member = apis.Member

// Cluster reads the cluster's members, leader and indexes.
func (c *Client) Cluster(ctx context.Context) (*Cluster, error) {
	var out Cluster
	if _, _, err := c.doJSON(ctx, request{method: http.MethodGet, path: "/api/v1/cluster"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Policy reads the admission policy in force: the leader's, which the
// server forwards the request to. With local, the answering node's own.
func (c *Client) Policy(ctx context.Context, local bool) (*apis.AdmissionPolicy, error) {
	r := request{method: http.MethodGet, path: "/api/v1/policy"}
	if local {
		r.query = url.Values{"local": {"true"}}
	}
	var out apis.AdmissionPolicy
	if _, _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Join adds a member with its Raft and HTTP addresses.
func (c *Client) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	body, err := json.Marshal(map[string]string{"id": id, "raftAddr": raftAddr, "httpAddr": httpAddr})
	if err != nil {
		return fmt.Errorf("encode join: %w", err)
	}
	_, _, err = c.doJSON(ctx, request{method: http.MethodPost, path: "/api/v1/cluster/members", body: body}, nil)
	return err
}

// Remove removes a member.
func (c *Client) Remove(ctx context.Context, id string) error {
	_, _, err := c.doJSON(ctx, request{method: http.MethodDelete, path: "/api/v1/cluster/members/" + url.PathEscape(id)}, nil)
	return err
}

// Version reads the server's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var out struct {
		Version string `json:"version"`
	}
	if _, _, err := c.doJSON(ctx, request{method: http.MethodGet, path: "/version"}, &out); err != nil {
		return "", err
	}
	return out.Version, nil
}

// JoinLevel is Join with the store feature level of the member's binary:
// how a member reports its level after an upgrade (joining again with
// the same id and addresses changes nothing else). A server that predates
// levels refuses it (400).
func (c *Client) JoinLevel(ctx context.Context, id, raftAddr, httpAddr string, storeLevel int) error {
	body, err := json.Marshal(map[string]any{"id": id, "raftAddr": raftAddr, "httpAddr": httpAddr, "storeLevel": storeLevel})
	if err != nil {
		return fmt.Errorf("encode join: %w", err)
	}
	_, _, err = c.doJSON(ctx, request{method: http.MethodPost, path: "/api/v1/cluster/members", body: body}, nil)
	return err
}
