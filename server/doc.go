// Package server is sprint's HTTP API on echo v4: the native Kubernetes-style
// Run, Schedule and Notifier APIs under /api/v1 (runs.go, schedules.go over
// the ScheduleStore it declares, notifiers.go over NotifierStore), whose
// body checks, get, create, apply and list pages are written once for
// every kind in kinds.go, the Sprint-compatible API under /v1 and /status, the
// operations endpoints (/healthz, /readyz, /metrics, /docs, /openapi.json,
// /schemas/run.json, /schemas/schedule.json, /schemas/notifier.json), cluster membership and the Mesos report under
// /api/v1/cluster, and the web console's assets (package ui) under /ui/.
//
// The package owns no state of its own but the counts of expensive calls in
// flight (limits.go: watches and lists without limit, per node and per
// client, 429 beyond): it declares the Store and LogSource it needs and
// turns HTTP requests into calls on them. Watches pull events from the
// store and write them as they come, with a deadline on every write
// (watch.go). Writes and
// linearizable reads that reach a follower are forwarded to the leader;
// lists and watches are served from the local applied state. Every error
// leaves through one echo HTTPErrorHandler as a Kubernetes-style Status.
package server
