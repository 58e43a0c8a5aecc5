package mesos_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/mesos/sim"
)

// TestC1_SchedulerRunsRunsToCompletionAgainstSimulator is conformance item
// C1: sprint's own scheduler client, with the protobuf and the JSON codec,
// subscribes to the simulator over real HTTP, launches Runs built by
// NewTaskInfo on the offers it gets, acknowledges every update after
// "persisting" it, and sees each task finish with the exit status its
// command chose.
func TestC1_SchedulerRunsRunsToCompletionAgainstSimulator(t *testing.T) {
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			master, err := sim.New(sim.Config{
				WorkDir: t.TempDir(),
				Seed:    1,
				Agents: []sim.AgentConfig{{
					Hostname:  "127.0.0.1",
					Resources: "cpus:2;mem:1024;disk:1000;ports:[31000-31100]",
					Executor:  sim.ExecutorProcess,
				}},
				AllocationInterval: 50 * time.Millisecond,
			})
			require.NoError(t, err)
			require.NoError(t, master.Start(ctx))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			served := make(chan error, 1)
			go func() { served <- master.Serve(ctx, ln) }()
			t.Cleanup(func() {
				cancel()
				<-served
				_ = master.Close()
			})

			sched, err := mesos.New(mesos.Config{
				Masters:       []string{"http://" + ln.Addr().String()},
				FrameworkName: "sprint-c1",
				User:          "nobody",
				Codec:         codec,
				Timeout:       5 * time.Second,
			}, &mesos.MemoryIDStore{}, nil)
			require.NoError(t, err)

			runs := map[string]*apis.Run{}
			for i, exit := range []int{0, 0, 3} {
				name := fmt.Sprintf("c1-%d", i)
				runs[name+".1"] = &apis.Run{
					Metadata: apis.ObjectMeta{Name: name},
					Spec:     apis.RunSpec{Command: fmt.Sprintf("echo $SPRINT_RUN_NAME; exit %d", exit), Cpus: 0.1, Mem: 32},
				}
			}

			var mu sync.Mutex
			pending := map[string]*apis.Run{}
			for id, r := range runs {
				pending[id] = r
			}
			final := map[string]*mesosproto.TaskStatus{}
			done := make(chan struct{})
			h := mesos.HandlerFuncs{
				OnOffers: func(ctx context.Context, offers []mesosproto.Offer) {
					mu.Lock()
					defer mu.Unlock()
					for _, o := range offers {
						var tasks []mesosproto.TaskInfo
						for id, r := range pending {
							ti, err := mesos.NewTaskInfo(r, id, &o, nil, mesos.TaskOptions{})
							if !assert.NoError(t, err) {
								continue
							}
							tasks = append(tasks, ti)
							delete(pending, id)
						}
						if len(tasks) == 0 {
							assert.NoError(t, sched.Decline(ctx, []mesosproto.OfferID{o.ID}, time.Second))
							continue
						}
						assert.NoError(t, sched.Accept(ctx, []mesosproto.OfferID{o.ID}, []mesosproto.Offer_Operation{mesos.LaunchOperation(tasks...)}, nil))
					}
				},
				OnUpdate: func(ctx context.Context, st mesosproto.TaskStatus) {
					// The status counts as persisted here; it is acknowledged
					// before the test may end.
					assert.NoError(t, sched.Acknowledge(ctx, st))
					mu.Lock()
					if st.GetState() == mesosproto.TASK_FINISHED || st.GetState() == mesosproto.TASK_FAILED {
						final[st.TaskID.Value] = &st
						if len(final) == len(runs) {
							select {
							case <-done:
							default:
								close(done)
							}
						}
					}
					mu.Unlock()
				},
			}
			runErr := make(chan error, 1)
			go func() { runErr <- sched.Run(ctx, h) }()

			select {
			case <-done:
			case <-ctx.Done():
				t.Fatalf("tasks did not finish: %v", final)
			}
			mu.Lock()
			assert.Equal(t, mesosproto.TASK_FINISHED, final["c1-0.1"].GetState())
			assert.Equal(t, mesosproto.TASK_FINISHED, final["c1-1.1"].GetState())
			assert.Equal(t, mesosproto.TASK_FAILED, final["c1-2.1"].GetState())
			assert.Equal(t, "Command exited with status 3", final["c1-2.1"].GetMessage())
			mu.Unlock()
			assert.NotEmpty(t, sched.FrameworkID())
			cancel()
			require.NoError(t, <-runErr)
		})
	}
}
