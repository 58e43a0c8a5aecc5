package raftstore

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// TestFSM_GrowsWithoutSync checks that an unsynced FSM file grows without
// bbolt's grow fsync, and that the file, no longer extended ahead of its
// pages by ftruncate, is complete after a crash: it passes the data dir's
// page check and opens with every entry. bbolt extends a growing file
// 16 MiB past its pages (with an fsync) unless NoGrowSync is set, so a
// file of a few MiB of pages that is still shorter than 16 MiB never took
// that path.
func TestFSM_GrowsWithoutSync(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noSync bool
	}{
		{"not synced", true},
		{"synced", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fsm.db")
			logger := slog.New(slog.DiscardHandler)
			f, err := openFSM(path, tc.noSync, 0, 10, logger)
			require.NoError(t, err)
			assert.Equal(t, tc.noSync, f.db.NoGrowSync, "bbolt's grow fsync is skipped exactly when the file is not synced")
			if !tc.noSync {
				require.NoError(t, f.close())
				return
			}
			now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
			const n = 3000 // about 4 MiB of pages
			var logs []*raft.Log
			for i := range n {
				name := fmt.Sprintf("grow-%05d", i)
				data, err := encodeCommand(cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: name, Run: benchRun(name, i, now)}}})
				require.NoError(t, err)
				logs = append(logs, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data})
				if len(logs) == MaxAppendEntries || i == n-1 {
					for _, r := range f.ApplyBatch(logs) {
						require.NoError(t, r.(result).Items[0].Err)
					}
					logs = logs[:0]
				}
			}
			var pages int64
			require.NoError(t, f.db.View(func(tx *bolt.Tx) error {
				pages = int64(tx.Size())
				return nil
			}))
			require.Greater(t, pages, int64(1<<20))
			// A crash: no clean close, no sync.
			require.NoError(t, f.db.Close())
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Less(t, fi.Size(), int64(16<<20), "the file was extended ahead of its pages, with bbolt's grow fsync")
			assert.GreaterOrEqual(t, fi.Size(), pages)

			_, err = verifyBoltFile(path)
			require.NoError(t, err)
			f, err = openFSM(path, true, 0, 10, logger)
			require.NoError(t, err)
			defer f.close()
			assert.Equal(t, uint64(n), f.applied.Load())
			_, err = f.getRun(fmt.Sprintf("grow-%05d", n-1))
			require.NoError(t, err)
		})
	}
}

// TestTxReads_ReadAsGet checks the batch's reused cursors against bbolt's
// Get in a transaction that writes between the reads: present keys, absent
// keys before, between and after them, deleted keys, an empty bucket.
func TestTxReads_ReadAsGet(t *testing.T) {
	f := newTestFSM(t)
	err := f.db.Update(func(tx *bolt.Tx) error {
		runs, events := tx.Bucket(bucketRuns), tx.Bucket(bucketEvents)
		r := txReads{}
		key := func(i int) []byte { return fmt.Appendf(nil, "k-%05d", i) }
		check := func(step string) {
			for _, b := range []*bolt.Bucket{runs, events} {
				for i := -1; i <= 2001; i++ {
					k := key(i)
					require.Equal(t, b.Get(k), r.get(b, k), "%s: key %s", step, k)
					require.Equal(t, b.Get(k) != nil, r.has(b, k), "%s: key %s", step, k)
				}
				for _, k := range [][]byte{[]byte("a"), []byte("k-"), []byte("z")} {
					require.Equal(t, b.Get(k), r.get(b, k), "%s: key %s", step, k)
				}
				last, _ := b.Cursor().Last()
				require.Equal(t, last, r.last(b), step)
			}
		}
		check("empty")
		for i := 0; i < 2000; i += 2 {
			require.NoError(t, runs.Put(key(i), fmt.Appendf(nil, "value of %d, long enough to need several pages %0200d", i, i)))
		}
		check("even keys")
		for i := 0; i < 2000; i += 3 {
			require.NoError(t, runs.Delete(key(i)))
			require.NoError(t, events.Put(key(i), []byte("x")))
		}
		check("every third deleted")
		require.NoError(t, runs.Put(key(2001), []byte("last")))
		check("a new last key")
		require.NoError(t, events.Put(key(2002), []byte{}))
		assert.True(t, r.has(events, key(2002)), "a key with an empty value")
		return nil
	})
	require.NoError(t, err)
}

// TestFSM_CreateWithoutLeftoversWritesOnlyTheRun checks that a create,
// which deletes what an earlier Run of its name may have left in the
// attempts and events buckets, leaves those buckets untouched when there
// is nothing (the usual case), and still deletes what there is.
func TestFSM_CreateWithoutLeftoversWritesOnlyTheRun(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	// What an older binary may have left of an earlier "b".
	require.NoError(t, f.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAttempts).Put([]byte("b"), []byte(`[]`)); err != nil {
			return err
		}
		return tx.Bucket(bucketEvents).Put([]byte("b"), []byte(`[{"reason":"Old"}]`))
	}))
	roots := func() (attempts, events bolt.BucketStats) {
		require.NoError(t, f.db.View(func(tx *bolt.Tx) error {
			attempts, events = tx.Bucket(bucketAttempts).Stats(), tx.Bucket(bucketEvents).Stats()
			return nil
		}))
		return attempts, events
	}
	before := f.db.Stats()
	a0, e0 := roots()
	mustCreate(t, f, "c")
	a1, e1 := roots()
	after := f.db.Stats()
	written := after.Sub(&before).TxStats
	assert.Equal(t, a0, a1)
	assert.Equal(t, e0, e1)
	// The runs bucket's leaf, the meta bucket's leaf (the applied index),
	// the root bucket's page and the meta page: nothing of the others.
	assert.LessOrEqual(t, written.GetWrite(), int64(4), "pages written by a create")

	mustCreate(t, f, "b")
	events, err := f.events("b")
	require.NoError(t, err)
	assert.Empty(t, events, "an earlier Run's events are not the new one's")
	require.NoError(t, f.db.View(func(tx *bolt.Tx) error {
		assert.Nil(t, tx.Bucket(bucketAttempts).Get([]byte("b")))
		return nil
	}))
}
