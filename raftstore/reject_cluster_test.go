package raftstore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// requireRejections checks that every running node reports count
// rejected entries, the last being last.
func requireRejections(t *testing.T, c *raftstoretest.Cluster, count uint64, last raftstore.RejectedEntry) {
	t.Helper()
	for _, n := range c.Running() {
		info, err := n.Store.Cluster()
		require.NoError(t, err, n.ID)
		assert.Equal(t, count, info.RejectedEntries, n.ID)
		if assert.NotNil(t, info.LastRejected, n.ID) {
			assert.Equal(t, last, *info.LastRejected, n.ID)
		}
	}
}

// Entries committed behind the Store's back (raw bytes through raft.Apply
// on the leader) that no FSM can decode or apply: every node stays up,
// rejects them the same way, keeps identical state and counts them; a
// replay of the log after a restart, a full restart and a snapshot
// install all end the same.
func TestCluster_UndecodableEntriesLeaveEveryNodeUpAndIdentical(t *testing.T) {
	c := raftstoretest.New(t, 3, func(cfg *raftstore.Config) {
		cfg.TrailingLogs = 4 // the wiped node below is sent a snapshot
	})
	ctx := t.Context()
	createRun(t, c, newRun("before"))

	badRun, err := json.Marshal(map[string]any{"run": map[string]any{
		"metadata": map[string]any{"name": "bad"}, "spec": map[string]any{"command": "x", "cpus": -1, "mem": 1},
	}})
	require.NoError(t, err)
	entries := [][]byte{
		{42, '{', '}'}, // unknown type, not ignorable
		{raftstore.CmdCreateRunForTest, '{', '"'},                // truncated JSON
		append([]byte{raftstore.CmdCreateRunForTest}, badRun...), // a Run apis validation refuses
		{raftstore.CmdSetMemberForTest, '{', '}'},                // a member without an id
		{}, // empty
	}
	var last raftstore.RejectedEntry
	for _, data := range entries {
		var applyErr error
		require.NoError(t, c.Do(func(s *raftstore.Store) error {
			var err error
			applyErr, err = s.ApplyRawForTest(ctx, data)
			return err
		}))
		require.ErrorIs(t, applyErr, raftstore.ErrRejectedEntry)
		var rerr *raftstore.RejectedError
		require.ErrorAs(t, applyErr, &rerr)
		last = rerr.Entry
	}
	assert.Equal(t, raftstore.RejectDecode, last.Reason)

	// Every node is up and serving, with the same state and count.
	createRun(t, c, newRun("after"))
	c.EnsureSame()
	requireRejections(t, c, uint64(len(entries)), last)
	for _, n := range c.Running() {
		_, err := n.Store.GetRun(ctx, "bad")
		assert.Error(t, err, "%s stored nothing of the invalid Run", n.ID)
	}

	// A follower whose FSM file is lost replays the whole log, rejected
	// entries included, without a crash.
	f := c.Followers()[0]
	c.Shutdown(f.ID)
	require.NoError(t, os.Remove(filepath.Join(f.Dir, "fsm.db")))
	c.Restart(f.ID)
	c.EnsureSame()
	requireRejections(t, c, uint64(len(entries)), last)

	// A full restart.
	for _, n := range c.Nodes() {
		c.Shutdown(n.ID)
	}
	for _, n := range c.Nodes() {
		c.Restart(n.ID)
	}
	createRun(t, c, newRun("after-restart"))
	c.EnsureSame()
	requireRejections(t, c, uint64(len(entries)), last)

	// A node rebuilt from a snapshot gets the count with the state.
	for _, n := range c.Running() {
		require.NoError(t, n.Store.Snapshot())
	}
	victim := c.Followers()[0]
	c.Wipe(victim.ID)
	require.NoError(t, c.Do(func(s *raftstore.Store) error { return s.Remove(ctx, victim.ID) }))
	for _, name := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		createRun(t, c, newRun(name))
	}
	c.SetRaftAddr(victim.ID, "127.0.0.1:0")
	c.Restart(victim.ID)
	c.Join(victim.ID)
	c.EnsureSame()
	requireRejections(t, c, uint64(len(entries)), last)
}
