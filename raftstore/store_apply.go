package raftstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// ApplyOutcome tells what an apply did to a Run, as kubectl prints it.
type ApplyOutcome string

// The outcomes of ApplyRuns.
const (
	ApplyCreated    ApplyOutcome = "created"
	ApplyConfigured ApplyOutcome = "configured"
	ApplyUnchanged  ApplyOutcome = "unchanged"
)

// ApplyRequest is one Run of ApplyRuns.
type ApplyRequest struct {
	// Name of the Run.
	Name string
	// Precondition is the resourceVersion the caller requires the Run to
	// be at (Decide refuses any other), or "". Without one, an update
	// decided on the Run still applies after writes that left its uid and
	// spec alone (status, labels): they do not change what Decide saw.
	Precondition string
	// Decide returns the Run as the apply wants it, given the current one
	// (nil when there is none): a new Run whole (the store sets its uid,
	// creationTimestamp, generation and resourceVersion), or a copy of cur
	// with its labels, annotations and spec changed (nothing else of it is
	// stored). An error refuses the Run. Decide must not modify cur, and
	// may be called more than once: again whenever the Run changed
	// concurrently before the decision could be committed.
	Decide func(cur *apis.Run) (*apis.Run, error)
}

// ApplyResult is the outcome of one ApplyRequest: Outcome and Object, the
// Run's JSON as stored (for a dry run, as it would be), or Err.
type ApplyResult struct {
	Outcome ApplyOutcome
	Object  []byte
	Err     error
}

// maxApplyRounds bounds how often ApplyRuns decides a Run again because it
// changed concurrently; past it the Run's result is a conflict.
const maxApplyRounds = 8

// ApplyRuns creates or updates Runs (kubectl apply) in one Raft entry
// without a read barrier first: each Run is decided against this leader's
// local state, and the entry carries the decision with the state it was
// made on as a precondition (the Run absent; the same Run with the same
// spec; or, with a Precondition, at that exact resourceVersion), which the
// FSM checks at the entry's place in the log. A Run whose
// precondition failed is decided again on the state after that entry and
// proposed again; the others are done. A decision that writes nothing (the
// Run is unchanged, or Decide refused it) is confirmed the same way,
// inside the entry when others write, otherwise by one linearizable read
// after which it is decided again, so an unchanged apply never gets a new
// resourceVersion. Each result is thus what the apply did at one point
// between the call and its return: the requests are independent, not one
// transaction, and two of the same name apply one after the other.
//
// With dryRun nothing is written: every Run is decided after a
// linearizable read. The error is for the call as a whole
// (*NotLeaderError, ErrLeadershipLost, ErrClosed, ctx); when it is not
// *NotLeaderError some Runs may have been applied.
func (s *Store) ApplyRuns(ctx context.Context, reqs []ApplyRequest, dryRun bool) ([]ApplyResult, error) {
	out := make([]ApplyResult, len(reqs))
	todo := make([]int, len(reqs))
	for i := range todo {
		todo[i] = i
	}
	// confirmed: the local state is known to hold every write committed
	// before this call (a linearizable read since the last entry), so a
	// decision that writes nothing is final.
	confirmed := false
	if dryRun {
		if err := s.LinearizableRead(ctx); err != nil {
			return nil, err
		}
		confirmed = true
	}
	for round := 0; len(todo) > 0; round++ {
		if round == maxApplyRounds {
			for _, i := range todo {
				out[i].Err = fmt.Errorf("run %q changed concurrently %d times while it was being applied; apply again: %w",
					reqs[i].Name, maxApplyRounds, apis.ErrConflict)
			}
			break
		}
		names := make([]string, len(todo))
		for k, i := range todo {
			names[k] = reqs[i].Name
		}
		curs, err := s.fsm.getRuns(names)
		if err != nil {
			return nil, err
		}
		var ops, checks []applyOp
		var opOf, checkOf []int
		held := map[int]ApplyResult{} // decisions that write nothing, awaiting confirmation
		for k, i := range todo {
			cur := curs[k]
			res, op, err := s.decideApply(reqs[i], cur, dryRun)
			switch {
			case err != nil:
				return nil, err
			case op == nil && confirmed:
				out[i] = res
			case op == nil:
				held[i] = res
				checks = append(checks, checkOp(reqs[i].Name, cur))
				checkOf = append(checkOf, i)
			default:
				ops = append(ops, *op)
				opOf = append(opOf, i)
			}
		}
		todo = nil
		if len(ops) == 0 {
			if len(checks) > 0 {
				// Nothing to write: confirm with a read barrier rather
				// than an entry, and decide those again.
				if err := s.LinearizableRead(ctx); err != nil {
					return nil, err
				}
				confirmed = true
				todo = checkOf
			}
			continue
		}
		r, err := s.propose(ctx, cmdApplyRuns, applyRunsCmd{Ops: append(ops, checks...)})
		if err != nil {
			return nil, err
		}
		if len(r.Items) != len(ops)+len(checks) {
			return nil, fmt.Errorf("%s: %d results for %d ops", cmdApplyRuns, len(r.Items), len(ops)+len(checks))
		}
		confirmed = false
		for j, it := range r.Items {
			if j >= len(ops) {
				i := checkOf[j-len(ops)]
				if errors.Is(it.Err, errStale) {
					todo = append(todo, i)
					continue
				}
				out[i] = held[i]
				continue
			}
			i := opOf[j]
			switch {
			case errors.Is(it.Err, errStale):
				todo = append(todo, i)
			case it.Err != nil:
				out[i] = ApplyResult{Err: it.Err}
			default:
				out[i] = ApplyResult{Outcome: it.Outcome, Object: it.JSON}
			}
		}
	}
	return out, nil
}

// decideApply decides one request against cur (nil: no such Run). It
// returns the op to commit, or nil and the final result when the decision
// writes nothing (refused, unchanged, or a dry run). The error is a bug of
// the caller's Decide, not the Run's.
func (s *Store) decideApply(req ApplyRequest, cur *storedRun, dryRun bool) (ApplyResult, *applyOp, error) {
	var curRun *apis.Run
	if cur != nil {
		curRun = cur.run
	}
	next, err := req.Decide(curRun)
	if err != nil {
		return ApplyResult{Err: err}, nil, nil
	}
	if next == nil || next.Metadata.Name != req.Name {
		return ApplyResult{}, nil, fmt.Errorf("apply %q: Decide returned no Run of that name", req.Name)
	}
	if cur == nil {
		run := *next
		run.APIVersion, run.Kind = apis.APIVersion, apis.KindRun
		if dryRun {
			// A dry run follows a linearizable read: the local state
			// holds every Run committed before the call.
			if err := s.fsm.view(func(tx *bolt.Tx) error {
				return checkDependencies(tx, req.Name, run.Spec.DependsOn)
			}); err != nil {
				return ApplyResult{Err: err}, nil, nil
			}
			return ApplyResult{Outcome: ApplyCreated, Object: mustJSON(&run)}, nil, nil
		}
		now := s.cfg.Now().UTC()
		run.Metadata.UID = uuid.NewString()
		run.Metadata.CreationTimestamp = &now
		run.Metadata.ResourceVersion = ""
		run.Metadata.DeletionTimestamp = nil
		setInitialStatus(&run, now)
		return ApplyResult{}, &applyOp{Op: opCreate, Name: req.Name, Run: &run}, nil
	}
	merged, changed := applyChanges(cur.run, next)
	if !changed {
		return ApplyResult{Outcome: ApplyUnchanged, Object: cur.raw}, nil, nil
	}
	if dryRun {
		return ApplyResult{Outcome: ApplyConfigured, Object: mustJSON(&merged)}, nil, nil
	}
	change := &apis.Run{
		Metadata: apis.ObjectMeta{Name: req.Name, Labels: next.Metadata.Labels, Annotations: next.Metadata.Annotations},
		Spec:     next.Spec,
	}
	op := &applyOp{Op: opUpdate, Name: req.Name, Run: change}
	if req.Precondition != "" {
		op.ExpectRV = cur.run.Metadata.ResourceVersion
	} else {
		op.ExpectUID, op.ExpectGeneration = cur.run.Metadata.UID, cur.run.Metadata.Generation
	}
	return ApplyResult{}, op, nil
}

// checkOp confirms that the Run is still as cur (nil: absent).
func checkOp(name string, cur *storedRun) applyOp {
	op := applyOp{Op: opCheck, Name: name}
	if cur != nil {
		op.ExpectRV = cur.run.Metadata.ResourceVersion
	}
	return op
}

func mustJSON(run *apis.Run) []byte {
	b, err := json.Marshal(run)
	if err != nil {
		panic(fmt.Sprintf("raftstore: encode run: %v", err)) // a Run always encodes
	}
	return b
}

// storedRun is a Run read from the FSM, decoded and as stored.
type storedRun struct {
	run *apis.Run
	raw []byte
}

// getRuns reads the named Runs in one read transaction; nil for those that
// do not exist. Each name is decoded once: requests of the same name share
// the decoded Run.
func (f *fsm) getRuns(names []string) ([]*storedRun, error) {
	out := make([]*storedRun, len(names))
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRuns)
		seen := map[string]*storedRun{}
		for i, name := range names {
			if sr, ok := seen[name]; ok {
				out[i] = sr
				continue
			}
			raw := b.Get([]byte(name))
			if raw != nil {
				run, err := decodeRun(raw)
				if err != nil {
					return fmt.Errorf("run %q: %w", name, err)
				}
				out[i] = &storedRun{run: run, raw: bytes.Clone(raw)}
			}
			seen[name] = out[i]
		}
		return nil
	})
	return out, err
}
