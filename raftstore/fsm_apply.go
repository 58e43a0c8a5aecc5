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
	raw := a.tx.Bucket(bucketRuns).Get([]byte(op.Name))
	var cur *apis.Run
	if raw != nil {
		cur = &apis.Run{}
		if err := json.Unmarshal(raw, cur); err != nil {
			panic(fmt.Sprintf("raftstore: decode %s/%s at %d: %v", bucketRuns, op.Name, a.index, err))
		}
		raw = bytes.Clone(raw) // bbolt's bytes live only as long as the transaction
	}
	switch op.Op {
	case opCreate:
		if op.Run == nil || op.Run.Metadata.Name != op.Name || op.Name == "" {
			return result{Err: fmt.Errorf("apply %q: create without a matching Run: %w", op.Name, apis.ErrBadRequest)}
		}
		if cur != nil {
			return result{Err: errStale}
		}
		run := *op.Run
		run.APIVersion, run.Kind = apis.APIVersion, apis.KindRun
		run.Metadata.Generation = 1
		run.Metadata.DeletionTimestamp = nil
		// Leftovers of an earlier Run of the same name must not become this one's.
		a.del(bucketAttempts, []byte(op.Name))
		a.del(bucketEvents, []byte(op.Name))
		b := a.storeRun(&run)
		a.emit(apis.Added, &run)
		return result{Run: &run, JSON: b, Outcome: ApplyCreated}
	case opUpdate:
		if op.Run == nil {
			return result{Err: fmt.Errorf("apply %q: update without a Run: %w", op.Name, apis.ErrBadRequest)}
		}
		if cur == nil || cur.Metadata.ResourceVersion != op.ExpectRV {
			return result{Err: errStale}
		}
		next, changed := applyChanges(cur, op.Run)
		if !changed {
			return result{Run: cur, JSON: raw, Outcome: ApplyUnchanged}
		}
		b := a.storeRun(&next)
		a.emit(apis.Modified, &next)
		return result{Run: &next, JSON: b, Outcome: ApplyConfigured}
	case opCheck:
		if op.ExpectRV == "" && cur == nil || cur != nil && cur.Metadata.ResourceVersion == op.ExpectRV {
			return result{Run: cur, JSON: raw}
		}
		return result{Err: errStale}
	}
	return result{Err: fmt.Errorf("apply %q: unknown op %q: %w", op.Name, op.Op, apis.ErrBadRequest)}
}

// storeRun stamps the entry's index as the Run's resourceVersion, stores
// it and returns the stored JSON.
func (a *applier) storeRun(run *apis.Run) []byte {
	run.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	b, err := json.Marshal(run)
	if err != nil {
		panic(fmt.Sprintf("raftstore: encode %s/%s at %d: %v", bucketRuns, run.Metadata.Name, a.index, err))
	}
	a.put(bucketRuns, []byte(run.Metadata.Name), b)
	return b
}

// applyChanges is cur with the labels, annotations and spec of req, and
// the generation bumped when the spec changed; changed is false when they
// are all equal already (an absent map equals an empty one).
func applyChanges(cur, req *apis.Run) (next apis.Run, changed bool) {
	specChanged := !jsonEqual(cur.Spec, req.Spec)
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
