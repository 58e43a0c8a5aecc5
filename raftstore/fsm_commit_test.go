package raftstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

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
