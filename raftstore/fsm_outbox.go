package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// The outbox: notifications are derived by the FSM itself from a Run's
// status change, in the same Apply (and so the same Raft entry and bbolt
// transaction) that stores the change, on every replica alike. Nothing
// here reads the clock or anything but the entry and the state, so every
// replica writes the same records. The leader's notify package delivers
// them and commits their removal (outbox_done).

// MaxOutboxPerNotifier bounds a Notifier's pending records: beyond it the
// oldest is dropped and counted as failed, so a receiver that is down for
// long costs bounded space.
const MaxOutboxPerNotifier = 1000

// recordNotifications appends an outbox record for every Notifier that
// wants to hear about the change from old to next. Called by the status
// handler after it stored next.
func (a *applier) recordNotifications(old, next *apis.Run) {
	ev := apis.NotifierEvent(&old.Status, &next.Status)
	if ev == "" || apis.OptedOut(next.Metadata.Labels) {
		return
	}
	b := a.tx.Bucket(bucketNotifiers)
	if b == nil {
		return
	}
	var matched []apis.Notifier
	err := b.ForEach(func(_, v []byte) error {
		var n apis.Notifier
		if err := json.Unmarshal(v, &n); err != nil {
			return err
		}
		if wantsNotification(&n, next, ev) {
			matched = append(matched, n)
		}
		return nil
	})
	if err != nil {
		panic(fatalError{fmt.Errorf("raftstore: decode notifiers at %d: %w", a.index, err)})
	}
	for i := range matched {
		n := &matched[i]
		if n.Spec.Webhook != nil && n.Spec.Webhook.Format == apis.FormatPagerDuty && !a.pagerDutyWants(n, next, ev) {
			continue
		}
		a.appendOutbox(n, next, ev)
		a.putNotifier(n)
	}
}

// wantsNotification: n's selector matches the Run's labels and n is on ev
// — or n is a PagerDuty notifier, which hears of every success of what it
// selects so that it can resolve the incident a failure triggered.
func wantsNotification(n *apis.Notifier, run *apis.Run, ev string) bool {
	sel, err := apis.ParseLabelSelector(n.Spec.Selector)
	if err != nil || !sel.MatchesLabels(run.Metadata.Labels) {
		return false // a stored selector was validated: err is impossible
	}
	if slices.Contains(n.Spec.On, ev) {
		return true
	}
	return ev == apis.NotifySucceeded && n.Spec.Webhook != nil && n.Spec.Webhook.Format == apis.FormatPagerDuty
}

// pagerDutyWants keeps the open-incident set of a PagerDuty notifier: a
// failure event it is on opens the incident; a success is delivered (as a
// resolve) only when one is open, and closes it.
func (a *applier) pagerDutyWants(n *apis.Notifier, run *apis.Run, ev string) bool {
	key := []byte(n.Metadata.UID + "/" + apis.PagerDutyDedupKey(run))
	if ev != apis.NotifySucceeded {
		a.bucket(bucketPDOpen)
		a.put(bucketPDOpen, key, []byte("1"))
		return true
	}
	b := a.tx.Bucket(bucketPDOpen)
	if b == nil || b.Get(key) == nil {
		return false
	}
	a.del(bucketPDOpen, key)
	return true
}

// appendOutbox adds one record for n and counts it pending, dropping n's oldest record when n is at
// MaxOutboxPerNotifier.
func (a *applier) appendOutbox(n *apis.Notifier, run *apis.Run, ev string) {
	b := a.bucket(bucketOutbox)
	prefix := []byte(n.Metadata.Name + "/")
	if n.Status.Pending >= MaxOutboxPerNotifier {
		if k, v := b.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			var old apis.Notification
			_ = json.Unmarshal(v, &old)
			a.del(bucketOutbox, bytes.Clone(k))
			n.Status.Pending--
			n.Status.Failed++
			setLastError(n, fmt.Sprintf("outbox full (%d pending): dropped the oldest notification, %s of Run %q",
				MaxOutboxPerNotifier, old.Event, old.Run.Metadata.Name), eventTime(run))
		}
	}
	// Keys sort by entry within a notifier; a batch entry that changes the
	// same Run twice gets a suffix on the second record.
	id := fmt.Sprintf("%s/%016x/%s", n.Metadata.Name, a.index, run.Metadata.Name)
	for k := 2; b.Get([]byte(id)) != nil; k++ {
		id = fmt.Sprintf("%s/%016x/%s.%d", n.Metadata.Name, a.index, run.Metadata.Name, k)
	}
	rec := apis.Notification{
		ID:             id,
		Notifier:       n.Metadata.Name,
		NotifierUID:    n.Metadata.UID,
		Event:          ev,
		Run:            *run,
		Time:           eventTime(run),
		IdempotencyKey: fmt.Sprintf("%s/%d/%s/%s", run.Metadata.UID, run.Status.Attempts, ev, n.Metadata.UID),
	}
	a.putJSON(bucketOutbox, []byte(id), rec)
	n.Status.Pending++
}

// eventTime is when the Run's change happened, from the entry itself.
func eventTime(run *apis.Run) time.Time {
	s := &run.Status
	for _, t := range []*time.Time{s.CompletionTime, s.LastTransitionTime, run.Metadata.CreationTimestamp} {
		if t != nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
