package mesos

import (
	"context"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func benchScheduler(b *testing.B, codec string, h Handler) (*fakeMaster, *Scheduler) {
	m := newFakeMaster(b)
	s, err := New(testConfig(codec, m.url()), nil, nil)
	require.NoError(b, err)
	runScheduler(b, s, h)
	require.Eventually(b, s.Connected, waitFor, time.Millisecond)
	return m, s
}

// BenchmarkEventStream measures UPDATE events through the HTTP stream,
// RecordIO framing, decoding and dispatch to the Handler.
func BenchmarkEventStream(b *testing.B) {
	for _, codec := range codecNames {
		b.Run(codec, func(b *testing.B) {
			got := make(chan struct{}, 1024)
			m, _ := benchScheduler(b, codec, HandlerFuncs{OnUpdate: func(context.Context, mesosproto.TaskStatus) { got <- struct{}{} }})
			st := m.stream(0)
			ev := updateEvent("etl.1.0123456789", mesosproto.TASK_RUNNING, []byte("0123456789abcdef"))
			b.ResetTimer()
			go func() {
				for range b.N {
					st.events <- ev
				}
			}()
			for range b.N {
				<-got
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAcknowledge measures ACKNOWLEDGE calls, one by one and batched.
func BenchmarkAcknowledge(b *testing.B) {
	status := updateEvent("etl.1.0123456789", mesosproto.TASK_RUNNING, []byte("0123456789abcdef")).Update.Status
	b.Run("sequential", func(b *testing.B) {
		_, s := benchScheduler(b, "protobuf", HandlerFuncs{})
		for b.Loop() {
			if err := s.Acknowledge(context.Background(), status); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "acks/s")
	})
	b.Run("batched", func(b *testing.B) {
		m, s := benchScheduler(b, "protobuf", HandlerFuncs{})
		batch := make([]mesosproto.TaskStatus, 100)
		for i := range batch {
			batch[i] = status
		}
		n := 0
		for b.Loop() {
			if err := s.AcknowledgeAll(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			n += len(batch)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "acks/s")
		if got := len(m.callsOf(scheduler.Call_ACKNOWLEDGE)); got != n {
			b.Fatalf("master saw %d acks, want %d", got, n)
		}
	})
}

// BenchmarkNewTaskInfo is the leader's cost of one launch's TaskInfo: a
// Run with one host port on an unreserved offer, and on a MULTI_ROLE one.
func BenchmarkNewTaskInfo(b *testing.B) {
	run := testRun(func(r *apis.Run) {
		r.Spec.Container = &apis.Container{Type: "MESOS", Docker: &apis.DockerInfo{Image: "busybox"}, PortMappings: []apis.PortMapping{{ContainerPort: 80}}}
	})
	for name, offer := range map[string]*mesosproto.Offer{"unreserved": testOffer(), "multirole": multiRoleOffer()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewTaskInfo(run, "etl.1.x", offer, []uint32{31001}, TaskOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
