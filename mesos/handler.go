package mesos

import (
	"context"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
)

// Handler receives the events of the subscription. Run calls its methods
// from one goroutine, one at a time, in stream order, so a Handler needs no
// locking for state only it touches. The heartbeat watchdog is paused while
// a method runs, but a method that blocks delays every later event: hand
// slow work to another goroutine. Methods may call the Scheduler's calls.
//
// Every ctx passed is Run's ctx.
type Handler interface {
	// Subscribed reports a successful (re)subscription. frameworkID is
	// already stored in the FrameworkIDStore. Offers made before are void;
	// this is the place to start reconciliation.
	Subscribed(ctx context.Context, frameworkID string, master *mesosproto.MasterInfo)
	// Offers hands over new offers. Each should be accepted or declined;
	// an offer left alone holds its resources until it is rescinded or the
	// subscription ends.
	Offers(ctx context.Context, offers []mesosproto.Offer)
	// Rescind reports that an offer is no longer valid.
	Rescind(ctx context.Context, offerID mesosproto.OfferID)
	// Update delivers a task status. It is NOT acknowledged: call
	// Scheduler.Acknowledge once the status is durable, from any goroutine,
	// possibly batched. Until then Mesos withholds the task's later
	// statuses and resends this one. The same status (same UUID) may
	// arrive more than once.
	Update(ctx context.Context, status mesosproto.TaskStatus)
	// Failure reports a lost agent (executorID "") or an exited custom
	// executor (with its wait status, when known).
	Failure(ctx context.Context, agentID, executorID string, status *int32)
	// Error reports an ERROR event; the subscription ends right after and
	// Run re-subscribes. "Framework has been removed" also clears the
	// stored framework ID: the next subscription registers a new
	// framework, whose tasks start from nothing.
	Error(ctx context.Context, message string)
	// Disconnected reports the end of a subscription that was reported by
	// Subscribed, and why. Offers are void from here on.
	Disconnected(ctx context.Context, err error)
}

// HandlerFuncs is a Handler made of optional funcs; nil ones ignore their
// event.
type HandlerFuncs struct {
	OnSubscribed   func(ctx context.Context, frameworkID string, master *mesosproto.MasterInfo)
	OnOffers       func(ctx context.Context, offers []mesosproto.Offer)
	OnRescind      func(ctx context.Context, offerID mesosproto.OfferID)
	OnUpdate       func(ctx context.Context, status mesosproto.TaskStatus)
	OnFailure      func(ctx context.Context, agentID, executorID string, status *int32)
	OnError        func(ctx context.Context, message string)
	OnDisconnected func(ctx context.Context, err error)
}

var _ Handler = HandlerFuncs{}

// Subscribed implements Handler.
func (f HandlerFuncs) Subscribed(ctx context.Context, frameworkID string, master *mesosproto.MasterInfo) {
	if f.OnSubscribed != nil {
		f.OnSubscribed(ctx, frameworkID, master)
	}
}

// Offers implements Handler.
func (f HandlerFuncs) Offers(ctx context.Context, offers []mesosproto.Offer) {
	if f.OnOffers != nil {
		f.OnOffers(ctx, offers)
	}
}

// Rescind implements Handler.
func (f HandlerFuncs) Rescind(ctx context.Context, offerID mesosproto.OfferID) {
	if f.OnRescind != nil {
		f.OnRescind(ctx, offerID)
	}
}

// Update implements Handler.
func (f HandlerFuncs) Update(ctx context.Context, status mesosproto.TaskStatus) {
	if f.OnUpdate != nil {
		f.OnUpdate(ctx, status)
	}
}

// Failure implements Handler.
func (f HandlerFuncs) Failure(ctx context.Context, agentID, executorID string, status *int32) {
	if f.OnFailure != nil {
		f.OnFailure(ctx, agentID, executorID, status)
	}
}

// Error implements Handler.
func (f HandlerFuncs) Error(ctx context.Context, message string) {
	if f.OnError != nil {
		f.OnError(ctx, message)
	}
}

// Disconnected implements Handler.
func (f HandlerFuncs) Disconnected(ctx context.Context, err error) {
	if f.OnDisconnected != nil {
		f.OnDisconnected(ctx, err)
	}
}
