package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sprint-project/sprint/apis"
)

func notifierPath(name string) string { return "/api/v1/notifiers/" + url.PathEscape(name) }

// encodeNotifier is n's JSON with apiVersion and kind set.
func encodeNotifier(n *apis.Notifier) ([]byte, error) {
	typed := *n
	typed.APIVersion, typed.Kind = apis.APIVersion, apis.KindNotifier
	return json.Marshal(&typed)
}

// ApplyNotifier creates the Notifier or replaces its labels, annotations
// and spec (its delivery counts are kept), or leaves it unchanged. A
// metadata.resourceVersion in n is a precondition.
func (c *Client) ApplyNotifier(ctx context.Context, n *apis.Notifier, dryRun bool) (*apis.Notifier, ApplyResult, error) {
	if n.Metadata.Name == "" {
		out, err := c.CreateNotifier(ctx, n, dryRun)
		return out, Created, err
	}
	body, err := encodeNotifier(n)
	if err != nil {
		return nil, "", fmt.Errorf("encode notifier: %w", err)
	}
	var out apis.Notifier
	hdr, code, err := c.doJSON(ctx, request{method: http.MethodPut, path: notifierPath(n.Metadata.Name), query: dryRunQuery(dryRun), body: body}, &out)
	if err != nil {
		return nil, "", err
	}
	result := ApplyResult(hdr.Get("Sprint-Apply-Result"))
	if result == "" {
		result = Configured
		if code == http.StatusCreated {
			result = Created
		}
	}
	return &out, result, nil
}

// CreateNotifier creates a Notifier; a 409 Status when the name exists.
func (c *Client) CreateNotifier(ctx context.Context, n *apis.Notifier, dryRun bool) (*apis.Notifier, error) {
	body, err := encodeNotifier(n)
	if err != nil {
		return nil, fmt.Errorf("encode notifier: %w", err)
	}
	return call[apis.Notifier](ctx, c, request{method: http.MethodPost, path: "/api/v1/notifiers", query: dryRunQuery(dryRun), body: body})
}

// GetNotifier reads one Notifier, with its delivery counts.
func (c *Client) GetNotifier(ctx context.Context, name string) (*apis.Notifier, error) {
	return call[apis.Notifier](ctx, c, request{method: http.MethodGet, path: notifierPath(name)})
}

// ListNotifiers lists Notifiers (LabelSelector, Limit and Continue of
// opts; FieldSelector is not supported for them).
func (c *Client) ListNotifiers(ctx context.Context, opts ListOptions) (*apis.NotifierList, error) {
	return call[apis.NotifierList](ctx, c, request{method: http.MethodGet, path: "/api/v1/notifiers", query: opts.query()})
}

// DeleteNotifier deletes a Notifier and its undelivered notifications;
// a non-empty resourceVersion is a precondition.
func (c *Client) DeleteNotifier(ctx context.Context, name, resourceVersion string) (*apis.Notifier, error) {
	q := url.Values{}
	if resourceVersion != "" {
		q.Set("resourceVersion", resourceVersion)
	}
	return call[apis.Notifier](ctx, c, request{method: http.MethodDelete, path: notifierPath(name), query: q})
}
