package raftstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/sprint-project/sprint/apis"
)

// monitorLeadership follows raft's leadership notifications. On gaining
// leadership it first commits a barrier (so the FSM holds everything earlier
// leaders committed), records the members' HTTP addresses if missing, and
// only then tells subscribers; on loss it tells them at once.
func (s *Store) monitorLeadership(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case isLeader := <-s.notifyCh:
			if !isLeader {
				s.readyTerm.Store(0)
				s.broadcast(false)
				continue
			}
			term := s.raft.CurrentTerm()
			if err := s.raft.Barrier(s.cfg.ApplyTimeout).Error(); err != nil {
				s.logger.Warn("leader barrier failed", "term", term, "err", err)
				continue // a loss notification follows
			}
			s.readyTerm.Store(term)
			s.publishMembers(ctx)
			s.logger.Info("leadership acquired", "term", term)
			s.broadcast(true)
		}
	}
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
	want := []Member{{ID: s.cfg.NodeID, RaftAddr: s.RaftAddr(), HTTPAddr: s.cfg.HTTPAddr}}
	for _, p := range s.cfg.Peers {
		if p.ID != s.cfg.NodeID {
			want = append(want, Member(p))
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

func (s *Store) broadcast(leader bool) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
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
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the current leader's ID and HTTP address; both are empty
// when no leader is known.
func (s *Store) Leader() (id, httpAddr string) {
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

// Join adds a voter (leader only). Joining again with the same ID and
// address is a no-op apart from updating its HTTP address; a known ID or
// address with a different partner is replaced.
func (s *Store) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	if !s.IsLeader() {
		return fmt.Errorf("join %s: %w", id, s.notLeader())
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
			if err := s.raft.RemoveServer(srv.ID, 0, s.timeout(ctx)).Error(); err != nil {
				return s.raftErr("join: remove stale "+string(srv.ID), err)
			}
		}
	}
	if !member {
		if err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.timeout(ctx)).Error(); err != nil {
			return s.raftErr("join "+id, err)
		}
	}
	if _, err := s.apply(ctx, cmdSetMember, setMemberCmd{Member: Member{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}}); err != nil {
		return fmt.Errorf("join %s: %w", id, err)
	}
	s.logger.Info("member joined", "member", id, "raft_addr", raftAddr, "http_addr", httpAddr)
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
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, s.timeout(ctx)).Error(); err != nil {
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
}

// Cluster reports members, leader, term and indexes as this node sees them.
func (s *Store) Cluster() (ClusterInfo, error) {
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
	for _, srv := range cf.Configuration().Servers {
		info.Members = append(info.Members, MemberInfo{
			ID:       string(srv.ID),
			RaftAddr: string(srv.Address),
			HTTPAddr: s.httpAddrOf(string(srv.ID)),
			Suffrage: srv.Suffrage.String(),
			Leader:   string(srv.ID) == lid,
		})
	}
	sort.Slice(info.Members, func(i, j int) bool { return info.Members[i].ID < info.Members[j].ID })
	return info, nil
}

// AppliedIndex is the Raft index of the last entry in the local FSM.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// WaitApplied blocks until the local FSM has applied index idx.
func (s *Store) WaitApplied(ctx context.Context, idx uint64) error {
	for {
		cur, ch := s.fsm.appliedWait()
		if cur >= idx {
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

// Ready reports whether a leader is known and this node has applied
// everything it knows to be committed (/readyz).
func (s *Store) Ready() bool {
	if id, _ := s.Leader(); id == "" {
		return false
	}
	return s.AppliedIndex() >= s.raft.CommitIndex()
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
		return s.raftErr("linearizable read: barrier", s.raft.Barrier(s.timeout(ctx)).Error())
	}
	commit := s.raft.CommitIndex()
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return s.raftErr("linearizable read: verify leader", err)
	}
	return s.WaitApplied(ctx, commit)
}
