package raftstore

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// flakyLogStore fails every failEvery-th StoreLogs call, failures times in
// all: a follower whose log write fails answers the leader's append with
// Success=false, which ends raft's pipeline to it.
type flakyLogStore struct {
	raft.LogStore
	failEvery int64
	failures  atomic.Int64
	calls     atomic.Int64
}

func (s *flakyLogStore) StoreLogs(logs []*raft.Log) error {
	if s.calls.Add(1)%s.failEvery == 0 && s.failures.Add(-1) >= 0 {
		return errors.New("injected log write failure")
	}
	return s.LogStore.StoreLogs(logs)
}

func (s *flakyLogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// countingFSM closes reached once it has applied want entries.
type countingFSM struct {
	want    int64
	n       atomic.Int64
	reached chan struct{}
}

func (f *countingFSM) Apply(*raft.Log) any {
	if f.n.Add(1) == f.want {
		close(f.reached)
	}
	return nil
}

func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (f *countingFSM) Restore(io.ReadCloser) error         { return errors.New("no snapshots") }

// TestPipeline_FailedAppendsDoNotWedgeReplication runs a three-node raft
// cluster over loopback TCP with pipelined replication, through
// pipelineTransport, while one follower's log write fails now and then.
// Each failure ends the pipeline to that follower; unguarded, raft's
// sender could block for good on the ended pipeline while heartbeats kept
// the follower from calling an election (hashicorp/raft#612), and the
// follower would never see another entry.
func TestPipeline_FailedAppendsDoNotWedgeReplication(t *testing.T) {
	const entries = 3000
	type node struct {
		raft  *raft.Raft
		trans *raft.NetworkTransport
		fsm   *countingFSM
	}
	var nodes []node
	var flakyStore *flakyLogStore
	becameLeader := make(chan bool, 8)
	for i := range 3 {
		trans, err := raft.NewTCPTransportWithConfig("127.0.0.1:0", nil, &raft.NetworkTransportConfig{
			MaxPool:         5,
			Timeout:         10 * time.Second,
			MaxRPCsInFlight: raftRPCsInFlight,
			Logger:          hclog.NewNullLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		conf := raft.DefaultConfig()
		conf.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
		conf.Logger = hclog.NewNullLogger()
		var logs raft.LogStore = raft.NewInmemStore()
		if i == 0 {
			conf.NotifyCh = becameLeader
		}
		if i == 2 {
			flakyStore = &flakyLogStore{LogStore: logs, failEvery: 5}
			flakyStore.failures.Store(40)
			logs = flakyStore
		}
		fsm := &countingFSM{want: entries, reached: make(chan struct{})}
		r, err := raft.NewRaft(conf, fsm, logs, raft.NewInmemStore(), raft.NewInmemSnapshotStore(), pipelineTransport{trans})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, node{r, trans, fsm})
	}
	t.Cleanup(func() {
		// A wedged replication goroutine never returns, and raft's
		// Shutdown waits for it: bound the wait so that the test fails
		// instead of hanging.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, n := range nodes {
				_ = n.raft.Shutdown().Error()
				_ = n.trans.Close()
			}
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("raft did not shut down: a replication goroutine is stuck")
		}
	})

	// n0 leads alone, then takes the two others in.
	leader := nodes[0].raft
	if err := leader.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
		ID: "n0", Address: nodes[0].trans.LocalAddr(),
	}}}).Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-becameLeader:
	case <-time.After(10 * time.Second):
		t.Fatal("n0 did not become leader")
	}
	for i := 1; i < 3; i++ {
		if err := leader.AddVoter(raft.ServerID(fmt.Sprintf("n%d", i)), nodes[i].trans.LocalAddr(), 0, 0).Error(); err != nil {
			t.Fatal(err)
		}
	}

	// Many writers, so that new entries keep waking the pipeline's sender
	// when a failed append ends it.
	var wg sync.WaitGroup
	errs := make(chan error, entries)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < entries; i += 16 {
				if err := leader.Apply([]byte{byte(i)}, 10*time.Second).Error(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("apply: %v", err)
	}

	// Every entry reaches the flaky follower: replication to it carried on
	// after each failure.
	flaky := nodes[2]
	select {
	case <-flaky.fsm.reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("the follower whose appends failed applied %d of %d entries: replication to it is wedged", flaky.fsm.n.Load(), entries)
	}
	if injected := 40 - flakyStore.failures.Load(); injected < 10 {
		t.Fatalf("only %d log writes failed on the follower: the test did not exercise ended pipelines", injected)
	}
}
