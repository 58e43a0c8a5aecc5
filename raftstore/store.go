package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/internal/logging"
)

// Store owns a Raft node, its log and the bbolt FSM. Create it with New,
// run it with Start, stop it with Close.
type Store struct {
	cfg    Config
	logger *slog.Logger
	hlog   hclog.Logger

	metrics   *metrics
	fsm       *fsm
	logStore  *raftboltdb.BoltStore
	logs      *raft.LogCache // logStore behind a cache; set by Start
	snapshots *raft.FileSnapshotStore
	transport *raft.NetworkTransport
	raft      *raft.Raft // set by Start

	notifyCh  chan bool     // raft's leadership notifications, read by monitorLeadership
	readyTerm atomic.Uint64 // term in which this leader's barrier completed; 0 when not leader
	leaderGen atomic.Uint64 // count of leadership notifications, set by monitorLeadership

	subMu sync.Mutex
	subs  []chan bool // LeadershipChanges subscribers; closed by Close
	state bool        // last broadcast leadership state

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    chan struct{} // closed by Close
}

// New opens the data dir and binds the Raft address. Nothing replicates
// until Start; until then writes and cluster calls fail with ErrClosed and
// reads see the state on disk.
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logger = logger.With("component", "raftstore", "node", cfg.NodeID)
	s := &Store{
		cfg:      cfg,
		logger:   logger,
		hlog:     logging.HCLog(logger),
		notifyCh: make(chan bool, 16),
		closed:   make(chan struct{}),
	}
	s.metrics = newMetrics()
	if err := s.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := prepareDataDir(cfg.DataDir, logger); err != nil {
		return nil, err
	}
	var err error
	s.fsm, err = openFSM(filepath.Join(cfg.DataDir, fsmDBFile), !cfg.FSMSync, cfg.FSMInitialMmapSize, cfg.WatchHistory, logger)
	if err != nil {
		return nil, err
	}
	s.fsm.metrics = s.metrics
	s.fsm.hub.setBuffer(cfg.WatchBuffer)
	// The log is the durable record: every commit is fsynced. The freelist
	// is not written (bbolt rebuilds it on open), which saves a page write
	// per commit.
	s.logStore, err = raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(cfg.DataDir, raftDBFile),
		BoltOptions: &bolt.Options{
			Timeout:         5 * time.Second,
			NoFreelistSync:  true,
			FreelistType:    bolt.FreelistMapType,
			InitialMmapSize: initialMmapSize,
		},
	})
	if err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	s.snapshots, err = raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, s.hlog.Named("snapshots"))
	if err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	s.transport, err = s.newTransport()
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// prepareDataDir checks raft.db, fsm.db and the snapshots before bbolt maps
// them (a damaged file would otherwise crash the process: SIGBUS, or a
// bbolt assertion) and before raft reads them. What the node can repair
// itself — a damaged fsm.db or snapshot that the log and the other
// snapshots cover — it repairs; anything else is a *DamageError naming the
// file and what to do.
func prepareDataDir(dir string, logger *slog.Logger) error {
	unlock, err := lockFiles(filepath.Join(dir, raftDBFile), filepath.Join(dir, fsmDBFile))
	if err != nil {
		return err
	}
	start := time.Now()
	in := inspectDataDir(dir, false)
	unlock() // bbolt takes its own, exclusive, lock next
	for _, w := range in.warnings {
		logger.Warn("data dir: "+w, "dir", dir)
	}
	p := in.decide()
	if p.fatal != nil {
		return p.fatal
	}
	if err := p.repair(dir, logger); err != nil {
		return err
	}
	logger.Info("data dir checked", "dir", dir, "took", time.Since(start).Round(time.Millisecond),
		"log_first", in.raft.first, "log_last", in.raft.last, "applied", in.fsm.applied, "snapshots", len(in.snaps))
	return nil
}

// transportTimeout bounds each Raft RPC's I/O and, with TLS, each
// handshake.
const transportTimeout = 10 * time.Second

// newTransport binds the Raft transport: plain TCP, or mutual TLS when
// Config.TLS is set. Pipelined replication is off (MaxRPCsInFlight 1):
// hashicorp/raft's pipeline can wedge replication to a follower for good
// after the follower answers Success=false — a routine answer after a
// leader change — while heartbeats keep that follower from calling an
// election (hashicorp/raft#612; it hung our failover test). Each
// synchronous AppendEntries still carries up to MaxAppendEntries entries.
func (s *Store) newTransport() (*raft.NetworkTransport, error) {
	addr := s.cfg.RaftAddr
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft address %s: %w", addr, err)
	}
	if tcpAddr.IP == nil || tcpAddr.IP.IsUnspecified() {
		// Raft tells peers the address it binds; every interface is none.
		return nil, fmt.Errorf("raft address %s: give the IP address peers reach this node at, not every interface", addr)
	}
	var advertise net.Addr
	if tcpAddr.Port != 0 {
		advertise = tcpAddr
	}
	tc := &raft.NetworkTransportConfig{
		Logger:          s.hlog.Named("transport"),
		MaxPool:         5,
		Timeout:         transportTimeout,
		MaxRPCsInFlight: 1,
	}
	if s.cfg.TLS == nil {
		t, err := raft.NewTCPTransportWithConfig(addr, advertise, tc)
		if err != nil {
			return nil, fmt.Errorf("raft transport %s: %w", addr, err)
		}
		return t, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft transport %s: %w", addr, err)
	}
	tc.Stream = newTLSStreamLayer(ln, advertise, s.cfg.TLS, transportTimeout, s.logger, s.metrics.tlsRefused)
	return raft.NewNetworkTransportWithConfig(tc), nil
}

// RaftAddr is the bound Raft address (with the chosen port).
func (s *Store) RaftAddr() string { return string(s.transport.LocalAddr()) }

// NodeID is this node's Raft server ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

func (s *Store) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.NodeID)
	rc.Logger = s.hlog.Named("raft")
	rc.HeartbeatTimeout = s.cfg.HeartbeatTimeout
	rc.ElectionTimeout = s.cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = s.cfg.LeaderLeaseTimeout
	rc.CommitTimeout = s.cfg.CommitTimeout
	rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	rc.SnapshotInterval = s.cfg.SnapshotInterval
	rc.TrailingLogs = s.cfg.TrailingLogs
	rc.MaxAppendEntries = MaxAppendEntries
	rc.BatchApplyCh = true
	rc.NotifyCh = s.notifyCh
	return rc
}

// Start starts Raft (bootstrapping a fresh data dir when configured to)
// and the leadership monitor, which runs until ctx ends or Close.
func (s *Store) Start(ctx context.Context) error {
	rc := s.raftConfig()
	// Resume from the FSM file when it is complete and not older than the
	// newest snapshot; otherwise rebuild it from the snapshot and the log.
	snaps, err := s.snapshots.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	var snapIndex uint64
	if len(snaps) > 0 {
		snapIndex = snaps[0].Index
	}
	applied := s.fsm.applied.Load()
	if s.fsm.trusted && applied >= snapIndex {
		rc.NoSnapshotRestoreOnStart = true
	} else {
		s.logger.Warn("rebuilding fsm from snapshot and log", "applied", applied, "snapshot_index", snapIndex, "trusted", s.fsm.trusted)
		if err := s.fsm.wipe(); err != nil {
			return err
		}
	}
	s.logs, err = raft.NewLogCache(MaxAppendEntries*2, s.logStore)
	if err != nil {
		return fmt.Errorf("log cache: %w", err)
	}
	r, err := raft.NewRaft(rc, s.fsm, s.logs, s.logStore, s.snapshots, s.transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	if err := s.bootstrap(); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.monitorLeadership(ctx)
	}()
	s.logger.Info("store started", "raft_addr", s.RaftAddr(), "applied", s.fsm.applied.Load())
	return nil
}

func (s *Store) bootstrap() error {
	has, err := raft.HasExistingState(s.logStore, s.logStore, s.snapshots)
	if err != nil {
		return fmt.Errorf("check raft state: %w", err)
	}
	if has || s.cfg.JoinExisting {
		return nil
	}
	var conf raft.Configuration
	if len(s.cfg.Peers) == 0 {
		conf.Servers = []raft.Server{{ID: raft.ServerID(s.cfg.NodeID), Address: s.transport.LocalAddr()}}
	}
	for _, p := range s.cfg.Peers {
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	s.logger.Info("bootstrapping cluster", "servers", len(conf.Servers))
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// Close stops Raft and closes the files. Watchers end with ErrClosed and
// LeadershipChanges channels are closed. It is safe to call more than once.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		if s.cancel != nil {
			s.cancel()
		}
		if s.raft != nil {
			if e := s.raft.Shutdown().Error(); e != nil {
				err = fmt.Errorf("shutdown raft: %w", e)
			}
		}
		s.wg.Wait()
		s.subMu.Lock()
		for _, ch := range s.subs {
			close(ch)
		}
		s.subs = nil
		s.subMu.Unlock()
		if e := s.closeFiles(); err == nil {
			err = e
		}
		s.logger.Info("store closed")
	})
	return err
}

func (s *Store) closeFiles() error {
	var errs []error
	if s.transport != nil {
		errs = append(errs, s.transport.Close())
	}
	if s.logStore != nil {
		errs = append(errs, s.logStore.Close())
	}
	if s.fsm != nil {
		errs = append(errs, s.fsm.close())
	}
	return errors.Join(errs...)
}

// Snapshot makes raft take a snapshot now (and compact its log), e.g.
// before a backup or in tests.
// Nothing new to snapshot is not an error.
func (s *Store) Snapshot() error {
	if s.raft == nil {
		return fmt.Errorf("snapshot: store not started: %w", ErrClosed)
	}
	err := s.wait(context.Background(), s.raft.Snapshot())
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return s.raftErr("snapshot", err)
}
