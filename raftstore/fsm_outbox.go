package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

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

// cachedNotifier is a Notifier decoded once per entry with its parsed
// selector: a batch entry of many status changes reads the bucket once.
// The status written back is the cached one, so counts stay right within
// the entry.
type cachedNotifier struct {
	n   apis.Notifier
	sel apis.LabelSelector
}

func (a *applier) cachedNotifiers() []cachedNotifier {
	if a.loaded {
		return a.notifiers
	}
	a.loaded = true
	b := a.tx.Bucket(bucketNotifiers)
	if b == nil {
		return nil
	}
	err := b.ForEach(func(_, v []byte) error {
		var c cachedNotifier
		if err := json.Unmarshal(v, &c.n); err != nil {
			return err
		}
		sel, err := apis.ParseLabelSelector(c.n.Spec.Selector)
		if err != nil {
			return nil // stored selectors were validated: cannot happen; such a notifier matches nothing
		}
		c.sel = sel
		a.notifiers = append(a.notifiers, c)
		return nil
	})
	if err != nil {
		panic(fatalError{fmt.Errorf("raftstore: decode notifiers at %d: %w", a.index, err)})
	}
	return a.notifiers
}

// recordNotifications appends an outbox record for every Notifier that
// wants to hear about the change from old to next. Called by the status
// handler after it stored next.
func (a *applier) recordNotifications(old, next *apis.Run) {
	ev := apis.NotifierEvent(&old.Status, &next.Status)
	if ev == "" || apis.OptedOut(next.Metadata.Labels) {
		return
	}
	ns := a.cachedNotifiers()
	var kept *apis.Run // the Run as records keep it, made at the first match
	trimmed := false
	for i := range ns {
		c := &ns[i]
		if !c.sel.MatchesLabels(next.Metadata.Labels) || !wants(&c.n, ev) {
			continue
		}
		if isPagerDuty(&c.n) && !a.pagerDutyWants(&c.n, next, ev) {
			continue
		}
		if kept == nil {
			cp := *next
			kept, trimmed = &cp, trimForOutbox(&cp)
		}
		a.appendOutbox(&c.n, kept, trimmed, ev)
		a.putNotifier(&c.n)
	}
}

func isPagerDuty(n *apis.Notifier) bool {
	return n.Spec.Webhook != nil && n.Spec.Webhook.Format == apis.FormatPagerDuty
}

// wants: n is on ev — or n is a PagerDuty notifier, which hears of every
// success of what it selects so that it can resolve the incident a
// failure triggered.
func wants(n *apis.Notifier, ev string) bool {
	return slices.Contains(n.Spec.On, ev) || ev == apis.NotifySucceeded && isPagerDuty(n)
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

// appendOutbox adds one record about run (as trimForOutbox left it) for n
// and counts it pending, dropping n's oldest record when n is at
// MaxOutboxPerNotifier.
func (a *applier) appendOutbox(n *apis.Notifier, run *apis.Run, trimmed bool, ev string) {
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
		RunTrimmed:     trimmed,
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

// maxOutboxRunBytes bounds the Run copied into an outbox record: a record
// is kept in every replica until delivered, for up to
// MaxOutboxPerNotifier records per notifier.
const maxOutboxRunBytes = 16 << 10

// trimForOutbox cuts a Run whose JSON is over maxOutboxRunBytes down to
// what a notification tells: its name, uid, labels, owner, resources,
// dependencies and status (command clipped, env, args, container and URIs
// left out). It reports whether it cut anything. Deterministic, like all
// of the FSM.
func trimForOutbox(run *apis.Run) bool {
	b, err := json.Marshal(run)
	if err != nil || len(b) <= maxOutboxRunBytes {
		return false
	}
	m := run.Metadata
	t := apis.Run{TypeMeta: run.TypeMeta, Status: run.Status}
	t.Metadata = apis.ObjectMeta{Name: m.Name, UID: m.UID, Labels: m.Labels, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp}
	if owner, ok := m.Annotations[apis.AnnotationOwner]; ok {
		t.Metadata.Annotations = map[string]string{apis.AnnotationOwner: clipString(owner, 1024)}
	}
	sp := run.Spec
	t.Spec = apis.RunSpec{Command: clipString(sp.Command, 1024), Cpus: sp.Cpus, Mem: sp.Mem, Disk: sp.Disk, Gpus: sp.Gpus,
		User: sp.User, BackoffLimit: sp.BackoffLimit, DependsOn: sp.DependsOn}
	t.Status.Message = clipString(t.Status.Message, 4096)
	*run = t
	return true
}

// clipString keeps at most max bytes of s, on a rune boundary.
func clipString(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}
