package raftstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// One BatchUpdateStatus entry makes the same outbox records on every
// replica, and a new leader finds them after the old one is gone.
func TestCluster_OutboxOnEveryReplica(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	n := &apis.Notifier{
		Metadata: apis.ObjectMeta{Name: "etl-failures"},
		Spec: apis.NotifierSpec{Selector: "pipeline=etl", On: []string{apis.NotifyFailed},
			Webhook: &apis.Webhook{URL: "https://hooks.example.com/x"}},
	}
	apis.SetNotifierDefaults(n)
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		_, err := s.CreateNotifier(t.Context(), n)
		if errors.Is(err, apis.ErrAlreadyExists) {
			return nil
		}
		return err
	}))
	run := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "extract", Labels: map[string]string{"pipeline": "etl"}},
		Spec:     apis.RunSpec{Command: "false", Cpus: 0.1, Mem: 16},
	}
	createRun(t, c, run)
	done := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		_, err := s.BatchUpdateStatus(t.Context(), []apis.StatusUpdate{{
			Run:    apis.RunRef{Name: "extract"},
			Status: apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Attempts: 1, CompletionTime: &done},
		}})
		return err
	}))
	c.WaitConverged()
	var first []apis.Notification
	for _, node := range c.Running() {
		recs, err := node.Store.Outbox(t.Context(), "", 0)
		require.NoError(t, err)
		require.Len(t, recs, 1, "node %s", node.ID)
		assert.Equal(t, apis.NotifyFailed, recs[0].Event)
		if first == nil {
			first = recs
			continue
		}
		assert.Equal(t, first, recs, "node %s has the same records", node.ID)
	}
	c.EnsureSame()

	old := c.Leader()
	c.Shutdown(old.ID)
	leader := c.Leader()
	recs, err := leader.Store.Outbox(t.Context(), "", 0)
	require.NoError(t, err)
	assert.Equal(t, first, recs, "the new leader resumes the outbox")
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		return s.CompleteNotifications(t.Context(), []apis.NotificationResult{{ID: recs[0].ID, NotifierUID: recs[0].NotifierUID, Delivered: true, Time: done}})
	}))
	got, err := c.Leader().Store.GetNotifier(t.Context(), "etl-failures")
	require.NoError(t, err)
	assert.Equal(t, apis.NotifierStatus{Delivered: 1}, got.Status)
}
