// Package controller is sprint's reconcile loop: while its node is the Raft
// leader it launches pending Runs on Mesos offers, writes every Mesos task
// status into the Run it belongs to, kills, retries and garbage-collects
// Runs, and keeps a bounded list of events per Run.
//
// The package declares the two interfaces it consumes, Store (the replicated
// Run store) and Scheduler (a Mesos v1 scheduler subscription), and is
// driven by an injected clock (internal/clock) so that tests control time;
// its back-offs come from internal/backoff. See DESIGN.md for what it owns
// and why.
package controller
