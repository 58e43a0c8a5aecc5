package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

type getOptions struct {
	labelSel, fieldSel, output string
	watch, watchEvents         bool
}

func (a *app) getCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get runs [NAME...] [-l SELECTOR] [--field-selector SELECTOR] [-o wide|yaml|json|name] [-w]",
		Short: "List Runs, or show some by name",
		Example: `  sprintctl get runs
  sprintctl get runs -l team=data --field-selector status.phase=Running -o wide
  sprintctl get runs hello -o yaml
  sprintctl get runs -w`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runsResource(args[0]); err != nil {
				return err
			}
			switch o.output {
			case "", "wide", "yaml", "json", "name":
			default:
				return fmt.Errorf("unknown output format %q: want wide, yaml, json or name", o.output)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.get(cmd.Context(), c, args[1:], o)
		},
	}
	cmd.Flags().StringVarP(&o.labelSel, "selector", "l", "", "label selector, e.g. team=data,tier!=batch")
	cmd.Flags().StringVar(&o.fieldSel, "field-selector", "", "field selector on metadata.name or status.phase")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change as it happens")
	cmd.Flags().BoolVar(&o.watchEvents, "output-watch-events", false, "with --watch, show the event type (ADDED, MODIFIED, DELETED)")
	return cmd
}

func (a *app) get(ctx context.Context, c *client.Client, names []string, o getOptions) error {
	var runs []apis.Run
	rv := ""
	failed := false
	if len(names) > 0 {
		if o.labelSel != "" || o.fieldSel != "" {
			return errors.New("give Run names or selectors, not both")
		}
		for _, name := range names {
			r, err := c.Get(ctx, name)
			if err != nil {
				failed = true
				fmt.Fprintln(a.stderr, "error: "+notFoundLine(name, err))
				continue
			}
			runs = append(runs, *r)
		}
	} else {
		list, err := listAll(ctx, c, client.ListOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel})
		if err != nil {
			return err
		}
		runs, rv = list.Items, list.Metadata.ResourceVersion
	}
	if !o.watch {
		// Named Runs that were not found were reported one by one; "No
		// runs found." is for an empty list only.
		if len(names) == 0 || len(runs) > 0 {
			if err := a.printRuns(a.stdout, runs, o.output, len(names) == 0); err != nil {
				return err
			}
		}
		if failed {
			return errAlreadyReported
		}
		return nil
	}
	return a.watch(ctx, c, names, runs, rv, o)
}

// notFoundLine names the Run in a 404, whose message comes from the store.
func notFoundLine(name string, err error) string {
	if client.IsNotFound(err) {
		return fmt.Sprintf("Run %q not found", name)
	}
	return errorLine(err)
}

// listAll reads every page of a list.
func listAll(ctx context.Context, c *client.Client, opts client.ListOptions) (*apis.RunList, error) {
	return c.ListAll(ctx, opts, 500)
}

// watch prints the current Runs, then one line (or object) per change
// until interrupted, as kubectl get -w does.
func (a *app) watch(ctx context.Context, c *client.Client, names []string, runs []apis.Run, rv string, o getOptions) error {
	wide := o.output == "wide"
	tabular := o.output == "" || wide
	var t *table
	header := runColumns
	if wide {
		header = runWideColumns
	}
	if o.watchEvents {
		header = append([]string{"EVENT"}, header...)
	}
	row := func(typ apis.EventType, r *apis.Run) []string {
		cells := a.runRow(r, wide)
		if o.watchEvents {
			cells = append([]string{string(typ)}, cells...)
		}
		return cells
	}
	show := func(typ apis.EventType, r *apis.Run) error {
		if !tabular {
			if o.output == "name" {
				_, err := fmt.Fprintln(a.stdout, objectName(r.Metadata.Name))
				return err
			}
			return writeObject(a.stdout, r, o.output)
		}
		if t == nil {
			// No rows to size the columns by: start from widths that
			// fit typical Runs, so later rows line up with the header.
			t = newTableMinWidths(a.stdout, header, watchMinWidths(header))
		}
		t.print(row(typ, r))
		return nil
	}
	if tabular && len(runs) > 0 {
		rows := make([][]string, len(runs))
		for i := range runs {
			rows[i] = row(apis.Added, &runs[i])
		}
		t = newTable(a.stdout, header, rows)
	} else {
		for i := range runs {
			if err := show(apis.Added, &runs[i]); err != nil {
				return err
			}
		}
	}

	opts := client.WatchOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel, ResourceVersion: rv}
	if len(names) == 1 {
		opts.FieldSelector = "metadata.name=" + names[0]
	}
	if opts.ResourceVersion == "" {
		// Named gets read each Run; watch from the newest of them.
		for _, r := range runs {
			opts.ResourceVersion = maxVersion(opts.ResourceVersion, r.Metadata.ResourceVersion)
		}
		if opts.ResourceVersion == "" {
			opts.ResourceVersion = "0"
		}
	}
	w, err := c.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.Events() {
		if len(names) > 1 && !slices.Contains(names, ev.Run.Metadata.Name) {
			continue
		}
		if err := show(ev.Type, ev.Run); err != nil {
			return err
		}
	}
	if err := w.Err(); err != nil {
		return err
	}
	return nil
}

// maxVersion compares decimal resourceVersions.
func maxVersion(a, b string) string {
	if len(a) != len(b) {
		if len(a) > len(b) {
			return a
		}
		return b
	}
	return max(a, b)
}

// watchMinWidths are column widths for a watch that starts empty.
func watchMinWidths(header []string) []int {
	minimum := map[string]int{
		"EVENT": len("MODIFIED"), "NAME": 24, "PHASE": len("Terminating"), "AGE": 5, "HOST": 16, "EXIT": len(none),
		"REASON": len("BackoffLimitExceeded"), "ATTEMPTS": len("ATTEMPTS"), "TASK": 32,
	}
	w := make([]int, len(header))
	for i, h := range header {
		w[i] = max(minimum[h], len(h))
	}
	return w
}
