package raftstore

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// Snapshot copies the bbolt file to a temporary file, in a goroutine, from
// a read transaction begun here on the FSM goroutine (so the copy is exactly
// the state at the applied index). Applies go on during the copy.
//
// Why not hold the read transaction until Release: between Snapshot and
// Persist raft asks its main loop for the configuration; if the next Apply
// had to grow bbolt's mmap it would wait for that read transaction, the
// apply queue would fill, the main loop would stall and Persist would never
// run — a deadlock. Here the transaction ends when the copy (plain file I/O)
// ends, whatever raft does, and a large InitialMmapSize makes remaps rare.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	tx, err := f.db.Begin(false)
	if err != nil {
		f.mu.RUnlock()
		return nil, fmt.Errorf("snapshot: begin: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), "fsm-snapshot-*.db")
	if err != nil {
		_ = tx.Rollback()
		f.mu.RUnlock()
		return nil, fmt.Errorf("snapshot: temp file: %w", err)
	}
	s := &fsmSnapshot{path: tmp.Name(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer f.mu.RUnlock()
		_, err := tx.WriteTo(tmp)
		if rerr := tx.Rollback(); err == nil {
			err = rerr
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.err = fmt.Errorf("snapshot: copy: %w", err)
		}
	}()
	return s, nil
}

type fsmSnapshot struct {
	path string
	done chan struct{} // closed by the copy goroutine
	err  error         // set before done is closed
}

// Persist streams the copied file into the sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	<-s.done
	err := s.err
	if err == nil {
		err = copyFileTo(sink, s.path)
	}
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("snapshot: close sink: %w", err)
	}
	return nil
}

func copyFileTo(w io.Writer, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("snapshot: open copy: %w", err)
	}
	defer src.Close()
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("snapshot: stream: %w", err)
	}
	return nil
}

// Release removes the copy; raft calls it whether or not Persist ran.
func (s *fsmSnapshot) Release() {
	<-s.done
	_ = os.Remove(s.path)
}

// Restore replaces the whole state with a snapshot: it writes the stream to
// a temporary file, checks that bbolt opens it, and swaps it in under the
// exclusive lock. Watchers are closed with a "too old" error, since the
// changes in between are unknown. FSM goroutine only (or before raft runs).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmpPath := f.path + ".restore"
	if err := writeFileSync(tmpPath, rc); err != nil {
		return err
	}
	// Validate before touching the live file, and mark it as this boot's.
	// bbolt trusts the file it maps: verify its pages first, so that a
	// damaged snapshot is an error (raft then tries an older one, or the
	// leader sends it again) rather than a crash.
	if _, err := verifyBoltFile(tmpPath); err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("restore: snapshot is not a sound bbolt file: %w", err)
	}
	check, err := openBolt(tmpPath, false, f.mmapSize)
	if err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("restore: %w", err)
	}
	var idx, term uint64
	err = check.Update(func(tx *bolt.Tx) error {
		for _, b := range baseBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("bucket %s missing", b)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := checkFormat(meta, "snapshot"); err != nil {
			return err
		}
		// A snapshot of an older format lacks the later buckets.
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		idx, term = decodeApplied(meta.Get(keyApplied))
		if err := meta.Put(keyClean, []byte("0")); err != nil {
			return err
		}
		return meta.Put(keyBootID, []byte(bootID()))
	})
	if cerr := check.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpPath)
		return fmt.Errorf("restore: check snapshot: %w", err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	// GetRun looks at the cache without f.mu: empty it first, so that
	// from now on reads go to the file, and wait for the new one.
	f.runs.reset()
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("restore: close: %w", err)
	}
	if err := os.Rename(tmpPath, f.path); err != nil {
		panic(fmt.Sprintf("raftstore: restore: rename: %v", err))
	}
	db, err := openBolt(f.path, f.noSync, f.mmapSize)
	if err != nil {
		// The old file is gone; no state to serve from.
		panic(fmt.Sprintf("raftstore: restore: reopen: %v", err))
	}
	f.db = db
	f.memberList.changed()
	if err := db.View(f.deps.rebuild); err != nil {
		// verifyBoltFile passed, so every Run decodes unless the
		// snapshot's leader stored one that does not: no state to trust.
		panic(fmt.Sprintf("raftstore: restore: %v", err))
	}
	f.setApplied(idx, term)
	f.hub.reset(idx, fmt.Errorf("state replaced by a snapshot at index %d: %w", idx, apis.ErrGone))
	f.schedHub.reset(idx, fmt.Errorf("state replaced by a snapshot at index %d: %w", idx, apis.ErrGone))
	f.logger.Info("fsm restored from snapshot", "index", idx, "term", term)
	return nil
}

func writeFileSync(path string, r io.Reader) error {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: create: %w", err)
	}
	_, err = io.Copy(out, r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("restore: write: %w", err)
	}
	return nil
}
