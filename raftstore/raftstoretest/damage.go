package raftstoretest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Damage is one way a file of a data dir gets damaged, for corruption
// tests: what a full disk, a bad sector, an operator's cp or rm, or a
// crash of the storage underneath can leave behind.
type Damage string

// The damages of the corruption matrix (issue 12). ZeroPage and RandomPage
// pick, with a seeded generator, a page that is in use (a branch or leaf
// page of a bbolt file), so that the damage always matters; in any other
// file they hit a seeded 4 KiB range.
const (
	TruncateHalf Damage = "truncated-half"
	Truncate4K   Damage = "truncated-4KiB"
	TruncateZero Damage = "truncated-0"
	ZeroMeta     Damage = "meta-pages-zeroed" // bbolt's two meta pages (the first 8 KiB of any other file)
	ZeroPage     Damage = "page-zeroed"
	RandomPage   Damage = "page-random-bytes"
	Delete       Damage = "deleted"
)

// Damages lists every Damage.
var Damages = []Damage{TruncateHalf, Truncate4K, TruncateZero, ZeroMeta, ZeroPage, RandomPage, Delete}

// DamageFile damages the file at path; seed makes the choice of page and
// bytes repeatable.
func DamageFile(path string, d Damage, seed uint64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	size := fi.Size()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	switch d {
	case TruncateHalf:
		return os.Truncate(path, size/2)
	case Truncate4K:
		return os.Truncate(path, 4096)
	case TruncateZero:
		return os.Truncate(path, 0)
	case Delete:
		return os.Remove(path)
	case ZeroMeta:
		return overwrite(path, 0, make([]byte, min(size, 2*pageSizeOf(path))))
	case ZeroPage, RandomPage:
		off, n, err := pickPage(path, size, rng)
		if err != nil {
			return err
		}
		b := make([]byte, n)
		if d == RandomPage {
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
		}
		return overwrite(path, off, b)
	}
	return fmt.Errorf("unknown damage %q", d)
}

func overwrite(path string, off int64, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pageSizeOf is a bbolt file's page size, 4096 for any other file.
func pageSizeOf(path string) int64 {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 4096
	}
	defer db.Close()
	return int64(db.Info().PageSize)
}

// pickPage returns the offset and length of a seeded in-use page of a bbolt
// file, or a seeded 4 KiB range of any other file.
func pickPage(path string, size int64, rng *rand.Rand) (int64, int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: time.Second})
	if err != nil {
		n := min(size, 4096)
		if size == 0 {
			return 0, 0, errors.New("empty file")
		}
		return rng.Int64N(size - n + 1), int(n), nil
	}
	defer db.Close()
	ps := db.Info().PageSize
	var inUse []int
	err = db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			p, err := tx.Page(id)
			if err != nil {
				return err
			}
			if p == nil {
				return nil
			}
			if p.Type == "leaf" || p.Type == "branch" {
				inUse = append(inUse, id)
				id += p.OverflowCount // the rest of a large node has no page header
			}
		}
	})
	if err != nil {
		return 0, 0, err
	}
	if len(inUse) == 0 {
		return 0, 0, errors.New("no page in use")
	}
	return int64(inUse[rng.IntN(len(inUse))]) * int64(ps), ps, nil
}
