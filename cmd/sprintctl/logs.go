package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/client"
)

func (a *app) logsCmd() *cobra.Command {
	var o client.LogOptions
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--stderr] [--tail N]",
		Short: "Print a Run's task output",
		Example: `  sprintctl logs hello
  sprintctl logs -f --stderr nightly-etl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Tail < 0 {
				return errors.New("--tail must not be negative")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.Logs(cmd.Context(), args[0], o, a.stdout); err != nil {
				if client.IsNotFound(err) {
					return fmt.Errorf("%s", errorLine(err))
				}
				return err
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing output until the task ends")
	cmd.Flags().BoolVar(&o.Stderr, "stderr", false, "print stderr instead of stdout")
	cmd.Flags().IntVar(&o.Tail, "tail", 0, "start this many lines before the end (0: everything)")
	return cmd
}
