package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// nodeDataDir runs a single-node store under dataDir/raft, as sprint lays
// it out, writes a few Runs and returns the store (not closed).
func nodeDataDir(t *testing.T, dataDir string) *raftstore.Store {
	t.Helper()
	cfg := raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://n1", DataDir: filepath.Join(dataDir, "raft"),
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 100 * time.Millisecond}
	s, err := raftstore.New(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.Start(t.Context()))
	require.Eventually(t, s.Ready, 10*time.Second, 10*time.Millisecond)
	for i := range 3 {
		_, err := s.CreateRun(context.Background(), &apis.Run{Metadata: apis.ObjectMeta{Name: fmt.Sprintf("r%d", i)},
			Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16}})
		require.NoError(t, err)
	}
	return s
}

func runCheckArgs(args []string, env map[string]string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := runCheck(args, envMap(env), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRunCheck(t *testing.T) {
	dataDir := t.TempDir()
	s := nodeDataDir(t, dataDir)

	code, _, stderr := runCheckArgs([]string{"--data-dir", dataDir}, nil)
	assert.Equal(t, checkUnable, code, "a running node's files are locked")
	assert.Contains(t, stderr, "is a sprint node running on this data dir?")

	require.NoError(t, s.Close())
	code, stdout, _ := runCheckArgs([]string{"--data-dir", dataDir}, nil)
	assert.Equal(t, checkSound, code)
	assert.Regexp(t, `raft is sound: raft.db log 1–\d+ \(term \d+\), fsm.db applied to \d+, 0 snapshot\(s\)\n$`, stdout)
	code, _, _ = runCheckArgs(nil, map[string]string{"SPRINT_DATA_DIR": filepath.Join(dataDir, "raft")})
	assert.Equal(t, checkSound, code, "SPRINT_DATA_DIR, and the raft directory itself")

	require.NoError(t, raftstoretest.DamageFile(filepath.Join(dataDir, "raft", "raft.db"), raftstoretest.ZeroPage, 1))
	code, stdout, _ = runCheckArgs([]string{"--data-dir", dataDir}, nil)
	assert.Equal(t, checkDamaged, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 1, stdout)
	assert.True(t, strings.HasPrefix(lines[0], "raft.db in "+filepath.Join(dataDir, "raft")+" is damaged (page "), lines[0])

	// The node refuses with the same line.
	_, err := raftstore.New(raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", DataDir: filepath.Join(dataDir, "raft")}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	assert.Equal(t, lines[0], err.Error())
}

func TestRunCheck_Unable(t *testing.T) {
	for name, args := range map[string][]string{
		"no node data": {"--data-dir", t.TempDir()},
		"no such dir":  {"--data-dir", filepath.Join(t.TempDir(), "nope")},
		"bad flag":     {"--nope"},
		"stray arg":    {"x"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCheckArgs(args, nil)
			assert.Equal(t, checkUnable, code)
			assert.Empty(t, stdout)
			assert.NotEmpty(t, stderr)
		})
	}
	code, _, _ := runCheckArgs([]string{"--help"}, nil)
	assert.Equal(t, checkSound, code)
}
