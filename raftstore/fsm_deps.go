package raftstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// Run dependencies (spec.dependsOn) in the store: the cycle check every
// create runs in the FSM, and the index of dependents the API's
// /runs/{name}/dependents reads.

// storedDeps is the part of a stored Run the dependency walks decode: the
// rest of a Run (up to 32 KiB) is skipped by the decoder, not kept.
type storedDeps struct {
	Spec struct {
		DependsOn []apis.RunDependency `json:"dependsOn"`
	} `json:"spec"`
}

// errTooManyUpstream refuses a create with more than apis.MaxUpstreamRuns
// Runs upstream.
var errTooManyUpstream = fmt.Errorf("more than %d Runs upstream (dependencies, their dependencies, and so on)", apis.MaxUpstreamRuns)

// dependencyCycle returns the cycle that creating name with deps would
// close among the Runs in tx, as the names along it starting and ending
// with name ("load", "transform", "extract", "load"), or nil; or
// errTooManyUpstream when the walk passes apis.MaxUpstreamRuns names. A dependency
// on a Run that does not exist yet closes nothing now; when that Run is
// created, its own check sees this one. It walks breadth first from deps
// over the stored Runs' dependsOn, each Run at most once, so its cost is
// bounded by the Runs reachable from deps, and the cycle it reports is a
// shortest one. The answer depends only on tx, so every replica gives the
// same one for the same entry.
func dependencyCycle(tx *bolt.Tx, name string, deps []apis.RunDependency) ([]string, error) {
	if len(deps) == 0 {
		return nil, nil
	}
	b := tx.Bucket(bucketRuns)
	parent := map[string]string{} // visited Run → the Run that led to it
	var queue []string
	for _, d := range deps {
		if _, seen := parent[d.Name]; !seen && d.Name != name {
			parent[d.Name] = name
			queue = append(queue, d.Name)
		}
	}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		raw := b.Get([]byte(cur))
		if raw == nil {
			continue
		}
		var sd storedDeps
		if err := json.Unmarshal(raw, &sd); err != nil {
			// Stored by this FSM: one that does not decode is a damaged file.
			panic(fatalError{fmt.Errorf("raftstore: decode %s/%s: %w", bucketRuns, clip([]byte(cur)), err)})
		}
		for _, d := range sd.Spec.DependsOn {
			if d.Name == name {
				path := []string{name}
				for n := cur; n != name; n = parent[n] {
					path = append(path, n)
				}
				slices.Reverse(path[1:])
				return append(path, name), nil
			}
			if _, seen := parent[d.Name]; !seen {
				if len(parent) == apis.MaxUpstreamRuns {
					return nil, errTooManyUpstream
				}
				parent[d.Name] = cur
				queue = append(queue, d.Name)
			}
		}
	}
	return nil, nil
}

// checkDependencies refuses to create a Run named name with deps when
// they would close a cycle with the Runs in tx, or reach too far upstream.
func checkDependencies(tx *bolt.Tx, name string, deps []apis.RunDependency) error {
	cycle, err := dependencyCycle(tx, name, deps)
	msg := ""
	switch {
	case err != nil:
		msg = err.Error()
	case cycle != nil:
		msg = "a cycle: " + strings.Join(cycle, " → ") + " (each Run waits for the next; none could ever start)"
	default:
		return nil
	}
	return &apis.InvalidError{Kind: apis.KindRun, Name: name, Errors: apis.ErrorList{{Field: "spec.dependsOn", Message: msg}}}
}

// checkCycle refuses to create run when its dependsOn would close a cycle
// with the Runs already applied, this entry's batch included.
func (a *applier) checkCycle(run *apis.Run) error {
	return checkDependencies(a.tx, run.Metadata.Name, run.Spec.DependsOn)
}

// depIndex maps a Run name to the Runs whose dependsOn names it (which
// need not exist). It is derived state: rebuilt from the file on open,
// wipe and Restore, and kept current from each committed batch's watch
// events (dependsOn is immutable, so only creates and deletes change it).
// Readers may see it a batch behind the file, never ahead.
type depIndex struct {
	mu         sync.RWMutex
	dependents map[string]map[string]struct{}
}

func newDepIndex() *depIndex {
	return &depIndex{dependents: map[string]map[string]struct{}{}}
}

// reset empties the index (a wiped file).
func (x *depIndex) reset() {
	x.mu.Lock()
	x.dependents = map[string]map[string]struct{}{}
	x.mu.Unlock()
}

// rebuild replaces the index with the edges of every Run in tx.
func (x *depIndex) rebuild(tx *bolt.Tx) error {
	m := map[string]map[string]struct{}{}
	err := tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
		var sd storedDeps
		if err := json.Unmarshal(v, &sd); err != nil {
			return fmt.Errorf("decode %s/%s: %w", bucketRuns, clip(k), err)
		}
		for _, d := range sd.Spec.DependsOn {
			addEdge(m, d.Name, string(k))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index run dependencies: %w", err)
	}
	x.mu.Lock()
	x.dependents = m
	x.mu.Unlock()
	return nil
}

func addEdge(m map[string]map[string]struct{}, dep, dependent string) {
	s := m[dep]
	if s == nil {
		s = map[string]struct{}{}
		m[dep] = s
	}
	s[dependent] = struct{}{}
}

// apply updates the index with a committed batch's changes.
func (x *depIndex) apply(events []watchEvent) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ev := range events {
		if ev.run == nil || len(ev.run.Spec.DependsOn) == 0 {
			continue
		}
		name := ev.run.Metadata.Name
		for _, d := range ev.run.Spec.DependsOn {
			switch ev.typ {
			case apis.Added, apis.Modified:
				// dependsOn is immutable through the API; an update
				// that changed it anyway leaves a stale edge, which
				// readers filter (they re-read the Run).
				addEdge(x.dependents, d.Name, name)
			case apis.Deleted:
				if s := x.dependents[d.Name]; s != nil {
					delete(s, name)
					if len(s) == 0 {
						delete(x.dependents, d.Name)
					}
				}
			}
		}
	}
}

// of returns the names of the Runs that depend on name, sorted.
func (x *depIndex) of(name string) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.dependents[name]
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Dependents returns the names of the Runs whose spec.dependsOn names
// name, sorted, from the local applied state (a Run need not exist to be
// depended on). Each is read back, so the answer holds only Runs that
// exist and still name it.
func (s *Store) Dependents(_ context.Context, name string) ([]string, error) {
	cands := s.fsm.deps.of(name)
	if len(cands) == 0 {
		return nil, nil
	}
	out := cands[:0]
	err := s.fsm.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		for _, c := range cands {
			raw := b.Get([]byte(c))
			if raw == nil {
				continue
			}
			var sd storedDeps
			if err := json.Unmarshal(raw, &sd); err != nil {
				return fmt.Errorf("run %q: %w", c, err)
			}
			if slices.ContainsFunc(sd.Spec.DependsOn, func(d apis.RunDependency) bool { return d.Name == name }) {
				out = append(out, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dependents of %q: %w", name, err)
	}
	return out, nil
}
