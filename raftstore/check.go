package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// CheckReport is what CheckDataDir found in a stopped node's data dir.
type CheckReport struct {
	Dir string
	// Problems: the reason the node would refuse to start (not Repaired),
	// or what it would repair by itself when it starts (Repaired). Empty
	// when the data dir is sound.
	Problems []*DamageError
	// Warnings do not stop a node (one of a bbolt file's two meta pages is
	// invalid, so bbolt uses the other, older, one).
	Warnings []string

	LogFirst, LogLast uint64 // raft.db's log range
	Term              uint64 // raft.db's current term
	Applied           uint64 // fsm.db's applied index
	Snapshots         int
}

// Sound reports whether nothing is wrong.
func (r *CheckReport) Sound() bool { return len(r.Problems) == 0 }

// ErrNoData: CheckDataDir found no raft.db, fsm.db or snapshots in the dir.
var ErrNoData = errors.New("no sprint node data")

// CheckDataDir verifies a stopped node's data dir (Config.DataDir) offline,
// as a starting node does and more: every snapshot's CRC and bbolt
// structure, every log entry, every stored value. It writes nothing. While
// a node runs on dir it returns an error matching ErrInUse (the files are
// locked); a dir without any node data is ErrNoData.
func CheckDataDir(dir string) (*CheckReport, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var found bool
	for _, name := range []string{raftDBFile, fsmDBFile, snapshotsDir} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no %s, %s or %s/: %w", dir, raftDBFile, fsmDBFile, snapshotsDir, ErrNoData)
	}
	unlock, err := lockFiles(filepath.Join(dir, raftDBFile), filepath.Join(dir, fsmDBFile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	in := inspectDataDir(dir, true)
	p := in.decide()
	rep := &CheckReport{Dir: dir, Warnings: in.warnings, LogFirst: in.raft.first, LogLast: in.raft.last,
		Term: in.raft.currentTerm, Applied: in.fsm.applied, Snapshots: len(in.snaps)}
	if p.fatal != nil {
		rep.Problems = append(rep.Problems, p.fatal)
	} else {
		rep.Problems = append(rep.Problems, p.repairs...)
	}
	return rep, nil
}
