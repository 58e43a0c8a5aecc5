// Package notify delivers the notifications of the replicated outbox.
//
// The store's FSM derives outbox records (apis.Notification) from Runs'
// status changes in the same Raft entry as the change (raftstore,
// fsm_outbox.go). While this node leads, a Service delivers each record
// to its Notifier's target — a webhook (json, slack or pagerduty body,
// signed with HMAC-SHA256) or an email — retrying with exponential
// back-off and jitter for up to MaxAge after the event, and commits the
// outcome through Raft (the record leaves the outbox; the Notifier's
// status counts it). A new leader reads the same outbox and resumes;
// every delivery of a record carries the same idempotency key, so a
// receiver can drop the duplicates a failover may cause.
//
// Delivery never blocks reconciliation: it runs in its own goroutines,
// at most Config.Concurrency attempts at a time, each bounded by
// Config.Timeout.
package notify
