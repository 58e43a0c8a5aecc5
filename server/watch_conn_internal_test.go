package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http/httputil"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A taken-over stream's framing, table-driven over the sizes that take
// each path of streamConn.Write: writes that share a chunk, a write that
// fills the buffer to the byte, one that does not fit in what is left, one
// larger than a whole buffer (a chunk of its own), with and without
// HTTP/1.1 chunks. Read back with net/http's chunked reader, the body is
// the writes, in order, ended by the last chunk.
func TestStreamConn_Framing(t *testing.T) {
	fill := chunkBufSize - chunkRoom - chunkTail
	for _, tc := range []struct {
		name    string
		writes  []int // sizes; 0 is a Flush
		chunked bool
	}{
		{"small writes, one chunk", []int{10, 20, 30}, true},
		{"a buffer filled to the byte", []int{fill}, true},
		{"one byte more than fits", []int{fill - 5, 6}, true},
		{"larger than a buffer", []int{100, 3 * chunkBufSize, 7}, true},
		{"flushes between writes", []int{5, 0, 0, 9, 0, fill, 0}, true},
		{"HTTP/1.0: no chunks", []int{10, fill, 3 * chunkBufSize, 0, 4}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(client)
				got <- b
			}()
			c := &streamConn{conn: server, bufs: &chunkBufs{}, chunked: tc.chunked}
			var want []byte
			for i, n := range tc.writes {
				require.NoError(t, c.SetWriteDeadline(time.Now().Add(10*time.Second)))
				if n == 0 {
					require.NoError(t, c.Flush())
					continue
				}
				p := bytes.Repeat([]byte{'a' + byte(i)}, n)
				m, err := c.Write(p)
				require.NoError(t, err)
				require.Equal(t, n, m)
				want = append(want, p...)
			}
			c.close(10 * time.Second)
			wire := <-got
			if !tc.chunked {
				assert.Equal(t, want, wire)
				return
			}
			require.True(t, bytes.HasSuffix(wire, []byte("\r\n0\r\n\r\n")), "ends with the last chunk")
			body, err := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(bytes.NewReader(wire))))
			require.NoError(t, err)
			assert.Equal(t, want, body)
		})
	}
}

// A write that fails (the client does not read within the deadline) makes
// the connection unusable: later writes fail at once, and closing it does
// not try to write the last chunk.
func TestStreamConn_FailedWriteEndsIt(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	c := &streamConn{conn: server, bufs: &chunkBufs{}, chunked: true}
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(20*time.Millisecond)))
	_, err := c.Write([]byte("x"))
	require.NoError(t, err, "buffered")
	require.ErrorIs(t, c.Flush(), os.ErrDeadlineExceeded, "nobody reads the pipe")
	_, err = c.Write([]byte("y"))
	require.ErrorIs(t, err, net.ErrClosed)
	began := time.Now()
	c.close(time.Hour)
	assert.Less(t, time.Since(began), time.Second, "no last chunk written on a failed connection")
	assert.Nil(t, c.buf, "the buffer went back")
}
