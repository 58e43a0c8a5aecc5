package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// keyRejected (meta bucket) holds the JSON rejectedRecord: how many
// committed entries this state machine rejected, and the last one. It is
// state like any other — written in the transaction that applies the
// entry, identical on every replica, kept across restarts and carried by
// snapshots.
var keyRejected = []byte("rejected")

// maxRejectMessage bounds the reason text kept for the last rejection.
const maxRejectMessage = 512

// ErrRejectedEntry is matched by the error a write gets when the state
// machine rejected its entry (see DESIGN.md, "Entries the FSM rejects").
// The Store validates commands before proposing them, so callers see it
// only across versions that disagree on a command.
var ErrRejectedEntry = errors.New("raft entry rejected by the state machine")

// RejectedEntry describes a committed entry applied as a no-op.
type RejectedEntry struct {
	// Index is the entry's Raft index.
	Index uint64 `json:"index"`
	// Type is the command type's name, or cmd(N) for an unknown one.
	Type string `json:"type"`
	// Reason is one of RejectUnknownType, RejectDecode, RejectInvalid,
	// RejectPanic.
	Reason string `json:"reason"`
	// Message says what was wrong.
	Message string `json:"message"`
}

// RejectedError is the Apply response of a rejected entry.
type RejectedError struct{ Entry RejectedEntry }

func (e *RejectedError) Error() string {
	return fmt.Sprintf("raft entry %d (%s) rejected: %s: %s", e.Entry.Index, e.Entry.Type, e.Entry.Reason, e.Entry.Message)
}

// Unwrap makes errors.Is(err, ErrRejectedEntry) true.
func (e *RejectedError) Unwrap() error { return ErrRejectedEntry }

// rejectedRecord is the value of keyRejected.
type rejectedRecord struct {
	Count uint64        `json:"count"`
	Last  RejectedEntry `json:"last"`
}

// invalidEntry is returned by a handler, before it writes anything, for an
// entry whose result would be invalid (a Run apis.ValidateRun refuses);
// applyCommand turns it into a rejection.
type invalidEntry struct{ err error }

func (e *invalidEntry) Error() string { return e.err.Error() }
func (e *invalidEntry) Unwrap() error { return e.err }

func newRejection(index uint64, t cmdType, reason string, err error) *RejectedEntry {
	return &RejectedEntry{Index: index, Type: t.String(), Reason: reason, Message: clipMessage(err.Error())}
}

// clipMessage cuts s to maxRejectMessage bytes on a rune boundary.
func clipMessage(s string) string {
	if len(s) <= maxRejectMessage {
		return s
	}
	cut := maxRejectMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// recordRejection counts a rejected entry in the meta bucket, inside the
// transaction that advances the applied index past it.
func (f *fsm) recordRejection(tx *bolt.Tx, r RejectedEntry) {
	rec := readRejected(tx)
	rec.Count++
	rec.Last = r
	b, err := json.Marshal(rec)
	if err == nil {
		err = f.putMeta(tx, keyRejected, b)
	}
	if err != nil {
		panic(fatalError{fmt.Errorf("raftstore: record rejection of entry %d: %w", r.Index, err)})
	}
}

func (f *fsm) putMeta(tx *bolt.Tx, key, val []byte) error {
	return tx.Bucket(bucketMeta).Put(key, val)
}

// readRejected decodes the rejection record; a missing one is zero.
func readRejected(tx *bolt.Tx) rejectedRecord {
	var rec rejectedRecord
	if b := tx.Bucket(bucketMeta).Get(keyRejected); b != nil {
		_ = json.Unmarshal(b, &rec) // written by recordRejection; zero if damaged
	}
	return rec
}

// rejected returns how many entries were rejected and the last one (nil
// when none).
func (f *fsm) rejected() (uint64, *RejectedEntry, error) {
	var rec rejectedRecord
	err := f.view(func(tx *bolt.Tx) error {
		rec = readRejected(tx)
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("read rejections: %w", err)
	}
	if rec.Count == 0 {
		return 0, nil, nil
	}
	return rec.Count, &rec.Last, nil
}
