package raftstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sprint-project/sprint/apis"
)

// monitorLeadership follows raft's leadership notifications. On gaining
// leadership it first commits a barrier (so the FSM holds everything earlier
// leaders committed), records the members' HTTP addresses if missing, and
// only then tells subscribers; on loss it tells them at once. The barrier
// runs in its own goroutine so that this loop always drains raft's
// notifications (raft blocks sending them).
func (s *Store) monitorLeadership(ctx context.Context) {
	var gen uint64
	for {
		select {
		case <-ctx.Done():
			return
		case isLeader := <-s.notifyCh:
			gen++
			s.leaderGen.Store(gen) // invalidates an earlier gain still in its barrier
			if !isLeader {
				s.readyTerm.Store(0)
				s.broadcast(gen, false)
				continue
			}
			s.wg.Add(1)
			go func(gen uint64) {
				defer s.wg.Done()
				s.establishLeadership(ctx, gen)
			}(gen)
		}
	}
}

func (s *Store) establishLeadership(ctx context.Context, gen uint64) {
	term := s.raft.CurrentTerm()
	if err := s.wait(ctx, s.raft.Barrier(s.cfg.ApplyTimeout)); err != nil {
		s.logger.Warn("leader barrier failed", "term", term, "err", err)
		return // a loss notification follows
	}
	if s.leaderGen.Load() != gen {
		return
	}
	// The member record goes first: a Schedule or Notifier write checks
	// every member's store level, so a leader that said ready before
	// recording its own would answer the first such write "cluster not
	// fully upgraded".
	s.publishMembers(ctx)
	if s.leaderGen.Load() != gen {
		return
	}
	s.readyTerm.Store(term)
	s.logger.Info("leadership acquired", "term", term)
	s.broadcast(gen, true)
}

// publishMembers records this node's and the static peers' addresses when
// the FSM does not have them (a bootstrapped cluster has no other way to
// learn them).
func (s *Store) publishMembers(ctx context.Context) {
	known, err := s.fsm.members()
	if err != nil {
		s.logger.Error("read members", "err", err)
		return
	}
	// This node reports its own store level; the peers' records carry
	// none until each reports its own (JoinLevel).
	want := []Member{{ID: s.cfg.NodeID, RaftAddr: s.RaftAddr(), HTTPAddr: s.cfg.HTTPAddr, StoreLevel: StoreLevel}}
	for _, p := range s.cfg.Peers {
		if p.ID != s.cfg.NodeID {
			want = append(want, Member{ID: p.ID, RaftAddr: p.RaftAddr, HTTPAddr: p.HTTPAddr})
		}
	}
	for i, m := range want {
		if old, ok := known[m.ID]; ok && (i > 0 || old == m) {
			continue // peers may have re-registered since bootstrap; keep theirs
		}
		if _, err := s.apply(ctx, cmdSetMember, setMemberCmd{Member: m}); err != nil {
			s.logger.Warn("record member", "member", m.ID, "err", err)
			return
		}
	}
}

// broadcast publishes leader unless a newer notification (gen) superseded
// it; checking under subMu orders it with that newer broadcast.
func (s *Store) broadcast(gen uint64, leader bool) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.leaderGen.Load() != gen {
		return
	}
	s.state = leader
	for _, ch := range s.subs {
		sendLatest(ch, leader)
	}
}

// sendLatest leaves v as the channel's only pending value: a slow reader
// skips intermediate flaps but always sees the latest state.
func sendLatest(ch chan bool, v bool) {
	select {
	case <-ch:
	default:
	}
	ch <- v // cap 1 and the caller holds subMu: never blocks
}

// LeadershipChanges returns a channel that holds the latest leadership
// state: true once this node leads and its FSM has caught up with the log
// (start leader-only work), false when it stops leading (stop it). It
// receives the current state at once. Like raft.LeaderCh it is lossy — a
// reader that falls behind sees only the latest value, so a true→false→true
// flap may read as one true — but the last value is never lost. It is
// closed by Close.
func (s *Store) LeadershipChanges() <-chan bool {
	ch := make(chan bool, 1)
	s.subMu.Lock()
	defer s.subMu.Unlock()
	select {
	case <-s.closed:
		close(ch)
		return ch
	default:
	}
	ch <- s.state
	s.subs = append(s.subs, ch)
	return ch
}

// IsLeader reports whether this node is the Raft leader.
func (s *Store) IsLeader() bool { return s.raft != nil && s.raft.State() == raft.Leader }

// Leader returns the current leader's ID and HTTP address; both are empty
// when no leader is known.
func (s *Store) Leader() (id, httpAddr string) {
	if s.raft == nil {
		return "", ""
	}
	_, lid := s.raft.LeaderWithID()
	if lid == "" {
		return "", ""
	}
	return string(lid), s.httpAddrOf(string(lid))
}

func (s *Store) httpAddrOf(id string) string {
	if id == s.cfg.NodeID {
		return s.cfg.HTTPAddr
	}
	if ms, err := s.fsm.members(); err == nil {
		if m, ok := ms[id]; ok {
			return m.HTTPAddr
		}
	}
	for _, p := range s.cfg.Peers {
		if p.ID == id {
			return p.HTTPAddr
		}
	}
	return ""
}

func (s *Store) notLeader() error {
	id, addr := s.Leader()
	return &NotLeaderError{LeaderID: id, LeaderHTTP: addr}
}

// raftErr maps raft's errors to the store's.
func (s *Store) raftErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%s: %w", op, s.notLeader())
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%s: %w", op, ErrLeadershipLost)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (s *Store) timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return s.cfg.ApplyTimeout
}

// Join adds a voter (leader only) whose binary reported no store level:
// JoinLevel with level 0.
func (s *Store) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	return s.JoinLevel(ctx, id, raftAddr, httpAddr, 0)
}

// JoinLevel adds a voter (leader only) and records its addresses and the
// store level its binary supports. Joining again with the same ID and
// address is a no-op apart from updating its HTTP address and level (how
// a member reports its level after an upgrade); a known ID or address
// with a different partner is replaced.
func (s *Store) JoinLevel(ctx context.Context, id, raftAddr, httpAddr string, level int) error {
	if !s.IsLeader() {
		return fmt.Errorf("join %s: %w", id, s.notLeader())
	}
	// A voter nobody can reach would cost the cluster its quorum (a
	// single-node cluster would lose its leader for good), so the new
	// member must answer on its Raft address before it is added.
	if err := probeRaftAddr(ctx, raftAddr, s.cfg.TLS); err != nil {
		return &apis.InvalidError{Kind: "Member", Name: id, Errors: apis.ErrorList{{Field: "raftAddr", Message: err.Error()}}}
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return s.raftErr("join: configuration", err)
	}
	member := false
	for _, srv := range cf.Configuration().Servers {
		sameID, sameAddr := srv.ID == raft.ServerID(id), srv.Address == raft.ServerAddress(raftAddr)
		switch {
		case sameID && sameAddr:
			member = true
		case sameID || sameAddr:
			if err := s.wait(ctx, s.raft.RemoveServer(srv.ID, 0, s.timeout(ctx))); err != nil {
				return s.raftErr("join: remove stale "+string(srv.ID), err)
			}
		}
	}
	if !member {
		if err := s.wait(ctx, s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.timeout(ctx))); err != nil {
			return s.raftErr("join "+id, err)
		}
	}
	if _, err := s.apply(ctx, cmdSetMember, setMemberCmd{Member: Member{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr, StoreLevel: level}}); err != nil {
		return fmt.Errorf("join %s: %w", id, err)
	}
	s.logger.Info("member joined", "member", id, "raft_addr", raftAddr, "http_addr", httpAddr, "store_level", level)
	return nil
}

// Remove removes a member (leader only). It returns an error wrapping
// apis.ErrNotFound if id is not a member.
func (s *Store) Remove(ctx context.Context, id string) error {
	if !s.IsLeader() {
		return fmt.Errorf("remove %s: %w", id, s.notLeader())
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return s.raftErr("remove: configuration", err)
	}
	found := false
	for _, srv := range cf.Configuration().Servers {
		found = found || srv.ID == raft.ServerID(id)
	}
	if !found {
		return fmt.Errorf("remove %s: %w", id, apis.ErrNotFound)
	}
	// Forget the address first: once a leader removes itself it cannot write.
	if _, err := s.apply(ctx, cmdRemoveMember, removeMemberCmd{ID: id}); err != nil {
		return fmt.Errorf("remove %s: %w", id, err)
	}
	if err := s.wait(ctx, s.raft.RemoveServer(raft.ServerID(id), 0, s.timeout(ctx))); err != nil {
		return s.raftErr("remove "+id, err)
	}
	s.logger.Info("member removed", "member", id)
	return nil
}

// MemberInfo is one Raft server as Cluster reports it.
type MemberInfo struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// Suffrage is Voter, Nonvoter or Staging.
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	// StoreLevel is the level the member's record reports (Member).
	StoreLevel int `json:"storeLevel,omitempty"`
}

// ClusterInfo is this node's view of the cluster.
type ClusterInfo struct {
	NodeID       string       `json:"nodeID"`
	State        string       `json:"state"`
	LeaderID     string       `json:"leaderID,omitempty"`
	LeaderHTTP   string       `json:"leaderHTTP,omitempty"`
	Term         uint64       `json:"term"`
	CommitIndex  uint64       `json:"commitIndex"`
	AppliedIndex uint64       `json:"appliedIndex"`
	LastIndex    uint64       `json:"lastIndex"`
	Members      []MemberInfo `json:"members"`
	// RejectedEntries counts the committed entries the state machine
	// rejected; LastRejected is the latest (nil when none). Both are
	// replicated state: every node that applied as far reports the same.
	RejectedEntries uint64         `json:"rejectedEntries"`
	LastRejected    *RejectedEntry `json:"lastRejected,omitempty"`
}

// Cluster reports members, leader, term and indexes as this node sees them.
func (s *Store) Cluster() (ClusterInfo, error) {
	if s.raft == nil {
		return ClusterInfo{}, fmt.Errorf("cluster: store not started: %w", ErrClosed)
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return ClusterInfo{}, s.raftErr("cluster", err)
	}
	lid, lhttp := s.Leader()
	info := ClusterInfo{
		NodeID:       s.cfg.NodeID,
		State:        s.raft.State().String(),
		LeaderID:     lid,
		LeaderHTTP:   lhttp,
		Term:         s.raft.CurrentTerm(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.AppliedIndex(),
		LastIndex:    s.raft.LastIndex(),
	}
	var err error
	if info.RejectedEntries, info.LastRejected, err = s.fsm.rejected(); err != nil {
		return ClusterInfo{}, fmt.Errorf("cluster: %w", err)
	}
	records, err := s.fsm.members()
	if err != nil {
		return ClusterInfo{}, fmt.Errorf("cluster: %w", err)
	}
	for _, srv := range cf.Configuration().Servers {
		info.Members = append(info.Members, MemberInfo{
			ID:         string(srv.ID),
			RaftAddr:   string(srv.Address),
			HTTPAddr:   s.httpAddrOf(string(srv.ID)),
			Suffrage:   srv.Suffrage.String(),
			Leader:     string(srv.ID) == lid,
			StoreLevel: records[string(srv.ID)].StoreLevel,
		})
	}
	sort.Slice(info.Members, func(i, j int) bool { return info.Members[i].ID < info.Members[j].ID })
	return info, nil
}

// AppliedIndex is the Raft index of the last entry in the local FSM.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// CommitIndex is the highest log index this node knows to be committed in
// the cluster; on a follower it trails the leader's by up to a heartbeat.
func (s *Store) CommitIndex() uint64 { return s.raft.CommitIndex() }

// WaitApplied blocks until the local FSM reflects every entry up to index
// idx. Entries raft never hands to the FSM (a new leader's no-op, barriers)
// do not hold it back.
func (s *Store) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		cur, ch := s.fsm.appliedWait()
		if s.caughtUp(cur, idx) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for index %d (applied %d): %w", idx, cur, ctx.Err())
		case <-s.closed:
			return ErrClosed
		}
	}
}

// caughtUp reports whether an FSM that applied index cur reflects
// everything up to idx: either cur >= idx, or every entry in between is one
// the FSM never sees. Reading those entries is cheap: they are recent and
// in the log cache.
func (s *Store) caughtUp(cur, idx uint64) bool {
	if cur >= idx {
		return true
	}
	if s.logs == nil {
		return false
	}
	for i := cur + 1; i <= idx; i++ {
		var l raft.Log
		if err := s.logs.GetLog(i, &l); err != nil {
			return false // compacted or not yet stored: wait for the FSM
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

// Ready reports whether a leader is known and this node has applied
// everything committed before it (/readyz). Three traps:
//   - A new leader's commit index does not cover earlier terms' entries
//     until its first barrier commits (after a restart it is below the
//     log it is about to replay), so a leader is ready only once
//     establishLeadership has recorded this term, which it does after
//     committing its own member record (the store-level gate of Schedule
//     and Notifier writes reads it).
//   - A restarted follower knows its leader a moment before it learns the
//     commit index (both come with the leader's first AppendEntries).
//   - A state machine ahead of the log would skip every new entry as
//     already applied (the FSM skips indexes at or below its own), so
//     writes would be committed and silently lost. prepareDataDir refuses
//     such a data dir at start; this keeps /readyz honest whatever the
//     cause.
func (s *Store) Ready() bool {
	id, _ := s.Leader()
	if id == "" {
		return false
	}
	applied, last, commit := s.AppliedIndex(), s.raft.LastIndex(), s.raft.CommitIndex()
	switch {
	case applied > last:
		return false
	case id == s.cfg.NodeID && s.readyTerm.Load() != s.raft.CurrentTerm():
		return false
	case commit == 0 && last > 0:
		return false
	}
	return s.caughtUp(applied, commit)
}

// LinearizableRead returns once local reads reflect every write committed
// before the call (Raft's ReadIndex): it confirms leadership with a quorum
// and waits until the FSM has applied the commit index. On a follower it
// returns a *NotLeaderError.
func (s *Store) LinearizableRead(ctx context.Context) error {
	if !s.IsLeader() {
		return fmt.Errorf("linearizable read: %w", s.notLeader())
	}
	term := s.raft.CurrentTerm()
	if s.readyTerm.Load() != term {
		// The commit index of a new leader may not yet cover earlier
		// terms' entries; a barrier in this term settles it.
		return s.raftErr("linearizable read: barrier", s.wait(ctx, s.raft.Barrier(s.timeout(ctx))))
	}
	commit := s.raft.CommitIndex()
	if err := s.wait(ctx, s.raft.VerifyLeader()); err != nil {
		return s.raftErr("linearizable read: verify leader", err)
	}
	return s.WaitApplied(ctx, commit)
}

// probeRaftAddr checks that something accepts connections at addr and,
// with TLS, that it completes a handshake as a node of the cluster CA.
func probeRaftAddr(ctx context.Context, addr string, peerTLS *PeerTLS) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("must be host:port: %v", err)
	}
	const timeout = 3 * time.Second
	if peerTLS != nil {
		conn, err := peerTLS.dial(ctx, addr, timeout)
		if err != nil {
			return fmt.Errorf("no Raft TLS peer of this cluster answers there: %v", err)
		}
		return conn.Close()
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("not reachable: %v", err)
	}
	return conn.Close()
}
