package mesos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// Every call below goes to the current leader with the current framework
// ID and Mesos-Stream-Id. They return ErrNotConnected while no
// subscription is established, *StatusError for a non-2xx answer, and a
// transport error otherwise; none of these ends the subscription. A nil
// error means the master accepted the call (202), not that it took effect:
// outcomes arrive as events.

// TaskRef names a task for explicit reconciliation; AgentID may be empty.
type TaskRef struct {
	TaskID  string
	AgentID string
}

// LaunchOperation is an ACCEPT operation launching tasks.
func LaunchOperation(tasks ...mesosproto.TaskInfo) mesosproto.Offer_Operation {
	return calls.OpLaunch(tasks...)
}

// LaunchGroupOperation is an ACCEPT operation launching tasks as one group
// under executor (type DEFAULT): all start or none does.
func LaunchGroupOperation(executor mesosproto.ExecutorInfo, tasks ...mesosproto.TaskInfo) mesosproto.Offer_Operation {
	return calls.OpLaunchGroup(executor, tasks...)
}

// RefuseFilters returns filters that keep the declined resources from
// being offered again for d. Zero means no filter at all (Mesos
// semantics); pass nil filters to a call for Mesos' default of 5 s.
func RefuseFilters(d time.Duration) *mesosproto.Filters {
	secs := d.Seconds()
	return &mesosproto.Filters{RefuseSeconds: &secs}
}

// Accept applies operations (usually LaunchOperation) to the offers, which
// must all be of one agent. Resources left unused are declined with
// filters (nil: Mesos' default 5 s). Invalid offers or tasks are reported
// as task status updates (TASK_DROPPED, TASK_ERROR), not as an error here.
func (s *Scheduler) Accept(ctx context.Context, offerIDs []mesosproto.OfferID, ops []mesosproto.Offer_Operation, filters *mesosproto.Filters) error {
	return s.call(ctx, &scheduler.Call{
		Type: scheduler.Call_ACCEPT,
		Accept: &scheduler.Call_Accept{
			OfferIDs:   offerIDs,
			Operations: ops,
			Filters:    filters,
		},
	})
}

// Decline returns offers unused; their resources are not offered again to
// this framework for refuse (0: no filter; the allocator's next round).
func (s *Scheduler) Decline(ctx context.Context, offerIDs []mesosproto.OfferID, refuse time.Duration) error {
	call := calls.Decline(offerIDs...)
	call.Decline.Filters = RefuseFilters(refuse)
	return s.call(ctx, call)
}

// Revive clears offer filters and resumes offers for roles (all the
// framework's roles when none are given).
func (s *Scheduler) Revive(ctx context.Context, roles ...string) error {
	call := calls.Revive()
	if len(roles) > 0 {
		call = calls.ReviveWith(roles)
	}
	if err := s.call(ctx, call); err != nil {
		return err
	}
	s.rememberSuppressed(roles, false)
	return nil
}

// Suppress stops offers for roles (all the framework's roles when none are
// given) until Revive. Outstanding offers stay. The suppression of the
// framework's role is re-sent with every re-subscription (suppressed_roles),
// which would otherwise revive it.
func (s *Scheduler) Suppress(ctx context.Context, roles ...string) error {
	call := calls.Suppress()
	if len(roles) > 0 {
		call = calls.SuppressWith(roles)
	}
	if err := s.call(ctx, call); err != nil {
		return err
	}
	s.rememberSuppressed(roles, true)
	return nil
}

// rememberSuppressed records whether the framework's role is suppressed
// after a successful SUPPRESS or REVIVE of roles (none: all).
func (s *Scheduler) rememberSuppressed(roles []string, suppressed bool) {
	if len(roles) > 0 && !slices.Contains(roles, s.cfg.Role) {
		return
	}
	s.mu.Lock()
	s.suppressed = suppressed
	s.mu.Unlock()
}

// Kill asks Mesos to kill a task; agentID may be empty. A positive grace
// overrides the task's kill policy (SIGTERM, then SIGKILL after grace).
// Mesos answers a kill of an unknown task with a reconciliation update.
func (s *Scheduler) Kill(ctx context.Context, taskID, agentID string, grace time.Duration) error {
	call := calls.Kill(taskID, agentID)
	if grace > 0 {
		call.Kill.KillPolicy = &mesosproto.KillPolicy{
			GracePeriod: &mesosproto.DurationInfo{Nanoseconds: grace.Nanoseconds()},
		}
	}
	return s.call(ctx, call)
}

// Reconcile asks for the latest state of tasks (explicit), or of every
// task Mesos knows for this framework when tasks is empty (implicit).
// Answers arrive as Update events without UUID.
func (s *Scheduler) Reconcile(ctx context.Context, tasks []TaskRef) error {
	rec := &scheduler.Call_Reconcile{}
	for _, t := range tasks {
		rt := scheduler.Call_Reconcile_Task{TaskID: mesosproto.TaskID{Value: t.TaskID}}
		if t.AgentID != "" {
			rt.AgentID = &mesosproto.AgentID{Value: t.AgentID}
		}
		rec.Tasks = append(rec.Tasks, rt)
	}
	return s.call(ctx, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: rec})
}

// NeedsAck reports whether status must be acknowledged: only updates with
// a UUID (from an agent or executor) are; master-generated ones are not.
func NeedsAck(status mesosproto.TaskStatus) bool { return len(status.UUID) > 0 }

// Acknowledge acknowledges a status update delivered by Handler.Update;
// call it once the status is durable. Statuses without UUID are not
// acknowledged (nil is returned without a call). An acknowledgement that
// fails, or is lost with the subscription, is harmless: Mesos resends the
// update and the consumer acknowledges the duplicate.
func (s *Scheduler) Acknowledge(ctx context.Context, status mesosproto.TaskStatus) error {
	if !NeedsAck(status) {
		return nil
	}
	return s.call(ctx, calls.Acknowledge(status.GetAgentID().GetValue(), status.TaskID.Value, status.UUID))
}

// ackParallelism bounds the ACKNOWLEDGE requests AcknowledgeAll has in
// flight: enough to hide loopback and LAN round trips, few enough not to
// flood the master.
const ackParallelism = 8

// MaxIdleConnsPerMaster is how many idle connections to the master the
// client keeps for calls: at least as many as a consumer has calls in
// flight (the controller's 32 acknowledgers, its ACCEPTs and KILLs), or
// every call past it dials a new connection and closes it again.
const MaxIdleConnsPerMaster = 64

// AcknowledgeAll acknowledges a batch of statuses (those without UUID are
// skipped), several requests at a time: the controller commits a batch of
// statuses in one store write, then acknowledges them all. It returns the
// failures joined.
func (s *Scheduler) AcknowledgeAll(ctx context.Context, statuses []mesosproto.TaskStatus) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, ackParallelism)
	)
	for i := range statuses {
		if !NeedsAck(statuses[i]) {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(st *mesosproto.TaskStatus) {
			defer func() { <-sem; wg.Done() }()
			if err := s.Acknowledge(ctx, *st); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("task %s: %w", st.TaskID.Value, err))
				mu.Unlock()
			}
		}(&statuses[i])
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Message sends data to a custom executor, best effort.
func (s *Scheduler) Message(ctx context.Context, agentID, executorID string, data []byte) error {
	return s.call(ctx, calls.Message(agentID, executorID, data))
}

// Teardown removes the framework from Mesos: its tasks are killed and its
// ID can never subscribe again. On success the stored ID is cleared, the
// subscription ends and Run returns ErrTornDown.
func (s *Scheduler) Teardown(ctx context.Context) error {
	// Mesos may close the stream before the 202 arrives: Run waits on
	// pending to learn whether to re-subscribe or to stop.
	pending := make(chan struct{})
	s.mu.Lock()
	s.teardown = pending
	s.mu.Unlock()
	err := s.call(ctx, &scheduler.Call{Type: scheduler.Call_TEARDOWN})
	s.mu.Lock()
	s.teardown = nil
	s.tornDown = err == nil
	end := s.endStream
	s.mu.Unlock()
	close(pending)
	if err != nil {
		return err
	}
	s.forgetFrameworkID(ctx, "framework torn down")
	if end != nil {
		end()
	}
	return nil
}

// call fills in the framework ID and sends call.
func (s *Scheduler) call(ctx context.Context, call *scheduler.Call) error {
	name := strings.ToLower(call.GetType().String())
	s.mu.Lock()
	id, connected := s.frameworkID, s.connected
	s.mu.Unlock()
	if !connected || id == "" {
		return fmt.Errorf("%s: %w", name, ErrNotConnected)
	}
	call.FrameworkID = &mesosproto.FrameworkID{Value: id}
	resp, err := s.caller.Call(ctx, call)
	if resp != nil {
		_ = resp.Close()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
