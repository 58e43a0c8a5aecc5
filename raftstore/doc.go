// Package raftstore is sprint's replicated store of Runs: hashicorp/raft
// replicates commands, raft-boltdb keeps the log, and a bbolt state machine
// (the FSM) holds Runs, their launch attempts, their bounded event history,
// cluster members and the Mesos FrameworkID.
//
// Store is the only type other packages use. Writes go through the Raft
// leader (followers answer with a *NotLeaderError naming the leader's HTTP
// address); reads are served from the local applied state, and
// LinearizableRead makes them linearizable on demand. Watch streams every
// applied change from a bounded in-memory history on any node.
//
// See DESIGN.md in this directory for what the package owns and why the
// durability and snapshot choices are safe.
package raftstore
