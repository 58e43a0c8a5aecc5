package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sprint-project/sprint/apis"
)

// FuzzWatchStream feeds arbitrary bytes to the watch stream decoder: it
// returns an error or nil, and never panics.
func FuzzWatchStream(f *testing.F) {
	f.Add(`{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"3"}}}` + "\n")
	f.Add(`{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"9"}}}` + "\n")
	f.Add(`{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}` + "\n")
	f.Add(`{"type":"ERROR","object":{"kind":"Status","code":500,"message":"x"}}` + "\n{")
	f.Add(`{"type":"DELETED","object":[]}`)
	f.Add("\n\n{}\n")
	f.Fuzz(func(t *testing.T, stream string) {
		deliver := func(context.Context, apis.EventType, *apis.Run) bool { return true }
		w := newWatchLoop(nil, "/api/v1/runs", WatchOptions{}, runKind.meta, deliver, func() {})
		resp := &http.Response{Body: io.NopCloser(strings.NewReader(stream))}
		_ = w.consume(t.Context(), resp)
		sdeliver := func(context.Context, apis.EventType, *apis.Schedule) bool { return true }
		sw := newWatchLoop(nil, "/api/v1/schedules", WatchOptions{}, scheduleKind.meta, sdeliver, func() {})
		_ = sw.consume(t.Context(), &http.Response{Body: io.NopCloser(strings.NewReader(stream))})
	})
}
