package raftstore_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

func withDeps(name string, deps ...string) *apis.Run {
	r := newRun(name)
	for _, d := range deps {
		r.Spec.DependsOn = append(r.Spec.DependsOn, apis.RunDependency{Name: d, Condition: apis.ConditionSucceeded})
	}
	return r
}

func TestStore_CreateRefusesThreeRunCycle(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	for _, r := range []*apis.Run{withDeps("transform", "extract"), withDeps("extract", "load")} {
		_, err := s.CreateRun(ctx, r)
		require.NoError(t, err)
	}
	_, err := s.CreateRun(ctx, withDeps("load", "transform"))
	require.ErrorIs(t, err, apis.ErrInvalid)
	assert.Contains(t, err.Error(), "spec.dependsOn: a cycle: load → transform → extract → load")

	// The same through apply, dry run included.
	for _, dry := range []bool{true, false} {
		res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "load", Decide: func(*apis.Run) (*apis.Run, error) {
			return withDeps("load", "transform"), nil
		}}}, dry)
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, apis.ErrInvalid, "dry run %v", dry)
		assert.Contains(t, res[0].Err.Error(), "load → transform → extract → load")
	}
	_, err = s.GetRun(ctx, "load")
	require.ErrorIs(t, err, apis.ErrNotFound)

	deps, err := s.Dependents(ctx, "extract")
	require.NoError(t, err)
	assert.Equal(t, []string{"transform"}, deps)
}

// Two clients create a and b at the same time, a waiting for b and b for
// a: each alone is fine (its dependency does not exist yet), together they
// would be a cycle. Whatever the interleaving, exactly one is created.
func TestStore_ConcurrentCreatesCannotCloseACycle(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	for i := range 20 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // POST-style create
			defer wg.Done()
			_, errs[0] = s.CreateRun(ctx, withDeps(a, b))
		}()
		go func() { // kubectl-apply-style create
			defer wg.Done()
			res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: b, Decide: func(*apis.Run) (*apis.Run, error) {
				return withDeps(b, a), nil
			}}}, false)
			if err == nil {
				err = res[0].Err
			}
			errs[1] = err
		}()
		wg.Wait()
		failed := 0
		for _, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, apis.ErrInvalid)
				assert.Contains(t, err.Error(), "a cycle")
				failed++
			}
		}
		require.Equal(t, 1, failed, "round %d: exactly one of the two creates fails: %v", i, errs)
	}
}
