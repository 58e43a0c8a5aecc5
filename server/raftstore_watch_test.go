package server_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/raftstore"
)

// A watcher over the real store that reads too slowly is cut off (410 too
// slow) and lists again while Runs keep changing; its consumer still ends
// with every Run's last state, each Run only going forward: no change
// lost, none repeated.
func TestRaftstore_SlowWatcherRelistsWithoutGapOrRepeat(t *testing.T) {
	store, url := startRaftNodeWith(t, func(c *raftstore.Config) { c.WatchBuffer = 16 },
		func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
	ctx := t.Context()
	pad := strings.Repeat("x", 8<<10)
	const runs = 40
	for i := range runs {
		_, err := store.CreateRun(ctx, &apis.Run{
			Metadata: apis.ObjectMeta{Name: fmt.Sprintf("r%02d", i), Annotations: map[string]string{"pad": pad}},
			Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32},
		})
		require.NoError(t, err)
	}
	// A 4 KiB receive window: the watcher's stream stalls within a few
	// KiB once its consumer stops reading.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := client.New(url, "", client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: d.DialContext}}))
	require.NoError(t, err)
	w, err := c.Watch(ctx, client.WatchOptions{Synced: true})
	require.NoError(t, err)
	defer w.Stop()

	view := map[string]uint64{}
	apply := func(ev client.Event) {
		name := ev.Run.Metadata.Name
		rv, err := strconv.ParseUint(ev.Run.Metadata.ResourceVersion, 10, 64)
		require.NoError(t, err)
		if old, ok := view[name]; ok {
			require.NotEqual(t, apis.Added, ev.Type, "%s added twice", name)
			if ev.Type == apis.Deleted {
				require.GreaterOrEqual(t, rv, old, "%s deleted at %d after %d", name, rv, old)
			} else {
				require.Greater(t, rv, old, "%s %s@%d after @%d", ev.Type, name, rv, old)
			}
		}
		if ev.Type == apis.Deleted {
			delete(view, name)
			return
		}
		view[name] = rv
	}
	for ev := <-w.Events(); ev.Type != client.Synced; ev = <-w.Events() {
		apply(ev)
	}
	require.Len(t, view, runs)

	// The consumer looks away; every Run changes six times (two writers),
	// and a few are deleted.
	var wg sync.WaitGroup
	for wr := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 6 {
				for i := wr; i < runs; i += 2 {
					_, err := store.UpdateStatus(ctx, fmt.Sprintf("r%02d", i), apis.RunStatus{Phase: apis.PhaseRunning, Message: fmt.Sprint(round)})
					assert.NoError(t, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, name := range []string{"r03", "r17"} {
		_, deleted, err := store.RequestDelete(ctx, name, "")
		require.NoError(t, err)
		require.True(t, deleted)
	}
	// More changes while the consumer catches up (and the watcher lists
	// again): they must not be lost either.
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := range runs {
			if i == 3 || i == 17 {
				continue
			}
			_, err := store.UpdateStatus(ctx, fmt.Sprintf("r%02d", i), apis.RunStatus{Phase: apis.PhaseSucceeded})
			assert.NoError(t, err)
		}
	}()
	var want map[string]uint64
	relisted := false
	for want == nil || !relisted || !equalViews(view, want) {
		select {
		case <-time.After(30 * time.Second):
			t.Fatalf("no event for 30 s: relisted %v, %d Runs seen, %d stored", relisted, len(view), len(want))
		case ev, ok := <-w.Events():
			require.True(t, ok, "watch ended: %v", w.Err())
			if ev.Type == client.Synced {
				relisted = true
				continue
			}
			apply(ev)
		case <-writerDone:
			writerDone = nil
			want = map[string]uint64{}
			_, err = store.EachRun(ctx, func(r *apis.Run) error {
				want[r.Metadata.Name], _ = strconv.ParseUint(r.Metadata.ResourceVersion, 10, 64)
				return nil
			})
			require.NoError(t, err)
		}
	}
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Regexp(t, `sprint_http_watch_streams_closed_total\{reason="too_slow"\} [1-9]`, string(b))
}

func equalViews(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
