package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sprint-project/sprint/apis"
)

// ErrConditionUnreachable is returned by Wait when the Run reached a state
// from which the condition can never hold (e.g. it failed while waiting for
// Succeeded), or was deleted.
var ErrConditionUnreachable = errors.New("condition can no longer be met")

// Condition decides from a Run's state whether a wait is over: done, or an
// error wrapping ErrConditionUnreachable when it never will be.
type Condition func(*apis.Run) (done bool, err error)

// PhaseIs is met when the Run's phase is p, and unreachable when the Run
// ends in another terminal phase.
func PhaseIs(p apis.RunPhase) Condition {
	return func(r *apis.Run) (bool, error) {
		switch {
		case r.Status.Phase == p:
			return true, nil
		case r.Status.Phase.Terminal():
			msg := string(r.Status.Phase)
			if r.Status.Reason != "" {
				msg += " (" + r.Status.Reason + ")"
			}
			//lint:ignore ST1005 "Run" is the kind's name, capitalised as in the API's own messages.
			return false, fmt.Errorf("Run %q is %s, not %s: %w", r.Metadata.Name, msg, p, ErrConditionUnreachable)
		}
		return false, nil
	}
}

// Wait watches one Run until cond is met and returns it as it was then.
// Bound it with the context's deadline.
func (c *Client) Wait(ctx context.Context, name string, cond Condition) (*apis.Run, error) {
	var met *apis.Run
	first := true
	err := c.watchOne(ctx, name, func(r *apis.Run) (bool, error) {
		if r == nil && first {
			return false, notFound(name)
		}
		first = false
		if r == nil {
			//lint:ignore ST1005 "Run" is the kind's name, capitalised as in the API's own messages.
			return false, fmt.Errorf("Run %q was deleted: %w", name, ErrConditionUnreachable)
		}
		done, err := cond(r)
		if done {
			met = r
		}
		return done, err
	})
	return met, err
}

// WaitDeleted returns once the Run no longer exists.
func (c *Client) WaitDeleted(ctx context.Context, name string) error {
	return c.watchOne(ctx, name, func(r *apis.Run) (bool, error) { return r == nil, nil })
}

// notFound is the Status the server gives for a missing Run.
func notFound(name string) *apis.Status {
	return apis.NewStatus(http.StatusNotFound, apis.ReasonNotFound, fmt.Sprintf("Run %q not found", name))
}

// watchOne feeds fn the Run's current state and every change (nil once it
// is gone) until fn is done or fails. One watch does it: its listing
// (ended by Synced) is the current state.
func (c *Client) watchOne(ctx context.Context, name string, fn func(*apis.Run) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.Watch(ctx, WatchOptions{FieldSelector: "metadata.name=" + name, Synced: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	var current *apis.Run
	synced := false
	for ev := range w.Events() {
		r := ev.Run
		switch {
		case ev.Type == Synced:
			if synced {
				continue // a relist: its events said what changed
			}
			synced = true
			r = current
		case ev.Type == apis.Deleted:
			r = nil
		}
		if !synced {
			current = r
			continue
		}
		if done, err := fn(r); done || err != nil {
			return err
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wait for Run %q: %w", name, context.Cause(ctx))
	}
	return fmt.Errorf("wait for Run %q: watch ended", name)
}
