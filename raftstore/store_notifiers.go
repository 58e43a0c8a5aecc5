package raftstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/sprint-project/sprint/apis"
)

// CreateNotifier stores a new Notifier, which must pass
// apis.ValidateNotifier (call apis.SetNotifierDefaults first). The store
// sets uid, creationTimestamp, generation 1 and resourceVersion, and
// clears status. Errors: apis.ErrAlreadyExists, *apis.InvalidError,
// *NotLeaderError, ErrLeadershipLost.
func (s *Store) CreateNotifier(ctx context.Context, n *apis.Notifier) (*apis.Notifier, error) {
	if err := s.checkLevel(levelNotifiers, "Notifiers"); err != nil {
		return nil, err
	}
	c := createNotifierCmd{Notifier: *n.DeepCopy()}
	m := &c.Notifier.Metadata
	if m.Name == "" {
		return nil, fmt.Errorf("create notifier: name is required: %w", apis.ErrBadRequest)
	}
	now := s.cfg.Now().UTC()
	m.UID = uuid.NewString()
	m.CreationTimestamp = &now
	m.ResourceVersion = ""
	r, err := s.apply(ctx, cmdCreateNotifier, c)
	if err != nil {
		return nil, err
	}
	return r.Notifier.DeepCopy(), nil
}

// UpdateNotifier replaces a Notifier's labels, annotations and spec; its
// status (the delivery counts) is kept. A resourceVersion or uid in
// n.Metadata is a precondition. An unchanged Notifier is returned as
// stored, with unchanged true. Errors: apis.ErrNotFound, apis.ErrConflict,
// *apis.InvalidError, *NotLeaderError, ErrLeadershipLost.
func (s *Store) UpdateNotifier(ctx context.Context, n *apis.Notifier) (out *apis.Notifier, unchanged bool, err error) {
	if err := s.checkLevel(levelNotifiers, "Notifiers"); err != nil {
		return nil, false, err
	}
	if cur, err := s.fsm.getNotifier(n.Metadata.Name); err == nil {
		if next, changed := mergeNotifier(cur, n); changed {
			if err := validateNotifierUpdate(&next); err != nil {
				return nil, false, fmt.Errorf("%s: %w", cmdUpdateNotifier, err)
			}
		}
	}
	c := updateNotifierCmd{Notifier: *n.DeepCopy(), ExpectUID: n.Metadata.UID, ExpectRV: n.Metadata.ResourceVersion}
	r, err := s.apply(ctx, cmdUpdateNotifier, c)
	if err != nil {
		return nil, false, err
	}
	return r.Notifier.DeepCopy(), r.Outcome == ApplyUnchanged, nil
}

// DeleteNotifier removes a Notifier with its pending outbox records (they
// are not delivered). Non-empty uid and resourceVersion are preconditions.
// It returns the Notifier's last state. Errors: apis.ErrNotFound,
// apis.ErrConflict, *NotLeaderError, ErrLeadershipLost.
func (s *Store) DeleteNotifier(ctx context.Context, name, uid, resourceVersion string) (*apis.Notifier, error) {
	if err := s.checkLevel(levelNotifiers, "Notifiers"); err != nil {
		return nil, err
	}
	r, err := s.apply(ctx, cmdDeleteNotifier, deleteNotifierCmd{Name: name, UID: uid, ExpectRV: resourceVersion})
	if err != nil {
		return nil, err
	}
	return r.Notifier.DeepCopy(), nil
}

// GetNotifier reads a Notifier from the local applied state.
// Errors: apis.ErrNotFound.
func (s *Store) GetNotifier(_ context.Context, name string) (*apis.Notifier, error) {
	return s.fsm.getNotifier(name)
}

// ListNotifiers pages through Notifiers of the local applied state in
// name order. Errors: apis.ErrBadRequest (bad continue token).
func (s *Store) ListNotifiers(_ context.Context, opts NotifierListOptions) (*apis.NotifierList, error) {
	return s.fsm.listNotifiers(opts)
}

// Outbox returns up to limit pending notifications after the record ID
// after ("" from the first), from the local applied state, in ID order:
// per Notifier, oldest first.
func (s *Store) Outbox(_ context.Context, after string, limit int) ([]apis.Notification, error) {
	return s.fsm.outbox(after, limit)
}

// OutboxIDs returns up to limit record IDs after the ID after, in order,
// from the local applied state, without reading the records.
func (s *Store) OutboxIDs(_ context.Context, after string, limit int) ([]string, error) {
	return s.fsm.outboxIDs(after, limit)
}

// OutboxRecord reads one outbox record from the local applied state.
// Errors: apis.ErrNotFound once it has been completed.
func (s *Store) OutboxRecord(_ context.Context, id string) (*apis.Notification, error) {
	return s.fsm.outboxRecord(id)
}

// CompleteNotifications commits delivery outcomes in one entry: each
// record is removed from the outbox and counted (delivered, or failed
// with its error as the Notifier's lastError). A record already removed is
// skipped. Errors: *NotLeaderError, ErrLeadershipLost.
func (s *Store) CompleteNotifications(ctx context.Context, results []apis.NotificationResult) error {
	for len(results) > 0 {
		n := min(len(results), maxOutboxDone)
		if _, err := s.apply(ctx, cmdOutboxDone, outboxDoneCmd{Results: results[:n]}); err != nil {
			if errors.Is(err, apis.ErrBadRequest) {
				return fmt.Errorf("complete notifications: %w", err)
			}
			return err
		}
		results = results[n:]
	}
	return nil
}
