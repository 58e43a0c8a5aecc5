package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// kindView describes one kind (Run, Schedule, Notifier) to the output
// and the per-name loops of get, delete, apply and suspend, written once
// in this file. A new kind is a descriptor, not a copy of them.
type kindView[T any] struct {
	// kind is the kind as the API spells it ("Schedule").
	kind string
	meta func(*T) *apis.ObjectMeta
	// columns and wideColumns head the table rows, of -o wide when wide.
	columns, wideColumns []string
	row                  func(a *app, obj *T, wide bool) []string
}

// The descriptors of the three kinds. They are never written.
var (
	runView = kindView[apis.Run]{kind: apis.KindRun, meta: func(r *apis.Run) *apis.ObjectMeta { return &r.Metadata },
		columns: runColumns, wideColumns: runWideColumns, row: (*app).runRow}
	scheduleView = kindView[apis.Schedule]{kind: apis.KindSchedule, meta: func(s *apis.Schedule) *apis.ObjectMeta { return &s.Metadata },
		columns: scheduleColumns, wideColumns: scheduleWideColumns, row: (*app).scheduleRow}
	notifierView = kindView[apis.Notifier]{kind: apis.KindNotifier, meta: func(n *apis.Notifier) *apis.ObjectMeta { return &n.Metadata },
		columns: notifierColumns, wideColumns: notifierColumns, row: func(a *app, n *apis.Notifier, _ bool) []string { return a.notifierRow(n) }}
)

// word is the kind in resource words and messages: "schedule".
func (k kindView[T]) word() string { return strings.ToLower(k.kind) }

// is reports whether a resource word names this kind ("schedules",
// "schedule.sprint", any case).
func (k kindView[T]) is(word string) bool {
	switch strings.ToLower(word) {
	case k.word(), k.word() + "s", k.word() + ".sprint", k.word() + "s.sprint":
		return true
	}
	return false
}

// objectName is how kubectl names an object in messages:
// "schedule.sprint/NAME".
func (k kindView[T]) objectName(name string) string { return k.word() + ".sprint/" + name }

// notFoundLine is the one line of an error about the named object: a
// 404 names it (the server's message names the store's key).
func (k kindView[T]) notFoundLine(name string, err error) string {
	if client.IsNotFound(err) {
		return fmt.Sprintf("%s %q not found", k.kind, name)
	}
	return errorLine(err)
}

// objectList is the list object of -o json and yaml, as RunList,
// ScheduleList and NotifierList are (the same fields, the same JSON).
type objectList[T any] struct {
	apis.TypeMeta `json:",inline"`
	Metadata      apis.ListMeta `json:"metadata"`
	Items         []T           `json:"items"`
}

// printObjects writes objects of kind k in one of the -o formats: a list
// object for json and yaml when asList or when there is not exactly one.
func printObjects[T any](a *app, w io.Writer, k kindView[T], items []T, output string, asList bool) error {
	switch output {
	case "", "wide":
		if len(items) == 0 {
			fmt.Fprintf(a.stderr, "No %ss found.\n", k.word())
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
			return writeObject(w, objectList[T]{TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: k.kind + "List"}, Items: items}, output)
		}
		return writeObject(w, items[0], output)
	}
	return fmt.Errorf("unknown output format %q: want wide, yaml, json or name", output)
}

// watchColumns are the header and the row maker of a watch's table: the
// wide columns with -o wide, after an EVENT column with
// --output-watch-events.
func watchColumns[T any](a *app, k kindView[T], o getOptions) ([]string, func(apis.EventType, *T) []string) {
	wide := o.output == "wide"
	header := k.columns
	if wide {
		header = k.wideColumns
	}
	if o.watchEvents {
		header = append([]string{"EVENT"}, header...)
	}
	return header, func(typ apis.EventType, obj *T) []string {
		cells := k.row(a, obj, wide)
		if o.watchEvents {
			cells = append([]string{string(typ)}, cells...)
		}
		return cells
	}
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
	return reported(failed)
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

// reported is the error of a command that reported its failures one by
// one on stderr: errAlreadyReported (exit 1) when any failed.
func reported(failed ...bool) error {
	if slices.Contains(failed, true) {
		return errAlreadyReported
	}
	return nil
}
