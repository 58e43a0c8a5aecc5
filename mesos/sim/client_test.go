package sim

import (
	"context"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mesosGoCaller builds mesos-go's own HTTP scheduler caller for url.
func mesosGoCaller(url string, media string) calls.Caller {
	cli := httpcli.New(
		httpcli.Endpoint(url+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[encoding.MediaType(media)]),
		httpcli.Do(httpcli.With(httpcli.Timeout(5*time.Second))),
	)
	return httpsched.NewCaller(cli)
}

// runTasksWithMesosGo runs n tasks to completion with mesos-go's controller
// and returns the terminal state of each task.
func runTasksWithMesosGo(t *testing.T, url, media string, fi *mesos.FrameworkInfo, n int, build func(id string, o mesos.Offer) mesos.TaskInfo) map[string]mesos.TaskState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := mesosGoCaller(url, media)
	var (
		mu       sync.Mutex
		fwID     string
		launched int
		final    = map[string]mesos.TaskState{}
	)
	withFw := func(c *scheduler.Call) *scheduler.Call {
		mu.Lock()
		defer mu.Unlock()
		return c.With(calls.Framework(fwID))
	}
	handler := events.HandlerFuncs{
		scheduler.Event_SUBSCRIBED: func(_ context.Context, e *scheduler.Event) error {
			mu.Lock()
			fwID = e.Subscribed.FrameworkID.Value
			mu.Unlock()
			return nil
		},
		scheduler.Event_OFFERS: func(ctx context.Context, e *scheduler.Event) error {
			for _, o := range e.Offers.Offers {
				var tasks []mesos.TaskInfo
				mu.Lock()
				for launched < n && len(tasks) < 10 {
					tasks = append(tasks, build(taskName(launched), o))
					launched++
				}
				mu.Unlock()
				accept := calls.Accept(calls.OfferOperations{calls.OpLaunch(tasks...)}.WithOffers(o.ID)).With(calls.RefuseSeconds(0))
				if err := calls.CallNoData(ctx, caller, withFw(accept)); err != nil {
					return err
				}
			}
			return nil
		},
		scheduler.Event_UPDATE: func(ctx context.Context, e *scheduler.Event) error {
			st := e.Update.Status
			if len(st.UUID) > 0 {
				if err := calls.CallNoData(ctx, caller, withFw(calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID))); err != nil {
					return err
				}
			}
			if isTerminal(st.GetState()) {
				mu.Lock()
				final[st.TaskID.Value] = st.GetState()
				done := len(final) == n
				mu.Unlock()
				if done {
					cancel()
				}
			}
			return nil
		},
	}
	err := controller.Run(ctx, fi, caller, controller.WithEventHandler(handler.Otherwise(func(context.Context, *scheduler.Event) error { return nil })))
	_ = err
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, final, n, "all tasks terminal (last error %v)", err)
	return final
}

func taskName(i int) string { return "task-" + itoa(i) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestW8_MesosGoControllerBothCodecs(t *testing.T) {
	for _, media := range []string{mediaProtobuf, mediaJSON} {
		t.Run(media, func(t *testing.T) {
			tm := startMaster(t, fastConfig())
			final := runTasksWithMesosGo(t, tm.url, media, frameworkInfo("w8"), 5, func(id string, o mesos.Offer) mesos.TaskInfo {
				ti := commandTask(id, o, "true")
				if id == "task-4" {
					ti.Labels = simLabels("SIM_EXIT_CODE", "3")
				}
				return ti
			})
			for id, st := range final {
				want := mesos.TASK_FINISHED
				if id == "task-4" {
					want = mesos.TASK_FAILED
				}
				assert.Equal(t, want, st, id)
			}
		})
	}
}
