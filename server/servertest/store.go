package servertest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

var _ server.Store = (*Store)(nil)

// Store is an in-memory server.Store. It is safe for concurrent use.
type Store struct {
	// Now is the clock; set it before use. Defaults to time.Now.
	Now func() time.Time
	// HistorySize bounds the events kept for watches from an old
	// resourceVersion; older ones get apis.ErrGone. Defaults to 1000.
	HistorySize int
	// NewUID makes metadata.uid values; defaults to random UUIDs. Golden
	// tests set a deterministic one.
	NewUID func() string
	// WatchBuffer is how many changes a watcher may fall behind before it
	// ends with apis.ErrTooSlow; 0 means 256.
	WatchBuffer int

	mu   sync.Mutex // guards everything below
	rv   uint64
	runs map[string]*apis.Run
	// notifiers are the Notifiers (notifiers.go); nil until the first.
	notifiers map[string]*apis.Notifier
	events    map[string][]apis.RunEvent
	history   []change
	// published is each Run as its last change published it (shared with
	// the history), for the state before a MODIFIED.
	published map[string]*apis.Run
	seq       uint64            // changes ever published; history holds the last len(history)
	notify    chan struct{}     // closed and replaced by every change
	watchers  map[*watcher]bool // open watchers → expired
	// watchersChanged is closed (and replaced) whenever a watcher comes or
	// goes, for WaitWatchers.
	watchersChanged chan struct{}
	// leaderWaits are closed once Leader has been asked that many times
	// more (LeaderQueries).
	leaderWaits []leaderWait
	leader      bool
	leaderID    string
	leaderAt    string
	ready       bool
	members     []server.Member
	reads       int
	lag         uint64 // committed but not applied here (SetLag)
}

type change struct {
	rv uint64
	ev apis.WatchEvent // Object is a *apis.Run owned by the history
	// prev is the Run before a MODIFIED change (owned by the history).
	prev *apis.Run
}

// NewStore returns an empty Store that is the leader of a one-member cluster.
func NewStore() *Store {
	return &Store{
		Now:             time.Now,
		HistorySize:     1000,
		NewUID:          uuid.NewString,
		runs:            map[string]*apis.Run{},
		published:       map[string]*apis.Run{},
		events:          map[string][]apis.RunEvent{},
		watchers:        map[*watcher]bool{},
		watchersChanged: make(chan struct{}),
		notify:          make(chan struct{}),
		leader:          true,
		leaderID:        "n1",
		ready:           true,
		members:         []server.Member{{ID: "n1", RaftAddr: "127.0.0.1:9091", Suffrage: "Voter", Leader: true}},
	}
}

// stored returns r as the store keeps it: through its JSON form, as
// raftstore keeps Runs (an empty list comes back absent, times lose their
// monotonic reading).
func stored(r *apis.Run) *apis.Run {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	var out apis.Run
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return &out
}

// SetLeader makes the store the leader (or a follower of leaderID at the
// HTTP address leaderAddr; an empty address means no leader is known).
func (s *Store) SetLeader(leader bool, leaderID, leaderAddr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader, s.leaderID, s.leaderAt = leader, leaderID, leaderAddr
}

// SetReady sets what Ready reports.
func (s *Store) SetReady(ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = ready
}

// WaitWatchers blocks until exactly n watchers are open, or ctx ends. It
// waits on the store's notifications, not by polling.
func (s *Store) WaitWatchers(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		have, changed := len(s.watchers), s.watchersChanged
		s.mu.Unlock()
		if have == n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%d watchers open, want %d: %w", have, n, ctx.Err())
		}
	}
}

// watchersChangedLocked wakes WaitWatchers; caller holds mu.
func (s *Store) watchersChangedLocked() {
	close(s.watchersChanged)
	s.watchersChanged = make(chan struct{})
}

type leaderWait struct {
	left int
	done chan struct{}
}

// LeaderQueries returns a channel that is closed once Leader has been
// asked n more times: a test learns that a forwarding node is retrying
// (it asks for the leader on every attempt) without waiting on the clock.
func (s *Store) LeaderQueries(n int) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := leaderWait{left: n, done: make(chan struct{})}
	if n <= 0 {
		close(w.done)
		return w.done
	}
	s.leaderWaits = append(s.leaderWaits, w)
	return w.done
}

// Watchers returns the number of open watchers.
func (s *Store) Watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watchers)
}

// LinearizableReads returns how many LinearizableRead calls succeeded.
func (s *Store) LinearizableReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// ResourceVersion returns the last resourceVersion handed out.
func (s *Store) ResourceVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
}

func (s *Store) notLeader() error {
	if s.leader {
		return nil
	}
	return fmt.Errorf("store: leader is %q at %q: %w", s.leaderID, s.leaderAt, apis.ErrNotLeader)
}

// publish records a change and fans it out; caller holds mu.
func (s *Store) publish(typ apis.EventType, run *apis.Run) {
	c := change{rv: s.rv, ev: apis.WatchEvent{Type: typ, Object: run.DeepCopy()}}
	name := run.Metadata.Name
	if typ == apis.Modified {
		c.prev = s.published[name]
	}
	if typ == apis.Deleted {
		delete(s.published, name)
	} else {
		s.published[name] = c.ev.Object.(*apis.Run)
	}
	s.history = append(s.history, c)
	if over := len(s.history) - s.HistorySize; over > 0 {
		s.history = slices.Delete(s.history, 0, over)
	}
	s.seq++
	close(s.notify)
	s.notify = make(chan struct{})
}

// CreateRun implements server.Store: as raftstore, it sets uid,
// resourceVersion, generation 1 and creationTimestamp, completes
// generateName and stores the status as given.
func (s *Store) CreateRun(_ context.Context, run *apis.Run) (*apis.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, err
	}
	r := stored(run)
	if r.Metadata.Name == "" {
		if r.Metadata.GenerateName == "" {
			return nil, fmt.Errorf("create run: name or generateName is required: %w", apis.ErrBadRequest)
		}
		r.Metadata.Name = r.Metadata.GenerateName + suffix(s.rv)
	}
	name := r.Metadata.Name
	if _, ok := s.runs[name]; ok {
		return nil, fmt.Errorf("run %q: %w", name, apis.ErrAlreadyExists)
	}
	if err := s.cycle(r); err != nil {
		return nil, err
	}
	s.rv++
	now := s.Now().UTC().Truncate(time.Second)
	r.APIVersion, r.Kind = apis.APIVersion, apis.KindRun
	r.Metadata.UID = s.NewUID()
	r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	r.Metadata.Generation = 1
	r.Metadata.CreationTimestamp = &now
	r.Metadata.DeletionTimestamp = nil
	s.runs[name] = r
	delete(s.events, name)
	s.publish(apis.Added, r)
	return r.DeepCopy(), nil
}

// suffix is a deterministic generateName suffix (five characters of
// Kubernetes' alphabet) that differs for every resourceVersion.
func suffix(n uint64) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b)
}

// UpdateRun implements server.Store: as raftstore, it replaces labels,
// annotations and spec, keeps status, bumps the generation only when the
// spec changed, and changes nothing for an unchanged Run.
func (s *Store) UpdateRun(_ context.Context, run *apis.Run) (*apis.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, err
	}
	name := run.Metadata.Name
	old, ok := s.runs[name]
	if !ok {
		return nil, fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	if rv := run.Metadata.ResourceVersion; rv != "" && rv != old.Metadata.ResourceVersion {
		return nil, fmt.Errorf("run %q: resourceVersion %s is not %s: %w", name, rv, old.Metadata.ResourceVersion, apis.ErrConflict)
	}
	if uid := run.Metadata.UID; uid != "" && uid != old.Metadata.UID {
		return nil, fmt.Errorf("run %q: uid %s is not %s: %w", name, uid, old.Metadata.UID, apis.ErrConflict)
	}
	specChanged := !old.Spec.Equal(&run.Spec)
	if !specChanged && maps.Equal(old.Metadata.Labels, run.Metadata.Labels) && maps.Equal(old.Metadata.Annotations, run.Metadata.Annotations) {
		return old.DeepCopy(), nil
	}
	r := old.DeepCopy()
	r.Metadata.Labels = maps.Clone(run.Metadata.Labels)
	r.Metadata.Annotations = maps.Clone(run.Metadata.Annotations)
	r.Spec = stored(run).Spec
	s.rv++
	r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	if specChanged {
		r.Metadata.Generation++
	}
	s.runs[name] = r
	s.publish(apis.Modified, r)
	return r.DeepCopy(), nil
}

// ApplyRuns implements server.Store: each item is decided and written
// under the store's lock, one after the other.
func (s *Store) ApplyRuns(_ context.Context, items []server.ApplyItem, dryRun bool) ([]server.ApplyResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, err
	}
	out := make([]server.ApplyResult, len(items))
	for i, it := range items {
		var cur *apis.Run
		if r, ok := s.runs[it.Name]; ok {
			cur = r.DeepCopy()
		}
		next, err := it.Decide(cur)
		if err != nil {
			out[i].Err = err
			continue
		}
		if cur == nil {
			r := stored(next)
			if err := s.cycle(r); err != nil {
				out[i].Err = err
				continue
			}
			if !dryRun {
				s.rv++
				now := s.Now().UTC().Truncate(time.Second)
				r.Metadata.UID = s.NewUID()
				r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
				r.Metadata.Generation = 1
				r.Metadata.CreationTimestamp = &now
				s.runs[it.Name] = r
				s.publish(apis.Added, r)
			}
			out[i] = server.ApplyResult{Result: server.ApplyCreated, Object: encode(r)}
			continue
		}
		specChanged := !cur.Spec.Equal(&next.Spec)
		if !specChanged && maps.Equal(cur.Metadata.Labels, next.Metadata.Labels) && maps.Equal(cur.Metadata.Annotations, next.Metadata.Annotations) {
			out[i] = server.ApplyResult{Result: server.ApplyUnchanged, Object: encode(cur)}
			continue
		}
		r := cur.DeepCopy()
		r.Metadata.Labels = maps.Clone(next.Metadata.Labels)
		r.Metadata.Annotations = maps.Clone(next.Metadata.Annotations)
		r.Spec = stored(next).Spec
		if specChanged {
			r.Metadata.Generation++
		}
		if !dryRun {
			s.rv++
			r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
			s.runs[it.Name] = r
			s.publish(apis.Modified, r)
		}
		out[i] = server.ApplyResult{Result: server.ApplyConfigured, Object: encode(r)}
	}
	return out, nil
}

// SetStatus replaces a Run's status as the controller would.
func (s *Store) SetStatus(name string, status apis.RunStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[name]
	if !ok {
		return fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	s.rv++
	status.DeepCopyInto(&r.Status)
	r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	if r.Metadata.DeletionTimestamp != nil && status.Phase.Terminal() {
		delete(s.runs, name)
		delete(s.events, name)
		s.publish(apis.Deleted, r)
		return nil
	}
	s.publish(apis.Modified, r)
	return nil
}

// AddEvent appends to a Run's events.
func (s *Store) AddEvent(name string, ev apis.RunEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events[name] = append(s.events[name], ev)
}

// RequestDelete implements server.Store: a Run whose task may be live
// (phase Starting or Running) only gets a deletionTimestamp; SetStatus to
// a terminal phase then deletes it.
func (s *Store) RequestDelete(_ context.Context, name, preconditionRV string) (*apis.Run, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, false, err
	}
	r, ok := s.runs[name]
	if !ok {
		return nil, false, fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	if preconditionRV != "" && preconditionRV != r.Metadata.ResourceVersion {
		return nil, false, fmt.Errorf("run %q: resourceVersion %s is not %s: %w", name, preconditionRV, r.Metadata.ResourceVersion, apis.ErrConflict)
	}
	if r.Status.Phase == apis.PhaseStarting || r.Status.Phase == apis.PhaseRunning {
		if r.Metadata.DeletionTimestamp == nil {
			s.rv++
			r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
			now := s.Now().UTC().Truncate(time.Second)
			r.Metadata.DeletionTimestamp = &now
			s.publish(apis.Modified, r)
		}
		return r.DeepCopy(), false, nil
	}
	s.rv++
	r.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	delete(s.runs, name)
	delete(s.events, name)
	s.publish(apis.Deleted, r)
	return r.DeepCopy(), true, nil
}

// GetRun implements server.Store.
func (s *Store) GetRun(_ context.Context, name string) (*apis.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[name]
	if !ok {
		return nil, fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	return r.DeepCopy(), nil
}

// LinearizableRead implements server.Store.
func (s *Store) LinearizableRead(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return err
	}
	s.reads++
	return nil
}

// ListRuns implements server.Store; the continue token is the last name
// of the previous page, encoded as raftstore encodes it.
func (s *Store) ListRuns(_ context.Context, opts server.ListOptions) (*apis.RunList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var after string
	if opts.Continue != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Continue)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("invalid continue token: %w", apis.ErrBadRequest)
		}
		after = string(b)
	}
	names := slices.Sorted(maps.Keys(s.runs))
	list := &apis.RunList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList}, Items: []apis.Run{}}
	list.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	for _, name := range names {
		if after != "" && name <= after {
			continue
		}
		r := s.runs[name]
		if opts.Match != nil && !opts.Match(r) {
			continue
		}
		if opts.Limit > 0 && len(list.Items) == opts.Limit {
			list.Metadata.Continue = base64.RawURLEncoding.EncodeToString([]byte(list.Items[len(list.Items)-1].Metadata.Name))
			break
		}
		list.Items = append(list.Items, *r.DeepCopy())
	}
	return list, nil
}

// Events implements server.Store.
func (s *Store) Events(_ context.Context, name string) ([]apis.RunEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.runs[name]; !ok {
		return nil, fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	return slices.Clone(s.events[name]), nil
}

// IsLeader implements server.Store.
func (s *Store) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// Leader implements server.Store.
func (s *Store) Leader() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	waits := s.leaderWaits[:0]
	for _, w := range s.leaderWaits {
		if w.left--; w.left == 0 {
			close(w.done)
			continue
		}
		waits = append(waits, w)
	}
	s.leaderWaits = waits
	return s.leaderID, s.leaderAt
}

// AppliedIndex implements server.Store: the last resourceVersion handed out.
func (s *Store) AppliedIndex() uint64 { return s.ResourceVersion() }

// CommitIndex implements server.Store: the last resourceVersion handed out,
// plus the lag set with SetLag.
func (s *Store) CommitIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv + s.lag
}

// SetLag makes the store report n more committed versions than it has
// applied, as a follower that lags its leader does.
func (s *Store) SetLag(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = n
}

// Ready implements server.Store.
func (s *Store) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

// Cluster implements server.Store.
func (s *Store) Cluster(context.Context) (*server.ClusterInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := "Follower"
	if s.leader {
		state = "Leader"
	}
	return &server.ClusterInfo{
		Leader: s.leaderID, LeaderAddr: s.leaderAt, State: state, Term: 2,
		CommitIndex: s.rv, AppliedIndex: s.rv, LastIndex: s.rv,
		Members: slices.Clone(s.members),
	}, nil
}

// Join implements server.Store.
func (s *Store) Join(_ context.Context, id, raftAddr, httpAddr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return err
	}
	for i, m := range s.members {
		if m.ID == id {
			s.members[i].RaftAddr, s.members[i].HTTPAddr = raftAddr, httpAddr
			return nil
		}
	}
	s.members = append(s.members, server.Member{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr, Suffrage: "Voter"})
	return nil
}

// Remove implements server.Store.
func (s *Store) Remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return err
	}
	for i, m := range s.members {
		if m.ID == id {
			s.members = slices.Delete(s.members, i, i+1)
			return nil
		}
	}
	return fmt.Errorf("member %q: %w", id, apis.ErrNotFound)
}

// cycle refuses, as raftstore does, a new Run whose dependsOn would close
// a cycle with the stored Runs or reach past apis.MaxUpstreamRuns. Caller
// holds s.mu.
func (s *Store) cycle(r *apis.Run) error {
	name := r.Metadata.Name
	parent := map[string]string{}
	var queue []string
	for _, d := range r.Spec.DependsOn {
		if _, seen := parent[d.Name]; !seen {
			parent[d.Name] = name
			queue = append(queue, d.Name)
		}
	}
	for ; len(queue) > 0; queue = queue[1:] {
		cur, ok := s.runs[queue[0]]
		if !ok {
			continue
		}
		for _, d := range cur.Spec.DependsOn {
			if d.Name == name {
				path := []string{name}
				for n := cur.Metadata.Name; n != name; n = parent[n] {
					path = append(path, n)
				}
				slices.Reverse(path[1:])
				path = append(path, name)
				return &apis.InvalidError{Kind: apis.KindRun, Name: name, Errors: apis.ErrorList{{
					Field: "spec.dependsOn", Message: "a cycle: " + strings.Join(path, " → ") + " (each Run waits for the next; none could ever start)"}}}
			}
			if _, seen := parent[d.Name]; !seen {
				if len(parent) == apis.MaxUpstreamRuns {
					return &apis.InvalidError{Kind: apis.KindRun, Name: name, Errors: apis.ErrorList{{
						Field: "spec.dependsOn", Message: fmt.Sprintf("more than %d Runs upstream (dependencies, their dependencies, and so on)", apis.MaxUpstreamRuns)}}}
				}
				parent[d.Name] = cur.Metadata.Name
				queue = append(queue, d.Name)
			}
		}
	}
	return nil
}

// Dependents implements server.Store: the stored Runs whose dependsOn
// names name, sorted.
func (s *Store) Dependents(_ context.Context, name string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, r := range s.runs {
		if slices.ContainsFunc(r.Spec.DependsOn, func(d apis.RunDependency) bool { return d.Name == name }) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}
