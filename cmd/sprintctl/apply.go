package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

func (a *app) applyCmd() *cobra.Command {
	var files []string
	var recursive, dryRun, force bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|- [-R] [--dry-run] [--force]",
		Short: "Create Runs, or update their mutable fields, from manifests",
		Long: `Apply makes the server's Runs look like the manifests: a Run that does not
exist is created; one that does is updated in its mutable fields (labels,
annotations, activeDeadlineSeconds, ttlSecondsAfterFinished, cancel) or left
unchanged. A change to any other field is refused; --force deletes the Run
(killing its task) and creates it again. A Run with metadata.generateName
and no name is created anew, with a generated name, on every apply.

Schedules are applied too: created, or updated in their labels,
annotations and spec (all mutable), or left unchanged; and Notifiers:
created, or have their labels, annotations and spec replaced.

Manifests are YAML (several documents separated by ---) or JSON: single Runs,
Schedules or Notifiers, RunLists, ScheduleLists, NotifierLists or Lists of
Runs and Schedules.`,
		Example: `  sprintctl apply -f manifests/examples/hello.yaml
  sprintctl apply -R -f manifests/
  cat run.yaml | sprintctl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			sources, err := readManifests(files, recursive, a.stdin)
			if err != nil {
				return err
			}
			if countObjects(sources) == 0 {
				return errors.New("no objects passed to apply")
			}
			suffix := ""
			if dryRun {
				suffix = " (dry run)"
			}
			failed := false
			report := func(where string, out *apis.Run, result client.ApplyResult, err error) {
				if err != nil {
					failed = true
					fmt.Fprintf(a.stderr, "error: %s: %s\n", where, errorLine(err))
					return
				}
				fmt.Fprintf(a.stdout, "%s %s%s\n", runView.objectName(out.Metadata.Name), result, suffix)
			}
			opts := client.ApplyOptions{DryRun: dryRun, Force: force}
			for _, chunk := range applyChunks(sources) {
				results, err := c.ApplyList(cmd.Context(), chunk.runs, opts)
				if client.IsNoSuchPath(err) {
					// A server without bulk apply: one request per Run.
					results, err = nil, nil
					for i := range chunk.runs {
						out, result, err := c.Apply(cmd.Context(), &chunk.runs[i], opts)
						results = append(results, client.ApplyListResult{Run: out, Result: result, Err: err})
					}
				}
				if code := client.StatusCode(err); code >= 400 && code < 500 {
					// The request as a whole was refused (a Run too large
					// for the body limit, say): say so for each of its Runs.
					results = make([]client.ApplyListResult, len(chunk.runs))
					for i := range results {
						results[i].Err = err
					}
				} else if err != nil {
					return err
				}
				for i, r := range results {
					if r.Err != nil && force && client.IsInvalid(r.Err) {
						// Perhaps an immutable change: Apply replaces the Run.
						r.Run, r.Result, r.Err = c.Apply(cmd.Context(), &chunk.runs[i], opts)
					}
					report(chunk.where[i], r.Run, r.Result, r.Err)
				}
			}
			// Schedules and Notifiers, one request each: a file holds few
			// of them.
			return reported(failed,
				applyEach(a, scheduleView, sources, func(s source) ([]apis.Schedule, []int) { return s.schedules, s.scheduleDocs }, suffix,
					func(sc *apis.Schedule) (*apis.Schedule, client.ApplyResult, error) {
						return c.ApplySchedule(cmd.Context(), sc, opts)
					}),
				applyEach(a, notifierView, sources, func(s source) ([]apis.Notifier, []int) { return s.notifiers, s.notifierDocs }, suffix,
					func(n *apis.Notifier) (*apis.Notifier, client.ApplyResult, error) {
						return c.ApplyNotifier(cmd.Context(), n, dryRun)
					}),
			)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory, or - for stdin (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "read directories recursively")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate on the server and show the result without storing")
	cmd.Flags().BoolVar(&force, "force", false, "delete and re-create Runs whose immutable fields changed")
	return cmd
}

// Bulk applies are split so that each request stays under the server's
// body limit (1 MiB by default) with room to spare, and within its item
// limit: a file of 1,000 small Runs is one request.
const (
	maxChunkBytes = 768 << 10
	maxChunkRuns  = apis.MaxApplyItems
)

// applyChunk is the Runs of one bulk apply request, with where each came
// from for messages.
type applyChunk struct {
	runs  []apis.Run
	where []string
}

// applyChunks splits the sources' Runs, in order, into requests of at most
// maxChunkRuns Runs and about maxChunkBytes of JSON. A Run larger than
// that goes alone, and the server's answer says what is wrong with it.
func applyChunks(sources []source) []applyChunk {
	var chunks []applyChunk
	var cur applyChunk
	size := 0
	for _, src := range sources {
		for i := range src.runs {
			b, _ := json.Marshal(&src.runs[i]) // a decoded Run encodes
			if len(cur.runs) > 0 && (len(cur.runs) == maxChunkRuns || size+len(b) > maxChunkBytes) {
				chunks = append(chunks, cur)
				cur, size = applyChunk{}, 0
			}
			cur.runs = append(cur.runs, src.runs[i])
			cur.where = append(cur.where, src.where(i))
			size += len(b) + 1
		}
	}
	if len(cur.runs) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}
