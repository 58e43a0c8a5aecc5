package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/client"
)

func (a *app) deleteCmd() *cobra.Command {
	var files []string
	var recursive, wait, all bool
	var selector, cascade string
	cmd := &cobra.Command{
		Use:   "delete run NAME... | delete schedule NAME... [--cascade=orphan] | delete notifier NAME... | -f FILE | -l SELECTOR [--wait]",
		Short: "Delete Runs (killing their tasks first), Schedules (with their Runs) or Notifiers",
		Long: `Delete removes Runs. A Run whose task may be running is killed first and
disappears once Mesos reports the task ended; --wait returns only then.

Deleting a Schedule deletes the Runs it fired too (killing live ones), unless
--cascade=orphan: then they stay, without the owner reference.`,
		Example: `  sprintctl delete run hello
  sprintctl delete -f manifests/examples/hello.yaml
  sprintctl delete run -l team=data --wait
  sprintctl delete schedule nightly-etl --cascade=orphan`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var names, schedules, notifierNames []string
			if len(args) > 0 && notifierView.is(args[0]) {
				if len(files) > 0 || selector != "" || all || len(args) < 2 {
					return errors.New("delete notifier takes Notifier names only")
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				return reported(a.deleteNotifiers(cmd.Context(), c, args[1:]))
			}
			if len(args) > 0 && scheduleView.is(args[0]) {
				if len(args) < 2 || len(files) > 0 || selector != "" || all {
					return errors.New("delete schedule takes Schedule names")
				}
				c, err := a.client()
				if err != nil {
					return err
				}
				return a.deleteSchedules(cmd.Context(), c, args[1:], cascade)
			}
			orphan, err := parseCascade(cascade)
			if err != nil {
				return err
			}
			if len(args) > 0 {
				if _, err := resourceKind(args[0]); err != nil {
					return err
				}
				names = args[1:]
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sources := 0
			for _, set := range []bool{len(names) > 0, len(files) > 0, selector != "" || all} {
				if set {
					sources++
				}
			}
			if sources != 1 {
				return errors.New("give exactly one of: Run names, -f FILE, -l SELECTOR (or --all)")
			}
			if len(files) > 0 {
				srcs, err := readManifests(files, recursive, a.stdin)
				if err != nil {
					return err
				}
				for _, s := range srcs {
					for _, r := range s.runs {
						names = append(names, r.Metadata.Name)
					}
					for _, sc := range s.schedules {
						schedules = append(schedules, sc.Metadata.Name)
					}
					for _, n := range s.notifiers {
						notifierNames = append(notifierNames, n.Metadata.Name)
					}
				}
			}
			if selector != "" || all {
				list, err := listAll(ctx, c, client.ListOptions{LabelSelector: selector})
				if err != nil {
					return err
				}
				for _, r := range list.Items {
					names = append(names, r.Metadata.Name)
				}
				if len(names) == 0 {
					fmt.Fprintln(a.stderr, "No runs found.")
					return nil
				}
			}
			return reported(
				a.deleteNotifiers(ctx, c, notifierNames),
				a.deleteScheduleNames(ctx, c, schedules, orphan),
				eachNamed(a, runView, names, "deleted", func(name string) error {
					return errOnly(c.Delete(ctx, name, client.DeleteOptions{Wait: wait}))
				}),
			)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "delete the Runs named in these manifests")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "read directories recursively")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "delete the Runs matching this label selector")
	cmd.Flags().BoolVar(&all, "all", false, "delete every Run")
	cmd.Flags().BoolVar(&wait, "wait", false, "return once the Runs are gone (their tasks killed)")
	cmd.Flags().StringVar(&cascade, "cascade", "background", "for Schedules: background (delete their Runs) or orphan (keep them)")
	return cmd
}
