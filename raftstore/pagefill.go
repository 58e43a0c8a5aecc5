package raftstore

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// How full bbolt packs the pages it splits when a transaction commits: it
// reads a bucket's FillPercent at that moment, for every page of the bucket
// the transaction changed. bbolt's default, 50 %, suits keys inserted in
// random order, but Run names are mostly created in order (run-000001,
// run-000002, a Schedule's <name>-<unix time>-<i>): each page that filled
// up at the end of the bucket was split in half and nothing was ever
// inserted into its first half again, so the file and the memory a leader
// maps when it reads every Run were twice the data (docs/benchmarks.md,
// BenchmarkFSMFootprint: 47 % of page bytes in use). etcd packs its
// revision-ordered keys at 90 % for the same reason.
const (
	// appendFill is for a bucket the transaction only added keys to after
	// its last one (and overwrote others): pages left behind are full.
	appendFill = 1.0
	// otherFill is for a bucket where the transaction inserted a key
	// among existing ones, or only overwrote values: a little above bbolt's
	// default, which measured better for scattered names too (68.6 % of
	// page bytes in use against 64.8 %), while leaving room for values that
	// grow (a Run's status) without a split at every write.
	otherFill = 0.7
)

// pageFills chooses each written bucket's fill for one transaction: true
// while every key the transaction added to the bucket came after its last
// key, false once one did not.
type pageFills map[*bolt.Bucket]bool

// note records a put of key into b, before the put; r reads b.
func (p pageFills) note(b *bolt.Bucket, key []byte, r txReads) {
	appendOnly, seen := p[b]
	if seen && !appendOnly {
		return // decided for this transaction
	}
	last := r.last(b)
	switch {
	case last == nil || bytes.Compare(key, last) > 0:
		if !seen {
			p[b] = true
			b.FillPercent = appendFill
		}
	case bytes.Equal(key, last) || r.get(b, key) != nil:
		if !seen {
			b.FillPercent = otherFill // an overwrite: not an insert either way
		}
	default:
		p[b] = false
		b.FillPercent = otherFill
	}
}
