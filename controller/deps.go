package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// Run dependencies (spec.dependsOn). A Run that waits for others is not
// launched: it stays Pending with reason WaitingForDependencies until every
// dependency reached a phase that meets its condition, then takes the
// normal launch path. When a dependency ends in a phase that can never
// meet the condition, the Run ends Failed with reason DependencyFailed
// without being launched, and so does every Run downstream of it that
// needed it to succeed, all in one status batch. See DESIGN.md.

// maxCascade bounds the Runs one DependencyFailed cascade writes in one
// status batch (one Raft entry). A larger subtree is finished by the
// reconciles of the Runs at the bound, which the batch's own watch events
// enqueue.
const maxCascade = 512

// depGraph is the term's index of Run dependencies: for each name, the
// Runs whose spec.dependsOn names it. It is rebuilt from the store at the
// start of the term (and on every relist) and kept current from the
// watch; dependsOn is immutable, so only creates and deletes change it.
// The watch goroutine writes it, workers read it.
type depGraph struct {
	mu         sync.Mutex
	dependents map[string]map[string]struct{} // dependency → dependents
	deps       map[string][]string            // dependent → its dependencies
}

func newDepGraph() *depGraph {
	return &depGraph{dependents: map[string]map[string]struct{}{}, deps: map[string][]string{}}
}

// set records run's edges, replacing any it had.
func (g *depGraph) set(run *apis.Run) {
	name := run.Metadata.Name
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(name)
	if len(run.Spec.DependsOn) == 0 {
		return
	}
	ds := make([]string, len(run.Spec.DependsOn))
	for i, d := range run.Spec.DependsOn {
		ds[i] = d.Name
		s := g.dependents[d.Name]
		if s == nil {
			s = map[string]struct{}{}
			g.dependents[d.Name] = s
		}
		s[name] = struct{}{}
	}
	g.deps[name] = ds
}

// remove forgets the edges of a deleted Run.
func (g *depGraph) remove(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(name)
}

func (g *depGraph) removeLocked(name string) {
	for _, d := range g.deps[name] {
		if s := g.dependents[d]; s != nil {
			delete(s, name)
			if len(s) == 0 {
				delete(g.dependents, d)
			}
		}
	}
	delete(g.deps, name)
}

// replace takes over other's edges (a relist).
func (g *depGraph) replace(other *depGraph) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dependents, g.deps = other.dependents, other.deps
}

// of returns the Runs that depend on name, sorted.
func (g *depGraph) of(name string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.dependents[name]
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// observe keeps the graph current with one watch event and returns the
// Runs to reconcile again because of it: the dependents of a Run that
// appeared, went, or reached a terminal phase (the only changes that can
// meet, or never meet, their conditions).
func (g *depGraph) observe(typ apis.EventType, run *apis.Run) []string {
	name := run.Metadata.Name
	switch typ {
	case apis.Deleted:
		g.remove(name)
	case apis.Added, apis.Modified:
		g.set(run)
	}
	if typ == apis.Added || typ == apis.Deleted || run.Status.Phase.Terminal() {
		return g.of(name)
	}
	return nil
}

// awaitsDependencies reports whether run still has its dependencies to
// wait for: it has some, was never launched, and is not finished, being
// deleted or cancelled (those paths come first and do not wait).
func awaitsDependencies(run *apis.Run) bool {
	return len(run.Spec.DependsOn) > 0 && run.Status.Attempts == 0 && !run.Status.Phase.Terminal() &&
		run.Metadata.DeletionTimestamp == nil && !run.Spec.Cancel
}

// blocker is a dependency that can never meet its condition.
type blocker struct {
	name, condition string
	phase           apis.RunPhase
	reason          string
}

func (b blocker) message() string {
	why := ""
	if b.reason != "" {
		why = " (" + b.reason + ")"
	}
	return fmt.Sprintf("dependency %s ended %s%s; it needed %s", b.name, b.phase, why, b.condition)
}

// reconcileDependencies decides a Run that awaits its dependencies (see
// awaitsDependencies). done is false when every dependency is met: the
// caller then takes the normal launch path. Otherwise the Run waits
// (Pending, WaitingForDependencies, not handed to the launcher) or, when a
// dependency can never meet its condition, fails with its downstream.
func (t *term) reconcileDependencies(ctx context.Context, run *apis.Run, now time.Time) (res Result, done bool, err error) {
	name := run.Metadata.Name
	var waiting []string
	var met []string
	for _, d := range run.Spec.DependsOn {
		dep, err := t.store.GetRun(ctx, d.Name)
		if errors.Is(err, apis.ErrNotFound) {
			// Not created yet, or deleted: it is waited for, as
			// Kubernetes waits for a ConfigMap a Pod names (DESIGN.md).
			waiting = append(waiting, d.Name+" (not found)")
			continue
		}
		if err != nil {
			return Result{}, true, fmt.Errorf("get dependency %s: %w", d.Name, err)
		}
		ok, never := apis.DependencyMet(d.Condition, dep.Status.Phase)
		switch {
		case never:
			t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
			b := blocker{name: d.Name, condition: d.Condition, phase: dep.Status.Phase, reason: dep.Status.Reason}
			return Result{}, true, t.failDownstream(ctx, run, b)
		case ok:
			met = append(met, d.Name+" "+string(dep.Status.Phase))
		default:
			waiting = append(waiting, d.Name+" ("+d.Condition+")")
		}
	}
	if len(waiting) > 0 {
		t.launcher.send(ctx, launcherMsg{kind: msgNotPending, name: name})
		msg := "waiting for " + strings.Join(waiting, ", ")
		if s := run.Status; s.Phase == apis.PhasePending && s.Reason == apis.ReasonWaitingForDependencies && s.Message == msg {
			return Result{}, true, nil // written already: a write would only enqueue the Run again
		}
		uid := run.Metadata.UID
		first := run.Status.Reason != apis.ReasonWaitingForDependencies
		// Not awaited, as the Pending write of reconcileIdle: nothing
		// is launched because of it.
		err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if r.Metadata.UID != uid || !awaitsDependencies(r) {
				return nil
			}
			if _, live := t.attempts.get(name); live {
				return nil
			}
			s := r.Status
			setPhase(&s, apis.PhasePending, now)
			s.Reason = apis.ReasonWaitingForDependencies
			s.Message = msg
			s.ObservedGeneration = r.Metadata.Generation
			ch := &statusChange{status: s}
			if first {
				ch.events = []apis.RunEvent{event(now, apis.EventNormal, apis.ReasonWaitingForDependencies, "%s", msg)}
			}
			return ch
		}, false)
		return Result{}, true, err
	}
	if run.Status.Reason == apis.ReasonWaitingForDependencies {
		// Met: leave the reason behind and wait for an offer like any
		// new Run (the launch itself writes the next status).
		uid := run.Metadata.UID
		msg := "dependencies met: " + strings.Join(met, ", ")
		err := t.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if r.Metadata.UID != uid || r.Status.Reason != apis.ReasonWaitingForDependencies || !awaitsDependencies(r) {
				return nil
			}
			s := r.Status
			setPhase(&s, apis.PhasePending, now)
			s.Reason = ""
			s.Message = "waiting for an offer"
			s.ObservedGeneration = r.Metadata.Generation
			return &statusChange{status: s, events: []apis.RunEvent{event(now, apis.EventNormal, "DependenciesMet",
				"%s; waiting for an offer that fits cpus %s, mem %s", msg, num(r.Spec.Cpus), num(r.Spec.Mem))}}
		}, false)
		if err != nil {
			return Result{}, true, err
		}
		run.Status.Phase, run.Status.Reason = apis.PhasePending, ""
	}
	return Result{}, false, nil
}

// failDownstream ends run Failed with reason DependencyFailed because of
// b, and with it every Run downstream that can now never run: each Run
// that waits for a failed one with condition Succeeded (one waiting with
// Failed or Completed has its condition met by the failure instead and is
// left to its own reconcile). The whole subtree is one status batch, so a
// pipeline fails at once rather than one level per reconcile; beyond
// maxCascade Runs the rest follows from the next reconciles.
func (t *term) failDownstream(ctx context.Context, run *apis.Run, b blocker) error {
	type failure struct{ name, uid, msg string }
	root := run.Metadata.Name
	fails := []failure{{root, run.Metadata.UID, b.message()}}
	seen := map[string]bool{root: true}
	for q := []string{root}; len(q) > 0 && len(fails) < maxCascade; q = q[1:] {
		parent := q[0]
		for _, name := range t.deps.of(parent) {
			if seen[name] || len(fails) >= maxCascade {
				continue
			}
			r, err := t.store.GetRun(ctx, name)
			if errors.Is(err, apis.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("get dependent %s: %w", name, err)
			}
			if !awaitsDependencies(r) {
				continue
			}
			if _, live := t.attempts.get(name); live {
				continue
			}
			i := slices.IndexFunc(r.Spec.DependsOn, func(d apis.RunDependency) bool { return d.Name == parent })
			if i < 0 {
				continue
			}
			cond := r.Spec.DependsOn[i].Condition
			if _, never := apis.DependencyMet(cond, apis.PhaseFailed); !never {
				continue
			}
			seen[name] = true
			msg := blocker{name: parent, condition: cond, phase: apis.PhaseFailed, reason: apis.ReasonDependencyFailed}.message()
			fails = append(fails, failure{name, r.Metadata.UID, msg})
			q = append(q, name)
		}
	}
	muts := make([]namedMutation, len(fails))
	for i, f := range fails {
		muts[i] = namedMutation{name: f.name, m: t.dependencyFailed(f.uid, f.msg)}
	}
	t.logger(ctx).Info("dependency failed; failing the run and its downstream",
		"dependency", b.name, "phase", b.phase, "runs", len(fails))
	return t.writer.mutateAll(ctx, muts)
}

// dependencyFailed is the mutation that ends a never-launched Run Failed
// with reason DependencyFailed. It writes nothing if the Run (of that uid)
// was launched, finished or went meanwhile.
func (t *term) dependencyFailed(uid, msg string) mutation {
	return func(r *apis.Run, now time.Time) *statusChange {
		if r.Metadata.UID != uid || r.Status.Phase.Terminal() || r.Status.Attempts > 0 {
			return nil
		}
		if _, live := t.attempts.get(r.Metadata.Name); live {
			return nil
		}
		s := r.Status
		setPhase(&s, apis.PhaseFailed, now)
		s.Reason = apis.ReasonDependencyFailed
		s.Message = msg
		tm := now
		s.CompletionTime = &tm
		s.ObservedGeneration = r.Metadata.Generation
		return &statusChange{status: s, events: []apis.RunEvent{event(now, apis.EventWarning, apis.ReasonDependencyFailed, "not launched: %s", msg)}}
	}
}

// heldByDependents adds to held the dependencies r still waits for: GC
// keeps those finished Runs, or r would find them gone and wait for good
// (a dependency with ttlSecondsAfterFinished 0, say).
func heldByDependents(r *apis.Run, held map[string]bool) {
	if !awaitsDependencies(r) {
		return
	}
	for _, d := range r.Spec.DependsOn {
		held[d.Name] = true
	}
}
