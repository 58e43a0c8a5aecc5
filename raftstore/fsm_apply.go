package raftstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/sprint-project/sprint/apis"
)

// errStale is an apply op's result when its precondition failed: the Run
// changed (or appeared, or went) since the leader decided the op. The
// leader decides it again on its fresher state; clients never see it.
var errStale = errors.New("run changed since the apply was decided")

// applyApplyRuns applies each op of an apply_runs entry on its own: an op
// whose precondition fails does nothing, the others still apply. The
// outcome depends only on the entry and the state, so every replica comes
// to the same one.
func (a *applier) applyApplyRuns(c *applyRunsCmd) result {
	items := make([]result, len(c.Ops))
	for i := range c.Ops {
		items[i] = a.applyOp(&c.Ops[i])
	}
	return result{Items: items}
}

func (a *applier) applyOp(op *applyOp) result {
	raw := a.get(bucketRuns, []byte(op.Name))
	var cur *apis.Run
	if raw != nil {
		cur = &apis.Run{}
		if err := json.Unmarshal(raw, cur); err != nil {
			// Stored by this FSM: one that does not decode is a damaged file.
			panic(fatalError{fmt.Errorf("raftstore: decode %s/%s at %d: %w", bucketRuns, clip([]byte(op.Name)), a.index, err)})
		}
		raw = bytes.Clone(raw) // bbolt's bytes live only as long as the transaction
	}
	// validateApplyOp checked the op's shape before the entry was applied.
	switch op.Op {
	case opCreate:
		if cur != nil {
			return result{Err: errStale}
		}
		run := newAppliedRun(op.Run)
		if err := a.checkCycle(&run); err != nil {
			// Decided here, against the state at the entry's place in
			// the log: two creates that would close a cycle together
			// are applied one after the other, and the second fails.
			return result{Err: err}
		}
		// Leftovers of an earlier Run of the same name must not become this one's.
		a.delIfPresent(bucketAttempts, []byte(op.Name))
		a.delIfPresent(bucketEvents, []byte(op.Name))
		b := a.storeRun(&run)
		a.emit(apis.Added, &run, b)
		return result{Run: &run, JSON: b, Outcome: ApplyCreated}
	case opUpdate:
		if cur == nil || !updateHolds(op, cur) {
			return result{Err: errStale}
		}
		next, changed := applyChanges(cur, op.Run)
		if !changed {
			return result{Run: cur, JSON: raw, Outcome: ApplyUnchanged}
		}
		if err := validateUpdate(&next); err != nil {
			// Ops before this one may have written: the entry is rejected
			// as a whole, its transaction rolled back (fsm.go).
			panic(entryError{fmt.Errorf("apply %q: %w", op.Name, err)})
		}
		b := a.storeRun(&next)
		a.emitModified(cur, &next, b)
		return result{Run: &next, JSON: b, Outcome: ApplyConfigured}
	default: // opCheck
		if op.ExpectRV == "" && cur == nil || cur != nil && cur.Metadata.ResourceVersion == op.ExpectRV {
			return result{Run: cur, JSON: raw}
		}
		return result{Err: errStale}
	}
}

// updateHolds tells whether an update op's precondition holds for cur.
func updateHolds(op *applyOp, cur *apis.Run) bool {
	if op.ExpectRV != "" {
		return cur.Metadata.ResourceVersion == op.ExpectRV
	}
	return cur.Metadata.UID == op.ExpectUID && cur.Metadata.Generation == op.ExpectGeneration
}

// newAppliedRun is the Run a create op stores, but for its resourceVersion.
func newAppliedRun(r *apis.Run) apis.Run {
	run := *r
	run.APIVersion, run.Kind = apis.APIVersion, apis.KindRun
	run.Metadata.Generation = 1
	run.Metadata.DeletionTimestamp = nil
	return run
}

// validateApplyOps is validateCommand for apply_runs: every op names its
// Run and has the shape of its kind, and a created Run is valid.
func validateApplyOps(c *applyRunsCmd) error {
	for i := range c.Ops {
		op := &c.Ops[i]
		bad := func(format string, args ...any) error {
			return fmt.Errorf("apply op %d (%s %q): %s: %w", i, op.Op, clip([]byte(op.Name)), fmt.Sprintf(format, args...), apis.ErrBadRequest)
		}
		if op.Name == "" {
			return bad("no name")
		}
		switch op.Op {
		case opCreate:
			if op.Run == nil || op.Run.Metadata.Name != op.Name {
				return bad("no Run of that name")
			}
			run := newAppliedRun(op.Run)
			if errs := apis.ValidateRun(&run); len(errs) > 0 {
				return &apis.InvalidError{Kind: apis.KindRun, Name: op.Name, Errors: errs}
			}
		case opUpdate:
			if op.Run == nil || op.Run.Metadata.Name != op.Name || op.ExpectRV == "" && op.ExpectUID == "" {
				return bad("no Run of that name or no precondition")
			}
		case opCheck:
			if op.Run != nil {
				return bad("a check carries no Run")
			}
		default:
			return bad("unknown op")
		}
	}
	return nil
}

// storeRun stamps the entry's index as the Run's resourceVersion, stores
// it and returns the stored JSON.
func (a *applier) storeRun(run *apis.Run) []byte {
	run.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	b, err := json.Marshal(run)
	if err != nil {
		// A value that does not encode (a float NaN, say) came with the entry.
		panic(entryError{fmt.Errorf("encode %s/%s: %w", bucketRuns, clip([]byte(run.Metadata.Name)), err)})
	}
	a.put(bucketRuns, []byte(run.Metadata.Name), b)
	a.wroteRun(run)
	return b
}

// applyChanges is cur with the labels, annotations and spec of req, and
// the generation bumped when the spec changed; changed is false when they
// are all equal already (an absent map equals an empty one).
func applyChanges(cur, req *apis.Run) (next apis.Run, changed bool) {
	specChanged := !cur.Spec.Equal(&req.Spec)
	if !specChanged && maps.Equal(cur.Metadata.Labels, req.Metadata.Labels) &&
		maps.Equal(cur.Metadata.Annotations, req.Metadata.Annotations) {
		return *cur, false
	}
	next = *cur
	next.Metadata.Labels = req.Metadata.Labels
	next.Metadata.Annotations = req.Metadata.Annotations
	next.Spec = req.Spec
	if specChanged {
		next.Metadata.Generation++
	}
	return next, true
}
