package apis

import "time"

// Notification is one record of the replicated outbox: a notification the
// store derived, in the same Raft entry, from a Run's status change, for
// one Notifier. The leader delivers it at least once and then removes it
// (NotificationResult).
type Notification struct {
	// ID is the record's key in the outbox: "<notifier>/<index>/<n>", in
	// the order the records were made per notifier.
	ID string `json:"id"`
	// Notifier and NotifierUID name the Notifier the record is for.
	Notifier    string `json:"notifier"`
	NotifierUID string `json:"notifierUID"`
	// Event is one of the Notify* triggers.
	Event string `json:"event"`
	// Run is the Run as the status change left it; RunTrimmed when it was
	// larger than the store keeps in a record and was cut to its name,
	// labels, owner, resources, dependencies and status.
	Run        Run  `json:"run"`
	RunTrimmed bool `json:"runTrimmed,omitempty"`
	// Time is when the event happened: the Run's completion or transition
	// time as the status change carried it.
	Time time.Time `json:"time"`
	// IdempotencyKey is the same for every delivery of this record, and
	// differs for every other: "<run uid>/<attempt>/<event>/<notifier uid>".
	IdempotencyKey string `json:"idempotencyKey"`
}

// NotificationResult is the outcome of delivering one Notification:
// delivered, or failed for good (Error says why). Committing it removes
// the record from the outbox and counts it in the Notifier's status.
type NotificationResult struct {
	ID          string    `json:"id"`
	NotifierUID string    `json:"notifierUID"`
	Delivered   bool      `json:"delivered,omitempty"`
	Error       string    `json:"error,omitempty"`
	Time        time.Time `json:"time"`
}
