package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/server"
)

// sandboxLogs serves a Run's task output (GET /api/v1/runs/{name}/log) from
// the task's Mesos sandbox, read through the agent's /files/read API.
type sandboxLogs struct {
	files       *mesos.Files
	masters     []string
	frameworkID func() (string, error)
	// terminal reports whether the named Run's current attempt has ended, so
	// that a follow stops once the output is drained.
	terminal func(ctx context.Context, name, taskID string) bool
}

var _ server.LogSource = (*sandboxLogs)(nil)

// OpenLog implements server.LogSource.
func (l *sandboxLogs) OpenLog(ctx context.Context, run *apis.Run, opts server.LogOptions) (io.ReadCloser, error) {
	st := run.Status
	if st.TaskID == "" || st.AgentID == "" {
		return nil, fmt.Errorf("%w: Run %q has not been launched", server.ErrLogUnavailable, run.Metadata.Name)
	}
	fid, err := l.frameworkID()
	if err != nil || fid == "" {
		return nil, fmt.Errorf("%w: no Mesos framework registered yet", server.ErrLogUnavailable)
	}
	sb, err := l.files.LocateSandbox(ctx, l.masters, fid, st.AgentID, st.TaskID)
	if err != nil {
		return nil, fmt.Errorf("%w: locate sandbox of task %s: %v", server.ErrLogUnavailable, st.TaskID, err)
	}
	path := sb.File(opts.Stream)
	var offset int64
	if opts.Tail > 0 {
		if offset, err = l.files.TailOffset(ctx, sb.AgentURL, path, opts.Tail); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", server.ErrLogUnavailable, opts.Stream, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	name, taskID := run.Metadata.Name, st.TaskID
	done := func() bool { return true }
	if opts.Follow {
		done = func() bool { return l.terminal(ctx, name, taskID) }
	}
	go func() {
		_, err := l.files.Follow(ctx, sb.AgentURL, path, offset, pw, done)
		pw.CloseWithError(err)
	}()
	return readCloser{Reader: pr, close: func() error { cancel(); return pr.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }
