package server

import (
	"context"
	"errors"
	"io"

	"github.com/sprint-project/sprint/apis"
)

// Sentinel errors of the server. Its Store returns the apis sentinels:
// apis.ErrNotLeader on a node that is not the Raft leader (the server
// forwards such requests to the leader, or answers 503 when there is none)
// and apis.ErrUnavailable when the store cannot serve right now (it is
// closing, or lost leadership while committing so the outcome is unknown:
// 503, and not retried by forwarding since the write may have happened).
var (
	// ErrNoLeader means no leader is known right now (503).
	ErrNoLeader = errors.New("no leader")
	// ErrLogUnavailable means a Run has no readable sandbox output yet (its
	// task never started, or its agent is gone); mapped to 404.
	ErrLogUnavailable = errors.New("log not available")
)

// Store is what the server needs from the replicated Run store. The
// raftstore.Store satisfies it through a thin adapter (internal/wiring);
// server/storetest is its contract, run against that adapter and against
// servertest's fake alike.
//
// Writes return errors wrapping apis.ErrNotFound, apis.ErrAlreadyExists,
// apis.ErrConflict, apis.ErrInvalid, apis.ErrNotLeader or
// apis.ErrUnavailable.
type Store interface {
	// CreateRun stores a new Run and returns it as stored (uid,
	// resourceVersion, creationTimestamp set). Errors: apis.ErrAlreadyExists,
	// apis.ErrInvalid (its dependsOn would close a cycle; so for ApplyRuns'
	// creates), apis.ErrNotLeader.
	CreateRun(ctx context.Context, run *apis.Run) (*apis.Run, error)
	// UpdateRun replaces a Run's metadata and spec. A non-empty
	// metadata.resourceVersion is a precondition. Errors: apis.ErrNotFound,
	// apis.ErrConflict, apis.ErrNotLeader.
	UpdateRun(ctx context.Context, run *apis.Run) (*apis.Run, error)
	// ApplyRuns creates each Run or updates its labels, annotations and
	// spec (kubectl apply), deciding each with its Decide against the
	// current Run inside the store, so that no read barrier precedes a
	// write: see raftstore.Store.ApplyRuns. Each item's refusal is in its
	// result. With dryRun nothing is written. Errors: ErrNotLeader,
	// ErrUnavailable (then some items may have been applied).
	ApplyRuns(ctx context.Context, items []ApplyItem, dryRun bool) ([]ApplyResult, error)
	// RequestDelete deletes a Run at once when its task never launched or
	// is terminal (deleted = true), and otherwise marks it with a
	// deletionTimestamp so the controller kills the task first. A non-empty
	// preconditionRV must match. Errors: apis.ErrNotFound, apis.ErrConflict,
	// apis.ErrNotLeader.
	RequestDelete(ctx context.Context, name, preconditionRV string) (run *apis.Run, deleted bool, err error)
	// GetRun reads a Run from the local applied state. Errors: apis.ErrNotFound.
	GetRun(ctx context.Context, name string) (*apis.Run, error)
	// LinearizableRead returns once the local state reflects every write
	// committed before the call. Errors: apis.ErrNotLeader.
	LinearizableRead(ctx context.Context) error
	// ListRuns lists Runs from the local applied state, in name order.
	// Errors: apis.ErrBadRequest for a bad continue token.
	ListRuns(ctx context.Context, opts ListOptions) (*apis.RunList, error)
	// Watch streams the changes opts selects from the local applied
	// state. Errors: apis.ErrGone when opts.ResourceVersion is older than
	// the kept history.
	Watch(ctx context.Context, opts WatchOptions) (Watcher, error)
	// Events returns a Run's recent events, oldest first. Errors:
	// apis.ErrNotFound.
	Events(ctx context.Context, name string) ([]apis.RunEvent, error)
	// Dependents returns the names of the Runs whose spec.dependsOn names
	// name, sorted, from the local applied state; name need not exist.
	Dependents(ctx context.Context, name string) ([]string, error)

	// IsLeader reports whether this node is the Raft leader.
	IsLeader() bool
	// Leader returns the leader's node id and HTTP address (a URL such as
	// http://127.0.0.1:9090, or host:port); empty when unknown.
	Leader() (id, httpAddr string)
	// Ready reports whether the node knows a leader and has applied every
	// committed entry it knows of.
	Ready() bool
	// AppliedIndex is the resourceVersion of the local state: every change
	// up to it is applied here.
	AppliedIndex() uint64
	// CommitIndex is the highest resourceVersion this node knows the
	// cluster has committed (it may not be applied here yet).
	CommitIndex() uint64
	// Cluster describes the Raft configuration as this node sees it.
	Cluster(ctx context.Context) (*ClusterInfo, error)
	// Join adds a voting member. Errors: apis.ErrNotLeader.
	Join(ctx context.Context, id, raftAddr, httpAddr string) error
	// Remove removes a member. Errors: apis.ErrNotFound, apis.ErrNotLeader.
	Remove(ctx context.Context, id string) error
}

// ApplyItem is one Run of Store.ApplyRuns.
type ApplyItem struct {
	// Name of the Run.
	Name string
	// Precondition is the resourceVersion the request requires (its
	// metadata.resourceVersion), or "".
	Precondition string
	// Decide returns the Run as the apply wants it given the current one
	// (nil when there is none): a new Run whole, or a copy of cur with
	// labels, annotations and spec changed; an error refuses the Run. It
	// must not modify cur and may be called more than once.
	Decide func(cur *apis.Run) (*apis.Run, error)
}

// ApplyResult is the outcome of one ApplyItem: Result (ApplyCreated,
// ApplyConfigured or ApplyUnchanged) and Object, the Run's JSON as stored
// (for a dry run, as it would be); or Err.
type ApplyResult struct {
	Result string
	Object []byte
	Err    error
}

// ListOptions selects and pages a list.
type ListOptions struct {
	// Match filters Runs; nil matches all.
	Match func(*apis.Run) bool
	// Limit caps the page size; 0 means no limit.
	Limit int
	// Continue is the token from the previous page's metadata.continue.
	Continue string
}

// WatchOptions select what a Watcher streams.
type WatchOptions struct {
	// ResourceVersion resumes after that version; 0 starts from now.
	ResourceVersion uint64
	// List starts the stream with every matching Run as ADDED, from one
	// consistent state, then a BOOKMARK (with
	// apis.InitialEventsEndAnnotation) at that state's version, then the
	// changes after it. Only with ResourceVersion 0.
	List bool
	// Match filters Runs; nil matches all. It may see no more of a Run
	// than its name, uid, resourceVersion, labels and status.phase, and
	// must not keep the Run it is given. A Run that starts to match is
	// sent as ADDED, one that stops matching as DELETED (in its state
	// after the change), MODIFIED only when it matches before and after.
	Match func(*apis.Run) bool
}

// Watcher is a live stream of changes, read by pulling: the server writes
// events as fast as its client takes them and buffers none of its own.
// Used by one goroutine; the server calls Stop as soon as its client goes.
type Watcher interface {
	// Ready returns a channel closed when there may be more events. Take
	// it before a Next that finds nothing, then wait on it.
	Ready() <-chan struct{}
	// Next returns the next event in resourceVersion order (an initial
	// listing's ADDED events come first, in name order), or ok false when
	// there is none yet. The error is sticky: one matching apis.ErrTooSlow
	// when the watcher fell further behind than its buffer, apis.ErrGone
	// when the history it was reading was replaced, ErrUnavailable when
	// the store closed.
	Next() (ev WatchEvent, ok bool, err error)
	// Stop releases the watcher; safe to call more than once.
	Stop()
}

// WatchEvent is one event of a Watcher.
type WatchEvent struct {
	// Type is ADDED, MODIFIED, DELETED, or BOOKMARK for the end of an
	// initial listing.
	Type apis.EventType
	// ResourceVersion is the change's version, or the listing's for its
	// BOOKMARK; 0 for the listing's ADDED events (their objects say).
	ResourceVersion uint64
	// Object is the JSON of the Run (apiVersion and kind set). It may be
	// shared with other watchers, and is valid until the next Next: write
	// it out, do not modify or keep it.
	Object []byte
}

// ClusterInfo is the Raft cluster as one node sees it (GET /api/v1/cluster).
type ClusterInfo = apis.Cluster

// Member is one server of the cluster.
type Member = apis.Member

// JoinRequest is the body of POST /api/v1/cluster/members.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
	// StoreLevel is the store feature level the member's binary supports
	// (raftstore.StoreLevel); absent from binaries that predate levels. A
	// member sends it again, with its id and addresses unchanged, after
	// an upgrade (docs/raftstore.md, "Rolling upgrade").
	StoreLevel int `json:"storeLevel,omitempty"`
}

// LevelJoiner is a Store that records a member's store level with its
// addresses; a Store without it refuses join requests that carry one.
type LevelJoiner interface {
	JoinLevel(ctx context.Context, id, raftAddr, httpAddr string, level int) error
}

// LogSource copies a Run's task sandbox output; the wiring backs it with
// the Mesos agents' /files/read API (mesos.Files: TailOffset, then
// ReadFile or Follow).
type LogSource interface {
	// CopyLog writes the stream ("stdout" or "stderr") of the Run's current
	// or last task to w. With Tail > 0 it starts that many lines before the
	// end; with Follow it keeps copying as the file grows until ctx ends or
	// the task is terminal and the file drained. Each Write reaches the
	// client at once. Errors: ErrLogUnavailable when there is nothing to
	// read (no task yet, agent gone); an error after the first Write can
	// only end the stream.
	CopyLog(ctx context.Context, run *apis.Run, opts LogOptions, w io.Writer) error
}

// LogSourceFunc adapts a function to LogSource.
type LogSourceFunc func(ctx context.Context, run *apis.Run, opts LogOptions, w io.Writer) error

// CopyLog calls f.
func (f LogSourceFunc) CopyLog(ctx context.Context, run *apis.Run, opts LogOptions, w io.Writer) error {
	return f(ctx, run, opts, w)
}

// LogOptions selects what CopyLog copies.
type LogOptions struct {
	// Stream is "stdout" or "stderr".
	Stream string
	Follow bool
	// Tail is the number of last lines to start with; 0 means all.
	Tail int
}
