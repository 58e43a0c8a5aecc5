package raftstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// seeded is a stopped single node's data dir with acknowledged Runs and two
// snapshots, the newest below the log's last entry.
type seeded struct {
	dir      string
	raftAddr string
	uids     map[string]string // acknowledged Run name → UID
	snaps    []string          // snapshot directory names, newest first
}

// seedDataDir runs a single node and stops it. trailing is raft's
// TrailingLogs: large keeps the whole log; small compacts it up to each
// snapshot, so that only the newest snapshot bridges to the log.
func seedDataDir(t *testing.T, trailing uint64) seeded {
	t.Helper()
	dir := t.TempDir()
	s := startSingle(t, dir, func(c *raftstore.Config) {
		c.SnapshotThreshold = 1 << 30 // only the snapshots taken below
		c.SnapshotInterval = time.Hour
		c.TrailingLogs = trailing
	})
	out := seeded{dir: dir, raftAddr: s.RaftAddr(), uids: map[string]string{}}
	create := func(from, n int) {
		for i := from; i < from+n; i++ {
			r, err := s.CreateRun(t.Context(), newRun(fmt.Sprintf("r%02d", i)))
			require.NoError(t, err)
			out.uids[r.Metadata.Name] = r.Metadata.UID
		}
	}
	create(0, 10)
	require.NoError(t, s.Snapshot())
	create(10, 10)
	require.NoError(t, s.Snapshot())
	create(20, 10)
	require.NoError(t, s.Close())
	out.snaps = snapshotIDs(t, dir)
	require.Len(t, out.snaps, 2)
	return out
}

// snapshotIDs lists dir's snapshots, newest (highest index) first.
func snapshotIDs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	require.NoError(t, err)
	type snap struct {
		id    string
		index uint64
	}
	var snaps []snap
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "snapshots", e.Name(), "meta.json"))
		require.NoError(t, err)
		var m struct{ Index uint64 }
		require.NoError(t, json.Unmarshal(b, &m))
		snaps = append(snaps, snap{e.Name(), m.Index})
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].index > snaps[j].index })
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.id)
	}
	return ids
}

// clone copies a stopped node's data dir.
func (sd seeded) clone(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(sd.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sd.dir, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	require.NoError(t, err)
	return dst
}

// open starts a single node on dir as startSingle does, but returns New's
// error instead of failing.
func (sd seeded) open(t *testing.T, dir string) (*raftstore.Store, error) {
	t.Helper()
	cfg := raftstore.Config{NodeID: "solo", RaftAddr: sd.raftAddr, HTTPAddr: "http://solo", DataDir: dir}
	raftstoretest.TestConfig(&cfg)
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Start(t.Context()))
	require.Eventually(t, s.Ready, 10*time.Second, 10*time.Millisecond)
	return s, nil
}

// servesEverything asserts what "rebuilt" means: ready, every acknowledged
// Run readable as it was, and a write succeeds.
func (sd seeded) servesEverything(t *testing.T, s *raftstore.Store) {
	t.Helper()
	for name, uid := range sd.uids {
		r, err := s.GetRun(t.Context(), name)
		if assert.NoError(t, err, name) {
			assert.Equal(t, uid, r.Metadata.UID, name)
		}
	}
	_, err := s.CreateRun(t.Context(), newRun("after-restart"))
	require.NoError(t, err)
}

// requireRefusal asserts a one-line DamageError naming file, and that
// CheckDataDir says the same.
func requireRefusal(t *testing.T, dir string, err error, file string) *raftstore.DamageError {
	t.Helper()
	require.ErrorIs(t, err, raftstore.ErrDamaged)
	var d *raftstore.DamageError
	require.True(t, errors.As(err, &d))
	assert.Equal(t, file, d.File)
	assert.False(t, d.Repaired)
	assert.NotContains(t, d.Error(), "\n")
	assert.Contains(t, d.Error(), "rejoin the cluster")
	rep, cerr := raftstore.CheckDataDir(dir)
	require.NoError(t, cerr)
	require.NotEmpty(t, rep.Problems)
	assert.Equal(t, d.Error(), rep.Problems[0].Error(), "sprint check says what the node says")
	return d
}

// The corruption matrix in process: each file of the data dir, each damage.
// raft.db cannot be rebuilt here, so the node refuses it; fsm.db and the
// snapshots are rebuilt from what is left. (test/e2e runs the same matrix
// against the real binary.)
func TestStore_DamagedDataDirMatrix(t *testing.T) {
	sd := seedDataDir(t, 1<<20)
	files := []struct {
		name string
		path string
		// refuse: the node must refuse; else it must rebuild and serve.
		refuse func(d raftstoretest.Damage) bool
	}{
		{"raft.db", "raft.db", func(d raftstoretest.Damage) bool { return d != raftstoretest.TruncateHalf }},
		{"fsm.db", "fsm.db", func(raftstoretest.Damage) bool { return false }},
		{"newest snapshot state", filepath.Join("snapshots", sd.snaps[0], "state.bin"), func(raftstoretest.Damage) bool { return false }},
		{"newest snapshot meta", filepath.Join("snapshots", sd.snaps[0], "meta.json"), func(raftstoretest.Damage) bool { return false }},
		{"older snapshot state", filepath.Join("snapshots", sd.snaps[1], "state.bin"), func(raftstoretest.Damage) bool { return false }},
	}
	for _, f := range files {
		for _, d := range raftstoretest.Damages {
			t.Run(f.name+"/"+string(d), func(t *testing.T) {
				dir := sd.clone(t)
				require.NoError(t, raftstoretest.DamageFile(filepath.Join(dir, f.path), d, 7))
				s, err := sd.open(t, dir)
				if f.refuse(d) {
					requireRefusal(t, dir, err, f.path)
					return
				}
				if err != nil && f.name == "raft.db" && d == raftstoretest.TruncateHalf {
					// Half of a raft.db may or may not cut pages in use
					// (bbolt grows files ahead of need).
					requireRefusal(t, dir, err, f.path)
					return
				}
				require.NoError(t, err)
				sd.servesEverything(t, s)
			})
		}
	}
}

// raft.db gone with fsm.db left: the node's history is gone. Before, the
// node bootstrapped a fresh log, said ready, served the old Runs and
// skipped every new entry as already applied (writes answered 500).
func TestStore_RefusesFSMWithoutItsRaftLog(t *testing.T) {
	sd := seedDataDir(t, 1<<20)
	for name, damage := range map[string]func(dir string) error{
		"raft.db deleted": func(dir string) error { return os.Remove(filepath.Join(dir, "raft.db")) },
		"raft.db and snapshots deleted": func(dir string) error {
			return errors.Join(os.Remove(filepath.Join(dir, "raft.db")), os.RemoveAll(filepath.Join(dir, "snapshots")))
		},
		"raft.db and fsm.db deleted": func(dir string) error {
			return errors.Join(os.Remove(filepath.Join(dir, "raft.db")), os.Remove(filepath.Join(dir, "fsm.db")))
		},
		"raft.db emptied, fsm.db damaged": func(dir string) error {
			return errors.Join(os.Truncate(filepath.Join(dir, "raft.db"), 0), raftstoretest.DamageFile(filepath.Join(dir, "fsm.db"), raftstoretest.ZeroPage, 1))
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := sd.clone(t)
			require.NoError(t, damage(dir))
			_, err := sd.open(t, dir)
			d := requireRefusal(t, dir, err, "raft.db")
			assert.Regexp(t, `^is (missing|empty)`, d.Problem)
		})
	}
}

// A raft.db put back from an older copy has lost entries fsm.db applied.
func TestStore_RefusesRaftLogBehindItsFSM(t *testing.T) {
	sd := seedDataDir(t, 1<<20)
	dir := sd.clone(t)
	old, err := os.ReadFile(filepath.Join(dir, "raft.db"))
	require.NoError(t, err)
	s, err := sd.open(t, dir)
	require.NoError(t, err)
	for i := range 5 {
		_, err := s.CreateRun(t.Context(), newRun(fmt.Sprintf("late%d", i)))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "raft.db"), old, 0o600))

	_, err = sd.open(t, dir)
	d := requireRefusal(t, dir, err, "raft.db")
	assert.Contains(t, d.Problem, "lost entries")
}

// fsm.db of another node's history: same index, another term.
func TestStore_RefusesFSMFromAnotherHistory(t *testing.T) {
	a := seedDataDir(t, 1<<20)
	// Restarts raise a's term: its fsm.db records the term of its last entry.
	for range 2 {
		s, err := a.open(t, a.dir)
		require.NoError(t, err)
		_, err = s.CreateRun(t.Context(), newRun(fmt.Sprintf("t%d", time.Now().UnixNano())))
		require.NoError(t, err)
		require.NoError(t, s.Close())
	}
	b := seedDataDir(t, 1<<20)
	s, err := b.open(t, b.dir)
	require.NoError(t, err)
	for i := range 20 { // b's log reaches past a's applied index
		_, err := s.CreateRun(t.Context(), newRun(fmt.Sprintf("b%d", i)))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	fsm, err := os.ReadFile(filepath.Join(a.dir, "fsm.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "fsm.db"), fsm, 0o600))

	_, err = b.open(t, b.dir)
	d := requireRefusal(t, b.dir, err, "raft.db")
	assert.Contains(t, d.Problem, "does not match fsm.db")
}

// With the log compacted up to the newest snapshot, that snapshot is the
// only way to rebuild fsm.db: losing both is a refusal naming fsm.db and
// the snapshot; losing the snapshot alone is survivable while fsm.db is
// sound (raft reads only the snapshot's metadata).
func TestStore_CompactedLogNeedsTheNewestSnapshot(t *testing.T) {
	sd := seedDataDir(t, 2)
	newest := filepath.Join("snapshots", sd.snaps[0], "state.bin")

	t.Run("fsm.db and newest snapshot damaged", func(t *testing.T) {
		dir := sd.clone(t)
		require.NoError(t, raftstoretest.DamageFile(filepath.Join(dir, "fsm.db"), raftstoretest.ZeroPage, 3))
		require.NoError(t, raftstoretest.DamageFile(filepath.Join(dir, newest), raftstoretest.RandomPage, 3))
		_, err := sd.open(t, dir)
		d := requireRefusal(t, dir, err, "fsm.db")
		assert.Contains(t, d.Problem, newest)
		assert.Contains(t, d.Problem, "cannot be rebuilt")
	})
	t.Run("newest snapshot damaged, fsm.db sound", func(t *testing.T) {
		dir := sd.clone(t)
		require.NoError(t, raftstoretest.DamageFile(filepath.Join(dir, newest), raftstoretest.ZeroPage, 3))
		rep, err := raftstore.CheckDataDir(dir)
		require.NoError(t, err)
		require.Len(t, rep.Problems, 1)
		assert.True(t, rep.Problems[0].Repaired)
		assert.Contains(t, rep.Problems[0].Remedy, "keeps it")
		s, err := sd.open(t, dir)
		require.NoError(t, err)
		sd.servesEverything(t, s)
	})
	t.Run("both snapshots deleted", func(t *testing.T) {
		dir := sd.clone(t)
		require.NoError(t, os.RemoveAll(filepath.Join(dir, "snapshots")))
		_, err := sd.open(t, dir)
		d := requireRefusal(t, dir, err, "raft.db")
		assert.Contains(t, d.Problem, "no intact snapshot precedes it")
	})
}

func TestStore_NewRefusesDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	startSingle(t, dir, nil)
	cfg := raftstore.Config{NodeID: "two", RaftAddr: "127.0.0.1:0", DataDir: dir}
	start := time.Now()
	_, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	require.ErrorIs(t, err, raftstore.ErrInUse)
	assert.Less(t, time.Since(start), time.Second, "no wait for bbolt's lock timeout")
	_, err = raftstore.CheckDataDir(dir)
	require.ErrorIs(t, err, raftstore.ErrInUse)
}

func TestCheckDataDir(t *testing.T) {
	sd := seedDataDir(t, 1<<20)
	rep, err := raftstore.CheckDataDir(sd.dir)
	require.NoError(t, err)
	assert.True(t, rep.Sound(), "%v", rep.Problems)
	assert.Empty(t, rep.Warnings)
	assert.Equal(t, uint64(1), rep.LogFirst)
	assert.Equal(t, rep.LogLast, rep.Applied, "a cleanly stopped node applied its whole log")
	assert.Positive(t, rep.Term)
	assert.Equal(t, 2, rep.Snapshots)

	dir := sd.clone(t)
	require.NoError(t, raftstoretest.DamageFile(filepath.Join(dir, "fsm.db"), raftstoretest.RandomPage, 1))
	rep, err = raftstore.CheckDataDir(dir)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1)
	p := rep.Problems[0]
	assert.True(t, p.Repaired)
	assert.Equal(t, "fsm.db", p.File)
	assert.True(t, strings.HasSuffix(p.Error(), "nothing to do"), p.Error())
	_, err = os.Stat(filepath.Join(dir, "fsm.db"))
	assert.NoError(t, err, "check writes nothing")

	_, err = raftstore.CheckDataDir(t.TempDir())
	assert.ErrorIs(t, err, raftstore.ErrNoData)
}
