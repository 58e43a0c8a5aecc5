package client

import (
	"context"
	"net/http"

	"github.com/sprint-project/sprint/apis"
)

// ApplyNotifier creates the Notifier or replaces its labels, annotations
// and spec (its delivery counts are kept), or leaves it unchanged. A
// metadata.resourceVersion in n is a precondition.
func (c *Client) ApplyNotifier(ctx context.Context, n *apis.Notifier, dryRun bool) (*apis.Notifier, ApplyResult, error) {
	return applyObject(ctx, c, notifierKind, n, dryRun)
}

// CreateNotifier creates a Notifier; a 409 Status when the name exists.
func (c *Client) CreateNotifier(ctx context.Context, n *apis.Notifier, dryRun bool) (*apis.Notifier, error) {
	return createObject(ctx, c, notifierKind, n, dryRun)
}

// GetNotifier reads one Notifier, with its delivery counts.
func (c *Client) GetNotifier(ctx context.Context, name string) (*apis.Notifier, error) {
	return call[apis.Notifier](ctx, c, request{method: http.MethodGet, path: notifierKind.objectPath(name)})
}

// ListNotifiers lists Notifiers (LabelSelector, Limit and Continue of
// opts; FieldSelector is not supported for them).
func (c *Client) ListNotifiers(ctx context.Context, opts ListOptions) (*apis.NotifierList, error) {
	return call[apis.NotifierList](ctx, c, request{method: http.MethodGet, path: "/api/v1/notifiers", query: opts.query()})
}

// DeleteNotifier deletes a Notifier and its undelivered notifications;
// a non-empty resourceVersion is a precondition.
func (c *Client) DeleteNotifier(ctx context.Context, name, resourceVersion string) (*apis.Notifier, error) {
	return call[apis.Notifier](ctx, c, request{method: http.MethodDelete, path: notifierKind.objectPath(name), query: deleteQuery(resourceVersion)})
}
