package raftstore

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// benchRun is the ~1 KiB Run of scripts/bench-api.sh as the leader decides
// its create.
func benchRun(name string, i int, now time.Time) *apis.Run {
	run := apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{
			Name: name, UID: fmt.Sprintf("5f1c9a4e-6d0b-4a43-9d58-%012d", i), CreationTimestamp: &now,
			Labels: map[string]string{"bench": "bench"}, Annotations: map[string]string{"pad": strings.Repeat("x", 900)},
		},
		Spec: apis.RunSpec{Command: "true", Cpus: 0.01, Mem: 1},
	}
	apis.SetDefaults(&run)
	setInitialStatus(&run, now)
	return &run
}

func benchCreateEntry(b *testing.B, name string, i int, now time.Time) []byte {
	data, err := encodeCommand(cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: name, Run: benchRun(name, i, now)}}})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func benchFSM(b *testing.B) *fsm {
	f, err := openFSM(filepath.Join(b.TempDir(), "fsm.db"), true, 0, 100, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.close() })
	return f
}

// reportBoltStats reports what bbolt did per entry since before: pages
// written (one pwrite each) and the bytes in them, nodes spilled, split and
// rebalanced, and pages allocated. These do not depend on the machine's
// load, unlike ns/op.
func reportBoltStats(b *testing.B, f *fsm, before bolt.Stats, entries int) {
	after := f.db.Stats()
	d := after.Sub(&before).TxStats
	n := float64(entries)
	b.ReportMetric(float64(d.GetWrite())/n, "pages/op")
	// Every page allocated is written; a node larger than a page is one
	// write of several pages.
	b.ReportMetric(float64(d.GetPageAlloc())/n, "written-B/op")
	b.ReportMetric(float64(d.GetSpill())/n, "spills/op")
	b.ReportMetric(float64(d.GetSplit())/n, "splits/op")
	b.ReportMetric(float64(d.GetRebalance())/n, "rebalances/op")
}

// BenchmarkFSMApplyCreates applies batches of 32 apply_runs entries, each
// creating one ~1 KiB Run (the Run of scripts/bench-api.sh, as the leader
// decides it), decoded from their bytes as every follower does: the FSM's
// share of one REST write on each replica. b.N counts entries; run with
// -benchtime 6400x or so (the entries are encoded before the timer starts).
// Names are created in order, so every batch appends to the end of the
// bucket: BenchmarkFSMApplyWriters has the REST benchmark's pattern.
func BenchmarkFSMApplyCreates(b *testing.B) {
	f := benchFSM(b)
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	const batch = 32
	entries := make([][]byte, b.N)
	for i := range entries {
		entries[i] = benchCreateEntry(b, fmt.Sprintf("bench-%08d", i+1), i+1, now)
	}
	logs := make([]*raft.Log, 0, batch)
	before := f.db.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: entries[i]})
		if len(logs) == batch || i == b.N-1 {
			for _, r := range f.ApplyBatch(logs) {
				if err := r.(result).Items[0].Err; err != nil {
					b.Fatal(err)
				}
			}
			logs = logs[:0]
		}
	}
	b.StopTimer()
	reportBoltStats(b, f, before, b.N)
}

// BenchmarkFSMApplyWriters is a follower's FSM at `WRITERS=64
// scripts/bench-api.sh`: 64 writers each create Runs named
// <prefix>-<phase><writer>-<i> (test/apibench), so the creates of one batch
// of 25 entries land all over the runs bucket, which already holds the
// Runs of earlier points (20,000, not timed). With "events", each batch
// also carries one append_events entry with the controller's "Scheduled"
// event of each Run the batch before created (the Runs are never launched:
// the benchmark's mesos-sim has no agents). b.N counts created Runs; the
// metrics are per created Run.
func BenchmarkFSMApplyWriters(b *testing.B) {
	for _, events := range []bool{false, true} {
		name := "creates"
		if events {
			name = "creates+events"
		}
		b.Run(name, func(b *testing.B) { benchApplyWriters(b, events) })
	}
}

func benchApplyWriters(b *testing.B, events bool) {
	const (
		writers = 64
		batch   = 25
		earlier = 20000
	)
	f := benchFSM(b)
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	var index uint64
	apply := func(logs []*raft.Log) {
		for _, r := range f.ApplyBatch(logs) {
			r := r.(result)
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			for _, it := range r.Items {
				if it.Err != nil {
					b.Fatal(it.Err)
				}
			}
		}
	}
	// entries returns n create entries of the writers taking turns, and
	// the names they create.
	entries := func(prefix string, n int) ([][]byte, []string) {
		data, names := make([][]byte, n), make([]string, n)
		for i := range n {
			names[i] = fmt.Sprintf("%s-w%d-%d", prefix, i%writers, i/writers)
			data[i] = benchCreateEntry(b, names[i], i, now)
		}
		return data, names
	}
	log := func(data []byte) *raft.Log {
		index++
		return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	old, _ := entries("b0a1b2c3", earlier)
	for len(old) > 0 {
		n := min(256, len(old))
		logs := make([]*raft.Log, n)
		for i := range logs {
			logs[i] = log(old[i])
		}
		apply(logs)
		old = old[n:]
	}
	creates, names := entries("b4d5e6f7", b.N)
	scheduled := func(names []string) []byte {
		recs := make([]apis.EventRecord, len(names))
		for i, n := range names {
			recs[i] = apis.EventRecord{Run: n, Event: apis.RunEvent{
				Time: now, Type: apis.EventNormal, Reason: "Scheduled", Message: "waiting for an offer that fits cpus 0.01, mem 1",
			}}
		}
		data, err := encodeCommand(cmdAppendEvents, appendEventsCmd{Events: recs})
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	var eventEntries [][]byte
	if events {
		for i := 0; i < b.N; i += batch {
			eventEntries = append(eventEntries, scheduled(names[i:min(i+batch, b.N)]))
		}
	}
	before := f.db.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	logs := make([]*raft.Log, 0, batch+1)
	for i := 0; i < b.N; i += batch {
		logs = logs[:0]
		for _, d := range creates[i:min(i+batch, b.N)] {
			logs = append(logs, log(d))
		}
		if events && i > 0 {
			logs = append(logs, log(eventEntries[i/batch-1]))
		}
		apply(logs)
	}
	b.StopTimer()
	reportBoltStats(b, f, before, b.N)
}
