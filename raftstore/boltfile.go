package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt trusts its file: it memory-maps it and follows page ids without
// bounds checks, so a truncated file dies of SIGBUS and a zeroed or
// overwritten page of an "assertion failed" panic — some of them in a
// goroutine bbolt starts while opening, where nothing can recover them.
// verifyBoltFile reads the file with pread instead, page by page, and checks
// everything bbolt will rely on before bolt.Open maps it: both meta pages,
// the page size, the file covering the high-water mark, and every page
// reachable from the root (header id and type, elements inside their page,
// page ids below the high-water mark, each page referenced once, keys in
// order, nested and inline buckets). It is bbolt's tx.Check done without
// trusting the file. The layout is bbolt's on-disk format, version 2, which
// bbolt has kept since boltdb.

// bbolt's on-disk constants (go.etcd.io/bbolt/internal/common).
const (
	boltMagic          = 0xED0CDAED
	boltVersion        = 2
	boltPageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	boltElementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	boltBucketHeader   = 16 // root pgid u64, sequence u64
	boltMetaSize       = 64 // magic, version, pageSize, flags u32; root bucket; freelist, pgid, txid, checksum u64

	boltBranchPage   = 0x01
	boltLeafPage     = 0x02
	boltMetaPage     = 0x04
	boltFreelistPage = 0x10
	boltBucketLeaf   = 0x01 // leaf element flag: the value is a nested bucket

	boltNoFreelist = ^uint64(0)

	minBoltPageSize = 512
	maxBoltPageSize = 1 << 20
	// maxBoltDepth bounds the recursion over branch pages and nested
	// buckets; real files are a handful of levels deep.
	maxBoltDepth = 64
)

// boltFile describes a bbolt file that passed verifyBoltFile.
type boltFile struct {
	pageSize int
	hwm      uint64 // high-water mark: pages [0, hwm) exist
	txid     uint64
	// warning is set when one meta page is invalid; bbolt then uses the
	// other (an older transaction), as it is designed to after a torn write.
	warning string
}

// boltMeta is a decoded meta page.
type boltMeta struct {
	magic, version, pageSize uint32
	root                     uint64
	freelist, pgid, txid     uint64
	sumOK                    bool
}

func (m boltMeta) validate() error {
	switch {
	case m.magic != boltMagic:
		return errors.New("bad magic")
	case m.version != boltVersion:
		return fmt.Errorf("unsupported version %d", m.version)
	case !m.sumOK:
		return errors.New("checksum mismatch")
	}
	return nil
}

// decodeBoltMeta decodes the meta page whose header starts at b[0].
func decodeBoltMeta(b []byte) boltMeta {
	if len(b) < boltPageHeaderSize+boltMetaSize {
		return boltMeta{}
	}
	m := b[boltPageHeaderSize : boltPageHeaderSize+boltMetaSize]
	le := binary.LittleEndian
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	return boltMeta{
		magic:    le.Uint32(m[0:]),
		version:  le.Uint32(m[4:]),
		pageSize: le.Uint32(m[8:]),
		root:     le.Uint64(m[16:]),
		freelist: le.Uint64(m[32:]),
		pgid:     le.Uint64(m[40:]),
		txid:     le.Uint64(m[48:]),
		sumOK:    h.Sum64() == le.Uint64(m[56:]),
	}
}

// verifyBoltFile checks the bbolt file at path as described above. A file
// of size 0 is reported as errBoltEmpty (bbolt would initialise it as a new
// database). Any other problem is an error describing it.
func verifyBoltFile(path string) (boltFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return boltFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return boltFile{}, err
	}
	return verifyBolt(f, fi.Size())
}

// errBoltEmpty: the file has no bytes at all.
var errBoltEmpty = errors.New("file is empty")

func verifyBolt(r io.ReaderAt, size int64) (boltFile, error) {
	bf, _, err := walkBolt(r, size)
	return bf, err
}

// walkBolt is verifyBolt; it also returns the walker, whose seen bitset
// records the pages in use.
func walkBolt(r io.ReaderAt, size int64) (boltFile, *boltVerifier, error) {
	if size == 0 {
		return boltFile{}, nil, errBoltEmpty
	}
	// Page size: from meta 0, else from meta 1 found at each possible page
	// size (bbolt's own search).
	var m0, m1 boltMeta
	first := make([]byte, boltPageHeaderSize+boltMetaSize)
	if _, err := r.ReadAt(first, 0); err == nil {
		m0 = decodeBoltMeta(first)
	}
	pageSize := 0
	if m0.validate() == nil {
		pageSize = int(m0.pageSize)
	}
	if pageSize == 0 {
		for ps := 1024; ps <= 16<<20; ps *= 2 {
			if int64(ps)+int64(len(first)) > size {
				break
			}
			if _, err := r.ReadAt(first, int64(ps)); err == nil {
				if m := decodeBoltMeta(first); m.validate() == nil {
					pageSize = int(m.pageSize)
					break
				}
			}
		}
	}
	if pageSize == 0 {
		return boltFile{}, nil, fmt.Errorf("both meta pages are invalid (%d bytes; not a bbolt file, or its first pages were overwritten)", size)
	}
	if pageSize < minBoltPageSize || pageSize > maxBoltPageSize || pageSize&(pageSize-1) != 0 {
		return boltFile{}, nil, fmt.Errorf("implausible page size %d", pageSize)
	}
	if size < 2*int64(pageSize) {
		return boltFile{}, nil, fmt.Errorf("truncated: %d bytes, shorter than its two %d-byte meta pages", size, pageSize)
	}
	metas := make([]byte, 2*pageSize)
	if _, err := r.ReadAt(metas, 0); err != nil {
		return boltFile{}, nil, fmt.Errorf("read meta pages: %w", err)
	}
	m0, m1 = decodeBoltMeta(metas), decodeBoltMeta(metas[pageSize:])
	err0, err1 := m0.validate(), m1.validate()
	// bbolt uses the valid meta with the higher transaction id (validity
	// being magic, version and checksum); the walk must follow the same.
	var meta boltMeta
	var out boltFile
	used := 0
	switch {
	case err0 != nil && err1 != nil:
		return boltFile{}, nil, fmt.Errorf("both meta pages are invalid (meta 0: %v; meta 1: %v)", err0, err1)
	case err0 != nil:
		meta, used, out.warning = m1, 1, fmt.Sprintf("meta page 0 is invalid (%v); using meta page 1", err0)
	case err1 != nil:
		meta, out.warning = m0, fmt.Sprintf("meta page 1 is invalid (%v); using meta page 0", err1)
	case m1.txid > m0.txid:
		meta, used = m1, 1
	default:
		meta = m0
	}
	if int(meta.pageSize) != pageSize {
		return boltFile{}, nil, fmt.Errorf("meta page %d: page size %d, but the file's is %d", used, meta.pageSize, pageSize)
	}
	// The page headers of the meta pages (bbolt's check asserts them).
	for i := 0; i < 2; i++ {
		hdr := metas[i*pageSize:]
		id, flags := binary.LittleEndian.Uint64(hdr), binary.LittleEndian.Uint16(hdr[8:])
		if id == uint64(i) && flags == boltMetaPage {
			continue
		}
		if i == used {
			return boltFile{}, nil, fmt.Errorf("meta page %d: damaged page header (id %d, flags %#x)", i, id, flags)
		}
		if out.warning == "" {
			out.warning = fmt.Sprintf("meta page %d: damaged page header; using meta page %d", i, used)
		}
	}
	out.pageSize, out.hwm, out.txid = pageSize, meta.pgid, meta.txid
	if meta.pgid < 3 {
		return boltFile{}, nil, fmt.Errorf("meta: high-water mark %d below the first data page", meta.pgid)
	}
	if meta.pgid > uint64(size)/uint64(pageSize) {
		return boltFile{}, nil, fmt.Errorf("truncated: %d bytes, but its meta page counts %d pages of %d bytes (%d bytes)",
			size, meta.pgid, pageSize, meta.pgid*uint64(pageSize))
	}

	v := &boltVerifier{r: r, pageSize: pageSize, hwm: meta.pgid, seen: make([]uint64, (meta.pgid+63)/64)}
	_ = v.mark(0, 0) // the meta pages
	_ = v.mark(1, 0)
	if meta.freelist != boltNoFreelist {
		if err := v.freelist(meta.freelist); err != nil {
			return boltFile{}, nil, err
		}
	}
	if meta.root < 2 || meta.root >= meta.pgid {
		return boltFile{}, nil, fmt.Errorf("meta: root page %d outside [2, %d)", meta.root, meta.pgid)
	}
	// The freelist's own pages are marked by now; its ids must not be.
	if err := v.bucket(meta.root, nil, 0); err != nil {
		return boltFile{}, nil, err
	}
	if err := v.checkFree(); err != nil {
		return boltFile{}, nil, err
	}
	return out, v, nil
}

// boltVerifier walks the pages reachable from the root bucket.
type boltVerifier struct {
	r        io.ReaderAt
	pageSize int
	hwm      uint64
	seen     []uint64 // bitset of referenced pages
	bufs     [][]byte // one page buffer per depth
	free     []uint64 // ids on a persisted freelist page
}

// mark records pages [id, id+overflow] as referenced, failing on a second
// reference (a cycle or two trees sharing a page).
func (v *boltVerifier) mark(id uint64, overflow uint32) error {
	for p := id; p <= id+uint64(overflow); p++ {
		w, bit := p/64, uint64(1)<<(p%64)
		if v.seen[w]&bit != 0 {
			return fmt.Errorf("page %d: referenced twice", p)
		}
		v.seen[w] |= bit
	}
	return nil
}

// page reads page id and its overflow pages into the buffer of depth
// (reused: a subtree is done with it before its parent reads its next
// child), checking the header.
func (v *boltVerifier) page(id uint64, wantFlags uint16, depth int) ([]byte, error) {
	if id < 2 || id >= v.hwm {
		return nil, fmt.Errorf("page %d: outside the file's %d pages", id, v.hwm)
	}
	for len(v.bufs) <= depth {
		v.bufs = append(v.bufs, make([]byte, v.pageSize))
	}
	buf := v.bufs[depth][:v.pageSize]
	off := int64(id) * int64(v.pageSize)
	if _, err := v.r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("page %d: read: %w", id, err)
	}
	le := binary.LittleEndian
	gotID, flags, overflow := le.Uint64(buf), le.Uint16(buf[8:]), le.Uint32(buf[12:])
	if gotID != id {
		return nil, fmt.Errorf("page %d: header names page %d (zeroed or overwritten)", id, gotID)
	}
	// Exactly one type flag, one of those wanted (bbolt's FastCheck panics
	// on anything else).
	if flags&wantFlags == 0 || flags&(flags-1) != 0 {
		return nil, fmt.Errorf("page %d: unexpected page type %#x", id, flags)
	}
	if uint64(overflow) >= v.hwm-id {
		return nil, fmt.Errorf("page %d: %d overflow pages run past the file's %d pages", id, overflow, v.hwm)
	}
	if err := v.mark(id, overflow); err != nil {
		return nil, err
	}
	if overflow == 0 {
		return buf, nil
	}
	n := (1 + int(overflow)) * v.pageSize
	if cap(v.bufs[depth]) < n {
		v.bufs[depth] = make([]byte, n)
		copy(v.bufs[depth], buf)
	}
	buf = v.bufs[depth][:n]
	if _, err := v.r.ReadAt(buf[v.pageSize:], off+int64(v.pageSize)); err != nil {
		return nil, fmt.Errorf("page %d: read overflow: %w", id, err)
	}
	return buf, nil
}

func (v *boltVerifier) freelist(id uint64) error {
	buf, err := v.page(id, boltFreelistPage, 0)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	le := binary.LittleEndian
	count, start := uint64(le.Uint16(buf[10:])), boltPageHeaderSize
	if count == 0xFFFF { // the real count is the first element
		if len(buf) < start+8 {
			return fmt.Errorf("freelist page %d: truncated count", id)
		}
		count, start = le.Uint64(buf[start:]), start+8
	}
	if count > uint64(len(buf)-start)/8 {
		return fmt.Errorf("freelist page %d: %d ids do not fit in the page", id, count)
	}
	for i := uint64(0); i < count; i++ {
		p := le.Uint64(buf[start+int(i)*8:])
		if p < 2 || p >= v.hwm {
			return fmt.Errorf("freelist page %d: free page %d outside [2, %d)", id, p, v.hwm)
		}
		v.free = append(v.free, p)
	}
	return nil
}

// checkFree runs after the walk: bbolt panics on a page freed twice or
// both free and in use.
func (v *boltVerifier) checkFree() error {
	dup := make(map[uint64]bool, len(v.free))
	for _, p := range v.free {
		if dup[p] {
			return fmt.Errorf("freelist: page %d freed twice", p)
		}
		dup[p] = true
		if v.seen[p/64]&(1<<(p%64)) != 0 {
			return fmt.Errorf("freelist: page %d is both free and in use", p)
		}
	}
	return nil
}

// bucket verifies the B+tree of a bucket rooted at page root.
func (v *boltVerifier) bucket(root uint64, path []byte, depth int) error {
	_, err := v.node(root, nil, nil, path, depth)
	return err
}

// node verifies page id and its subtree: every key k satisfies
// min <= k < max (nil: unbounded). It returns the subtree's last key.
func (v *boltVerifier) node(id uint64, min, max, path []byte, depth int) ([]byte, error) {
	if depth > maxBoltDepth {
		return nil, fmt.Errorf("page %d: tree deeper than %d levels", id, maxBoltDepth)
	}
	buf, err := v.page(id, boltBranchPage|boltLeafPage, depth)
	if err != nil {
		return nil, err
	}
	return v.elements(buf, id, min, max, path, depth)
}

// elements checks the elements of a branch or leaf page held in buf (a
// page on disk, or an inline bucket's page inside a value, id 0).
func (v *boltVerifier) elements(buf []byte, id uint64, min, max, path []byte, depth int) ([]byte, error) {
	le := binary.LittleEndian
	if len(buf) < boltPageHeaderSize {
		return nil, fmt.Errorf("%s: truncated page header", v.where(id, path))
	}
	flags, count := le.Uint16(buf[8:]), int(le.Uint16(buf[10:]))
	if boltPageHeaderSize+count*boltElementSize > len(buf) {
		return nil, fmt.Errorf("%s: %d elements do not fit in the page", v.where(id, path), count)
	}
	branch := flags == boltBranchPage
	switch {
	case flags != boltLeafPage && (!branch || id == 0): // bbolt writes only leaf pages inline
		return nil, fmt.Errorf("%s: unexpected page type %#x", v.where(id, path), flags)
	case branch && count == 0:
		return nil, fmt.Errorf("%s: branch page without elements", v.where(id, path))
	}
	prev := min
	var last []byte
	for i := 0; i < count; i++ {
		off := boltPageHeaderSize + i*boltElementSize
		e := buf[off : off+boltElementSize]
		var pos, ksize, vsize uint64
		if branch {
			pos, ksize = uint64(le.Uint32(e)), uint64(le.Uint32(e[4:]))
		} else {
			pos, ksize, vsize = uint64(le.Uint32(e[4:])), uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
		}
		start := uint64(off) + pos
		if start+ksize+vsize > uint64(len(buf)) {
			return nil, fmt.Errorf("%s: element %d runs past the end of its page", v.where(id, path), i)
		}
		key := buf[start : start+ksize]
		// bbolt's order (tx_check.go, which bbolt's open runs and panics
		// on): a first key not below the parent's key, then strictly
		// increasing keys (for a branch, each above the largest key of the
		// previous child), all below the parent's next key.
		if c := bytes.Compare(prev, key); prev != nil && (c > 0 || c == 0 && i > 0) {
			return nil, fmt.Errorf("%s: key %d out of order", v.where(id, path), i)
		}
		if max != nil && bytes.Compare(key, max) >= 0 {
			return nil, fmt.Errorf("%s: key %d beyond its parent's range", v.where(id, path), i)
		}
		if !branch {
			prev, last = key, key
		}
		if branch {
			hi := max
			if i+1 < count {
				n := buf[off+boltElementSize:]
				np, nk := uint64(le.Uint32(n)), uint64(le.Uint32(n[4:]))
				ns := uint64(off+boltElementSize) + np
				if ns+nk > uint64(len(buf)) {
					return nil, fmt.Errorf("%s: element %d runs past the end of its page", v.where(id, path), i+1)
				}
				hi = buf[ns : ns+nk]
			}
			sub, err := v.node(le.Uint64(e[8:]), key, hi, path, depth+1)
			if err != nil {
				return nil, err
			}
			prev, last = sub, sub
			continue
		}
		if le.Uint32(e)&boltBucketLeaf == 0 {
			continue
		}
		// A nested bucket: its header, then (when inline) its page.
		val := buf[start+ksize : start+ksize+vsize]
		child := append(append(append([]byte(nil), path...), '/'), key...)
		if len(val) < boltBucketHeader {
			return nil, fmt.Errorf("bucket %q: header truncated", child)
		}
		if root := le.Uint64(val); root != 0 {
			if len(val) != boltBucketHeader {
				return nil, fmt.Errorf("bucket %q: unexpected inline page with root page %d", child, root)
			}
			if err := v.bucket(root, child, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := v.elements(val[boltBucketHeader:], 0, nil, nil, child, depth+1); err != nil {
			return nil, err
		}
	}
	return last, nil
}

func (v *boltVerifier) where(id uint64, path []byte) string {
	if id == 0 {
		return fmt.Sprintf("inline bucket %q", path)
	}
	return fmt.Sprintf("page %d", id)
}
