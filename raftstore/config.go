package raftstore

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Store. Zero durations and counts take the defaults
// below, which DESIGN.md explains.
type Config struct {
	// NodeID is this node's Raft server ID, unique in the cluster.
	NodeID string
	// RaftAddr is bound and advertised for Raft traffic; port 0 picks one
	// (see Store.RaftAddr).
	RaftAddr string
	// HTTPAddr is this node's advertised HTTP base address, recorded in the
	// store so that followers can forward to the leader.
	HTTPAddr string
	// DataDir holds raft.db (log and stable store), fsm.db and snapshots/.
	DataDir string
	// Peers bootstraps a static cluster on a fresh data dir; it must list
	// this node. Empty (and JoinExisting false) bootstraps a single node.
	Peers []Peer
	// JoinExisting keeps a fresh node from bootstrapping: it waits until a
	// member of a running cluster adds it (Store.Join on the leader).
	JoinExisting bool
	// TLS, when set, runs the Raft port over mutual TLS: peers without a
	// node certificate of the cluster CA cannot connect (DESIGN.md). Nil
	// means plain TCP, for loopback clusters and tests.
	TLS *PeerTLS
	// Registerer, when set, gets the store's Prometheus collectors.
	Registerer prometheus.Registerer

	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are raft's.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long raft waits before telling followers a new
	// commit index when no further entries come.
	CommitTimeout time.Duration
	// SnapshotThreshold and SnapshotInterval decide when raft snapshots;
	// TrailingLogs entries stay in the log after one.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// ApplyTimeout bounds how long a write waits to be enqueued when its
	// context has no deadline.
	ApplyTimeout time.Duration
	// WatchHistory is how many events watches can resume from.
	WatchHistory int
	// WatchBuffer is how many changes a watch may fall behind (beyond
	// those it was sent at its start) before it ends with
	// apis.ErrTooSlow; 0 means DefaultWatchBuffer.
	WatchBuffer int
	// FSMSync fsyncs the FSM's bbolt file on every commit. Off by default:
	// the Raft log is the durable record (DESIGN.md).
	FSMSync bool
	// FSMInitialMmapSize is the FSM file's initial bbolt memory map in
	// bytes (address space, not memory); 0 means 256 MiB. Tests set it
	// small to exercise remaps during snapshots.
	FSMInitialMmapSize int
	// Now stamps creation and deletion times; nil means time.Now.
	Now func() time.Time
}

// Defaults for a production cluster on a LAN. Raft checks the snapshot
// threshold only once per SnapshotInterval (a random time between one and
// two intervals), so the interval, not the threshold, bounds the log under
// load: with raft's 2 min, 100,000 Runs created at 800/s grew the log past
// 100k entries and the leader's raft.db to 150 MiB resident. The check is
// cheap; 5 s is Consul's default too. Heartbeat, election and
// lease are 1.5× raft's own: a leader starved of CPU (three nodes and their
// tasks on one busy host) stepped down every few seconds with raft's 500 ms
// lease, failing writes with "outcome unknown"; a dead leader is still
// replaced within about 3 s.
const (
	DefaultHeartbeatTimeout   = 1500 * time.Millisecond
	DefaultElectionTimeout    = 1500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 750 * time.Millisecond
	DefaultCommitTimeout      = 20 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 5 * time.Second
	DefaultTrailingLogs       = 10240
	DefaultApplyTimeout       = 10 * time.Second
	// MaxAppendEntries is how many entries one AppendEntries RPC and one
	// FSM batch carry.
	MaxAppendEntries = 256
)

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, DefaultHeartbeatTimeout)
	def(&c.ElectionTimeout, DefaultElectionTimeout)
	def(&c.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	def(&c.CommitTimeout, DefaultCommitTimeout)
	def(&c.SnapshotInterval, DefaultSnapshotInterval)
	def(&c.ApplyTimeout, DefaultApplyTimeout)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.WatchHistory == 0 {
		c.WatchHistory = DefaultWatchHistory
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	switch {
	case c.NodeID == "":
		return fmt.Errorf("config: node id is required")
	case c.RaftAddr == "":
		return fmt.Errorf("config: raft address is required")
	case c.DataDir == "":
		return fmt.Errorf("config: data dir is required")
	}
	if len(c.Peers) > 0 {
		found := false
		for _, p := range c.Peers {
			found = found || p.ID == c.NodeID
		}
		if !found {
			return fmt.Errorf("config: peers do not list node %q", c.NodeID)
		}
	}
	return nil
}

// Peer is one member of a static bootstrap list.
type Peer struct {
	ID       string
	RaftAddr string
	HTTPAddr string
}

// ParsePeers parses "id=raftAddr=httpAddr,…" (the --peers flag). The HTTP
// address may itself contain "=" only after the second one.
func ParsePeers(s string) ([]Peer, error) {
	var peers []Peer
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, "=", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return nil, fmt.Errorf("peer %q: want id=raftAddr=httpAddr", item)
		}
		if seen[parts[0]] {
			return nil, fmt.Errorf("peer %q: duplicate id", parts[0])
		}
		seen[parts[0]] = true
		peers = append(peers, Peer{ID: parts[0], RaftAddr: parts[1], HTTPAddr: parts[2]})
	}
	return peers, nil
}

// ErrInsecureRaftAddr is returned by CheckRaftAddrSecurity for a Raft
// address other machines can reach when the port has no mutual TLS.
var ErrInsecureRaftAddr = errors.New("refusing a non-loopback Raft address without mutual TLS: give --raft-tls-cert, --raft-tls-key and --raft-tls-ca (sprint certs makes them), or --insecure")

// CheckRaftAddrSecurity refuses a Raft address reachable from other
// machines (any non-loopback IP, a host name other than localhost, or an
// empty or unspecified host, which means every interface) unless the port
// runs mutual TLS or insecure is set: whoever reaches a plain Raft port can
// append entries, win elections and crash the node (DESIGN.md).
func CheckRaftAddrSecurity(addr string, hasTLS, insecure bool) error {
	if hasTLS || insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("raft address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("raft address %s: %w", addr, ErrInsecureRaftAddr)
}
