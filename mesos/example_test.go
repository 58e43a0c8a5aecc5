package mesos_test

import (
	"context"
	"log/slog"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
)

// A minimal framework: launch one Run on the first offer that fits,
// acknowledge status updates once "stored".
func Example() {
	sched, err := mesos.New(mesos.Config{
		Masters:       []string{"http://m1:5050", "http://m2:5050"},
		FrameworkName: "sprint",
	}, &mesos.MemoryIDStore{}, slog.Default())
	if err != nil {
		panic(err)
	}
	run := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "hello"},
		Spec:     apis.RunSpec{Command: "echo hello from $HOST", Cpus: 0.1, Mem: 32},
	}
	launched := false
	handler := mesos.HandlerFuncs{
		OnSubscribed: func(ctx context.Context, _ string, _ *mesosproto.MasterInfo) {
			_ = sched.Reconcile(ctx, nil) // implicit: learn what Mesos still runs
		},
		OnOffers: func(ctx context.Context, offers []mesosproto.Offer) {
			for i := range offers {
				offer := &offers[i]
				ports, _, err := mesos.ChoosePorts(mesos.OfferPorts(offer), &run.Spec)
				var task mesosproto.TaskInfo
				if err == nil {
					task, err = mesos.NewTaskInfo(run, "hello.1", offer, ports, mesos.TaskOptions{})
				}
				if launched || err != nil {
					_ = sched.Decline(ctx, []mesosproto.OfferID{offer.ID}, 5*time.Second)
					continue
				}
				launched = sched.Accept(ctx, []mesosproto.OfferID{offer.ID},
					[]mesosproto.Offer_Operation{mesos.LaunchOperation(task)}, nil) == nil
			}
		},
		OnUpdate: func(ctx context.Context, status mesosproto.TaskStatus) {
			// Persist status first; then:
			_ = sched.Acknowledge(ctx, status)
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = sched.Run(ctx, handler)
}
