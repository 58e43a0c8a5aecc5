package raftstore

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// An initial listing is read in chunks, each in its own short read
// transaction, so that a client that reads slowly (or not at all) never
// holds a transaction open: bbolt's writer waits for every reader when it
// must grow its memory map, and raft's apply loop would wait with it
// (STYLE.md). Memory stays one chunk per listing: 16 KiB, held for as
// long as the client does not take the chunk's Runs (100 clients that
// never read held 6.4 MiB with 64 KiB chunks; a 100 MB listing is 6,400
// transactions of a few microseconds each).
//
// Chunks are read at different applied indexes, so on their own they are
// not one consistent state. The feed's cursor into the change history
// started before the first chunk, and a change is sent after the listing
// exactly when the chunk covering its Run's name was read before the
// change: a chunk read at index R shows every change up to R of the names
// it covers, and a name beyond the last chunk read so far will be shown by
// a later chunk. When every chunk is read and every change up to the last
// chunk's index E has been looked at, the client holds exactly the state
// at E, and the listing ends with a BOOKMARK at E.
const (
	listChunkRuns  = 256
	listChunkBytes = 16 << 10
)

// chunkReader reads Runs after the key after (nil: from the first) into
// c, in one read transaction. It reuses c's buffer, items and spans, so
// that a listing of 100,000 Runs makes no garbage per chunk.
type chunkReader func(after []byte, c *chunk) error

// chunk is what one read transaction of a listing returned.
type chunk struct {
	items []chunkItem // slices of buf
	buf   []byte
	spans []chunkSpan // where items are in buf, while buf grows
	index uint64      // applied index the transaction saw
	gen   uint64      // watch generation the transaction saw
	done  bool        // no Runs after these
}

type chunkItem struct{ key, raw []byte }

type chunkSpan struct{ k0, k1, v1 int }

// chunkReader returns a reader of up to maxRuns Runs (at least one) or
// about maxBytes of them per transaction. It copies the raw values and
// decodes nothing, so a transaction lasts microseconds.
func (f *fsm) chunkReader(maxRuns, maxBytes int) chunkReader {
	return func(after []byte, c *chunk) error {
		c.buf, c.spans, c.items, c.done = c.buf[:0], c.spans[:0], c.items[:0], false
		err := f.view(func(tx *bolt.Tx) error {
			c.index, _ = decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
			f.hub.mu.RLock()
			c.gen = f.hub.gen // f.mu is held shared: a Restore cannot swap the file now
			f.hub.mu.RUnlock()
			cur := tx.Bucket(bucketRuns).Cursor()
			k, v := cur.First()
			if after != nil {
				k, v = cur.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = cur.Next()
				}
			}
			for ; k != nil; k, v = cur.Next() {
				if len(c.spans) == maxRuns || (len(c.spans) > 0 && len(c.buf)+len(k)+len(v) > maxBytes) {
					return nil
				}
				s := chunkSpan{k0: len(c.buf)}
				c.buf = append(c.buf, k...)
				s.k1 = len(c.buf)
				c.buf = append(c.buf, v...)
				s.v1 = len(c.buf)
				c.spans = append(c.spans, s)
			}
			c.done = true
			return nil
		})
		if err != nil {
			c.items = c.items[:0]
			return fmt.Errorf("list runs: %w", err)
		}
		// The buffer may have moved while it grew: slice it only now.
		for _, s := range c.spans {
			c.items = append(c.items, chunkItem{key: c.buf[s.k0:s.k1:s.k1], raw: c.buf[s.k1:s.v1:s.v1]})
		}
		return nil
	}
}

// listing is the state of a Feed's initial listing.
type listing struct {
	read chunkReader
	bufs *sync.Pool // the hub's chunk buffers
	buf  *[]byte
	cur  chunk
	pos  int
	// after is the last key read so far (nil before the first chunk).
	after []byte
	done  bool
	// ranges say at which index each part of the key space was read, in
	// key order: ranges[i] covers the keys after ranges[i-1].end up to
	// ranges[i].end, the last one up to after. Chunks read at the same
	// index share one range.
	ranges []listRange
	endRV  uint64 // the index of the last chunk read
}

type listRange struct {
	end string // set once a later range begins
	rv  uint64
}

// deliver decides whether a change from the history is sent during or
// right after the listing: only when the chunk showing its Run was read
// before the change.
func (l *listing) deliver(ev ringEvent) bool {
	name := ev.obj.name()
	last := len(l.ranges) - 1
	i := sort.Search(len(l.ranges), func(i int) bool {
		if i == last {
			return string(l.after) >= name
		}
		return l.ranges[i].end >= name
	})
	switch {
	case i < len(l.ranges):
		return ev.index > l.ranges[i].rv
	case l.done:
		// Beyond the last key of a complete listing: the Run did not
		// exist at endRV, so only later changes matter.
		return ev.index > l.endRV
	}
	return false // a later chunk will show it
}

// pending reports whether Runs of the current chunk are still to be sent.
func (l *listing) pending() bool { return l.pos < len(l.cur.items) }

// nextItem returns the next Run of the current chunk that match selects,
// or ok false when the chunk is used up.
func (l *listing) nextItem(match func(*apis.Run) bool) (Event, bool, error) {
	for l.pos < len(l.cur.items) {
		it := l.cur.items[l.pos]
		l.pos++
		ev := Event{Type: apis.Added, raw: it.raw}
		typed := typedPrefix(it.raw)
		if match != nil || !typed {
			run, err := decodeRun(it.raw)
			if err != nil {
				return Event{}, false, err
			}
			if match != nil && !match(run) {
				continue
			}
			ev.run = run
			if !typed {
				ev.raw = nil // Object encodes it with its apiVersion and kind
			}
		}
		return ev, true, nil
	}
	return Event{}, false, nil
}

// listEnd is the BOOKMARK that ends a listing at index rv.
func listEnd(rv uint64) Event {
	return Event{Type: apis.Bookmark, ResourceVersion: rv, run: &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{
			ResourceVersion: strconv.FormatUint(rv, 10),
			Annotations:     map[string]string{apis.InitialEventsEndAnnotation: "true"},
		},
	}}
}

// readNext reads the next chunk and records the range it covers.
func (l *listing) readNext(f *Feed) error {
	if l.buf == nil {
		l.buf = l.bufs.Get().(*[]byte)
	}
	c := &l.cur
	c.buf = *l.buf
	l.pos = 0
	err := l.read(l.after, c)
	*l.buf = c.buf
	if err != nil {
		return err
	}
	if c.gen != f.gen {
		c.items = c.items[:0] // of another store's generation: never sent
		f.hub.mu.RLock()
		err := f.hub.genErr
		f.hub.mu.RUnlock()
		return err
	}
	l.endRV = c.index
	l.done = c.done
	if len(c.items) > 0 {
		// A chunk read at the last range's index extends it (no copy of
		// its end per chunk); another index closes it where the last
		// chunk ended and begins a range.
		if n := len(l.ranges); n == 0 || l.ranges[n-1].rv != c.index {
			if n > 0 {
				l.ranges[n-1].end = string(l.after)
			}
			l.ranges = append(l.ranges, listRange{rv: c.index})
		}
		l.after = append(l.after[:0], c.items[len(c.items)-1].key...)
	}
	return nil
}

// release returns the chunk buffer to the pool; an oversized one (a chunk
// holding one very large Run) is dropped.
func (l *listing) release() {
	if l.buf != nil {
		if cap(*l.buf) <= 4*listChunkBytes {
			*l.buf = (*l.buf)[:0]
			l.bufs.Put(l.buf)
		}
		l.buf = nil
	}
	l.cur = chunk{}
}

// typedRunPrefix is how every stored Run's JSON starts: the FSM stores Runs
// with their apiVersion and kind, and encoding/json writes fields in order.
var typedRunPrefix = []byte(`{"apiVersion":"` + apis.APIVersion + `","kind":"` + apis.KindRun + `",`)

func typedPrefix(raw []byte) bool { return bytes.HasPrefix(raw, typedRunPrefix) }
