package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

type getOptions struct {
	labelSel, fieldSel, output string
	watch, watchEvents, tree   bool
}

func (a *app) getCmd() *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get runs|schedules|notifiers [NAME...] [-l SELECTOR] [--field-selector SELECTOR] [-o wide|yaml|json|name] [-w] [--tree]",
		Short: "List Runs, Schedules or Notifiers, or show some by name",
		Example: `  sprintctl get runs
  sprintctl get notifiers
  sprintctl get runs -l team=data --field-selector status.phase=Running -o wide
  sprintctl get runs hello -o yaml
  sprintctl get runs -w
  sprintctl get runs --tree
  sprintctl get schedules
  sprintctl get runs -l sprint/schedule=nightly-etl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			schedules := scheduleView.is(args[0])
			notifiers := false
			if !schedules {
				var err error
				if notifiers, err = resourceKind(args[0]); err != nil {
					return err
				}
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
			if schedules {
				return a.getSchedules(cmd.Context(), c, args[1:], o)
			}
			if notifiers {
				return a.getNotifiers(cmd.Context(), c, args[1:], o)
			}
			return a.get(cmd.Context(), c, args[1:], o)
		},
	}
	cmd.Flags().StringVarP(&o.labelSel, "selector", "l", "", "label selector, e.g. team=data,tier!=batch")
	cmd.Flags().StringVar(&o.fieldSel, "field-selector", "", "field selector on metadata.name or status.phase")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change as it happens")
	cmd.Flags().BoolVar(&o.watchEvents, "output-watch-events", false, "with --watch, show the event type (ADDED, MODIFIED, DELETED)")
	cmd.Flags().BoolVar(&o.tree, "tree", false, "print the listed Runs as dependency trees (spec.dependsOn), with their phases")
	return cmd
}

func (a *app) get(ctx context.Context, c *client.Client, names []string, o getOptions) error {
	if len(names) > 0 && (o.labelSel != "" || o.fieldSel != "") {
		return errors.New("give Run names or selectors, not both")
	}
	if o.tree && (o.watch || o.output != "") {
		return errors.New("--tree prints its own format: not with --watch or --output")
	}
	if o.watch && len(names) == 0 {
		return a.watchAll(ctx, c, o)
	}
	var runs []apis.Run
	failed := false
	if len(names) > 0 {
		runs, failed = getNamed(ctx, a, runView, names, c.Get)
	} else {
		list, err := listAll(ctx, c, client.ListOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel})
		if err != nil {
			return err
		}
		runs = list.Items
	}
	if !o.watch {
		// Named Runs that were not found were reported one by one; "No
		// runs found." is for an empty list only.
		if o.tree && (len(names) == 0 || len(runs) > 0) {
			printForest(a.stdout, runs)
		} else if len(names) == 0 || len(runs) > 0 {
			if err := printObjects(a, a.stdout, runView, runs, o.output, len(names) == 0); err != nil {
				return err
			}
		}
		return reported(failed)
	}
	return a.watchNamed(ctx, c, names, runs, o)
}

// listAll reads every page of a list.
func listAll(ctx context.Context, c *client.Client, opts client.ListOptions) (*apis.RunList, error) {
	return c.ListAll(ctx, opts, 500)
}

// watchAll prints the selected Runs, then one line (or object) per change
// until interrupted, as kubectl get -w does. One watch does both: its
// listing (up to Synced) is one consistent state, and the changes follow
// it without a gap or a repeat, also across the relists the client makes
// when the server cuts it off.
func (a *app) watchAll(ctx context.Context, c *client.Client, o getOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.Watch(ctx, client.WatchOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel, Synced: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	listed := map[string]*apis.Run{}
	for ev := range w.Events() {
		switch ev.Type {
		case client.Synced:
			runs := make([]apis.Run, 0, len(listed))
			for _, name := range slices.Sorted(maps.Keys(listed)) {
				runs = append(runs, *listed[name])
			}
			return a.printWatch(w, nil, runs, o)
		case apis.Deleted:
			delete(listed, ev.Run.Metadata.Name)
		default:
			listed[ev.Run.Metadata.Name] = ev.Run
		}
	}
	return w.Err()
}

// watchNamed prints the named Runs (read one by one), then their changes.
// The watch starts from the oldest version read, and a change no newer
// than the version printed for its Run is skipped: each Run's lines only
// go forward.
func (a *app) watchNamed(ctx context.Context, c *client.Client, names []string, runs []apis.Run, o getOptions) error {
	opts := client.WatchOptions{}
	if len(names) == 1 {
		opts.FieldSelector = "metadata.name=" + names[0]
	}
	for _, r := range runs {
		if opts.ResourceVersion == "" || maxVersion(opts.ResourceVersion, r.Metadata.ResourceVersion) == opts.ResourceVersion {
			opts.ResourceVersion = r.Metadata.ResourceVersion
		}
	}
	if opts.ResourceVersion == "" {
		opts.ResourceVersion = "0"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	return a.printWatch(w, names, runs, o)
}

// printWatch prints runs as the first rows, then the watch's events:
// those of names only, when names are given.
func (a *app) printWatch(w *client.Watcher, names []string, runs []apis.Run, o getOptions) error {
	tabular := o.output == "" || o.output == "wide"
	var t *table
	header, row := watchColumns(a, runView, o)
	show := func(typ apis.EventType, r *apis.Run) error {
		if !tabular {
			return showObject(a, runView, r, o.output)
		}
		if t == nil {
			// No rows to size the columns by: start from widths that
			// fit typical Runs, so later rows line up with the header.
			t = newTableMinWidths(a.stdout, header, watchMinWidths(header))
		}
		t.print(row(typ, r))
		return nil
	}
	shown := printed{}
	if tabular && len(runs) > 0 {
		rows := make([][]string, len(runs))
		for i := range runs {
			rows[i] = row(apis.Added, &runs[i])
			shown.print(apis.Added, &runs[i])
		}
		t = newTable(a.stdout, header, rows)
	} else {
		for i := range runs {
			shown.print(apis.Added, &runs[i])
			if err := show(apis.Added, &runs[i]); err != nil {
				return err
			}
		}
	}
	for ev := range w.Events() {
		if ev.Type == client.Synced {
			continue // a relist: its changes were the events before it
		}
		if len(names) > 1 && !slices.Contains(names, ev.Run.Metadata.Name) {
			continue
		}
		if !shown.print(ev.Type, ev.Run) {
			continue
		}
		if err := show(ev.Type, ev.Run); err != nil {
			return err
		}
	}
	return w.Err()
}

// printed remembers the version of each Run last printed, so that a watch
// started from an older version than some Runs were read at prints each
// Run's changes only going forward.
type printed map[string]struct {
	rv   string
	gone bool
}

// print reports whether an event is news, and records it if so. A
// deletion a relist noticed carries the Run's last known version: it is
// news while the Run is shown.
func (p printed) print(typ apis.EventType, r *apis.Run) bool {
	name, rv := r.Metadata.Name, r.Metadata.ResourceVersion
	last, ok := p[name]
	switch {
	case !ok:
	case typ == apis.Deleted:
		if last.gone || (rv != last.rv && maxVersion(rv, last.rv) == last.rv) {
			return false
		}
	case maxVersion(last.rv, rv) == last.rv:
		return false // printed already, or older than what was
	}
	p[name] = struct {
		rv   string
		gone bool
	}{rv, typ == apis.Deleted}
	return true
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
