package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

var (
	scheduleColumns     = []string{"NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST", "NEXT"}
	scheduleWideColumns = []string{"NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST", "NEXT", "TIMEZONE", "PARALLELISM", "POLICY", "MISSED", "AGE"}
)

// when describes what fires a Schedule, for the SCHEDULE column.
func when(s *apis.Schedule) string {
	switch {
	case s.Spec.Schedule != "":
		return s.Spec.Schedule
	case s.Spec.Interval != "":
		return "every " + s.Spec.Interval + " after the last batch"
	}
	parents := make([]string, len(s.Spec.DependsOn))
	for i, d := range s.Spec.DependsOn {
		parents[i] = d.Schedule
	}
	return "after " + strings.Join(parents, ",")
}

// until renders a future time as "in 3m", a past one as an age.
func (a *app) until(t *time.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	if d := t.Sub(a.now()); d > 0 {
		return "in " + age(d)
	}
	return a.since(t) + " ago"
}

func (a *app) scheduleRow(s *apis.Schedule, wide bool) []string {
	last := none
	if s.Status.LastScheduleTime != nil {
		last = a.since(s.Status.LastScheduleTime) + " ago"
	}
	next := a.until(s.Status.NextScheduleTime)
	if s.Spec.Suspend {
		next = none
	}
	row := []string{s.Metadata.Name, when(s), strconv.FormatBool(s.Spec.Suspend), strconv.Itoa(len(s.Status.Active)), last, next}
	if wide {
		row = append(row, orDefault(s.Spec.TimeZone, "UTC"), strconv.Itoa(int(s.Spec.Parallelism)), s.Spec.ConcurrencyPolicy,
			strconv.FormatInt(s.Status.MissedFirings, 10), a.since(s.Metadata.CreationTimestamp))
	}
	return row
}

// getSchedules serves "get schedules [NAME...]".
func (a *app) getSchedules(ctx context.Context, c *client.Client, names []string, o getOptions) error {
	if len(names) > 0 && (o.labelSel != "" || o.fieldSel != "") {
		return errors.New("give Schedule names or selectors, not both")
	}
	if o.tree {
		return errors.New("--tree shows Run dependencies: use it with get runs")
	}
	if o.watch {
		if len(names) > 1 {
			return errors.New("watch one Schedule by name, or all with a selector")
		}
		if len(names) == 1 {
			o.fieldSel = "metadata.name=" + names[0]
		}
		return a.watchSchedules(ctx, c, o)
	}
	return getObjects(ctx, a, scheduleView, names, o, c.GetSchedule, func(ctx context.Context, opts client.ListOptions) ([]apis.Schedule, string, error) {
		list, err := c.ListSchedules(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.Metadata.Continue, nil
	})
}

// watchSchedules prints the selected Schedules, then a row (or object)
// per change until interrupted.
func (a *app) watchSchedules(ctx context.Context, c *client.Client, o getOptions) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.WatchSchedules(ctx, client.WatchOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel, Synced: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	tabular := o.output == "" || o.output == "wide"
	header, row := watchColumns(a, scheduleView, o)
	var t *table
	listed := map[string]*apis.Schedule{}
	synced := false
	for ev := range w.Events() {
		if !synced {
			switch ev.Type {
			case client.Synced:
				synced = true
				names := slices.Sorted(maps.Keys(listed))
				if !tabular {
					for _, n := range names {
						if err := showObject(a, scheduleView, listed[n], o.output); err != nil {
							return err
						}
					}
					continue
				}
				rows := make([][]string, len(names))
				for i, n := range names {
					rows[i] = row(apis.Added, listed[n])
				}
				t = newTable(a.stdout, header, rows)
			case apis.Deleted:
				delete(listed, ev.Schedule.Metadata.Name)
			default:
				listed[ev.Schedule.Metadata.Name] = ev.Schedule
			}
			continue
		}
		if ev.Type == client.Synced {
			continue
		}
		if !tabular {
			if err := showObject(a, scheduleView, ev.Schedule, o.output); err != nil {
				return err
			}
			continue
		}
		t.print(row(ev.Type, ev.Schedule))
	}
	return w.Err()
}

// describeSchedule prints a Schedule's spec, status, events and Runs.
func (a *app) describeSchedule(ctx context.Context, c *client.Client, name string) error {
	s, err := c.GetSchedule(ctx, name)
	if err != nil {
		return fmt.Errorf("%s", scheduleView.notFoundLine(name, err))
	}
	events, err := c.ScheduleEvents(ctx, name)
	if err != nil {
		return err
	}
	runs, err := c.ListAll(ctx, client.ListOptions{LabelSelector: apis.LabelSchedule + "=" + name}, 500)
	if err != nil {
		return err
	}
	w := a.stdout
	top := a.describeMeta(w, &s.Metadata)
	top.line("Generation", strconv.FormatInt(s.Metadata.Generation, 10))
	fmt.Fprintln(w, "Spec:")
	sp := kv{w: w, indent: "  "}
	switch {
	case s.Spec.Schedule != "":
		sp.line("Schedule", s.Spec.Schedule)
		sp.line("Time Zone", orDefault(s.Spec.TimeZone, "UTC"))
	case s.Spec.Interval != "":
		sp.line("Interval", s.Spec.Interval+" after every Run of the last batch finished")
	default:
		sp.line("Depends On", when(s)[len("after "):])
	}
	sp.line("Parallelism", strconv.Itoa(int(s.Spec.Parallelism)))
	sp.line("Concurrency Policy", s.Spec.ConcurrencyPolicy)
	deadline := none
	if s.Spec.StartingDeadlineSeconds != nil {
		deadline = (time.Duration(*s.Spec.StartingDeadlineSeconds) * time.Second).String()
	}
	sp.line("Starting Deadline", deadline)
	sp.line("Suspend", strconv.FormatBool(s.Spec.Suspend))
	hist := func(p *int32) string {
		if p == nil {
			return none
		}
		return strconv.Itoa(int(*p))
	}
	sp.line("History Limits", hist(s.Spec.SuccessfulRunsHistoryLimit)+" succeeded, "+hist(s.Spec.FailedRunsHistoryLimit)+" failed")
	fmt.Fprintln(w, "  Run Template:")
	tmpl := &apis.Run{Metadata: apis.ObjectMeta{Labels: s.Spec.RunTemplate.Metadata.Labels}, Spec: s.Spec.RunTemplate.Spec}
	tk := kv{w: w, indent: "    "}
	tk.line("Labels", labelsOf(tmpl.Metadata.Labels))
	a.describeSpec(tk, &tmpl.Spec)
	fmt.Fprintln(w, "Status:")
	st := kv{w: w, indent: "  "}
	st.line("Last Schedule", a.stamp(s.Status.LastScheduleTime))
	st.line("Last Successful", a.stamp(s.Status.LastSuccessfulTime))
	next := none
	if t := s.Status.NextScheduleTime; t != nil && !s.Spec.Suspend {
		next = t.UTC().Format(time.RFC3339) + " (" + a.until(t) + ")"
	}
	st.line("Next Schedule", next)
	st.line("Active", orNone(strings.Join(s.Status.Active, ",")))
	st.line("Missed Firings", strconv.FormatInt(s.Status.MissedFirings, 10))
	st.line("Message", orNone(s.Status.Message))
	var owned []apis.Run
	for _, r := range runs.Items {
		if o := apis.ControllerOf(&r.Metadata); o != nil && o.UID == s.Metadata.UID {
			owned = append(owned, r)
		}
	}
	if len(owned) == 0 {
		fmt.Fprintln(w, "Runs:                 <none>")
	} else {
		fmt.Fprintln(w, "Runs:")
		rows := make([][]string, len(owned))
		for i := range owned {
			r := a.runRow(&owned[i], false)
			r[0] = "  " + r[0]
			rows[i] = r
		}
		newTable(w, append([]string{"  NAME"}, runColumns[1:]...), rows)
	}
	a.describeEvents(w, events)
	return nil
}

// deleteSchedules serves "delete schedule NAME... [--cascade=orphan]".
func (a *app) deleteSchedules(ctx context.Context, c *client.Client, names []string, cascade string) error {
	orphan, err := parseCascade(cascade)
	if err != nil {
		return err
	}
	return reported(a.deleteScheduleNames(ctx, c, names, orphan))
}

// deleteScheduleNames deletes Schedules by name, and their Runs unless
// orphan, reporting each.
func (a *app) deleteScheduleNames(ctx context.Context, c *client.Client, names []string, orphan bool) (failed bool) {
	return eachNamed(a, scheduleView, names, "deleted", func(name string) error {
		return errOnly(c.DeleteSchedule(ctx, name, client.ScheduleDeleteOptions{Orphan: orphan}))
	})
}

// parseCascade reads kubectl's --cascade: background (default) and
// foreground delete a Schedule's Runs, orphan keeps them.
func parseCascade(v string) (orphan bool, err error) {
	switch strings.ToLower(v) {
	case "", "background", "foreground", "true":
		return false, nil
	case "orphan", "false":
		return true, nil
	}
	return false, fmt.Errorf("--cascade=%s: want background, foreground or orphan", v)
}

// suspendCmd is "suspend schedule NAME..." (suspend=true) or "resume
// schedule NAME..." (suspend=false).
func (a *app) suspendCmd(suspend bool) *cobra.Command {
	verb, done, short := "suspend", "suspended", "Stop Schedules from firing (their live Runs go on)"
	if !suspend {
		verb, done, short = "resume", "resumed", "Let suspended Schedules fire again"
	}
	return &cobra.Command{
		Use:     verb + " schedule NAME...",
		Short:   short,
		Example: "  sprintctl " + verb + " schedule nightly-etl",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !scheduleView.is(args[0]) {
				return fmt.Errorf("unknown resource type %q: %s takes schedules", args[0], verb)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return reported(eachNamed(a, scheduleView, args[1:], done, func(name string) error {
				return errOnly(c.SuspendSchedule(cmd.Context(), name, suspend))
			}))
		},
	}
}

// createCmd is "create run --from schedule/NAME": fire now, outside the
// schedule (kubectl create job --from=cronjob/NAME).
func (a *app) createCmd() *cobra.Command {
	var from, output string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "create run --from schedule/NAME [--dry-run] [-o name|yaml|json]",
		Short: "Fire a Schedule now, outside its schedule",
		Long: `Create run --from schedule/NAME creates the Schedule's spec.parallelism Runs
from its template at once (named NAME-m<id>-<i>, the id being the time in
base 36 and 4 random characters, labelled sprint/schedule=NAME and owned by
the Schedule), whether or not it is suspended. The Schedule's
lastScheduleTime does not change, and its concurrencyPolicy does not count
these Runs (as CronJob does not count kubectl create job --from).`,
		Example: "  sprintctl create run --from schedule/nightly-etl",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runsResource(args[0]); err != nil {
				return err
			}
			kind, name, ok := strings.Cut(from, "/")
			if !ok || !scheduleView.is(kind) || name == "" {
				return fmt.Errorf("--from=%q: want schedule/NAME", from)
			}
			switch output {
			case "", "name", "yaml", "json":
			default:
				return fmt.Errorf("unknown output format %q: want name, yaml or json", output)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			runs, err := c.FireSchedule(cmd.Context(), name, dryRun)
			if err != nil {
				return fmt.Errorf("%s", scheduleView.notFoundLine(name, err))
			}
			if output == "yaml" || output == "json" {
				return writeObject(a.stdout, runs, output)
			}
			suffix := " created"
			if dryRun {
				suffix = " created (dry run)"
			}
			if output == "name" {
				suffix = ""
			}
			for _, r := range runs.Items {
				fmt.Fprintln(a.stdout, runView.objectName(r.Metadata.Name)+suffix)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the Schedule to fire: schedule/NAME (required)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the Runs without creating them")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: name, yaml or json")
	_ = cmd.MarkFlagRequired("from")
	return cmd
}
