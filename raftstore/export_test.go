package raftstore

import (
	"context"
	"fmt"
)

// ApplyRawForTest proposes data as a Raft entry on the leader exactly as
// given, bypassing the Store's validation: what a buggy or hostile peer
// could commit. It returns the FSM's answer (applyErr) and raft's error.
// Test builds only.
func (s *Store) ApplyRawForTest(ctx context.Context, data []byte) (applyErr, err error) {
	if !s.IsLeader() {
		return nil, fmt.Errorf("raw apply: %w", s.notLeader())
	}
	f := s.raft.Apply(data, s.timeout(ctx))
	if err := s.wait(ctx, f); err != nil {
		return nil, s.raftErr("raw apply", err)
	}
	r, ok := f.Response().(result)
	if !ok {
		return nil, fmt.Errorf("raw apply: response %T", f.Response())
	}
	return r.Err, nil
}

// Command types and framing for tests that build entries by hand.
const (
	CmdCreateRunForTest = byte(cmdCreateRun)
	CmdSetMemberForTest = byte(cmdSetMember)
)
