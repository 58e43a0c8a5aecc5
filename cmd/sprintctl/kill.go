package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) killCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kill run NAME...",
		Short: "Kill Runs' tasks and keep their records (sets spec.cancel)",
		Long: `Kill sets spec.cancel: the controller kills the task and the Run ends in
phase Killed (reason Cancelled). Unlike delete, the record stays until it is
garbage-collected.`,
		Example: "  sprintctl kill run nightly-etl",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runsResource(args[0]); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			failed := false
			for _, name := range args[1:] {
				run, err := c.Kill(cmd.Context(), name)
				if err != nil {
					failed = true
					fmt.Fprintln(a.stderr, "error: "+runView.notFoundLine(name, err))
					continue
				}
				if run.Status.Phase.Terminal() {
					// Kill leaves finished Runs alone: nothing ran to kill.
					fmt.Fprintf(a.stdout, "%s already %s; nothing to kill\n", runView.objectName(name), run.Status.Phase)
					continue
				}
				fmt.Fprintf(a.stdout, "%s killed\n", runView.objectName(name))
			}
			return reported(failed)
		},
	}
}
