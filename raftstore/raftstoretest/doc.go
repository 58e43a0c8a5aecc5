// Package raftstoretest runs real raftstore clusters over loopback TCP for
// tests: start N nodes, find the leader, shut down, restart or wipe nodes,
// and check that every node converged to the same state.
package raftstoretest
