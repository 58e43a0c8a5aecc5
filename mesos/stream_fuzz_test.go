package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// FuzzStreamDecode feeds arbitrary bytes to the event-stream decoder of
// both codecs: a broken master must produce errors, never a panic.
func FuzzStreamDecode(f *testing.F) {
	secs := 15.0
	events := []*scheduler.Event{
		{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
			FrameworkID: &mesosproto.FrameworkID{Value: "fw"}, HeartbeatIntervalSeconds: &secs}},
		{Type: scheduler.Event_HEARTBEAT},
		updateEvent("t", mesosproto.TASK_RUNNING, []byte("0123456789abcdef")),
	}
	for _, useJSON := range []bool{false, true} {
		var buf bytes.Buffer
		for _, ev := range events {
			var b []byte
			var err error
			if useJSON {
				b, err = json.Marshal(ev)
			} else {
				b, err = ev.Marshal()
			}
			if err != nil {
				f.Fatal(err)
			}
			fmt.Fprintf(&buf, "%d\n%s", len(b), b)
		}
		f.Add(buf.Bytes(), useJSON)
	}
	f.Add([]byte("0\n\n5\nabc"), false)
	f.Add([]byte("99999999999999999999999\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, useJSON bool) {
		codec := codecs.ByMediaType[codecs.MediaTypeProtobuf]
		if useJSON {
			codec = codecs.ByMediaType[codecs.MediaTypeJSON]
		}
		s := newStream(io.NopCloser(bytes.NewReader(data)), func() {}, codec)
		for range 64 {
			var ev scheduler.Event
			if err := s.Decode(&ev); err != nil {
				return
			}
		}
	})
}
