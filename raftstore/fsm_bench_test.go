package raftstore

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sprint-project/sprint/apis"
)

// BenchmarkFSMApplyCreates applies batches of 32 apply_runs entries, each
// creating one ~1 KiB Run (the Run of scripts/bench-api.sh, as the leader
// decides it), decoded from their bytes as every follower does: the FSM's
// share of one REST write on each replica. b.N counts entries; run with
// -benchtime 6400x or so (the entries are encoded before the timer starts).
func BenchmarkFSMApplyCreates(b *testing.B) {
	f, err := openFSM(filepath.Join(b.TempDir(), "fsm.db"), true, 0, 100, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.close() })
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	entry := func(i int) []byte {
		run := apis.Run{
			TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
			Metadata: apis.ObjectMeta{
				Name: fmt.Sprintf("bench-%08d", i), UID: fmt.Sprintf("5f1c9a4e-6d0b-4a43-9d58-%012d", i), CreationTimestamp: &now,
				Labels: map[string]string{"bench": "bench"}, Annotations: map[string]string{"pad": strings.Repeat("x", 900)},
			},
			Spec: apis.RunSpec{Command: "true", Cpus: 0.01, Mem: 1},
		}
		apis.SetDefaults(&run)
		setInitialStatus(&run, now)
		data, err := encodeCommand(cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: run.Metadata.Name, Run: &run}}})
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	const batch = 32
	entries := make([][]byte, b.N)
	for i := range entries {
		entries[i] = entry(i + 1)
	}
	logs := make([]*raft.Log, 0, batch)
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
}
