package raftstore

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The member list is cached between reads; every way the bucket changes
// must show in the next read.
func TestFSM_MemberListFollowsEveryChange(t *testing.T) {
	f := newTestFSM(t)
	members := func(f *fsm) map[string]Member {
		t.Helper()
		ms, err := f.members()
		require.NoError(t, err)
		return ms
	}
	n1 := Member{ID: "n1", RaftAddr: "r1", HTTPAddr: "h1"}
	n2 := Member{ID: "n2", RaftAddr: "r2", HTTPAddr: "h2"}
	assert.Empty(t, members(f))

	applyCmd(t, f, cmdSetMember, setMemberCmd{Member: n1})
	assert.Equal(t, map[string]Member{"n1": n1}, members(f), "a member added")
	assert.Equal(t, map[string]Member{"n1": n1}, members(f), "read again, from the cache")

	mine := members(f)
	mine["n9"] = Member{ID: "n9"}
	assert.Equal(t, map[string]Member{"n1": n1}, members(f), "a caller's changes to its copy stay its own")

	n1moved := Member{ID: "n1", RaftAddr: "r1", HTTPAddr: "h1-moved", StoreLevel: StoreLevel}
	applyCmd(t, f, cmdSetMember, setMemberCmd{Member: n1moved})
	applyCmd(t, f, cmdSetMember, setMemberCmd{Member: n2})
	assert.Equal(t, map[string]Member{"n1": n1moved, "n2": n2}, members(f), "a member's new address and level")

	applyCmd(t, f, cmdRemoveMember, removeMemberCmd{ID: "n2"})
	assert.Equal(t, map[string]Member{"n1": n1moved}, members(f), "a member removed")

	// Restore: the snapshot's members replace the cached ones.
	src := newTestFSM(t)
	applyCmd(t, src, cmdSetMember, setMemberCmd{Member: n2})
	snap, err := src.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	require.NoError(t, f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	assert.Equal(t, map[string]Member{"n2": n2}, members(f), "restored from a snapshot")

	require.NoError(t, f.wipe())
	assert.Empty(t, members(f), "wiped")
}

// A list read before a change, filed after it, is never served.
func TestMemberCache_ReadRacingAChange(t *testing.T) {
	var c memberCache
	old := map[string]Member{"n1": {ID: "n1", HTTPAddr: "old"}}
	cur := map[string]Member{"n1": {ID: "n1", HTTPAddr: "new"}}
	got, err := c.get(func() (map[string]Member, error) {
		c.changed() // the change commits while this read is under way
		return old, nil
	})
	require.NoError(t, err)
	assert.Equal(t, old, got, "the racing reader gets what it read")
	got, err = c.get(func() (map[string]Member, error) { return cur, nil })
	require.NoError(t, err)
	assert.Equal(t, cur, got, "the next reader reads again")
	got, err = c.get(func() (map[string]Member, error) {
		t.Fatal("read again although nothing changed")
		return nil, nil
	})
	require.NoError(t, err)
	assert.Equal(t, cur, got)
}
