package raftstore

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// batchTx is what the entries of one batch share of its transaction.
type batchTx struct {
	fills pageFills
	reads txReads
	// membersWritten is set when an entry writes the members bucket, so
	// that ApplyBatch drops the cached member list after the commit.
	membersWritten *bool
}

func newBatchTx(membersWritten *bool) batchTx {
	return batchTx{fills: pageFills{}, reads: txReads{}, membersWritten: membersWritten}
}

// txReads serves a transaction's point reads through one cursor per
// bucket. bbolt's Bucket.Get makes a new cursor for every read and grows
// its stack one level at a time (four allocations in a tree three levels
// deep); a cursor's seek starts again from the bucket's root, through the
// nodes the transaction has changed, so a reused cursor reads exactly what
// Get reads. Writes in between need no care: every read repositions.
type txReads map[*bolt.Bucket]*bolt.Cursor

func (r txReads) cursor(b *bolt.Bucket) *bolt.Cursor {
	c := r[b]
	if c == nil {
		c = b.Cursor()
		r[b] = c
	}
	return c
}

// get is b.Get(key).
func (r txReads) get(b *bolt.Bucket, key []byte) []byte {
	k, v := r.cursor(b).Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// has tells whether b holds key (whatever its value, empty included).
func (r txReads) has(b *bolt.Bucket, key []byte) bool {
	k, _ := r.cursor(b).Seek(key)
	return bytes.Equal(k, key)
}

// last is b's last key, nil when it is empty.
func (r txReads) last(b *bolt.Bucket) []byte {
	k, _ := r.cursor(b).Last()
	return k
}
