package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

// Buckets of Notifiers and their outbox. They are made on first write
// (and read as empty until then), so that data dirs and snapshots of
// binaries that predate them open and restore unchanged.
var (
	bucketNotifiers = []byte("notifiers") // name → JSON apis.Notifier
	bucketOutbox    = []byte("outbox")    // "<notifier>/<index>/<n>" → JSON apis.Notification
	bucketPDOpen    = []byte("pd_open")   // "<notifier uid>/<dedup key>" → "1": a PagerDuty incident triggered and not yet resolved
)

// maxLastErrorBytes bounds a Notifier's status.lastError.
const maxLastErrorBytes = 1024

// MaxNotifiers bounds the Notifiers of a cluster: every terminal status
// change is matched against all of them in the FSM.
const MaxNotifiers = 1000

func notifierNotFound(name string) error {
	return fmt.Errorf("notifier %q: %w", name, apis.ErrNotFound)
}

// bucket returns the named bucket of the entry's transaction, creating it.
func (a *applier) bucket(name []byte) *bolt.Bucket {
	b, err := a.tx.CreateBucketIfNotExists(name)
	if err != nil {
		panic(fatalError{fmt.Errorf("raftstore: create bucket %s at %d: %w", name, a.index, err)})
	}
	return b
}

func (a *applier) getNotifier(name string) *apis.Notifier {
	b := a.tx.Bucket(bucketNotifiers)
	if b == nil {
		return nil
	}
	var n apis.Notifier
	if !a.getJSON(bucketNotifiers, []byte(name), &n) {
		return nil
	}
	return &n
}

func (a *applier) putNotifier(n *apis.Notifier) {
	n.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
	a.bucket(bucketNotifiers)
	a.putJSON(bucketNotifiers, []byte(n.Metadata.Name), n)
}

func (a *applier) dispatchNotifier(v any) result {
	switch c := v.(type) {
	case *createNotifierCmd:
		n := newStoredNotifier(&c.Notifier)
		if a.getNotifier(n.Metadata.Name) != nil {
			return result{Err: fmt.Errorf("notifier %q: %w", n.Metadata.Name, apis.ErrAlreadyExists)}
		}
		if b := a.tx.Bucket(bucketNotifiers); b != nil && b.Stats().KeyN >= MaxNotifiers {
			return result{Err: fmt.Errorf("notifier %q: the cluster has %d Notifiers, the most it keeps; delete one first: %w",
				n.Metadata.Name, MaxNotifiers, apis.ErrConflict)}
		}
		a.putNotifier(&n)
		return result{Notifier: &n, Outcome: ApplyCreated}
	case *updateNotifierCmd:
		return a.applyUpdateNotifier(c)
	case *deleteNotifierCmd:
		cur := a.getNotifier(c.Name)
		if cur == nil {
			return result{Err: notifierNotFound(c.Name)}
		}
		if err := notifierPreconditions(cur, c.UID, c.ExpectRV); err != nil {
			return result{Err: err}
		}
		a.del(bucketNotifiers, []byte(c.Name))
		a.dropOutbox(cur)
		cur.Metadata.ResourceVersion = strconv.FormatUint(a.index, 10)
		return result{Notifier: cur, Deleted: true}
	case *outboxDoneCmd:
		return a.applyOutboxDone(c)
	}
	panic(fmt.Sprintf("no notifier handler for %T", v))
}

func notifierPreconditions(cur *apis.Notifier, uid, rv string) error {
	if uid != "" && uid != cur.Metadata.UID {
		return fmt.Errorf("notifier %q: uid %s is not the current %s: %w", cur.Metadata.Name, uid, cur.Metadata.UID, apis.ErrConflict)
	}
	if rv != "" && rv != cur.Metadata.ResourceVersion {
		return fmt.Errorf("notifier %q: resourceVersion %s is not the current %s: %w",
			cur.Metadata.Name, rv, cur.Metadata.ResourceVersion, apis.ErrConflict)
	}
	return nil
}

// mergeNotifier is cur with req's labels, annotations and spec, the
// generation bumped when the spec changed; changed is false when nothing
// did.
func mergeNotifier(cur, req *apis.Notifier) (next apis.Notifier, changed bool) {
	specChanged := !cur.Spec.Equal(&req.Spec)
	if !specChanged && maps.Equal(cur.Metadata.Labels, req.Metadata.Labels) &&
		maps.Equal(cur.Metadata.Annotations, req.Metadata.Annotations) {
		return *cur, false
	}
	next = *cur.DeepCopy()
	next.Metadata.Labels = req.Metadata.Labels
	next.Metadata.Annotations = req.Metadata.Annotations
	next.Spec = req.Spec
	if specChanged {
		next.Metadata.Generation++
	}
	return next, true
}

func validateNotifierUpdate(next *apis.Notifier) error {
	if errs := apis.ValidateNotifier(next); len(errs) > 0 {
		return &apis.InvalidError{Kind: apis.KindNotifier, Name: next.Metadata.Name, Errors: errs}
	}
	return nil
}

func (a *applier) applyUpdateNotifier(c *updateNotifierCmd) result {
	cur := a.getNotifier(c.Notifier.Metadata.Name)
	if cur == nil {
		return result{Err: notifierNotFound(c.Notifier.Metadata.Name)}
	}
	if err := notifierPreconditions(cur, c.ExpectUID, c.ExpectRV); err != nil {
		return result{Err: err}
	}
	next, changed := mergeNotifier(cur, &c.Notifier)
	if !changed {
		return result{Notifier: cur, Outcome: ApplyUnchanged}
	}
	if err := validateNotifierUpdate(&next); err != nil {
		return result{Err: &invalidEntry{err}}
	}
	a.putNotifier(&next)
	return result{Notifier: &next, Outcome: ApplyConfigured}
}

// dropOutbox removes a deleted Notifier's outbox records and open
// PagerDuty incidents.
func (a *applier) dropOutbox(n *apis.Notifier) {
	for _, p := range []struct {
		bucket []byte
		prefix string
	}{{bucketOutbox, n.Metadata.Name + "/"}, {bucketPDOpen, n.Metadata.UID + "/"}} {
		b := a.tx.Bucket(p.bucket)
		if b == nil {
			continue
		}
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek([]byte(p.prefix)); k != nil && bytes.HasPrefix(k, []byte(p.prefix)); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			a.del(p.bucket, k)
		}
	}
}

// applyOutboxDone removes each finished record and counts it in its
// Notifier's status. A record already gone (a second leader reporting the
// same delivery, or its Notifier deleted or re-created) is skipped, so a
// result applies at most once.
func (a *applier) applyOutboxDone(c *outboxDoneCmd) result {
	b := a.tx.Bucket(bucketOutbox)
	if b == nil {
		return result{}
	}
	touched := map[string]*apis.Notifier{} // read once each; nil: gone
	changed := map[string]bool{}
	for _, r := range c.Results {
		key := []byte(r.ID)
		if b.Get(key) == nil {
			continue
		}
		name, _, _ := strings.Cut(r.ID, "/")
		n, ok := touched[name]
		if !ok {
			n = a.getNotifier(name)
			touched[name] = n
		}
		if n == nil || n.Metadata.UID != r.NotifierUID {
			continue
		}
		a.del(bucketOutbox, key)
		changed[name] = true
		if n.Status.Pending > 0 {
			n.Status.Pending--
		}
		if r.Delivered {
			n.Status.Delivered++
			continue
		}
		n.Status.Failed++
		setLastError(n, r.Error, r.Time)
	}
	for _, name := range slices.Sorted(maps.Keys(changed)) { // the same write order on every replica
		a.putNotifier(touched[name])
	}
	return result{}
}

func setLastError(n *apis.Notifier, msg string, at time.Time) {
	if len(msg) > maxLastErrorBytes {
		cut := maxLastErrorBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "?")
	}
	t := at.UTC()
	n.Status.LastError = msg
	n.Status.LastErrorTime = &t
}

// Reads.

func (f *fsm) getNotifier(name string) (*apis.Notifier, error) {
	var n *apis.Notifier
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotifiers)
		if b == nil {
			return notifierNotFound(name)
		}
		v := b.Get([]byte(name))
		if v == nil {
			return notifierNotFound(name)
		}
		n = &apis.Notifier{}
		return json.Unmarshal(v, n)
	})
	return n, err
}

// NotifierListOptions selects and pages a list of Notifiers.
type NotifierListOptions struct {
	// Match selects Notifiers; nil selects all.
	Match func(*apis.Notifier) bool
	// Limit is the page size; 0 means no limit.
	Limit int
	// Continue is the token of the previous page's ListMeta.Continue.
	Continue string
}

func (f *fsm) listNotifiers(opts NotifierListOptions) (*apis.NotifierList, error) {
	var after []byte
	if opts.Continue != "" {
		var err error
		if after, err = decodeContinue(opts.Continue); err != nil {
			return nil, err
		}
	}
	list := &apis.NotifierList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindNotifierList},
		Items:    []apis.Notifier{},
	}
	err := f.view(func(tx *bolt.Tx) error {
		idx, _ := decodeApplied(tx.Bucket(bucketMeta).Get(keyApplied))
		list.Metadata.ResourceVersion = strconv.FormatUint(idx, 10)
		b := tx.Bucket(bucketNotifiers)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			k, v = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			var n apis.Notifier
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("decode notifier %q: %w", clip(k), err)
			}
			if opts.Match != nil && !opts.Match(&n) {
				continue
			}
			if opts.Limit > 0 && len(list.Items) == opts.Limit {
				list.Metadata.Continue = encodeContinue(list.Items[len(list.Items)-1].Metadata.Name)
				return nil
			}
			list.Items = append(list.Items, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// outbox returns up to limit records after the key after ("" from the
// first), in key order (per notifier, oldest first).
func (f *fsm) outbox(after string, limit int) ([]apis.Notification, error) {
	var out []apis.Notification
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var n apis.Notification
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("decode outbox record %q: %w", clip(k), err)
			}
			out = append(out, n)
		}
		return nil
	})
	return out, err
}

// outboxIDs returns up to limit record IDs after after, in order, without
// decoding the records.
func (f *fsm) outboxIDs(after string, limit int) ([]string, error) {
	var out []string
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		k, _ := c.First()
		if after != "" {
			k, _ = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, _ = c.Next()
			}
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

// outboxRecord reads one record. Errors: apis.ErrNotFound.
func (f *fsm) outboxRecord(id string) (*apis.Notification, error) {
	var rec *apis.Notification
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		var v []byte
		if b != nil {
			v = b.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("outbox record %q: %w", id, apis.ErrNotFound)
		}
		rec = &apis.Notification{}
		return json.Unmarshal(v, rec)
	})
	return rec, err
}
