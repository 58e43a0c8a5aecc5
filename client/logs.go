package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// LogOptions select what Logs reads.
type LogOptions struct {
	// Stderr reads stderr instead of stdout.
	Stderr bool
	// Follow keeps streaming until the task ends or ctx is done.
	Follow bool
	// Tail starts this many lines before the end; 0 means everything.
	Tail int
}

// Logs copies a Run's task output to w.
func (c *Client) Logs(ctx context.Context, name string, opts LogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Stderr {
		q.Set("stream", "stderr")
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: runPath(name) + "/log", query: q, accept: "text/plain"})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read log of %s: %w", name, err)
	}
	return nil
}
