package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/server"
)

// sandboxLogs serves a Run's task output (GET /api/v1/runs/{name}/log) from
// the task's Mesos sandbox, read through the agent's /files/read API.
type sandboxLogs struct {
	files       *mesos.Files
	masters     []string
	frameworkID func(context.Context) (string, error)
	// getRun reads a Run from the local store.
	getRun func(ctx context.Context, name string) (*apis.Run, error)
	// poll is how often a follow re-reads a Run that has not launched yet.
	poll time.Duration
}

var _ server.LogSource = (*sandboxLogs)(nil)

// CopyLog implements server.LogSource.
func (l *sandboxLogs) CopyLog(ctx context.Context, run *apis.Run, opts server.LogOptions, w io.Writer) error {
	if opts.Follow {
		// As kubectl logs -f on a pending pod: wait for the task to launch.
		var err error
		if run, err = l.waitLaunched(ctx, run); err != nil {
			return err
		}
	}
	st := run.Status
	if st.TaskID == "" || st.AgentID == "" {
		return fmt.Errorf("%w: Run %q has not been launched", server.ErrLogUnavailable, run.Metadata.Name)
	}
	fid, err := l.frameworkID(ctx)
	if err != nil || fid == "" {
		return fmt.Errorf("%w: no Mesos framework registered yet", server.ErrLogUnavailable)
	}
	sb, err := l.files.LocateSandbox(ctx, l.masters, fid, st.AgentID, st.TaskID)
	if err != nil {
		return fmt.Errorf("%w: locate sandbox of task %s: %v", server.ErrLogUnavailable, st.TaskID, err)
	}
	path := sb.File(opts.Stream)
	var offset int64
	if opts.Tail > 0 {
		if offset, err = l.files.TailOffset(ctx, sb.AgentURL, path, opts.Tail); err != nil {
			return fmt.Errorf("%w: %s: %v", server.ErrLogUnavailable, opts.Stream, err)
		}
	}
	name, taskID := run.Metadata.Name, st.TaskID
	done := func() bool { return true }
	if opts.Follow {
		// Stop once the attempt has ended (or the Run moved on or is gone)
		// and the output is drained.
		done = func() bool {
			r, err := l.getRun(ctx, name)
			return err != nil || r.Status.TaskID != taskID || r.Status.Phase.Terminal()
		}
	}
	_, err = l.files.Follow(ctx, sb.AgentURL, path, offset, w, done)
	return err
}

// waitLaunched returns run once it has a task on an agent, polling the
// store; a Run that ends or goes away without launching has no log.
func (l *sandboxLogs) waitLaunched(ctx context.Context, run *apis.Run) (*apis.Run, error) {
	tick := time.NewTicker(l.poll)
	defer tick.Stop()
	for run.Status.TaskID == "" || run.Status.AgentID == "" {
		if run.Status.Phase.Terminal() {
			return nil, fmt.Errorf("%w: Run %q ended without launching a task", server.ErrLogUnavailable, run.Metadata.Name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		r, err := l.getRun(ctx, run.Metadata.Name)
		if err != nil {
			return nil, err
		}
		run = r
	}
	return run, nil
}

// notifyLogs gives notifications the end of a Run's stderr, read as GET
// /api/v1/runs/{name}/log?stream=stderr&tail=N reads it.
type notifyLogs struct{ src server.LogSource }

// Stderr implements notify.Logs.
func (l notifyLogs) Stderr(ctx context.Context, run *apis.Run, tailLines int, w io.Writer) error {
	return l.src.CopyLog(ctx, run, server.LogOptions{Stream: "stderr", Tail: tailLines}, w)
}
