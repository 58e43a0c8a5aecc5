package mesos_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/mesos/sim"
)

// recordHandler sends every log record with a message of interest to a
// channel, so a test waits for it instead of polling.
type recordHandler struct {
	msg string
	out chan slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.out <- r:
		default:
		}
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// startAuthSim serves a simulator that requires the credential
// sprint:kitesurf on every endpoint.
func startAuthSim(t *testing.T, ctx context.Context) string {
	t.Helper()
	master, err := sim.New(sim.Config{
		WorkDir: t.TempDir(),
		Seed:    1,
		Agents: []sim.AgentConfig{{Hostname: "127.0.0.1", Resources: "cpus:2;mem:1024;disk:1000;ports:[31000-31100]",
			Executor: sim.ExecutorProcess}},
		AllocationInterval:        50 * time.Millisecond,
		Credentials:               map[string]string{"sprint": "kitesurf"},
		AuthenticateFrameworks:    true,
		AuthenticateHTTPReadOnly:  true,
		AuthenticateHTTPReadWrite: true,
	})
	require.NoError(t, err)
	require.NoError(t, master.Start(ctx))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- master.Serve(ctx, ln) }()
	t.Cleanup(func() {
		<-served
		_ = master.Close()
	})
	return "http://" + ln.Addr().String()
}

// sprint's client side of Mesos framework authentication (--mesos-principal,
// --mesos-secret-file) against the simulator with authentication on, in
// both codecs: a wrong secret is refused with 401, the right one subscribes
// and runs a task, and the sandbox reader needs the credential for
// /master/state and /files/read too.
func TestC1_SchedulerAuthenticatesToTheSimulator(t *testing.T) {
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			url := startAuthSim(t, ctx)
			cfg := mesos.Config{Masters: []string{url}, FrameworkName: "sprint-auth", User: "nobody", Codec: codec,
				Timeout: 5 * time.Second, Principal: "sprint", Secret: "wrong", MinBackoff: time.Hour}

			// A wrong secret: the subscription is refused with 401.
			ended := &recordHandler{msg: "subscription ended", out: make(chan slog.Record, 1)}
			bad, err := mesos.New(cfg, &mesos.MemoryIDStore{}, slog.New(ended))
			require.NoError(t, err)
			badCtx, stopBad := context.WithCancel(ctx)
			badDone := make(chan error, 1)
			go func() { badDone <- bad.Run(badCtx, mesos.HandlerFuncs{}) }()
			select {
			case r := <-ended.out:
				var got error
				r.Attrs(func(a slog.Attr) bool {
					if a.Key == "err" {
						got, _ = a.Value.Any().(error)
					}
					return true
				})
				var se *mesos.StatusError
				require.True(t, errors.As(got, &se), "%v", got)
				assert.Equal(t, http.StatusUnauthorized, se.Code)
				assert.Contains(t, se.Error(), "master answered 401: 401 Unauthorized.")
			case <-ctx.Done():
				t.Fatal("the refused subscription was never reported")
			}
			assert.False(t, bad.Connected())
			stopBad()
			require.NoError(t, <-badDone)

			// The right secret: subscribed, a Run's task runs to completion.
			cfg.Secret = "kitesurf"
			sched, err := mesos.New(cfg, &mesos.MemoryIDStore{}, nil)
			require.NoError(t, err)
			run := &apis.Run{Metadata: apis.ObjectMeta{Name: "authed"}, Spec: apis.RunSpec{Command: "echo out-$SPRINT_RUN_NAME", Cpus: 0.1, Mem: 32}}
			final := make(chan mesosproto.TaskStatus, 1)
			launched := false
			// Calls made while the test cancels the subscription at its
			// end may fail with the context: only earlier failures count.
			noErr := func(ctx context.Context, err error) {
				if ctx.Err() == nil {
					assert.NoError(t, err)
				}
			}
			h := mesos.HandlerFuncs{
				OnOffers: func(ctx context.Context, offers []mesosproto.Offer) {
					for _, o := range offers {
						if launched {
							noErr(ctx, sched.Decline(ctx, []mesosproto.OfferID{o.ID}, time.Second))
							continue
						}
						ti, err := mesos.NewTaskInfo(run, "authed.1", &o, nil, mesos.TaskOptions{})
						require.NoError(t, err)
						launched = true
						noErr(ctx, sched.Accept(ctx, []mesosproto.OfferID{o.ID}, []mesosproto.Offer_Operation{mesos.LaunchOperation(ti)}, nil))
					}
				},
				OnUpdate: func(ctx context.Context, st mesosproto.TaskStatus) {
					noErr(ctx, sched.Acknowledge(ctx, st))
					if st.GetState() == mesosproto.TASK_FINISHED || st.GetState() == mesosproto.TASK_FAILED {
						final <- st
					}
				},
			}
			runDone := make(chan error, 1)
			go func() { runDone <- sched.Run(ctx, h) }()
			var st mesosproto.TaskStatus
			select {
			case st = <-final:
			case <-ctx.Done():
				t.Fatal("the task did not finish")
			}
			require.Equal(t, mesosproto.TASK_FINISHED, st.GetState(), st.GetMessage())

			// The sandbox, through /master/state and /files/read.
			files := mesos.NewFiles(mesos.FilesConfig{Principal: "sprint", Secret: "kitesurf"})
			sb, err := files.LocateSandbox(ctx, []string{url}, sched.FrameworkID(), st.AgentID.Value, "authed.1")
			require.NoError(t, err)
			data, _, err := files.ReadFile(ctx, sb.AgentURL, sb.File("stdout"), 0, 0)
			require.NoError(t, err)
			assert.Equal(t, "out-authed\n", string(data))
			_, err = mesos.NewFiles(mesos.FilesConfig{}).LocateSandbox(ctx, []string{url}, sched.FrameworkID(), st.AgentID.Value, "authed.1")
			var se *mesos.StatusError
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, http.StatusUnauthorized, se.Code)
			_, _, err = mesos.NewFiles(mesos.FilesConfig{Principal: "sprint", Secret: "guess"}).ReadFile(ctx, sb.AgentURL, sb.File("stdout"), 0, 0)
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, http.StatusUnauthorized, se.Code)

			cancel()
			require.NoError(t, <-runDone)
		})
	}
}
