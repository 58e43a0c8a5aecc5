package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sprint-project/sprint/apis"
)

// kind describes one kind of object (Run, Schedule, Notifier) to the
// calls every kind shares, written once in this file: encode, create,
// apply by name, and a watch. A new kind is a descriptor, not a copy of
// these calls.
type kind[T any] struct {
	// word names the kind in errors ("schedule").
	word string
	// path is the collection's path ("/api/v1/schedules").
	path string
	// typed returns the object as the server wants it, with apiVersion
	// and kind, never writing to its argument.
	typed func(*T) *T
	// meta is the object's metadata.
	meta func(*T) *apis.ObjectMeta
}

// The descriptors of the three kinds. They are never written.
var (
	runKind = kind[apis.Run]{
		word: "run",
		path: "/api/v1/runs",
		// A Run built in Go may leave apiVersion and kind out (its type
		// says what it is), but the server refuses a body that does not
		// name them; one that names another kind is sent as it is.
		typed: func(r *apis.Run) *apis.Run {
			t := *r
			if t.APIVersion == "" {
				t.APIVersion = apis.APIVersion
			}
			if t.Kind == "" {
				t.Kind = apis.KindRun
			}
			return &t
		},
		meta: func(r *apis.Run) *apis.ObjectMeta { return &r.Metadata },
	}
	scheduleKind = kind[apis.Schedule]{
		word: "schedule",
		path: "/api/v1/schedules",
		typed: func(s *apis.Schedule) *apis.Schedule {
			t := *s
			t.APIVersion, t.Kind = apis.APIVersion, apis.KindSchedule
			return &t
		},
		meta: func(s *apis.Schedule) *apis.ObjectMeta { return &s.Metadata },
	}
	notifierKind = kind[apis.Notifier]{
		word: "notifier",
		path: "/api/v1/notifiers",
		typed: func(n *apis.Notifier) *apis.Notifier {
			t := *n
			t.APIVersion, t.Kind = apis.APIVersion, apis.KindNotifier
			return &t
		},
		meta: func(n *apis.Notifier) *apis.ObjectMeta { return &n.Metadata },
	}
)

// objectPath is the path of the object with this name.
func (k kind[T]) objectPath(name string) string { return k.path + "/" + url.PathEscape(name) }

// encode is obj's JSON as the server wants it.
func (k kind[T]) encode(obj *T) ([]byte, error) {
	b, err := json.Marshal(k.typed(obj))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", k.word, err)
	}
	return b, nil
}

// createObject POSTs a new object (dryRun: validated and shown, not
// stored); a 409 Status when the name exists.
func createObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, error) {
	body, err := k.encode(obj)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, c, request{method: http.MethodPost, path: k.path, query: dryRunQuery(dryRun), body: body})
}

// putObject PUTs obj to its name and tells what the server did: its
// Sprint-Apply-Result header, or, from a server without it, created for a
// 201 and configured otherwise.
func putObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, ApplyResult, error) {
	body, err := k.encode(obj)
	if err != nil {
		return nil, "", err
	}
	var out T
	hdr, code, err := c.doJSON(ctx, request{method: http.MethodPut, path: k.objectPath(k.meta(obj).Name), query: dryRunQuery(dryRun), body: body}, &out)
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

// applyObject creates obj when it has no name (a name generated from
// metadata.generateName is new), else PUTs it to its name.
func applyObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, ApplyResult, error) {
	if k.meta(obj).Name == "" {
		out, err := createObject(ctx, c, k, obj, dryRun)
		if err != nil {
			return nil, "", err
		}
		return out, Created, nil
	}
	return putObject(ctx, c, k, obj, dryRun)
}

// watchKind starts the watch loop of kind k whose events, made by event,
// it delivers on the channel it returns (closed when the loop returns).
// It returns an error at once when the server refuses the first request.
func watchKind[T, E any](ctx context.Context, c *Client, k kind[T], opts WatchOptions, event func(apis.EventType, *T) E) (*watchLoop[T], <-chan E, error) {
	events := make(chan E, 16)
	loop := newWatchLoop(c, k.path, opts, k.meta, func(ctx context.Context, typ apis.EventType, obj *T) bool {
		select {
		case events <- event(typ, obj):
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(events) })
	if err := loop.start(ctx); err != nil {
		return nil, nil, err
	}
	return loop, events, nil
}
