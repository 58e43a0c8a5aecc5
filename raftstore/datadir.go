package raftstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Files of a Store's data dir.
const (
	raftDBFile    = "raft.db"   // raft-boltdb: the log and the stable store (term, vote)
	fsmDBFile     = "fsm.db"    // the bbolt state machine
	snapshotsDir  = "snapshots" // raft's file snapshot store: ID/meta.json and ID/state.bin
	snapMetaFile  = "meta.json"
	snapStateFile = "state.bin"
	snapRetain    = 2 // snapshots raft keeps
)

// ErrDamaged matches a *DamageError: a file of the data dir is damaged or
// does not belong with the others, and the node cannot start on it.
var ErrDamaged = errors.New("damaged data dir")

// DamageError names a file of a data dir that cannot be used as it is, what
// is wrong with it and what the operator does about it. Its message is one
// line.
type DamageError struct {
	Dir     string // the data dir
	File    string // relative to Dir: raft.db, fsm.db, snapshots/ID/state.bin, …
	Problem string // "is damaged (page 7: …)", "is missing, but …"
	Remedy  string
	// Repaired: the node repairs it by itself when it starts (a damaged
	// fsm.db or snapshot that the log and the other snapshots cover); only
	// `sprint check` reports these.
	Repaired bool
}

// Error is the one-line message: file, problem, remedy.
func (e *DamageError) Error() string {
	return fmt.Sprintf("%s in %s %s: %s", e.File, e.Dir, e.Problem, e.Remedy)
}

// Is matches ErrDamaged.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// rejoinRemedy is what an operator does when this node's Raft state is lost:
// it cannot be rebuilt from this node's files.
func rejoinRemedy(dir string) string {
	return fmt.Sprintf("this node's Raft log, term and vote cannot be trusted and cannot be rebuilt from its own files; "+
		"stop the node, move %s aside and rejoin the cluster on an empty data dir "+
		"(sprint --join URL-of-a-running-node, after sprintctl cluster remove NODE-ID), "+
		"or restore %s from a copy taken while the node was stopped", dir, dir)
}

const (
	remedyRebuildFSM   = "the node deletes it and rebuilds it from its snapshot and Raft log at start; nothing to do"
	remedyDropSnapshot = "the node deletes it at start; its other snapshot and Raft log cover it; nothing to do"
)

// inspection is what inspectDataDir found, before anything opened the
// files for writing. decide turns it into a plan.
type inspection struct {
	dir  string
	deep bool // sprint check: verify every snapshot and every stored value

	raft  raftDBInfo
	fsm   fsmDBInfo
	snaps []*snapInfo // newest first (raft's order); unreadable ones last

	warnings []string // worth a log line, not a refusal
}

type raftDBInfo struct {
	present     bool // a non-empty raft.db
	empty       bool // raft.db exists but has no bytes
	err         error
	first, last uint64 // log range; 0, 0 when the log is empty
	currentTerm uint64
	terms       map[uint64]uint64 // term of the entries others refer to (applied index, snapshots)
}

type fsmDBInfo struct {
	present bool // a non-empty fsm.db
	err     error
	applied uint64
	term    uint64
	trusted bool // closed cleanly or last opened during this boot (fsm.go)
}

type snapInfo struct {
	id       string
	meta     *raft.SnapshotMeta // nil when meta.json is unreadable
	crc      []byte
	err      error // meta.json or state.bin damaged
	verified bool  // state.bin's bbolt structure was verified too
}

func (s *snapInfo) file() string {
	if s.meta == nil {
		return filepath.Join(snapshotsDir, s.id, snapMetaFile)
	}
	return filepath.Join(snapshotsDir, s.id, snapStateFile)
}

// damaged words a file's problem: missing, or damaged and why.
func damaged(err error) string {
	if errors.Is(err, os.ErrNotExist) {
		return "is missing"
	}
	return fmt.Sprintf("is damaged (%v)", err)
}

// snapshotMetaFile is raft's meta.json (raft.fileSnapshotMeta).
type snapshotMetaFile struct {
	raft.SnapshotMeta
	CRC []byte
}

// guarded runs fn, turning a panic or a memory fault into an error. bbolt
// and raft-boltdb panic on some malformed data (a short key, a bad page);
// verifyBoltFile runs first so they should not, but a node must never die
// of its own files. Faults are recoverable only in the goroutine that set
// SetPanicOnFault, so fn must read bbolt's memory on this goroutine.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unreadable: %v", r)
		}
	}()
	return fn()
}

// inspectDataDir reads raft.db, fsm.db and the snapshots of dir without
// writing anything. deep also verifies every snapshot and every stored
// value (sprint check); a starting node verifies what it is about to use.
func inspectDataDir(dir string, deep bool) *inspection {
	in := &inspection{dir: dir, deep: deep}
	in.inspectFSM()
	in.inspectSnapshots()
	in.inspectRaftDB()
	return in
}

func (in *inspection) path(name string) string { return filepath.Join(in.dir, name) }

// presentFile reports whether path is a file with at least one byte, and
// whether it exists with none (bbolt would initialise it as a new
// database).
func presentFile(path string) (present, empty bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return fi.Size() > 0, fi.Size() == 0, nil
}

func (in *inspection) inspectFSM() {
	path := in.path(fsmDBFile)
	f := &in.fsm
	if f.present, _, f.err = presentFile(path); !f.present || f.err != nil {
		return
	}
	bf, err := verifyBoltFile(path)
	if err != nil {
		f.err = err
		return
	}
	if bf.warning != "" {
		in.warnings = append(in.warnings, fsmDBFile+": "+bf.warning)
	}
	f.err = guarded(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			if err := requireBuckets(tx, allBuckets, true); err != nil {
				return err
			}
			meta := tx.Bucket(bucketMeta)
			if meta == nil {
				return nil // never initialised: empty
			}
			if v := meta.Get(keyApplied); v != nil && len(v) != 16 {
				return fmt.Errorf("applied index is %d bytes, not 16", len(v))
			}
			f.applied, f.term, f.trusted = fsmTrust(meta, bootID())
			if f.applied == 0 {
				return nil
			}
			// Later levels' buckets are created when the FSM opens the file.
			if err := requireBuckets(tx, baseBuckets, false); err != nil {
				return err
			}
			if in.deep {
				return checkFSMValues(tx)
			}
			return nil
		})
	})
}

// requireBuckets checks that each name in the root bucket is a bucket (the
// FSM and raft-boltdb use them without a nil check), or absent when
// absentOK.
func requireBuckets(tx *bolt.Tx, names [][]byte, absentOK bool) error {
	for _, name := range names {
		if tx.Bucket(name) != nil {
			continue
		}
		if k, _ := tx.Cursor().Seek(name); string(k) == string(name) {
			return fmt.Errorf("%q is not a bucket", name)
		}
		if !absentOK {
			return fmt.Errorf("bucket %q is missing", name)
		}
	}
	return nil
}

// checkFSMValues checks that every stored object is JSON. (A byte changed
// inside a value can still leave valid JSON: bbolt keeps no checksums of
// its data pages.)
func checkFSMValues(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketRuns, bucketAttempts, bucketEvents, bucketMembers, bucketNotifiers, bucketOutbox} {
		b := tx.Bucket(name)
		if b == nil {
			continue // notifiers and outbox are made on first use
		}
		err := b.ForEach(func(k, v []byte) error {
			if !json.Valid(v) {
				return fmt.Errorf("%s/%q is not JSON", name, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (in *inspection) inspectSnapshots() {
	entries, err := os.ReadDir(in.path(snapshotsDir))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			in.snaps = append(in.snaps, &snapInfo{id: ".", err: err})
		}
		return
	}
	var good, bad []*snapInfo
	for _, e := range entries {
		// raft skips files and the .tmp directories of unfinished snapshots.
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		s := &snapInfo{id: e.Name()}
		s.meta, s.crc, s.err = readSnapshotMeta(filepath.Join(in.path(snapshotsDir), s.id))
		if s.err != nil {
			bad = append(bad, s)
			continue
		}
		good = append(good, s)
	}
	sort.Slice(good, func(i, j int) bool { // raft's order: newest first
		a, b := good[i].meta, good[j].meta
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	in.snaps = append(good, bad...)
	for _, s := range in.snaps {
		// Size and CRC of each (raft keeps two): a damaged snapshot would
		// be sent to a follower, or restored after a crash. Its bbolt
		// structure only when it is about to be restored, or deep.
		if s.err == nil {
			in.checkSnapshot(s, in.deep)
		}
	}
}

func readSnapshotMeta(dir string) (*raft.SnapshotMeta, []byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, snapMetaFile))
	if err != nil {
		return nil, nil, err
	}
	var m snapshotMetaFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, err
	}
	if m.Version < raft.SnapshotVersionMin || m.Version > raft.SnapshotVersionMax {
		return nil, nil, fmt.Errorf("unsupported version %d", m.Version)
	}
	if m.ID != filepath.Base(dir) || m.Index == 0 || len(m.CRC) == 0 {
		return nil, nil, fmt.Errorf("not this snapshot's metadata (id %q, index %d)", m.ID, m.Index)
	}
	return &m.SnapshotMeta, m.CRC, nil
}

// checkSnapshot verifies state.bin: its size and CRC (raft's own check when
// it opens a snapshot) and, with structure, since it is a copy of fsm.db
// that Restore will open, that it is a sound bbolt file.
func (in *inspection) checkSnapshot(s *snapInfo, structure bool) {
	s.verified = s.verified || structure
	path := filepath.Join(in.path(snapshotsDir), s.id, snapStateFile)
	f, err := os.Open(path)
	if err != nil {
		s.err = err
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.err = err
		return
	}
	if fi.Size() != s.meta.Size {
		s.err = fmt.Errorf("%d bytes, but its %s says %d", fi.Size(), snapMetaFile, s.meta.Size)
		return
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	if _, err := io.Copy(h, f); err != nil {
		s.err = err
		return
	}
	if string(h.Sum(nil)) != string(s.crc) {
		s.err = errors.New("CRC mismatch")
		return
	}
	if !structure {
		return
	}
	if _, err := verifyBolt(f, fi.Size()); err != nil {
		s.err = err
	}
}

func (in *inspection) inspectRaftDB() {
	path := in.path(raftDBFile)
	r := &in.raft
	r.terms = map[uint64]uint64{}
	if r.present, r.empty, r.err = presentFile(path); !r.present || r.err != nil {
		return
	}
	bf, err := verifyBoltFile(path)
	if err != nil {
		r.err = err
		return
	}
	if bf.warning != "" {
		in.warnings = append(in.warnings, raftDBFile+": "+bf.warning)
	}
	want := map[uint64]bool{in.fsm.applied: true}
	for _, s := range in.snaps {
		if s.meta != nil {
			want[s.meta.Index] = true
		}
	}
	r.err = guarded(func() error {
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error { return r.scan(tx, want) })
	})
}

// raft-boltdb's layout: bucket "logs" (8-byte big-endian index →
// msgpack raft.Log), bucket "conf" (raft's stable store).
var (
	raftLogsBucket = []byte("logs")
	raftConfBucket = []byte("conf")
)

// scan reads raft.db's stable store and every log entry in one read
// transaction: raft panics on an entry it cannot read (and reads every
// entry after its snapshot at start), raft-boltdb on a short key or term.
// Entries are decoded as raft-boltdb decodes them (go-msgpack, its default
// handle), in a cursor rather than a transaction per entry: 47,000 entries
// take about a quarter of a second. A command inside an entry is not
// checked: one the FSM cannot decode may have been committed as it is, and
// every replica rejects it alike (DESIGN.md, "Entries the FSM rejects").
func (r *raftDBInfo) scan(tx *bolt.Tx, want map[uint64]bool) error {
	if k, _ := tx.Cursor().First(); k == nil {
		return nil // created, then stopped before raft-boltdb made its buckets
	}
	if err := requireBuckets(tx, [][]byte{raftLogsBucket, raftConfBucket}, false); err != nil {
		return err
	}
	conf := tx.Bucket(raftConfBucket)
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} { // raft's uint64 keys
		if v := conf.Get([]byte(k)); v != nil && len(v) != 8 {
			return fmt.Errorf("%s is %d bytes, not 8", k, len(v))
		}
	}
	if v := conf.Get([]byte("CurrentTerm")); v != nil {
		r.currentTerm = binary.BigEndian.Uint64(v)
	}
	dec := codec.NewDecoderBytes(nil, &codec.MsgpackHandle{})
	c := tx.Bucket(raftLogsBucket).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			return fmt.Errorf("log key %x is not an index", k)
		}
		i := binary.BigEndian.Uint64(k)
		switch {
		case r.last == 0:
			r.first = i
		case i != r.last+1:
			return fmt.Errorf("log entries %d to %d are missing", r.last+1, i-1)
		}
		r.last = i
		var l raft.Log
		dec.ResetBytes(v)
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("log entry %d: %w", i, err)
		}
		if l.Index != i {
			return fmt.Errorf("log entry %d is stored as %d", i, l.Index)
		}
		if want[i] {
			r.terms[i] = l.Term
		}
	}
	if r.first == 0 && r.last > 0 {
		return errors.New("log entry 0")
	}
	return nil
}

// plan is what a starting node does about what inspectDataDir found.
type plan struct {
	fatal       *DamageError   // refuse to start
	repairs     []*DamageError // what the node repairs by itself (Repaired)
	removeFSM   bool
	removeSnaps []string // snapshot directory names
}

// decide checks that the files belong together and that raft can start on
// them, and chooses what to repair. Every refusal names a file and says what
// to do.
func (in *inspection) decide() *plan {
	p := &plan{}
	fatal := func(file, problem string) *plan {
		p.fatal = &DamageError{Dir: in.dir, File: file, Problem: problem, Remedy: rejoinRemedy(in.dir)}
		return p
	}
	r, f := &in.raft, &in.fsm

	// raft.db holds this node's log, term and vote; nothing else can
	// replace them.
	if r.err != nil {
		return fatal(raftDBFile, fmt.Sprintf("is damaged (%v)", r.err))
	}
	if !r.present || r.currentTerm == 0 && r.last == 0 {
		what := "is missing"
		if r.present || r.empty {
			what = "is empty"
		}
		switch {
		case f.err != nil:
			return fatal(raftDBFile, what+", and fsm.db is damaged")
		case f.applied > 0:
			return fatal(raftDBFile, fmt.Sprintf("%s, but fsm.db holds entries applied up to index %d", what, f.applied))
		case len(in.snaps) > 0:
			return fatal(raftDBFile, what+", but snapshots/ holds snapshots")
		}
		return p // a new node
	}

	// The snapshots raft can list, newest first.
	var listed []*snapInfo
	for _, s := range in.snaps {
		if s.meta != nil {
			listed = append(listed, s)
		}
	}
	end := r.last
	if len(listed) > 0 && listed[0].meta.Index > end {
		end = listed[0].meta.Index
	}
	if f.err == nil && f.applied > end {
		return fatal(raftDBFile, fmt.Sprintf("ends at index %d, but fsm.db has applied entries up to %d: the log lost entries this node committed", end, f.applied))
	}
	if t, ok := r.terms[f.applied]; ok && f.err == nil && f.term != 0 && t != f.term {
		return fatal(raftDBFile, fmt.Sprintf("does not match fsm.db: entry %d has term %d in the log but %d in the state machine", f.applied, t, f.term))
	}
	for _, s := range listed {
		if t, ok := r.terms[s.meta.Index]; ok && t != s.meta.Term {
			return fatal(raftDBFile, fmt.Sprintf("does not match snapshot %s: entry %d has term %d in the log but %d in the snapshot", s.id, s.meta.Index, t, s.meta.Term))
		}
	}

	// raft can start from snapshot index base when the log holds every
	// entry after it (it reads them all at start, and panics on a gap).
	covers := func(base uint64) bool { return r.last == 0 || r.first <= base+1 }
	newestIntact := func() uint64 {
		for _, s := range listed {
			if s.err == nil {
				return s.meta.Index
			}
		}
		return 0
	}

	if f.err == nil && f.trusted && (len(listed) == 0 || f.applied >= listed[0].meta.Index) {
		// fsm.db is sound and current: raft reads only the metadata of the
		// newest snapshot it lists, and replays the log after fsm.db's
		// applied index. Damaged snapshots go, unless the newest one's
		// metadata is what bridges the log.
		base := newestIntact()
		if !covers(base) && len(listed) > 0 && listed[0].err != nil && covers(listed[0].meta.Index) {
			keep := listed[0]
			p.repairs = append(p.repairs, &DamageError{Dir: in.dir, File: keep.file(), Problem: damaged(keep.err), Repaired: true,
				Remedy: fmt.Sprintf("the node keeps it at start, since fsm.db is sound and the Raft log starts at index %d, after the older snapshot; the next snapshot replaces it; nothing to do", r.first)})
			in.dropDamaged(p, keep)
			return p
		}
		if !covers(base) {
			return in.gap(p, base, "")
		}
		in.dropDamaged(p, nil)
		return p
	}

	// fsm.db must be rebuilt: raft restores the newest snapshot it can,
	// then replays the log after it. Verify the one it will restore.
	for _, s := range listed {
		if s.err == nil && !s.verified {
			in.checkSnapshot(s, true)
		}
		if s.err == nil {
			break
		}
	}
	base := newestIntact()
	if !covers(base) {
		var why string
		switch {
		case f.err != nil:
			why = fmt.Sprintf("is damaged (%v)", f.err)
		case !f.present:
			why = "is missing"
		case !f.trusted:
			why = "may have lost writes (it was not closed cleanly before a reboot)"
		default:
			why = fmt.Sprintf("is older (index %d) than the newest snapshot", f.applied)
		}
		return in.gap(p, base, why)
	}
	switch {
	case f.err != nil:
		p.removeFSM = true
		p.repairs = append(p.repairs, &DamageError{Dir: in.dir, File: fsmDBFile, Problem: fmt.Sprintf("is damaged (%v)", f.err), Remedy: remedyRebuildFSM, Repaired: true})
	case !f.present:
		in.warnings = append(in.warnings, fsmDBFile+" is missing or empty; the node rebuilds it from its snapshot and Raft log at start")
	case !f.trusted:
		in.warnings = append(in.warnings, fsmDBFile+" was not closed cleanly before a reboot; the node rebuilds it from its snapshot and Raft log at start")
	}
	in.dropDamaged(p, nil)
	return p
}

// dropDamaged plans the removal of every damaged snapshot but keep.
func (in *inspection) dropDamaged(p *plan, keep *snapInfo) {
	for _, s := range in.snaps {
		if s.err == nil || s == keep {
			continue
		}
		p.repairs = append(p.repairs, &DamageError{Dir: in.dir, File: s.file(), Problem: damaged(s.err),
			Remedy: remedyDropSnapshot, Repaired: true})
		p.removeSnaps = append(p.removeSnaps, s.id)
	}
}

// gap refuses a start where no intact snapshot reaches the log's first
// entry. fsmWhy, when fsm.db needed rebuilding, says why: then fsm.db is
// the file that cannot be used, and the snapshots and log are the reason.
// Otherwise the newest damaged snapshot is to blame, else raft.db.
func (in *inspection) gap(p *plan, base uint64, fsmWhy string) *plan {
	where := fmt.Sprintf("the Raft log starts at index %d, after the newest intact snapshot (index %d)", in.raft.first, base)
	if base == 0 {
		where = fmt.Sprintf("the Raft log starts at index %d and no intact snapshot precedes it", in.raft.first)
	}
	var bad *snapInfo
	for _, s := range in.snaps {
		if s.err != nil {
			bad = s
			break
		}
	}
	d := &DamageError{Dir: in.dir, Remedy: rejoinRemedy(in.dir)}
	switch {
	case fsmWhy != "" && bad != nil:
		d.File, d.Problem = fsmDBFile, fmt.Sprintf("%s and cannot be rebuilt: %s %s, and %s", fsmWhy, bad.file(), damaged(bad.err), where)
	case fsmWhy != "":
		d.File, d.Problem = fsmDBFile, fmt.Sprintf("%s and cannot be rebuilt: %s", fsmWhy, where)
	case bad != nil:
		d.File, d.Problem = bad.file(), fmt.Sprintf("%s, and %s", damaged(bad.err), where)
	default:
		d.File, d.Problem = raftDBFile, fmt.Sprintf("is damaged (%s)", where)
	}
	p.fatal = d
	return p
}

// repair carries out a plan's repairs before the store opens its files.
func (p *plan) repair(dir string, logger *slog.Logger) error {
	for _, d := range p.repairs {
		logger.Warn(d.Error())
	}
	for _, id := range p.removeSnaps {
		if err := os.RemoveAll(filepath.Join(dir, snapshotsDir, id)); err != nil {
			return fmt.Errorf("remove damaged snapshot: %w", err)
		}
	}
	if p.removeFSM {
		if err := os.Remove(filepath.Join(dir, fsmDBFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove damaged fsm.db: %w", err)
		}
	}
	return nil
}
