package wiring

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/raftstore"
)

// scheduleWatchBuffer is how many decoded Schedule changes a watch holds
// for a consumer that is busy; beyond it the pump waits, and the store's
// feed keeps its own bounded history behind it.
const scheduleWatchBuffer = 1024

// WatchSchedules watches every Schedule change after fromIndex (0: from
// now): raftstore's pull-based ScheduleFeed, pumped by one goroutine that
// decodes each change, as a channel of apis.WatchEvent whose Object is an
// *apis.Schedule.
func (c *ControllerStore) WatchSchedules(ctx context.Context, fromIndex uint64) (controller.ScheduleWatcher, error) {
	fd, err := c.Store.WatchSchedules(raftstore.ScheduleFeedOptions{ResourceVersion: fromIndex})
	if err != nil {
		return nil, err
	}
	w := &scheduleWatcher{ch: make(chan apis.WatchEvent, scheduleWatchBuffer), stop: make(chan struct{}), done: make(chan struct{})}
	go w.pump(ctx, fd)
	return w, nil
}

// scheduleWatcher is a running WatchSchedules.
type scheduleWatcher struct {
	ch       chan apis.WatchEvent
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu  sync.Mutex
	err error
}

func (w *scheduleWatcher) pump(ctx context.Context, fd *raftstore.ScheduleFeed) {
	defer close(w.done)
	defer close(w.ch)
	defer fd.Stop()
	for {
		// Ready before Next: a change applied between them wakes us.
		ready := fd.Ready()
		ev, ok, err := fd.Next()
		if err != nil {
			w.fail(err)
			return
		}
		if !ok {
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return
			case <-w.stop:
				return
			}
		}
		if ev.Type == apis.Bookmark {
			continue
		}
		sc := new(apis.Schedule)
		if err := json.Unmarshal(ev.Object, sc); err != nil {
			w.fail(fmt.Errorf("decode watched schedule at %d: %w", ev.ResourceVersion, err))
			return
		}
		select {
		case w.ch <- apis.WatchEvent{Type: ev.Type, Object: sc}:
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		}
	}
}

func (w *scheduleWatcher) fail(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
}

// Events delivers the changes; it is closed when the watch ends.
func (w *scheduleWatcher) Events() <-chan apis.WatchEvent { return w.ch }

// Err says why the watch ended; nil while it runs or after Stop.
func (w *scheduleWatcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch and returns once Events is closed.
func (w *scheduleWatcher) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}
