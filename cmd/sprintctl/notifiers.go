package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// resourceKind checks the resource word of the commands that serve Runs
// and Notifiers (get, describe, delete): notifiers reports the latter.
func resourceKind(word string) (notifiers bool, err error) {
	if notifierView.is(word) {
		return true, nil
	}
	if runsResource(word) != nil {
		return false, fmt.Errorf("unknown resource type %q: sprintctl knows runs, schedules and notifiers", word)
	}
	return false, nil
}

var notifierColumns = []string{"NAME", "TARGET", "ON", "DELIVERED", "FAILED", "PENDING", "LAST ERROR"}

// target is a Notifier's target as one cell: the webhook's format and
// host, or the email recipients.
func target(n *apis.Notifier) string {
	switch {
	case n.Spec.Webhook != nil:
		host := n.Spec.Webhook.URL
		if i := strings.Index(host, "://"); i >= 0 {
			host = host[i+3:]
		}
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		return "webhook/" + orDefault(n.Spec.Webhook.Format, apis.FormatJSON) + " " + host
	case n.Spec.Email != nil:
		return "email " + strings.Join(n.Spec.Email.To, ",")
	}
	return none
}

func (a *app) notifierRow(n *apis.Notifier) []string {
	last := none
	if n.Status.LastError != "" {
		last = n.Status.LastError
		if len(last) > 60 {
			last = last[:57] + "..."
		}
		if n.Status.LastErrorTime != nil {
			last = a.since(n.Status.LastErrorTime) + " ago: " + last
		}
	}
	return []string{n.Metadata.Name, target(n), strings.Join(n.Spec.On, ","),
		strconv.FormatInt(n.Status.Delivered, 10), strconv.FormatInt(n.Status.Failed, 10), strconv.FormatInt(n.Status.Pending, 10), last}
}

// getNotifiers is `sprintctl get notifiers [NAME...]`.
func (a *app) getNotifiers(ctx context.Context, c *client.Client, names []string, o getOptions) error {
	if o.watch || o.tree {
		return errors.New("--watch and --tree are not supported for notifiers")
	}
	if o.fieldSel != "" {
		return errors.New("--field-selector is not supported for notifiers")
	}
	if len(names) > 0 && o.labelSel != "" {
		return errors.New("give Notifier names or a selector, not both")
	}
	return getObjects(ctx, a, notifierView, names, o, c.GetNotifier, func(ctx context.Context, opts client.ListOptions) ([]apis.Notifier, string, error) {
		list, err := c.ListNotifiers(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		return list.Items, list.Metadata.Continue, nil
	})
}

// describeNotifier is `sprintctl describe notifier NAME`.
func (a *app) describeNotifier(w io.Writer, n *apis.Notifier) {
	a.describeMeta(w, &n.Metadata)
	fmt.Fprintln(w, "Spec:")
	spec := kv{w: w, indent: "  "}
	spec.line("Selector", orDefault(n.Spec.Selector, "<everything>"))
	spec.line("On", strings.Join(n.Spec.On, ", "))
	if wh := n.Spec.Webhook; wh != nil {
		spec.line("Webhook", wh.URL)
		spec.line("Format", orDefault(wh.Format, apis.FormatJSON))
		spec.line("Secret File", orDefault(wh.SecretFile, "<none: unsigned>"))
		for _, k := range slices.Sorted(maps.Keys(wh.Headers)) {
			spec.line("Header", k+": "+wh.Headers[k])
		}
	}
	if e := n.Spec.Email; e != nil {
		spec.line("SMTP", e.SMTP)
		spec.line("StartTLS", strconv.FormatBool(e.StartTLS))
		spec.line("From", e.From)
		spec.line("To", strings.Join(e.To, ", "))
		if e.UsernameFile != "" {
			spec.line("Username File", e.UsernameFile)
			spec.line("Password File", e.PasswordFile)
		}
	}
	fmt.Fprintln(w, "Status:")
	st := kv{w: w, indent: "  "}
	st.line("Delivered", strconv.FormatInt(n.Status.Delivered, 10))
	st.line("Failed", strconv.FormatInt(n.Status.Failed, 10))
	st.line("Pending", strconv.FormatInt(n.Status.Pending, 10))
	st.line("Last Error", orNone(n.Status.LastError))
	st.line("Last Error Time", a.stamp(n.Status.LastErrorTime))
}

// deleteNotifiers deletes Notifiers by name, reporting each.
func (a *app) deleteNotifiers(ctx context.Context, c *client.Client, names []string) (failed bool) {
	return eachNamed(a, notifierView, names, "deleted", func(name string) error {
		return errOnly(c.DeleteNotifier(ctx, name, ""))
	})
}
