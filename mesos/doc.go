// Package mesos is sprint's Mesos v1 scheduler client, built on mesos-go
// v0.0.11's protobuf types, codecs and RecordIO reader.
//
// A Scheduler owns one subscription at a time: it SUBSCRIBEs with the
// framework ID from a FrameworkIDStore, persists the ID Mesos assigns before
// handing any event on, delivers events to a Handler from one goroutine,
// watches heartbeats, and re-subscribes with jittered exponential back-off.
// Calls (ACCEPT, DECLINE, KILL, RECONCILE, ACKNOWLEDGE, ...) are methods
// safe to use from any goroutine; each goes to the current leader with the
// current Mesos-Stream-Id, and a failed call returns its error without
// touching the subscription.
//
// What it adds over mesos-go's httpsched and controller packages (see
// docs/mesos.md): leader redirects on every call, not only SUBSCRIBE; a list
// of masters; a heartbeat watchdog; non-2xx answers that do not drop the
// subscription; the framework ID reused whatever the failover timeout; and
// explicit, late acknowledgement of status updates, so that the controller
// acknowledges only what its store has committed.
//
// NewTaskInfo turns a Run into a Mesos TaskInfo (a pure function), and
// Files reads task sandboxes through agents' /files/read for sprintctl logs.
package mesos

import "errors"

// Errors callers branch on with errors.Is. Non-2xx answers of the master
// are *StatusError (errors.As).
var (
	// ErrInvalidConfig reports a Config that cannot work (no master, an
	// unknown codec).
	ErrInvalidConfig = errors.New("invalid mesos config")
	// ErrNotConnected is returned by calls made while no subscription is
	// established; Mesos would refuse them.
	ErrNotConnected = errors.New("not subscribed to a mesos master")
	// ErrTornDown is returned by Run after Teardown succeeded.
	ErrTornDown = errors.New("framework torn down")
	// ErrHeartbeatTimeout ends a subscription on which no event arrived
	// for HeartbeatMisses heartbeat intervals.
	ErrHeartbeatTimeout = errors.New("no heartbeat from mesos master")
	// ErrProtocol reports an answer outside the v1 API (a stream without
	// Mesos-Stream-Id, a redirect without Location, too many redirects).
	ErrProtocol = errors.New("mesos protocol error")
	// ErrSubscriptionError ends a subscription on which the master sent an
	// ERROR event.
	ErrSubscriptionError = errors.New("mesos master sent ERROR")
	// ErrInsufficientResources is returned by NewTaskInfo and ChoosePorts
	// when the offer cannot hold the Run.
	ErrInsufficientResources = errors.New("offer has insufficient resources")
	// ErrNotFound reports a missing agent, sandbox or sandbox file.
	ErrNotFound = errors.New("not found")
)
