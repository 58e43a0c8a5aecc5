package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// idleWatch opens a watch without a resourceVersion (a listing of the
// whole store) through a 4 KiB receive window and never reads it.
func idleWatch(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "GET /api/v1/runs?watch=true HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	require.NoError(t, err)
	return conn
}

// storeRuns creates n Runs of about size bytes each through c (8 at a
// time), with spec.cancel so that they finish without a task.
func storeRuns(t testing.TB, c *client.Client, prefix string, n, size int) {
	t.Helper()
	pad := strings.Repeat("x", size)
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := simRun(fmt.Sprintf("%s-%05d", prefix, i), "memory", 0)
				r.Spec.Cancel = true
				r.Metadata.Annotations = map[string]string{"pad": pad}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := c.Create(ctx, r)
				cancel()
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// Watches cost the node no copy of the store. 100 clients each open a
// watch of a 7.5 MB store (1,500 Runs of 5 KiB) and never read it: each
// used to hold its own decoded list (about 10 MB), 1 GB in all. Now the
// node stays under 256 MiB, and disconnects each of them once a write has
// blocked for --watch-write-timeout.
func TestWatch_IdleWatchersDoNotHoldTheStore(t *testing.T) {
	url, node := startNode(t, "--watch-write-timeout", "2s")
	peak := node.limitRSS(t, 256<<20)
	c, err := client.New(url, "")
	require.NoError(t, err)
	storeRuns(t, c, "idle", 1500, 5<<10)
	before := peak()

	addr := strings.TrimPrefix(url, "http://")
	const idle = 100
	for range idle {
		idleWatch(t, addr)
	}
	node.out.waitCount(t, "reason=write_timeout", idle, 2*time.Minute)

	// The node is fine, and serves a reader of the same listing.
	w, err := c.Watch(t.Context(), client.WatchOptions{Synced: true})
	require.NoError(t, err)
	defer w.Stop()
	n := 0
	for ev := range w.Events() {
		if ev.Type == client.Synced {
			break
		}
		require.Equal(t, apis.Added, ev.Type)
		n++
	}
	assert.Equal(t, 1500, n)
	t.Logf("peak RSS: %d MiB with the store, %d MiB after %d idle watches of it", before>>20, peak()>>20, idle)
}
