// Package servertest provides in-memory fakes of the server's Store and
// LogSource, and a helper that runs a real server over them on a loopback
// listener, for tests of the server, the client SDK and sprintctl.
//
// The fakes keep the store's contract (resourceVersions from one counter,
// preconditions, graceful delete, watch history with "too old" errors) so
// that code tested against them behaves the same on raftstore.
package servertest
