package client_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// Over the real store, a Watcher with a field selector delivers a Run
// that starts to match as ADDED and one that stops as DELETED (in its
// state after the change), so that its consumer holds the matching Runs.
func TestWatch_SelectorSeesRunsEnterAndLeave(t *testing.T) {
	t.Parallel()
	srv := servertest.StartRaft(t, server.Config{})
	c, err := client.New(srv.URL, "")
	require.NoError(t, err)
	ctx := t.Context()
	_, err = c.Create(ctx, newRun("a"))
	require.NoError(t, err)

	w, err := c.Watch(ctx, client.WatchOptions{FieldSelector: "status.phase=Running", Synced: true})
	require.NoError(t, err)
	defer w.Stop()
	require.Equal(t, client.Synced, recv(t, w).Type, "nothing runs yet")

	for _, step := range []struct {
		phase apis.RunPhase
		want  apis.EventType
	}{
		{apis.PhaseRunning, apis.Added},
		{apis.PhaseSucceeded, apis.Deleted},
	} {
		_, err := srv.Store.UpdateStatus(ctx, "a", apis.RunStatus{Phase: step.phase})
		require.NoError(t, err)
		ev := recv(t, w)
		assert.Equal(t, step.want, ev.Type, "after %s", step.phase)
		assert.Equal(t, "a", ev.Run.Metadata.Name)
		assert.Equal(t, step.phase, ev.Run.Status.Phase)
	}
}
