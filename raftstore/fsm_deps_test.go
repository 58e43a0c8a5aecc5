package raftstore

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func depRun(name string, deps ...string) apis.Run {
	r := testRun(name)
	for _, d := range deps {
		r.Spec.DependsOn = append(r.Spec.DependsOn, apis.RunDependency{Name: d, Condition: apis.ConditionSucceeded})
	}
	return r
}

func TestFSM_CreateRefusesDependencyCycle(t *testing.T) {
	tests := map[string]struct {
		existing []apis.Run // created in this order
		create   apis.Run
		cycle    string // "" when the create is accepted
	}{
		"dependency not there yet": {create: depRun("load", "transform")},
		"chain": {
			existing: []apis.Run{depRun("extract"), depRun("transform", "extract")},
			create:   depRun("load", "transform"),
		},
		"diamond": {
			existing: []apis.Run{depRun("a"), depRun("b", "a"), depRun("c", "a")},
			create:   depRun("d", "b", "c"),
		},
		"two-node cycle": {
			existing: []apis.Run{depRun("a", "b")},
			create:   depRun("b", "a"),
			cycle:    "b → a → b",
		},
		"three-node cycle": {
			existing: []apis.Run{depRun("transform", "extract"), depRun("extract", "load")},
			create:   depRun("load", "transform"),
			cycle:    "load → transform → extract → load",
		},
		"shortest cycle is named": {
			existing: []apis.Run{depRun("x", "y"), depRun("y", "z"), depRun("z", "new"), depRun("w", "new")},
			create:   depRun("new", "x", "w"),
			cycle:    "new → w → new",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, op := range []string{"create", "apply"} {
				t.Run(op, func(t *testing.T) {
					f := newTestFSM(t)
					for _, r := range tc.existing {
						require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: r}).Err)
					}
					var err error
					if op == "create" {
						err = applyCmd(t, f, cmdCreateRun, createRunCmd{Run: tc.create}).Err
					} else {
						run := tc.create
						res := applyCmd(t, f, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: run.Metadata.Name, Run: &run}}})
						require.Len(t, res.Items, 1)
						err = res.Items[0].Err
					}
					_, getErr := f.getRun(tc.create.Metadata.Name)
					if tc.cycle == "" {
						require.NoError(t, err)
						require.NoError(t, getErr)
						return
					}
					var inv *apis.InvalidError
					require.ErrorAs(t, err, &inv)
					require.Len(t, inv.Errors, 1)
					assert.Equal(t, "spec.dependsOn", inv.Errors[0].Field)
					assert.Contains(t, inv.Errors[0].Message, "a cycle: "+tc.cycle)
					require.ErrorIs(t, getErr, apis.ErrNotFound, "a refused create stores nothing")
				})
			}
		})
	}
}

// Two creates in one entry that close a cycle together: the FSM applies
// them in order and refuses the second, on every replica alike.
func TestFSM_CyclesInOneEntryAreRefused(t *testing.T) {
	f := newTestFSM(t)
	a, b := depRun("a", "b"), depRun("b", "a")
	res := applyCmd(t, f, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{
		{Op: opCreate, Name: "a", Run: &a}, {Op: opCreate, Name: "b", Run: &b},
	}})
	require.Len(t, res.Items, 2)
	require.NoError(t, res.Items[0].Err)
	require.ErrorIs(t, res.Items[1].Err, apis.ErrInvalid)
	assert.Contains(t, res.Items[1].Err.Error(), "b → a → b")
}

func TestFSM_DependentsIndexFollowsCreatesDeletesAndRestore(t *testing.T) {
	f := newTestFSM(t)
	for _, r := range []apis.Run{depRun("extract"), depRun("transform", "extract"), depRun("audit", "extract"), depRun("load", "transform")} {
		require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: r}).Err)
	}
	assert.Equal(t, []string{"audit", "transform"}, f.deps.of("extract"))
	assert.Equal(t, []string{"load"}, f.deps.of("transform"))
	applyCmd(t, f, cmdRequestDelete, requestDeleteCmd{Name: "audit"})
	assert.Equal(t, []string{"transform"}, f.deps.of("extract"))

	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	dst := newTestFSM(t)
	require.NoError(t, applyCmd(t, dst, cmdCreateRun, createRunCmd{Run: depRun("stale", "extract")}).Err)
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	assert.Equal(t, []string{"transform"}, dst.deps.of("extract"), "rebuilt from the snapshot, the stale edge gone")
	assert.Equal(t, []string{"load"}, dst.deps.of("transform"))
	assert.Empty(t, dst.deps.of("load"))
}

// The walk of a create is bounded: past apis.MaxUpstreamRuns names
// upstream (existing or not) the create is refused rather than walked.
func TestFSM_CreateRefusesTooManyUpstreamRuns(t *testing.T) {
	f := newTestFSM(t)
	var mids []string
	for i := range 16 {
		r := testRun(fmt.Sprintf("mid%02d", i))
		for j := range apis.MaxDependsOn {
			r.Spec.DependsOn = append(r.Spec.DependsOn, apis.RunDependency{Name: fmt.Sprintf("leaf%02d-%02d", i, j), Condition: apis.ConditionSucceeded})
		}
		require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: r}).Err)
		mids = append(mids, r.Metadata.Name)
	}
	ok := depRun("fifteen", mids[:15]...) // 15 + 960 upstream
	require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: ok}).Err)
	top := depRun("top", mids...) // 16 + 1024 upstream
	err := applyCmd(t, f, cmdCreateRun, createRunCmd{Run: top}).Err
	require.ErrorIs(t, err, apis.ErrInvalid)
	assert.Contains(t, err.Error(), "spec.dependsOn: more than 1000 Runs upstream")
}
