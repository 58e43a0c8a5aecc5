package controller

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// withFinished seeds finished Runs that completed age ago (oldest first).
func withFinished(prefix string, n int, age time.Duration, ttl *int64) func(*fixture) {
	return func(f *fixture) {
		for i := range n {
			name := fmt.Sprintf("%s%03d", prefix, i)
			f.createRun(name, func(r *apis.Run) { r.Spec.TTLSecondsAfterFinished = ttl })
			done := f.clock.Now().Add(-age + time.Duration(i)*time.Second)
			f.store.mu.Lock()
			f.store.runs[name].Status = apis.RunStatus{Phase: apis.PhaseSucceeded, Reason: apis.ReasonCompleted, CompletionTime: &done}
			f.store.mu.Unlock()
		}
	}
}

func (f *fixture) count(prefix string) int {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	n := 0
	for name := range f.store.runs {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func TestGC_DeletesPastTTLAndMaxAgeInBatches(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		ttl := int64(60)
		f := newFixture(t, Config{GCInterval: time.Minute, GCBatch: 10, GCMaxAge: time.Hour},
			withFinished("old", 25, 2*time.Hour, nil),   // past --gc-max-age
			withFinished("ttl", 5, 2*time.Minute, &ttl), // past their own TTL
			withFinished("new", 5, time.Minute, nil),    // young: kept
		)
		f.createRun("live") // never finished: kept
		f.settle()
		f.clock.Advance(time.Minute)
		f.expect(func() bool { return len(f.log.matching("store.delete ")) == 1 }, "first batch")
		assert.Equal(t, "store.delete 10", f.log.matching("store.delete ")[0], "at most GCBatch per entry")
		// More was due: the next passes follow a second apart.
		f.clock.Advance(time.Second)
		f.expect(func() bool { return len(f.log.matching("store.delete ")) == 2 }, "second batch, a second later")
		f.clock.Advance(time.Second)
		f.expect(func() bool { return f.count("old")+f.count("ttl") == 0 }, "all expired deleted by the third")
		assert.Equal(t, 5, f.count("new"))
		assert.NotNil(t, f.store.run("live"))
		for _, d := range f.log.matching("store.delete ") {
			assert.LessOrEqual(t, len(d), len("store.delete 10"))
		}
	})
}

func TestGC_KeepsAtMostMaxFinishedOldestFirst(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{GCInterval: time.Minute, GCMaxFinished: 3},
			withFinished("f", 5, time.Hour, nil))
		f.settle()
		f.clock.Advance(time.Minute)
		f.expect(func() bool { return f.count("f") == 3 }, "trimmed to max")
		assert.Nil(t, f.store.run("f000"))
		assert.Nil(t, f.store.run("f001"))
		assert.NotNil(t, f.store.run("f004"))
	})
}

// One scan serves every batch of a GC cycle; a Run changed after the scan
// (here: its TTL raised) is skipped rather than deleted on stale grounds,
// and the next scan decides again.
func TestGC_ScansOnceAndSkipsRunsChangedSinceTheScan(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{GCInterval: time.Minute, GCBatch: 10, GCMaxAge: time.Hour},
			withFinished("old", 25, 2*time.Hour, nil))
		f.settle()
		scans := f.store.scans() // the term's start reads every Run too
		f.clock.Advance(time.Minute)
		f.expect(func() bool { return len(f.log.matching("store.delete ")) == 1 }, "first batch")
		day := int64(86400)
		require.NotNil(t, f.store.run("old024"), "the last of the scan's order is in the last batch")
		f.store.edit("old024", func(r *apis.Run) { r.Spec.TTLSecondsAfterFinished = &day; r.Metadata.ResourceVersion = "changed" })
		for batch := 2; batch <= 3; batch++ {
			f.clock.Advance(time.Second)
			f.expect(func() bool { return len(f.log.matching("store.delete ")) == batch }, "batch %d, a second after the one before", batch)
		}
		assert.Equal(t, 1, f.count("old"), "only the Run changed since the scan is left")
		assert.NotNil(t, f.store.run("old024"))
		assert.Equal(t, scans+1, f.store.scans(), "one scan for the three batches")

		f.clock.Advance(time.Minute)
		f.expect(func() bool { return f.store.scans() == scans+2 }, "the next cycle scans again")
		assert.NotNil(t, f.store.run("old024"), "its new TTL keeps it")
	})
}
