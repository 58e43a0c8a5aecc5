package servertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

var _ server.NotifierStore = (*Store)(nil)

// CreateNotifier implements server.NotifierStore as raftstore does: uid,
// resourceVersion, generation 1, creationTimestamp, an empty status.
func (s *Store) CreateNotifier(_ context.Context, n *apis.Notifier) (*apis.Notifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, err
	}
	name := n.Metadata.Name
	if _, ok := s.notifiers[name]; ok {
		return nil, fmt.Errorf("notifier %q: %w", name, apis.ErrAlreadyExists)
	}
	if s.notifiers == nil {
		s.notifiers = map[string]*apis.Notifier{}
	}
	s.rv++
	now := s.Now().UTC().Truncate(time.Second)
	c := n.DeepCopy()
	c.APIVersion, c.Kind = apis.APIVersion, apis.KindNotifier
	c.Metadata.UID = s.NewUID()
	c.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	c.Metadata.Generation = 1
	c.Metadata.CreationTimestamp = &now
	c.Status = apis.NotifierStatus{}
	s.notifiers[name] = c
	return c.DeepCopy(), nil
}

// UpdateNotifier implements server.NotifierStore: labels, annotations and
// spec replaced, status kept; uid and resourceVersion are preconditions.
func (s *Store) UpdateNotifier(_ context.Context, n *apis.Notifier) (*apis.Notifier, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, false, err
	}
	cur, ok := s.notifiers[n.Metadata.Name]
	if !ok {
		return nil, false, fmt.Errorf("notifier %q: %w", n.Metadata.Name, apis.ErrNotFound)
	}
	if uid := n.Metadata.UID; uid != "" && uid != cur.Metadata.UID ||
		n.Metadata.ResourceVersion != "" && n.Metadata.ResourceVersion != cur.Metadata.ResourceVersion {
		return nil, false, fmt.Errorf("notifier %q changed: %w", n.Metadata.Name, apis.ErrConflict)
	}
	specChanged := !cur.Spec.Equal(&n.Spec)
	if !specChanged && maps.Equal(cur.Metadata.Labels, n.Metadata.Labels) && maps.Equal(cur.Metadata.Annotations, n.Metadata.Annotations) {
		return cur.DeepCopy(), true, nil
	}
	next := cur.DeepCopy()
	next.Metadata.Labels, next.Metadata.Annotations = maps.Clone(n.Metadata.Labels), maps.Clone(n.Metadata.Annotations)
	next.Spec = *n.Spec.DeepCopy()
	if specChanged {
		next.Metadata.Generation++
	}
	s.rv++
	next.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	s.notifiers[n.Metadata.Name] = next
	return next.DeepCopy(), false, nil
}

// DeleteNotifier implements server.NotifierStore.
func (s *Store) DeleteNotifier(_ context.Context, name, uid, rv string) (*apis.Notifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.notLeader(); err != nil {
		return nil, err
	}
	cur, ok := s.notifiers[name]
	if !ok {
		return nil, fmt.Errorf("notifier %q: %w", name, apis.ErrNotFound)
	}
	if uid != "" && uid != cur.Metadata.UID || rv != "" && rv != cur.Metadata.ResourceVersion {
		return nil, fmt.Errorf("notifier %q changed: %w", name, apis.ErrConflict)
	}
	delete(s.notifiers, name)
	s.rv++
	return cur.DeepCopy(), nil
}

// GetNotifier implements server.NotifierStore.
func (s *Store) GetNotifier(_ context.Context, name string) (*apis.Notifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.notifiers[name]
	if !ok {
		return nil, fmt.Errorf("notifier %q: %w", name, apis.ErrNotFound)
	}
	return n.DeepCopy(), nil
}

// ListNotifiers implements server.NotifierStore (no paging: every match).
func (s *Store) ListNotifiers(_ context.Context, opts server.NotifierListOptions) (*apis.NotifierList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := &apis.NotifierList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindNotifierList}, Items: []apis.Notifier{}}
	list.Metadata.ResourceVersion = strconv.FormatUint(s.rv, 10)
	for _, name := range slices.Sorted(maps.Keys(s.notifiers)) {
		n := s.notifiers[name]
		if opts.Match == nil || opts.Match(n) {
			list.Items = append(list.Items, *n.DeepCopy())
		}
	}
	return list, nil
}
