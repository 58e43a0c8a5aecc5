package servertest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

var _ server.LogSource = (*Logs)(nil)

// Logs is an in-memory server.LogSource: tests append output to a Run's
// streams and End them, as a task writing to its sandbox and exiting.
type Logs struct {
	mu      sync.Mutex // guards streams
	streams map[string]*logStream
	opened  int
}

type logStream struct {
	data    []byte
	ended   bool
	changed chan struct{} // closed and replaced on every change
}

// NewLogs returns an empty Logs.
func NewLogs() *Logs { return &Logs{streams: map[string]*logStream{}} }

func (l *Logs) stream(run, stream string) *logStream {
	k := run + "/" + stream
	s, ok := l.streams[k]
	if !ok {
		s = &logStream{changed: make(chan struct{})}
		l.streams[k] = s
	}
	return s
}

// Append adds output to a Run's stream ("stdout" or "stderr").
func (l *Logs) Append(run, stream, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stream(run, stream)
	s.data = append(s.data, text...)
	close(s.changed)
	s.changed = make(chan struct{})
}

// End marks a Run's stream complete: followers get EOF once drained.
func (l *Logs) End(run, stream string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stream(run, stream)
	s.ended = true
	close(s.changed)
	s.changed = make(chan struct{})
}

// Opened returns how many streams CopyLog opened.
func (l *Logs) Opened() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.opened
}

// CopyLog implements server.LogSource.
func (l *Logs) CopyLog(ctx context.Context, run *apis.Run, opts server.LogOptions, w io.Writer) error {
	rc, err := l.open(ctx, run, opts)
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	_, err = io.Copy(w, rc)
	return err
}

func (l *Logs) open(ctx context.Context, run *apis.Run, opts server.LogOptions) (io.ReadCloser, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.streams[run.Metadata.Name+"/"+opts.Stream]
	if !ok {
		return nil, fmt.Errorf("run %q has no %s yet: %w", run.Metadata.Name, opts.Stream, server.ErrLogUnavailable)
	}
	l.opened++
	off := 0
	if opts.Tail > 0 {
		lines := strings.SplitAfter(string(s.data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		skip := max(len(lines)-opts.Tail, 0)
		for _, ln := range lines[:skip] {
			off += len(ln)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	return &logReader{l: l, s: s, off: off, follow: opts.Follow, ctx: ctx, cancel: cancel}, nil
}

type logReader struct {
	l      *Logs
	s      *logStream
	off    int
	follow bool
	ctx    context.Context
	cancel context.CancelFunc
}

func (r *logReader) Read(p []byte) (int, error) {
	for {
		r.l.mu.Lock()
		if r.off < len(r.s.data) {
			n := copy(p, r.s.data[r.off:])
			r.off += n
			r.l.mu.Unlock()
			return n, nil
		}
		if !r.follow || r.s.ended {
			r.l.mu.Unlock()
			return 0, io.EOF
		}
		changed := r.s.changed
		r.l.mu.Unlock()
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, io.EOF
		}
	}
}

func (r *logReader) Close() error {
	r.cancel()
	return nil
}
