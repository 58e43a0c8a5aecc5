package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// listFeed starts a listing feed that reads chunks of chunkRuns Runs.
func listFeed(t *testing.T, f *fsm, chunkRuns int, match func(*apis.Run) bool) *Feed {
	t.Helper()
	feed, err := f.hub.feed(FeedOptions{List: true, Match: match}, f.chunkReader(chunkRuns, 1<<20))
	require.NoError(t, err)
	t.Cleanup(feed.Stop)
	return feed
}

// nextNow returns the feed's next event, failing when there is none.
func nextNow(t *testing.T, feed *Feed) Event {
	t.Helper()
	ev, ok, err := feed.Next()
	require.NoError(t, err)
	require.True(t, ok, "no event pending")
	return ev
}

// applyTo plays an event on a client's view of the Runs (name → resourceVersion).
func applyTo(t *testing.T, view map[string]string, ev Event) {
	t.Helper()
	run, err := ev.Run()
	require.NoError(t, err)
	var fromJSON apis.Run
	require.NoError(t, json.Unmarshal(ev.Object(), &fromJSON), "%s", ev.Object())
	require.Equal(t, run.Metadata.ResourceVersion, fromJSON.Metadata.ResourceVersion)
	require.Equal(t, apis.APIVersion, fromJSON.APIVersion)
	require.Equal(t, apis.KindRun, fromJSON.Kind)
	name, rv := run.Metadata.Name, run.Metadata.ResourceVersion
	if old, ok := view[name]; ok && ev.Type != apis.Added {
		require.Less(t, rvNum(old), rvNum(rv), "%s %s@%s after @%s: a change went back", ev.Type, name, rv, old)
	}
	if ev.Type == apis.Deleted {
		delete(view, name)
		return
	}
	view[name] = rv
}

func rvNum(rv string) uint64 {
	var n uint64
	_, _ = fmt.Sscan(rv, &n)
	return n
}

// state is the store's Runs as name → resourceVersion.
func state(t *testing.T, f *fsm) map[string]string {
	t.Helper()
	out := map[string]string{}
	_, err := f.scanRuns(nil, func(r *apis.Run) (bool, error) {
		out[r.Metadata.Name] = r.Metadata.ResourceVersion
		return true, nil
	})
	require.NoError(t, err)
	return out
}

// A listing read in many short transactions while Runs are created,
// changed and deleted between them still leaves the client at the exact
// state of one index (the bookmark's), and the changes after it bring the
// client to the current state: nothing missed, nothing duplicated, no
// Run going back.
func TestFeed_ListingInChunksIsOneConsistentState(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			f := newTestFSM(t)
			f.hub.setBuffer(100000)
			names := make([]string, 40)
			for i := range names {
				names[i] = fmt.Sprintf("r%02d", i)
			}
			history := map[uint64]map[string]string{}
			write := func() {
				name := names[rng.IntN(len(names))]
				if _, err := f.getRun(name); err != nil {
					mustCreate(t, f, name)
				} else if rng.IntN(3) == 0 {
					applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: name})
				} else {
					applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: name, Status: apis.RunStatus{Phase: apis.PhaseRunning, Message: fmt.Sprint(rng.Int())}}})
				}
				history[f.applied.Load()] = state(t, f)
			}
			for range 30 {
				write()
			}
			feed := listFeed(t, f, 1+rng.IntN(5), nil)
			view := map[string]string{}
			listed := false
			for range 400 {
				if rng.IntN(3) == 0 {
					write()
					continue
				}
				ev, ok, err := feed.Next()
				require.NoError(t, err)
				if !ok {
					continue
				}
				if ev.Type == apis.Bookmark {
					require.False(t, listed, "one end-of-listing bookmark")
					listed = true
					run, _ := ev.Run()
					require.Equal(t, "true", run.Metadata.Annotations[apis.InitialEventsEndAnnotation])
					require.Equal(t, history[ev.ResourceVersion], view, "the listing is the state at its bookmark's index %d", ev.ResourceVersion)
					continue
				}
				applyTo(t, view, ev)
			}
			for {
				ev, ok, err := feed.Next()
				require.NoError(t, err)
				if !ok {
					break
				}
				if ev.Type == apis.Bookmark {
					listed = true
					continue
				}
				applyTo(t, view, ev)
			}
			require.True(t, listed)
			assert.Equal(t, state(t, f), view)
		})
	}
}

func TestFeed_ListingSelectsAndEndsWithBookmark(t *testing.T) {
	f := newTestFSM(t)
	for i := range 10 {
		mustCreate(t, f, fmt.Sprintf("r%d", i))
	}
	even := func(r *apis.Run) bool { return (r.Metadata.Name[1]-'0')%2 == 0 }
	feed := listFeed(t, f, 3, even)
	var got []string
	for {
		ev := nextNow(t, feed)
		if ev.Type == apis.Bookmark {
			assert.Equal(t, uint64(10), ev.ResourceVersion)
			var end apis.Run
			require.NoError(t, json.Unmarshal(ev.Object(), &end))
			assert.Equal(t, apis.KindRun, end.Kind)
			assert.Equal(t, "10", end.Metadata.ResourceVersion)
			assert.Equal(t, map[string]string{apis.InitialEventsEndAnnotation: "true"}, end.Metadata.Annotations)
			break
		}
		run, err := ev.Run()
		require.NoError(t, err)
		got = append(got, run.Metadata.Name)
	}
	assert.Equal(t, []string{"r0", "r2", "r4", "r6", "r8"}, got)
	_, ok, err := feed.Next()
	require.NoError(t, err)
	assert.False(t, ok)

	ready := feed.Ready()
	mustCreate(t, f, "s1")
	mustCreate(t, f, "s8") // even by the selector's rule
	<-ready
	ev := nextNow(t, feed)
	run, _ := ev.Run()
	assert.Equal(t, "s8", run.Metadata.Name)
	assert.Equal(t, uint64(12), ev.ResourceVersion)
}

// An empty store lists nothing and ends at once.
func TestFeed_ListingOfNothing(t *testing.T) {
	f := newTestFSM(t)
	feed := listFeed(t, f, 3, nil)
	ev := nextNow(t, feed)
	assert.Equal(t, apis.Bookmark, ev.Type)
	assert.Equal(t, uint64(0), ev.ResourceVersion)
}

// A feed that nobody reads holds no read transaction: the writer can grow
// bbolt's memory map (which waits for every reader) while a listing is
// half read. A listing streamed from one transaction would block it.
func TestFeed_UnreadListingDoesNotBlockWriters(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), "fsm.db"), true, 32<<10, 100, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.close() })
	for i := range 20 {
		mustCreate(t, f, fmt.Sprintf("r%02d", i))
	}
	feed := listFeed(t, f, 2, nil)
	nextNow(t, feed) // the listing is under way, and then the client stops reading

	done := make(chan struct{})
	go func() {
		defer close(done)
		big := testRun("big")
		big.Metadata.Annotations = map[string]string{"pad": string(bytes.Repeat([]byte("x"), 200<<10))}
		for i := range 20 {
			big.Metadata.Name = fmt.Sprintf("big%02d", i)
			applyCmd(t, f, cmdCreateRun, createRunCmd{Run: big}) // grows the file past the map
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("writes blocked behind an unread listing")
	}
}

func TestFeed_FallingBehindEndsTooSlow(t *testing.T) {
	f := newTestFSM(t)
	f.hub.setBuffer(5)
	feed, err := f.hub.feed(FeedOptions{}, nil)
	require.NoError(t, err)
	for i := range 5 {
		mustCreate(t, f, fmt.Sprintf("r%d", i))
	}
	nextNow(t, feed) // 5 pending is within the buffer
	for i := 5; i < 7; i++ {
		mustCreate(t, f, fmt.Sprintf("r%d", i))
	}
	_, _, err = feed.Next() // 6 pending is not
	require.ErrorIs(t, err, apis.ErrTooSlow)
	assert.Equal(t, 410, apis.StatusFromError(err).Code)
	assert.Equal(t, apis.ReasonGone, apis.StatusFromError(err).Reason)
	_, _, again := feed.Next()
	assert.Equal(t, err, again, "the error sticks")
}

// Resuming from an old version may replay up to the whole history, and
// may fall behind by the buffer beyond that.
func TestFeed_ResumeReplayIsNotTooSlow(t *testing.T) {
	f := newTestFSM(t) // history 100
	f.hub.setBuffer(5)
	for i := range 90 {
		mustCreate(t, f, fmt.Sprintf("r%02d", i))
	}
	feed, err := f.hub.feed(FeedOptions{ResourceVersion: 10}, nil)
	require.NoError(t, err)
	for i := range 5 {
		mustCreate(t, f, fmt.Sprintf("s%d", i))
	}
	for i := 11; i <= 95; i++ {
		ev := nextNow(t, feed)
		require.Equal(t, uint64(i), ev.ResourceVersion)
	}
}

func TestFeed_RestoreDuringListingEndsIt(t *testing.T) {
	src := newTestFSM(t)
	mustCreate(t, src, "a")
	snap, err := src.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()

	dst := newTestFSM(t)
	for i := range 10 {
		mustCreate(t, dst, fmt.Sprintf("r%d", i))
	}
	feed := listFeed(t, dst, 2, nil)
	nextNow(t, feed)
	nextNow(t, feed)
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	_, _, err = feed.Next()
	assert.ErrorIs(t, err, apis.ErrGone)
}

func TestFeed_StoreCloseEndsFeeds(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), "fsm.db"), true, 0, 100, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	feed, err := f.hub.feed(FeedOptions{}, nil)
	require.NoError(t, err)
	ready := feed.Ready()
	require.NoError(t, f.close())
	<-ready
	_, _, err = feed.Next()
	assert.ErrorIs(t, err, ErrClosed)
}

// Every feed shares one encoding of an event.
func TestFeed_EventsAreEncodedOnce(t *testing.T) {
	f := newTestFSM(t)
	a, err := f.hub.feed(FeedOptions{}, nil)
	require.NoError(t, err)
	b, err := f.hub.feed(FeedOptions{}, nil)
	require.NoError(t, err)
	mustCreate(t, f, "x")
	ea, eb := nextNow(t, a), nextNow(t, b)
	ja, jb := ea.Object(), eb.Object()
	require.NotEmpty(t, ja)
	assert.Same(t, &ja[0], &jb[0])
	var got apis.Run
	require.NoError(t, json.Unmarshal(ja, &got))
	want, err := f.getRun("x")
	require.NoError(t, err)
	assert.Equal(t, *want, got)
	assert.True(t, maps.Equal(want.Metadata.Labels, got.Metadata.Labels))
}

// The history keeps decoded Runs only for its newest events (as many as a
// feed may fall behind); older ones keep the JSON the FSM stored, and
// feeds read the same Runs from both.
func TestHub_OlderEventsKeepOnlyTheirJSON(t *testing.T) {
	f := newTestFSM(t) // history 100
	f.hub.setBuffer(3)
	mustCreate(t, f, "first") // index 1: a feed resumes after it
	const n = 8
	for i := range n {
		r := testRun(fmt.Sprintf("r%d", i))
		if i%2 == 0 { // as the API stores them; the odd ones are encoded when read
			r.TypeMeta = apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun}
		}
		require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: r}).Err)
	}
	objs := make([]*sharedRun, n)
	f.hub.mu.RLock()
	for i := range n {
		objs[i] = f.hub.ring[uint64(i+1)%uint64(len(f.hub.ring))].obj // r<i> is the ring's event i+1
	}
	f.hub.mu.RUnlock()
	for i, obj := range objs {
		if i+1 < n+1-3 {
			assert.Nil(t, obj.full.Load(), "r%d is settled", i)
			if assert.NotNil(t, obj.sel.Load(), "r%d", i) {
				assert.Equal(t, fmt.Sprintf("r%d", i), obj.selectable().Metadata.Name)
			}
		} else {
			assert.NotNil(t, obj.full.Load(), "r%d is among the newest", i)
		}
		if i%2 == 0 {
			assert.NotNil(t, obj.json, "r%d has the stored JSON from the start", i)
		}
	}

	feed, err := f.hub.feed(FeedOptions{ResourceVersion: 1}, nil)
	require.NoError(t, err)
	for i := range n {
		want, err := f.getRun(fmt.Sprintf("r%d", i))
		require.NoError(t, err)
		want.TypeMeta = apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun}
		ev := nextNow(t, feed)
		assert.JSONEq(t, string(mustJSON(want)), string(ev.Object()), "r%d as JSON", i)
		got, err := ev.Run()
		require.NoError(t, err)
		assert.JSONEq(t, string(mustJSON(want)), string(mustJSON(got)), "r%d decoded", i)
	}

	// Selectors see a settled event's name, uid, resourceVersion, labels
	// and phase as they see a new one's.
	r1, err := f.getRun("r1")
	require.NoError(t, err)
	picked := map[string]bool{"r1": true, "r3": true, "r6": true} // settled, settled, newest
	sel, err := f.hub.feed(FeedOptions{ResourceVersion: 1, Match: func(r *apis.Run) bool {
		return picked[r.Metadata.Name] && r.Metadata.UID == "uid-"+r.Metadata.Name && r.Metadata.ResourceVersion != "" &&
			r.Metadata.Labels["team"] == "data" && r.Status.Phase == r1.Status.Phase
	}}, nil)
	require.NoError(t, err)
	for _, name := range []string{"r1", "r3", "r6"} {
		got, err := nextNow(t, sel).Run()
		require.NoError(t, err)
		assert.Equal(t, name, got.Metadata.Name)
	}
	_, ok, err := sel.Next()
	require.NoError(t, err)
	assert.False(t, ok, "only the selected Runs")
}

// A listing reads its chunks into the same buffer, items and spans, and
// notes the ranges it read without a copy per chunk: 100,000 Runs listed
// by 10 watchers are ~40,000 chunks, and their garbage was the node's
// allocation rate while the watchers opened (docs/benchmarks.md, (e)).
func TestFeed_ListingMakesNoGarbagePerChunk(t *testing.T) {
	f := newTestFSM(t)
	const runs, chunkRuns = 400, 4
	for i := range runs {
		mustCreate(t, f, fmt.Sprintf("r%03d", i))
	}
	// What bbolt allocates for a chunk's read transaction, the same
	// seek and walk without keeping anything, is not the listing's.
	mallocs := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.Mallocs
	}
	var after []byte
	before := mallocs()
	for range runs / chunkRuns {
		require.NoError(t, f.view(func(tx *bolt.Tx) error {
			_, _ = decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
			cur := tx.Bucket(bucketRuns).Cursor()
			k, _ := cur.Seek(after)
			for range chunkRuns {
				k, _ = cur.Next()
			}
			after = append(after[:0], k...)
			return nil
		}))
	}
	transactions := mallocs() - before

	feed := listFeed(t, f, chunkRuns, nil)
	before = mallocs()
	listed := 0
	for {
		ev := nextNow(t, feed)
		if ev.Type == apis.Bookmark {
			break
		}
		listed++
	}
	allocs := mallocs() - before
	require.Equal(t, runs, listed)
	t.Logf("%d allocations for %d chunks, of which bbolt's transactions %d", allocs, runs/chunkRuns, transactions)
	// About one per chunk is left (the transaction's closure); there
	// were six: the items, the spans as they grew, the range's end.
	assert.Less(t, allocs, transactions+2*runs/chunkRuns, "the listing's own allocations: fewer than two per chunk")
}
