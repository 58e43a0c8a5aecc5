package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
)

func (a *app) describeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "describe run|schedule|notifier NAME",
		Short:   "Show a Run's or a Schedule's spec, status and recent events, or a Notifier's spec and delivery counts",
		Example: "  sprintctl describe run hello\n  sprintctl describe schedule nightly-etl\n  sprintctl describe notifier etl-failures",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if scheduleView.is(args[0]) {
				c, err := a.client()
				if err != nil {
					return err
				}
				return a.describeSchedule(cmd.Context(), c, args[1])
			}
			notifier, err := resourceKind(args[0])
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			name := args[1]
			if notifier {
				n, err := c.GetNotifier(cmd.Context(), name)
				if err != nil {
					return fmt.Errorf("%s", notifierView.notFoundLine(name, err))
				}
				a.describeNotifier(a.stdout, n)
				return nil
			}
			run, err := c.Get(cmd.Context(), name)
			if err != nil {
				return fmt.Errorf("%s", runView.notFoundLine(name, err))
			}
			events, err := c.Events(cmd.Context(), name)
			if err != nil {
				return err
			}
			deps, err := c.Dependents(cmd.Context(), name)
			if err != nil {
				return err
			}
			a.describe(a.stdout, run, events, deps)
			return nil
		},
	}
}

// kv writes "Key:  value" lines with values aligned at one column.
type kv struct {
	w      io.Writer
	indent string
}

func (k kv) line(key, value string) {
	fmt.Fprintf(k.w, "%s%-*s%s\n", k.indent, 22-len(k.indent), key+":", value)
}

func (a *app) stamp(t *time.Time) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339) + " (" + a.since(t) + " ago)"
}

// describeMeta writes the metadata lines a describe of every kind starts
// with (only a Run is ever deleted gradually), and returns their writer.
func (a *app) describeMeta(w io.Writer, m *apis.ObjectMeta) kv {
	top := kv{w: w}
	top.line("Name", m.Name)
	top.line("Labels", labelsOf(m.Labels))
	top.line("Annotations", labelsOf(m.Annotations))
	top.line("Created", a.stamp(m.CreationTimestamp))
	if m.DeletionTimestamp != nil {
		top.line("Deleting since", a.stamp(m.DeletionTimestamp))
	}
	top.line("UID", orNone(m.UID))
	top.line("Resource Version", orNone(m.ResourceVersion))
	return top
}

// describe prints a Run; deps is its dependents tree (nil: unknown).
func (a *app) describe(w io.Writer, r *apis.Run, events []apis.RunEvent, deps *apis.RunDependents) {
	top := a.describeMeta(w, &r.Metadata)
	top.line("Generation", strconv.FormatInt(r.Metadata.Generation, 10))
	if o := apis.ControllerOf(&r.Metadata); o != nil {
		top.line("Controlled By", o.Kind+"/"+o.Name)
	}

	fmt.Fprintln(w, "Spec:")
	a.describeSpec(kv{w: w, indent: "  "}, &r.Spec)
	a.describeStatus(w, r, deps)
	a.describeEvents(w, events)
}

// describeSpec writes a Run spec's lines (a Run's, or a Schedule's
// template).
func (a *app) describeSpec(spec kv, s *apis.RunSpec) {
	switch {
	case s.Command != "":
		spec.line("Command", s.Command)
	case len(s.Args) > 0:
		spec.line("Args", strings.Join(s.Args, " "))
	default:
		spec.line("Command", "<image entrypoint>")
	}
	res := fmt.Sprintf("cpus=%g mem=%gMiB", s.Cpus, s.Mem)
	if s.Disk > 0 {
		res += fmt.Sprintf(" disk=%gMiB", s.Disk)
	}
	if s.Gpus > 0 {
		res += fmt.Sprintf(" gpus=%d", s.Gpus)
	}
	spec.line("Resources", res)
	if s.User != "" {
		spec.line("User", s.User)
	}
	if len(s.Env) > 0 {
		spec.line("Env", labelsOf(s.Env))
	}
	if ct := s.Container; ct != nil {
		desc := ct.Type
		if ct.Docker != nil {
			desc += " " + ct.Docker.Image
		}
		if ct.Network != "" {
			desc += " (network " + ct.Network + ")"
		}
		spec.line("Container", desc)
		for _, pm := range ct.PortMappings {
			spec.line("  Port", fmt.Sprintf("%d -> host %d/%s %s", pm.ContainerPort, pm.HostPort, orDefault(pm.Protocol, "tcp"), pm.Name))
		}
		for _, v := range ct.Volumes {
			spec.line("  Volume", fmt.Sprintf("%s -> %s (%s)", v.HostPath, v.ContainerPath, orDefault(v.Mode, "RW")))
		}
	}
	for _, u := range s.URIs {
		spec.line("URI", u.Value)
	}
	for _, c := range s.Constraints {
		spec.line("Constraint", strings.Join(c, " "))
	}
	if s.ActiveDeadlineSeconds > 0 {
		spec.line("Active Deadline", (time.Duration(s.ActiveDeadlineSeconds) * time.Second).String())
	}
	spec.line("Backoff Limit", strconv.Itoa(int(s.BackoffLimit)))
	if s.TTLSecondsAfterFinished != nil {
		spec.line("TTL After Finished", (time.Duration(*s.TTLSecondsAfterFinished) * time.Second).String())
	}
	if s.Cancel {
		spec.line("Cancel", "true")
	}
	if len(s.DependsOn) > 0 {
		spec.line("Depends On", dependsOnLine(s.DependsOn))
	}
}

// describeStatus writes a Run's status; deps is its dependents tree
// (nil: unknown).
func (a *app) describeStatus(w io.Writer, r *apis.Run, deps *apis.RunDependents) {
	fmt.Fprintln(w, "Status:")
	st := kv{w: w, indent: "  "}
	status := r.Status
	st.line("Phase", phaseOf(r))
	st.line("Reason", orNone(status.Reason))
	st.line("Message", orNone(status.Message))
	st.line("Attempts", strconv.Itoa(int(status.Attempts)))
	st.line("Task ID", orNone(status.TaskID))
	st.line("Agent ID", orNone(status.AgentID))
	st.line("Host", orNone(status.Hostname))
	if len(status.Ports) > 0 {
		ports := make([]string, len(status.Ports))
		for i, p := range status.Ports {
			ports[i] = strconv.Itoa(int(p))
		}
		st.line("Ports", strings.Join(ports, ","))
	}
	st.line("Exit Code", exitOf(r))
	st.line("Mesos State", orNone(status.MesosState))
	st.line("Started", a.stamp(status.StartTime))
	st.line("Completed", a.stamp(status.CompletionTime))
	if status.Reason == apis.ReasonWaitingForDependencies {
		st.line("Waiting for", strings.TrimPrefix(status.Message, "waiting for "))
	}
	if deps != nil {
		if b := blocked(&deps.DependentNode); len(b) > 0 {
			st.line("Blocked", strings.Join(b, ", ")+" (waiting for this Run)")
		}
		if n := len(deps.Dependents); n > 0 {
			st.line("Dependents", fmt.Sprintf("%d direct (sprintctl tree run %s)", n, r.Metadata.Name))
		}
	}
}

// describeEvents writes an object's event history.
func (a *app) describeEvents(w io.Writer, events []apis.RunEvent) {
	if len(events) == 0 {
		fmt.Fprintln(w, "Events:               <none>")
		return
	}
	fmt.Fprintln(w, "Events:")
	rows := make([][]string, len(events))
	for i, ev := range events {
		when := a.since(&events[i].Time)
		if ev.Count > 1 {
			when += fmt.Sprintf(" (x%d)", ev.Count)
		}
		rows[i] = []string{"  " + ev.Type, ev.Reason, when, ev.Message}
	}
	newTable(w, []string{"  TYPE", "REASON", "AGE", "MESSAGE"}, rows)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
