package server_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

// An open watch costs the server a few KiB of heap and stack, whatever
// the client does: with thousands open (docs/benchmarks.md, (e)
// Watchers) that is the node's memory. Budgets per watch, table-driven:
//   - a watch from a resourceVersion that its client reads: once its
//     headers are out the server takes the connection over from net/http
//     (watch_conn.go), which frees the connection's buffers, the request
//     and the goroutine that served it: ~3 KiB of heap and two small
//     stacks, the stream's and the one watching for the client to go
//     (through net/http: ~17 KiB of heap and 10 KiB of stack);
//   - a watch whose client never reads, stalled in the middle of its
//     initial listing: it holds one listing chunk, not 64 KiB of one, and
//     the 4 KiB write buffer of the blocked write.
//
// The race detector enlarges every frame: the stack budget is checked
// without it (go test ./server/), the heap's with it too (make test).
func TestWatch_FootprintPerWatch(t *testing.T) {
	store, url := startRaftNodeWith(t, func(c *raftstore.Config) { c.WatchBuffer = 1 << 20 },
		func(ln net.Listener) net.Listener { return smallSendBuffers{ln} })
	pad := strings.Repeat("x", 2<<10)
	for i := range 200 { // 400 KiB of Runs: more than the sockets hold
		_, err := store.CreateRun(t.Context(), &apis.Run{
			Metadata: apis.ObjectMeta{Name: fmt.Sprintf("r%03d", i), Annotations: map[string]string{"pad": pad}},
			Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32},
		})
		require.NoError(t, err)
	}
	addr := strings.TrimPrefix(url, "http://")
	// A small receive window: a client that does not read stalls its
	// stream within a few KiB.
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	const watches = 200
	for _, tc := range []struct {
		name        string
		query       string
		heap, stack uint64 // bytes per watch, at most
	}{
		{"resumed and read", fmt.Sprintf("&resourceVersion=%d", store.AppliedIndex()), 6 << 10, 8 << 10},
		{"listing stalled", "", 32 << 10, 8 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := memNow()
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range watches {
				c, err := d.Dial("tcp", addr)
				require.NoError(t, err)
				conns = append(conns, c)
				_, err = fmt.Fprintf(c, "GET /api/v1/runs?watch=true%s HTTP/1.1\r\nHost: %s\r\n\r\n", tc.query, addr)
				require.NoError(t, err)
				// Read the headers: the watch is open. A listing's client
				// reads its first line too (the first chunk is read) and
				// no more.
				br := bufio.NewReaderSize(c, 256)
				for {
					line, err := br.ReadString('\n')
					require.NoError(t, err)
					if line == "\r\n" {
						break
					}
				}
				if tc.query == "" {
					_, err := br.ReadString('\n')
					require.NoError(t, err)
				}
			}
			after := memNow()
			heap := (after.heap - min(after.heap, before.heap)) / watches
			stack := (after.stack - min(after.stack, before.stack)) / watches
			t.Logf("per watch: heap %d B, stack %d B", heap, stack)
			require.LessOrEqual(t, heap, tc.heap, "heap per watch")
			if !raceEnabled {
				require.LessOrEqual(t, stack, tc.stack, "stack per watch")
			}
		})
	}
}

type memSample struct{ heap, stack uint64 }

// memNow collects garbage (twice: the second cycle shrinks the stacks
// the first one scanned) and samples the live heap and the stacks.
func memNow() memSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapAlloc, stack: ms.StackInuse}
}
