package wiring

import (
	"context"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/server"
)

// ServerSchedules is a *raftstore.Store as the server's ScheduleStore.
type ServerSchedules struct {
	*raftstore.Store
}

var _ server.ScheduleStore = ServerSchedules{}

// NewServerSchedules wraps s.
func NewServerSchedules(s *raftstore.Store) ServerSchedules { return ServerSchedules{Store: s} }

// ListSchedules lists a page of Schedules from the local applied state.
func (a ServerSchedules) ListSchedules(ctx context.Context, o server.ScheduleListOptions) (*apis.ScheduleList, error) {
	return a.Store.ListSchedules(ctx, raftstore.ScheduleListOptions(o))
}

// WatchSchedules streams Schedule changes over a raftstore.ScheduleFeed.
func (a ServerSchedules) WatchSchedules(_ context.Context, o server.ScheduleWatchOptions) (server.Watcher, error) {
	f, err := a.Store.WatchSchedules(raftstore.ScheduleFeedOptions(o))
	if err != nil {
		return nil, err
	}
	return scheduleFeedWatcher{f}, nil
}

// ScheduleEvents returns a Schedule's events.
func (a ServerSchedules) ScheduleEvents(_ context.Context, name string) ([]apis.RunEvent, error) {
	return a.Store.ScheduleEvents(name)
}

// scheduleFeedWatcher is a raftstore.ScheduleFeed as a server.Watcher.
type scheduleFeedWatcher struct{ f *raftstore.ScheduleFeed }

func (w scheduleFeedWatcher) Ready() <-chan struct{} { return w.f.Ready() }

func (w scheduleFeedWatcher) Next() (server.WatchEvent, bool, error) {
	ev, ok, err := w.f.Next()
	if err != nil || !ok {
		return server.WatchEvent{}, false, err
	}
	return server.WatchEvent{Type: ev.Type, ResourceVersion: ev.ResourceVersion, Object: ev.Object}, true, nil
}

func (w scheduleFeedWatcher) Stop() { w.f.Stop() }
