package raftstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// The model: each Run name is a register holding spec.command, or absent.
type kvInput struct {
	Op  string // create, put, apply, get, delete
	Key string
	Val string
}

type kvOutput struct {
	OK      bool   // the op took effect (get: the Run exists)
	Val     string // get's value
	Unknown bool   // the write's outcome is unknown
}

type kvState struct {
	Exists bool
	Val    string
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		next := st
		switch in.Op {
		case "create":
			if !st.Exists {
				next = kvState{Exists: true, Val: in.Val}
			}
		case "put":
			if st.Exists {
				next.Val = in.Val
			}
		case "apply":
			// Create or update: always takes effect. Out.Val is what the
			// apply reported: created, configured or unchanged.
			next = kvState{Exists: true, Val: in.Val}
			if out.Unknown {
				return true, next
			}
			want := "created"
			if st.Exists {
				want = "configured"
				if st.Val == in.Val {
					want = "unchanged"
				}
			}
			return out.OK && out.Val == want, next
		case "delete":
			next = kvState{}
		case "get":
			return out.OK == st.Exists && (!st.Exists || out.Val == st.Val), st
		}
		if out.Unknown {
			return true, next // an unknown write happened here or never (at the end)
		}
		applies := st.Exists != (in.Op == "create")
		return out.OK == applies, next
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		return fmt.Sprintf("%s(%s,%s) -> %+v", in.Op, in.Key, in.Val, out)
	},
}

// doOp runs one operation against s and classifies the result. record is
// false when the op certainly had no effect and says nothing (no leader).
func doOp(ctx context.Context, s *raftstore.Store, in kvInput) (out kvOutput, record bool, err error) {
	switch in.Op {
	case "create":
		r := newRun(in.Key)
		r.Spec.Command = in.Val
		_, err = s.CreateRun(ctx, r)
		out.OK = err == nil
		if errors.Is(err, apis.ErrAlreadyExists) {
			err = nil
		}
	case "put":
		var cur *apis.Run
		cur, err = s.GetRun(ctx, in.Key)
		if err != nil {
			cur = newRun(in.Key)
		}
		cur.Metadata.ResourceVersion, cur.Metadata.UID = "", "" // unconditional
		cur.Spec.Command = in.Val
		_, err = s.UpdateRun(ctx, cur)
		out.OK = err == nil
		if errors.Is(err, apis.ErrNotFound) {
			err = nil
		}
	case "apply":
		// Store.ApplyRuns decides against the leader's local state with
		// no read barrier; the entry's precondition must keep it
		// linearizable, and an unchanged apply must be confirmed.
		var res []raftstore.ApplyRequest
		res = append(res, raftstore.ApplyRequest{Name: in.Key, Decide: func(cur *apis.Run) (*apis.Run, error) {
			if cur == nil {
				r := newRun(in.Key)
				r.Spec.Command = in.Val
				return r, nil
			}
			next := *cur
			next.Spec.Command = in.Val
			return &next, nil
		}})
		var results []raftstore.ApplyResult
		results, err = s.ApplyRuns(ctx, res, false)
		if err == nil && errors.Is(results[0].Err, apis.ErrConflict) {
			// Changed concurrently in every round: none of them wrote.
			return out, false, nil
		}
		if err == nil {
			err = results[0].Err
		}
		if err == nil {
			out.OK, out.Val = true, string(results[0].Outcome)
		}
	case "delete":
		err = s.DeleteRun(ctx, in.Key, "")
		out.OK = err == nil
		if errors.Is(err, apis.ErrNotFound) {
			err = nil
		}
	case "get":
		var r *apis.Run
		r, err = s.GetRunConsistent(ctx, in.Key)
		if err == nil {
			out.OK, out.Val = true, r.Spec.Command
		}
		if errors.Is(err, apis.ErrNotFound) {
			err = nil
		}
	}
	switch {
	case err == nil:
		return out, true, nil
	case errors.Is(err, apis.ErrNotLeader):
		return out, false, nil // never entered the log
	case in.Op == "get":
		return out, false, nil // a failed read has no effect
	case errors.Is(err, raftstore.ErrLeadershipLost), errors.Is(err, raftstore.ErrClosed):
		return kvOutput{Unknown: true}, true, nil
	}
	return out, false, err
}

func TestCluster_LinearizableAcrossLeaderChange(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	start := time.Now()
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	ops := []string{"create", "put", "put", "apply", "apply", "get", "get", "delete"}
	for client := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(client), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var s *raftstore.Store
				for _, n := range c.Running() {
					if n.Store.IsLeader() {
						s = n.Store
					}
				}
				if s == nil {
					time.Sleep(5 * time.Millisecond) // poll for a leader
					continue
				}
				in := kvInput{Op: ops[rng.IntN(len(ops))], Key: fmt.Sprintf("k%d", rng.IntN(4)), Val: fmt.Sprintf("c%d-%d", client, i)}
				if in.Op == "apply" {
					// Few values, so that some applies find them unchanged.
					in.Val = fmt.Sprintf("v%d", rng.IntN(2))
				}
				call := time.Since(start).Nanoseconds()
				out, record, err := doOp(ctx, s, in)
				ret := time.Since(start).Nanoseconds()
				if err != nil {
					t.Errorf("%+v: %v", in, err)
					return
				}
				if !record {
					continue
				}
				if out.Unknown {
					ret = math.MaxInt64
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		}()
	}
	waitOps := func(n int) {
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(history) >= n
		}, 30*time.Second, 10*time.Millisecond)
	}
	waitOps(150)
	old := c.Leader()
	c.Shutdown(old.ID)
	mu.Lock()
	n := len(history)
	mu.Unlock()
	waitOps(n + 150)
	c.Restart(old.ID)
	waitOps(n + 300)
	close(stop)
	wg.Wait()

	res, info := porcupine.CheckOperationsVerbose(kvModel, history, 60*time.Second)
	if res == porcupine.Illegal {
		path := t.TempDir() + "/linearizability.html"
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
	}
	require.NotEqual(t, porcupine.Illegal, res, "history of %d operations is not linearizable", len(history))
	t.Logf("%d operations, result %s", len(history), res)
	c.EnsureSame()
}
