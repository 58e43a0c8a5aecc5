package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

func (a *app) waitCmd() *cobra.Command {
	var forCond string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait run NAME --for=phase=PHASE|delete [--timeout 5m]",
		Short: "Wait until a Run reaches a phase, or is deleted",
		Long: `Wait blocks until the Run meets the condition and exits 0. It exits 1 when
the timeout passes, or at once when the Run ends in another phase than the
one waited for.`,
		Example: `  sprintctl wait run hello --for=phase=Succeeded --timeout 2m
  sprintctl wait run hello --for=delete`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runsResource(args[0]); err != nil {
				return err
			}
			name := args[1]
			cond, err := parseCondition(forCond)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return a.wait(ctx, c, name, forCond, cond, timeout)
		},
	}
	cmd.Flags().StringVar(&forCond, "for", "", "condition: phase=Succeeded (any phase), or delete")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long (0: wait forever)")
	return cmd
}

// parseCondition reads --for; nil means "deleted".
func parseCondition(s string) (client.Condition, error) {
	if s == "delete" {
		return nil, nil
	}
	key, value, ok := strings.Cut(s, "=")
	if !ok || !strings.EqualFold(key, "phase") || value == "" {
		return nil, fmt.Errorf("--for=%q: want phase=PHASE (e.g. phase=Succeeded) or delete", s)
	}
	for _, p := range []apis.RunPhase{apis.PhasePending, apis.PhaseStarting, apis.PhaseRunning, apis.PhaseSucceeded, apis.PhaseFailed, apis.PhaseKilled} {
		if strings.EqualFold(string(p), value) {
			return client.PhaseIs(p), nil
		}
	}
	return nil, fmt.Errorf("--for=%q: unknown phase %q (Pending, Starting, Running, Succeeded, Failed, Killed)", s, value)
}

func (a *app) wait(ctx context.Context, c *client.Client, name, forCond string, cond client.Condition, timeout time.Duration) error {
	var err error
	if cond == nil {
		err = c.WaitDeleted(ctx, name)
	} else {
		_, err = c.Wait(ctx, name, cond)
	}
	switch {
	case err == nil:
		fmt.Fprintf(a.stdout, "%s condition met\n", runView.objectName(name))
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timed out after %s waiting for %s on %s", timeout, forCond, runView.objectName(name))
	case client.IsNotFound(err):
		//lint:ignore ST1005 "Run" is the kind's name, capitalised as in the API's own messages.
		return fmt.Errorf("Run %q not found", name)
	}
	return err
}
