package wiring

import (
	"context"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/raftstore"
)

// MesosScheduler adapts the mesos package's scheduler client to
// controller.Scheduler.
type MesosScheduler struct {
	Client *mesos.Scheduler
	// KillGrace, when positive, overrides the task's kill policy on KILL.
	KillGrace time.Duration
}

var _ controller.Scheduler = MesosScheduler{}

// Run runs the subscription, delivering its events to h.
func (m MesosScheduler) Run(ctx context.Context, h controller.EventHandler) error {
	return m.Client.Run(ctx, mesosHandler{h})
}

// Accept launches tasks on one offer.
func (m MesosScheduler) Accept(ctx context.Context, offerID mesosproto.OfferID, tasks []mesosproto.TaskInfo, refuse time.Duration) error {
	return m.Client.Accept(ctx, []mesosproto.OfferID{offerID},
		[]mesosproto.Offer_Operation{mesos.LaunchOperation(tasks...)}, mesos.RefuseFilters(refuse))
}

// Decline declines offers.
func (m MesosScheduler) Decline(ctx context.Context, offerIDs []mesosproto.OfferID, refuse time.Duration) error {
	return m.Client.Decline(ctx, offerIDs, refuse)
}

// Revive revives offers for all roles.
func (m MesosScheduler) Revive(ctx context.Context) error { return m.Client.Revive(ctx) }

// Suppress suppresses offers for all roles.
func (m MesosScheduler) Suppress(ctx context.Context) error { return m.Client.Suppress(ctx) }

// Kill kills a task.
func (m MesosScheduler) Kill(ctx context.Context, taskID, agentID string) error {
	return m.Client.Kill(ctx, taskID, agentID, m.KillGrace)
}

// Reconcile reconciles tasks (none: implicit).
func (m MesosScheduler) Reconcile(ctx context.Context, tasks []controller.ReconcileTask) error {
	refs := make([]mesos.TaskRef, len(tasks))
	for i, t := range tasks {
		refs[i] = mesos.TaskRef{TaskID: t.TaskID, AgentID: t.AgentID}
	}
	return m.Client.Reconcile(ctx, refs)
}

// Acknowledge acknowledges a status update with a UUID.
func (m MesosScheduler) Acknowledge(ctx context.Context, status mesosproto.TaskStatus) error {
	return m.Client.Acknowledge(ctx, status)
}

// mesosHandler adapts controller.EventHandler to mesos.Handler.
type mesosHandler struct{ h controller.EventHandler }

var _ mesos.Handler = mesosHandler{}

func (a mesosHandler) Subscribed(ctx context.Context, frameworkID string, _ *mesosproto.MasterInfo) {
	a.h.Subscribed(ctx, frameworkID)
}
func (a mesosHandler) Offers(ctx context.Context, offers []mesosproto.Offer) { a.h.Offers(ctx, offers) }
func (a mesosHandler) Rescind(ctx context.Context, id mesosproto.OfferID)    { a.h.Rescind(ctx, id) }
func (a mesosHandler) Update(ctx context.Context, st mesosproto.TaskStatus)  { a.h.Update(ctx, st) }
func (a mesosHandler) Failure(ctx context.Context, agentID, executorID string, _ *int32) {
	if executorID == "" {
		a.h.Failure(ctx, agentID)
	}
}

// Error: the subscription ends right after; Disconnected follows.
func (a mesosHandler) Error(context.Context, string) {}
func (a mesosHandler) Disconnected(ctx context.Context, err error) {
	a.h.Disconnected(ctx, err)
}

// MesosTaskBuilder is the production controller.TaskBuilder: the mesos package's
// NewTaskInfo with opts.
func MesosTaskBuilder(opts mesos.TaskOptions) controller.TaskBuilder {
	return func(run *apis.Run, taskID string, offer *mesosproto.Offer, ports []uint32) (mesosproto.TaskInfo, error) {
		return mesos.NewTaskInfo(run, taskID, offer, ports, opts)
	}
}

// The replicated store keeps the FrameworkID, so every leader subscribes
// with the same one.
var _ mesos.FrameworkIDStore = (*raftstore.Store)(nil)
