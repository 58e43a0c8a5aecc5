package raftstore

import (
	"maps"

	"github.com/sprint-project/sprint/apis"
)

// A watch with a selector is told what its selection did, not only what
// the store did, as the Kubernetes API server's watch cache tells it: a
// change after which an object matches, when it did not before, is ADDED;
// one after which it no longer matches is DELETED (carrying the object's
// state after the change and the change's resourceVersion); a change of
// an object that matches before and after is MODIFIED, and one of an
// object that matches neither before nor after is not sent. A deletion is
// sent when the deleted object (its last state) matches. Both watch
// histories (Runs, Schedules) decide with selectEvent; each keeps, with a
// MODIFIED change, what its selectors saw before it when the change
// altered that (runPrior, sharedSchedule.prior), and nothing otherwise.
// Kubernetes sends the object's previous state in that DELETED; Sprint
// sends the current one (see docs/api.md), which costs the history nothing
// and tells the client why the object left.

// selectEvent returns the type of event a watch whose selector is match
// sends for a change of type typ, and false when it sends none. obj is the
// object after the change (as it was deleted, for DELETED); before returns
// the object as the selector saw it before a MODIFIED change, or nil when
// the change left everything the selector looks at as it was.
func selectEvent[T any](typ apis.EventType, match func(*T) bool, obj *T, before func() *T) (apis.EventType, bool) {
	if match == nil {
		return typ, true
	}
	now := match(obj)
	was := now
	if typ == apis.Modified {
		if b := before(); b != nil {
			was = match(b)
		}
	}
	return apis.SelectedEvent(typ, was, now)
}

// runPrior is what selectors saw in a Run before a MODIFIED change that
// altered it: the phase, and the labels when the change replaced them (a
// Run's labels change seldom, its phase at most a few times, so a change
// keeps a few bytes at most, and nothing when it altered neither).
type runPrior struct {
	phase     apis.RunPhase
	relabeled bool              // labels are the Run's before; else as after
	labels    map[string]string // shared with the FSM's earlier Run, never modified
}

// priorOf is what selectors saw of prev that next changed; nil when next
// has prev's labels and phase.
func priorOf(prev, next *apis.Run) *runPrior {
	relabeled := !maps.Equal(prev.Metadata.Labels, next.Metadata.Labels)
	if !relabeled && prev.Status.Phase == next.Status.Phase {
		return nil
	}
	p := &runPrior{phase: knownPhase(prev.Status.Phase), relabeled: relabeled}
	if relabeled {
		p.labels = prev.Metadata.Labels
	}
	return p
}

// knownPhase returns phase as the package's constant when it is one, so
// that the history holds no copy of the decoded string.
func knownPhase(phase apis.RunPhase) apis.RunPhase {
	for _, k := range []apis.RunPhase{apis.PhasePending, apis.PhaseStarting, apis.PhaseRunning,
		apis.PhaseSucceeded, apis.PhaseFailed, apis.PhaseKilled} {
		if phase == k {
			return k
		}
	}
	return phase
}

// selectedBefore fills into scratch what selectors saw in a Run before a
// change that made it cur, and returns scratch; nil when p is nil (the
// change altered none of it). cur is what selectors see after it.
func (p *runPrior) selectedBefore(cur, scratch *apis.Run) *apis.Run {
	if p == nil {
		return nil
	}
	*scratch = apis.Run{
		TypeMeta: cur.TypeMeta,
		Metadata: apis.ObjectMeta{Name: cur.Metadata.Name, UID: cur.Metadata.UID,
			ResourceVersion: cur.Metadata.ResourceVersion, Labels: cur.Metadata.Labels},
		Status: apis.RunStatus{Phase: p.phase},
	}
	if p.relabeled {
		scratch.Metadata.Labels = p.labels
	}
	return scratch
}
