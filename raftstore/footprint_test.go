package raftstore

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// BenchmarkFSMFootprint stores SPRINT_BENCH_STORED Runs (default 100,000)
// the way the storage benchmark of docs/benchmarks.md does (create, then a
// terminal status and one event each, in Raft-sized batches) and reports
// the FSM file's size per Run — the memory a leader that reads every Run
// maps — and how full bbolt keeps its pages. Names are created in order
// (run-000001, run-000002, …: bbolt splits leave pages half full) or
// scattered (a UUID-like spread).
func BenchmarkFSMFootprint(b *testing.B) {
	n := 100000
	if v := os.Getenv("SPRINT_BENCH_STORED"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	orders := []struct {
		name string
		key  func(i int) string
	}{
		{"sequential", func(i int) string { return fmt.Sprintf("st0-%06d", i) }},
		{"scattered", func(i int) string { return fmt.Sprintf("st-%08x", uint32(i)*2654435761) }},
	}
	for _, o := range orders {
		b.Run(o.name, func(b *testing.B) { benchFootprint(b, n, o.key) })
	}
}

func benchFootprint(b *testing.B, n int, name func(int) string) {
	for it := 0; it < b.N; it++ {
		fileB, pagesB, fill := storeFootprint(b, n, name)
		b.ReportMetric(fileB, "file-B/run")
		b.ReportMetric(pagesB, "pages-B/run")
		b.ReportMetric(fill, "fill-%")
	}
}

// TestFSM_PagesStayFull stores Runs as BenchmarkFSMFootprint does and
// checks how full bbolt keeps the pages (pagefill.go): at its default fill
// names created in order left 47 % of page bytes in use, scattered names
// 65 %.
func TestFSM_PagesStayFull(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     func(i int) string
		minFill float64
	}{
		{"names in order", func(i int) string { return fmt.Sprintf("st0-%06d", i) }, 80},
		{"scattered names", func(i int) string { return fmt.Sprintf("st-%08x", uint32(i)*2654435761) }, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, fill := storeFootprint(t, 4000, tc.key)
			require.GreaterOrEqual(t, fill, tc.minFill, "percent of page bytes in use")
		})
	}
}

// storeFootprint stores n Runs named by name (create, then a terminal
// status and one event each, in Raft-sized batches) and returns the FSM
// file's bytes per Run, its pages' bytes per Run and the percentage of
// those in use.
func storeFootprint(tb testing.TB, n int, name func(int) string) (fileB, pagesB, fill float64) {
	path := filepath.Join(tb.TempDir(), "fsm.db")
	f, err := openFSM(path, true, 0, 100, slog.New(slog.DiscardHandler))
	require.NoError(tb, err)
	defer func() { require.NoError(tb, f.close()) }()
	now := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	var logs []*raft.Log
	flush := func() {
		for _, r := range f.ApplyBatch(logs) {
			if res, ok := r.(result); ok && res.Err != nil {
				tb.Fatal(res.Err)
			}
		}
		logs = logs[:0]
	}
	add := func(t cmdType, payload any) {
		data, err := encodeCommand(t, payload)
		require.NoError(tb, err)
		logs = append(logs, &raft.Log{Index: f.applied.Load() + uint64(len(logs)) + 1, Term: 1, Type: raft.LogCommand, Data: data})
		if len(logs) == MaxAppendEntries {
			flush()
		}
	}
	for i := 0; i < n; i++ {
		add(cmdCreateRun, createRunCmd{Run: apis.Run{
			Metadata: apis.ObjectMeta{Name: name(i), UID: fmt.Sprintf("184650e2-6a7a-4008-975e-%012d", i),
				Labels:            map[string]string{"suite": "stored"},
				Annotations:       map[string]string{"description": "a Run of the storage benchmark, with an annotation of realistic size"},
				CreationTimestamp: &now},
			Spec: apis.RunSpec{Command: "true", Env: map[string]string{"SIM_DURATION": "0s"}, Cpus: 0.01, Mem: 1, Cancel: true},
		}})
		if i%64 == 63 {
			var ups []statusEntry
			var evs []apis.EventRecord
			for j := i - 63; j <= i; j++ {
				ups = append(ups, statusEntry{Name: name(j), Status: apis.RunStatus{Phase: apis.PhaseKilled, Reason: "Cancelled",
					Message: "cancelled before launch", CompletionTime: &now, LastTransitionTime: &now}})
				evs = append(evs, apis.EventRecord{Run: name(j), Event: apis.RunEvent{Time: now, Type: "Normal", Reason: "Cancelled", Message: "cancelled before launch"}})
			}
			add(cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: ups})
			add(cmdAppendEvents, appendEventsCmd{Events: evs})
		}
	}
	flush()
	fi, err := os.Stat(path)
	require.NoError(tb, err)
	var inuse, alloc int
	require.NoError(tb, f.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			s := tx.Bucket(name).Stats()
			inuse += s.LeafInuse + s.BranchInuse
			alloc += s.LeafAlloc + s.BranchAlloc
		}
		return nil
	}))
	return float64(fi.Size()) / float64(n), float64(alloc) / float64(n), float64(inuse) / float64(alloc) * 100
}
