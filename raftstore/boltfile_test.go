package raftstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// boltImage builds a bbolt file with fill and returns its bytes.
func boltImage(t testing.TB, opts *bolt.Options, fill func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := bolt.Open(path, 0o600, opts)
	require.NoError(t, err)
	if fill != nil {
		require.NoError(t, db.Update(fill))
	}
	require.NoError(t, db.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// soundImages are bbolt files of every shape the verifier walks: branch
// pages, nested and inline buckets, overflow values, free pages, a synced
// freelist and none.
func soundImages(t testing.TB) map[string][]byte {
	t.Helper()
	many := func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("many"))
		if err != nil {
			return err
		}
		for i := 0; i < 3000; i++ {
			if err := b.Put(fmt.Appendf(nil, "key-%05d", i), bytes.Repeat([]byte{byte(i)}, 40)); err != nil {
				return err
			}
		}
		return nil
	}
	nested := func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket([]byte("top"))
		if err != nil {
			return err
		}
		if _, err := top.CreateBucket([]byte("inline")); err != nil { // small: stored inline
			return err
		}
		if err := top.Bucket([]byte("inline")).Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		big, err := top.CreateBucket([]byte("big"))
		if err != nil {
			return err
		}
		for i := 0; i < 500; i++ {
			if err := big.Put(fmt.Appendf(nil, "%04d", i), bytes.Repeat([]byte("x"), 100)); err != nil {
				return err
			}
		}
		return top.Put([]byte("overflow"), bytes.Repeat([]byte("o"), 20000))
	}
	withFree := func(tx *bolt.Tx) error {
		if err := many(tx); err != nil {
			return err
		}
		b := tx.Bucket([]byte("many"))
		for i := 0; i < 3000; i += 2 {
			if err := b.Delete(fmt.Appendf(nil, "key-%05d", i)); err != nil {
				return err
			}
		}
		return nil
	}
	noSync := &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType}
	out := map[string][]byte{
		"empty":             boltImage(t, noSync, nil),
		"many keys":         boltImage(t, noSync, many),
		"nested and inline": boltImage(t, noSync, nested),
		"synced freelist":   boltImage(t, &bolt.Options{}, withFree),
		"small pages":       boltImage(t, &bolt.Options{PageSize: 1024, NoFreelistSync: true}, nested),
	}
	// Free pages: a second transaction deletes half of the keys.
	path := filepath.Join(t.TempDir(), "free.db")
	db, err := bolt.Open(path, 0o600, noSync)
	require.NoError(t, err)
	require.NoError(t, db.Update(many))
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("many"))
		for i := 0; i < 3000; i += 2 {
			if err := b.Delete(fmt.Appendf(nil, "key-%05d", i)); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.Close())
	out["free pages"], err = os.ReadFile(path)
	require.NoError(t, err)
	return out
}

func verifyImage(b []byte) (boltFile, error) { return verifyBolt(bytes.NewReader(b), int64(len(b))) }

// pagesInUse lists the branch and leaf pages reachable in a sound image
// (not the free pages, which keep their old contents).
func pagesInUse(t testing.TB, img []byte) (pageSize int, ids []uint64) {
	t.Helper()
	bf, v, err := walkBolt(bytes.NewReader(img), int64(len(img)))
	require.NoError(t, err)
	for id := uint64(2); id < bf.hwm; id++ {
		hdr := img[id*uint64(bf.pageSize):]
		flags := binary.LittleEndian.Uint16(hdr[8:])
		if v.seen[id/64]&(1<<(id%64)) != 0 && (flags == boltBranchPage || flags == boltLeafPage) {
			ids = append(ids, id)
			id += uint64(binary.LittleEndian.Uint32(hdr[12:]))
		}
	}
	return bf.pageSize, ids
}

func TestVerifyBolt_AcceptsSoundFiles(t *testing.T) {
	for name, img := range soundImages(t) {
		t.Run(name, func(t *testing.T) {
			bf, err := verifyImage(img)
			require.NoError(t, err)
			assert.Empty(t, bf.warning)
			assert.GreaterOrEqual(t, bf.hwm, uint64(4))
		})
	}
}

// A page in use, zeroed or overwritten with random bytes, is found;
// so are truncations and damaged meta pages. Nothing panics.
func TestVerifyBolt_DetectsDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, img := range soundImages(t) {
		ps, inUse := pagesInUse(t, img)
		bf, err := verifyImage(img)
		require.NoError(t, err)
		used := int(bf.hwm) * ps
		damages := map[string]func([]byte) []byte{
			"empty":                func(b []byte) []byte { return nil },
			"truncated to 4 KiB":   func(b []byte) []byte { return b[:4096] },
			"truncated below used": func(b []byte) []byte { return b[:used-ps] },
			"both metas zeroed":    func(b []byte) []byte { clear(b[:2*ps]); return b },
		}
		// A seeded sample of the pages in use (every one is too slow under
		// -race on the larger images), always with the first and the last.
		if len(inUse) > 16 {
			sample := []uint64{inUse[0], inUse[len(inUse)-1]}
			for _, i := range rng.Perm(len(inUse) - 2)[:14] {
				sample = append(sample, inUse[1+i])
			}
			inUse = sample
		}
		for _, id := range inUse {
			damages[fmt.Sprintf("page %d zeroed", id)] = func(b []byte) []byte { clear(b[int(id)*ps : int(id+1)*ps]); return b }
			damages[fmt.Sprintf("page %d random", id)] = func(b []byte) []byte {
				for i := int(id) * ps; i < int(id+1)*ps; i++ {
					b[i] = byte(rng.Uint32())
				}
				return b
			}
		}
		t.Run(name, func(t *testing.T) {
			for what, damage := range damages {
				_, err := verifyImage(damage(bytes.Clone(img)))
				assert.Error(t, err, what)
			}
		})
	}
}

func TestVerifyBolt_OneInvalidMetaIsAWarning(t *testing.T) {
	img := soundImages(t)["many keys"]
	for meta := 0; meta < 2; meta++ {
		b := bytes.Clone(img)
		ps := 4096
		clear(b[meta*ps+boltPageHeaderSize : (meta+1)*ps])
		bf, err := verifyImage(b)
		require.NoError(t, err, "bbolt uses the other meta page")
		assert.Contains(t, bf.warning, fmt.Sprintf("meta page %d is invalid", meta))
	}
}

// setMeta rewrites meta page i's field at off (within the meta) and its
// checksum, so that the page stays valid and only the field is wrong.
func setMeta(b []byte, ps, i, off int, v uint64) {
	m := b[i*ps+boltPageHeaderSize:]
	binary.LittleEndian.PutUint64(m[off:], v)
	h := fnv.New64a()
	_, _ = h.Write(m[:56])
	binary.LittleEndian.PutUint64(m[56:], h.Sum64())
}

// Pages that are well-formed one by one but wrong together: what bbolt's
// open (its freelist rebuild walks the tree in a goroutine and panics)
// and its FastCheck assertions would die of.
func TestVerifyBolt_DetectsInconsistentStructure(t *testing.T) {
	img := soundImages(t)["many keys"]
	const ps = 4096
	bf, err := verifyImage(img)
	require.NoError(t, err)
	_, inUse := pagesInUse(t, img)
	// The branch page of bucket "many" and its first two children.
	var branch uint64
	for _, id := range inUse {
		if binary.LittleEndian.Uint16(img[id*ps+8:]) == boltBranchPage {
			branch = id
		}
	}
	require.NotZero(t, branch, "3000 keys make a branch page")
	elem := func(b []byte, i int) []byte { return b[int(branch)*ps+boltPageHeaderSize+i*boltElementSize:] }
	cases := map[string]struct {
		damage func(b []byte)
		want   string
	}{
		"child beyond the high-water mark": {func(b []byte) { binary.LittleEndian.PutUint64(elem(b, 0)[8:], bf.hwm+5) }, "outside the file"},
		"child referenced twice": {func(b []byte) {
			binary.LittleEndian.PutUint64(elem(b, 1)[8:], binary.LittleEndian.Uint64(elem(b, 0)[8:]))
		}, "referenced twice"},
		"children swapped": {func(b []byte) {
			a, c := binary.LittleEndian.Uint64(elem(b, 0)[8:]), binary.LittleEndian.Uint64(elem(b, 1)[8:])
			binary.LittleEndian.PutUint64(elem(b, 0)[8:], c)
			binary.LittleEndian.PutUint64(elem(b, 1)[8:], a)
		}, "key 0"},
		"element past its page": {func(b []byte) { binary.LittleEndian.PutUint32(elem(b, 0), ps) }, "past the end of its page"},
		"element count past its page": {func(b []byte) {
			binary.LittleEndian.PutUint16(b[int(branch)*ps+10:], 0xFFFF)
		}, "do not fit"},
		"two page types":         {func(b []byte) { binary.LittleEndian.PutUint16(b[int(branch)*ps+8:], boltBranchPage|boltLeafPage) }, "unexpected page type"},
		"overflow past the file": {func(b []byte) { binary.LittleEndian.PutUint32(b[int(branch)*ps+12:], 1<<30) }, "overflow"},
		"high-water mark past the file": {func(b []byte) {
			setMeta(b, ps, 0, 40, uint64(len(b)/ps+10))
			setMeta(b, ps, 1, 40, uint64(len(b)/ps+10))
		}, "truncated"},
		"root outside the file": {func(b []byte) { setMeta(b, ps, 0, 16, 1<<40); setMeta(b, ps, 1, 16, 1<<40) }, "root page"},
		"implausible page size": {func(b []byte) {
			m := b[boltPageHeaderSize:]
			binary.LittleEndian.PutUint32(m[8:], 3000)
			h := fnv.New64a()
			_, _ = h.Write(m[:56])
			binary.LittleEndian.PutUint64(m[56:], h.Sum64())
		}, "page size"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(img)
			c.damage(b)
			_, err := verifyImage(b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// openVerified is the property the verifier exists for: a file it accepts,
// bbolt opens (with the freelist rebuild our stores use), reads in full and
// writes to without a panic or a fault, and bbolt's own check finds nothing
// wrong unless the verifier warned (one damaged meta page, which bbolt's
// check asserts on and recovers from, and bbolt itself does not use).
func openVerified(t testing.TB, img []byte, warned bool) {
	path := filepath.Join(t.TempDir(), "v.db")
	require.NoError(t, os.WriteFile(path, img, 0o600))
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType, Timeout: time.Second})
	if err != nil {
		return // an error is fine; a crash is not
	}
	defer db.Close()
	var walk func(b *bolt.Bucket, depth int) error
	walk = func(b *bolt.Bucket, depth int) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil && depth < 8 {
				if c := b.Bucket(k); c != nil {
					return walk(c, depth+1)
				}
			}
			return nil
		})
	}
	_ = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if !warned {
				t.Errorf("verified, but bbolt's check says: %v", err)
			}
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if b == nil { // a root key whose bucket flag is gone
				return nil
			}
			return walk(b, 0)
		})
	})
	_ = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("fuzz"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), bytes.Repeat([]byte("v"), 5000))
	})
}

func TestVerifyBolt_VerifiedImagesOpenSafely(t *testing.T) {
	for name, img := range soundImages(t) {
		t.Run(name, func(t *testing.T) { openVerified(t, img, false) })
	}
}

// Seeded random damage (a few bytes anywhere in the pages in use): the
// verifier's verdict is always safe to act on. FuzzVerifyBolt explores
// further.
func TestVerifyBolt_RandomDamageNeverCrashesBBolt(t *testing.T) {
	seeds := []func(tx *bolt.Tx) error{fuzzFill}
	rng := rand.New(rand.NewPCG(12, 34))
	for _, fill := range seeds {
		img := boltImage(t, &bolt.Options{PageSize: 1024, NoFreelistSync: true}, fill)
		bf, err := verifyImage(img)
		require.NoError(t, err)
		used := int(bf.hwm) * bf.pageSize
		accepted := 0
		for range 300 {
			b := bytes.Clone(img)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(used)] = byte(rng.Uint32())
			}
			bf, err := verifyImage(b)
			if err != nil {
				continue
			}
			accepted++
			openVerified(t, b, bf.warning != "")
		}
		t.Logf("%d of 300 damaged images accepted (bytes of values, or of free space)", accepted)
	}
}

// fuzzFill makes a small file with every page kind: branch and leaf pages,
// a nested inline bucket, an overflow value.
func fuzzFill(tx *bolt.Tx) error {
	top, err := tx.CreateBucket([]byte("top"))
	if err != nil {
		return err
	}
	if _, err := top.CreateBucket([]byte("inline")); err != nil {
		return err
	}
	for i := 0; i < 60; i++ {
		if err := top.Put(fmt.Appendf(nil, "%03d", i), []byte(strings.Repeat("v", i))); err != nil {
			return err
		}
	}
	return top.Put([]byte("zz"), bytes.Repeat([]byte("o"), 3000))
}

// FuzzVerifyBolt mutates small bbolt files: the verifier never panics, its
// memory is bounded by the file, and whatever it accepts bbolt can open,
// check, read and write without a panic or a fault.
func FuzzVerifyBolt(f *testing.F) {
	small := &bolt.Options{PageSize: 1024, NoFreelistSync: true}
	f.Add(boltImage(f, small, nil))
	f.Add(boltImage(f, small, fuzzFill))
	f.Fuzz(func(t *testing.T, img []byte) {
		if len(img) > 1<<20 {
			return
		}
		bf, err := verifyImage(img)
		if err != nil {
			return
		}
		openVerified(t, img, bf.warning != "")
	})
}
