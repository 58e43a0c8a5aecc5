package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// kindView describes one kind (Run, Schedule, Notifier) to the output
// and the per-name loops of get, delete, apply and suspend, written once
// in this file. A new kind is a descriptor, not a copy of them.
type kindView[T any] struct {
	// plural is the kind in "No schedules found.".
	plural string
	// objectName is how kubectl names an object in messages
	// ("schedule.sprint/NAME").
	objectName func(name string) string
	// notFoundLine is the one line of an error about the named object:
	// a 404 names it.
	notFoundLine func(name string, err error) string
	meta         func(*T) *apis.ObjectMeta
	// columns and wideColumns head the table rows, of -o wide when wide.
	columns, wideColumns []string
	row                  func(a *app, obj *T, wide bool) []string
	// list wraps items as the kind's list object, for -o json and yaml.
	list func(items []T) any
}

// The descriptors of the three kinds. They are never written.
var (
	runView = kindView[apis.Run]{
		plural:       "runs",
		objectName:   objectName,
		notFoundLine: notFoundLine,
		meta:         func(r *apis.Run) *apis.ObjectMeta { return &r.Metadata },
		columns:      runColumns,
		wideColumns:  runWideColumns,
		row:          (*app).runRow,
		list: func(items []apis.Run) any {
			return apis.RunList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunList}, Items: items}
		},
	}
	scheduleView = kindView[apis.Schedule]{
		plural:       "schedules",
		objectName:   scheduleName,
		notFoundLine: scheduleNotFoundLine,
		meta:         func(s *apis.Schedule) *apis.ObjectMeta { return &s.Metadata },
		columns:      scheduleColumns,
		wideColumns:  scheduleWideColumns,
		row:          (*app).scheduleRow,
		list: func(items []apis.Schedule) any {
			return apis.ScheduleList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindScheduleList}, Items: items}
		},
	}
	notifierView = kindView[apis.Notifier]{
		plural:       "notifiers",
		objectName:   notifierObjectName,
		notFoundLine: notifierNotFoundLine,
		meta:         func(n *apis.Notifier) *apis.ObjectMeta { return &n.Metadata },
		columns:      notifierColumns,
		wideColumns:  notifierColumns,
		row:          func(a *app, n *apis.Notifier, _ bool) []string { return a.notifierRow(n) },
		list: func(items []apis.Notifier) any {
			return apis.NotifierList{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindNotifierList}, Items: items}
		},
	}
)

// printObjects writes objects of kind k in one of the -o formats: a list
// object for json and yaml when asList or when there is not exactly one.
func printObjects[T any](a *app, w io.Writer, k kindView[T], items []T, output string, asList bool) error {
	switch output {
	case "", "wide":
		if len(items) == 0 {
			fmt.Fprintf(a.stderr, "No %s found.\n", k.plural)
			return nil
		}
		wide := output == "wide"
		header := k.columns
		if wide {
			header = k.wideColumns
		}
		rows := make([][]string, len(items))
		for i := range items {
			rows[i] = k.row(a, &items[i], wide)
		}
		newTable(w, header, rows)
		return nil
	case "name":
		for i := range items {
			fmt.Fprintln(w, k.objectName(k.meta(&items[i]).Name))
		}
		return nil
	case "json", "yaml":
		if asList || len(items) != 1 {
			if items == nil {
				items = []T{}
			}
			return writeObject(w, k.list(items), output)
		}
		return writeObject(w, items[0], output)
	}
	return fmt.Errorf("unknown output format %q: want wide, yaml, json or name", output)
}

// showObject writes one object of a watch that is not a table.
func showObject[T any](a *app, k kindView[T], obj *T, output string) error {
	if output == "name" {
		_, err := fmt.Fprintln(a.stdout, k.objectName(k.meta(obj).Name))
		return err
	}
	return writeObject(a.stdout, obj, output)
}

// getNamed reads the named objects one by one, reporting each it cannot
// read on stderr (failed: at least one).
func getNamed[T any](ctx context.Context, a *app, k kindView[T], names []string, get func(context.Context, string) (*T, error)) (items []T, failed bool) {
	for _, name := range names {
		obj, err := get(ctx, name)
		if err != nil {
			failed = true
			fmt.Fprintln(a.stderr, "error: "+k.notFoundLine(name, err))
			continue
		}
		items = append(items, *obj)
	}
	return items, failed
}

// listEvery reads every page of a list, 500 objects a page.
func listEvery[T any](ctx context.Context, opts client.ListOptions, list func(context.Context, client.ListOptions) ([]T, string, error)) ([]T, error) {
	var items []T
	opts.Limit = 500
	for {
		page, cont, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		items = append(items, page...)
		if cont == "" {
			return items, nil
		}
		opts.Continue = cont
	}
}

// getObjects serves "get KIND [NAME...]": the named objects, or every
// one the list selects, printed. Named objects that were not found are
// reported one by one; "No … found." is for an empty list only.
func getObjects[T any](ctx context.Context, a *app, k kindView[T], names []string, o getOptions,
	get func(context.Context, string) (*T, error), list func(context.Context, client.ListOptions) ([]T, string, error)) error {
	var items []T
	failed := false
	if len(names) > 0 {
		items, failed = getNamed(ctx, a, k, names, get)
	} else {
		var err error
		if items, err = listEvery(ctx, client.ListOptions{LabelSelector: o.labelSel, FieldSelector: o.fieldSel}, list); err != nil {
			return err
		}
	}
	if len(names) == 0 || len(items) > 0 {
		if err := printObjects(a, a.stdout, k, items, o.output, len(names) == 0); err != nil {
			return err
		}
	}
	if failed {
		return errAlreadyReported
	}
	return nil
}

// eachNamed does one thing (delete, suspend) to each named object,
// reporting each: "KIND.sprint/NAME done" on stdout, or its error on
// stderr (failed: at least one).
func eachNamed[T any](a *app, k kindView[T], names []string, done string, do func(name string) error) (failed bool) {
	for _, name := range names {
		if err := do(name); err != nil {
			failed = true
			fmt.Fprintln(a.stderr, "error: "+k.notFoundLine(name, err))
			continue
		}
		fmt.Fprintf(a.stdout, "%s %s\n", k.objectName(name), done)
	}
	return failed
}

// applyEach applies the sources' objects of kind k one request each (a
// file holds few of them), reporting each (failed: at least one).
func applyEach[T any](a *app, k kindView[T], sources []source, objects func(source) ([]T, []int), suffix string,
	apply func(*T) (*T, client.ApplyResult, error)) (failed bool) {
	for _, src := range sources {
		items, docs := objects(src)
		for i := range items {
			out, result, err := apply(&items[i])
			if err != nil {
				failed = true
				fmt.Fprintf(a.stderr, "error: %s: %s\n", src.at(docs, i), errorLine(err))
				continue
			}
			fmt.Fprintf(a.stdout, "%s %s%s\n", k.objectName(k.meta(out).Name), result, suffix)
		}
	}
	return failed
}

// errOnly is the error of a call whose answer the caller does not need.
func errOnly[T any](_ *T, err error) error { return err }
