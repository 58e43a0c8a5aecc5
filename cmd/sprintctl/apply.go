package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

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

Manifests are YAML (several documents separated by ---) or JSON, single Runs
or RunLists.`,
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
			if countRuns(sources) == 0 {
				return errors.New("no objects passed to apply")
			}
			suffix := ""
			if dryRun {
				suffix = " (dry run)"
			}
			failed := false
			for _, src := range sources {
				for i := range src.runs {
					run := &src.runs[i]
					out, result, err := c.Apply(cmd.Context(), run, client.ApplyOptions{DryRun: dryRun, Force: force})
					if err != nil {
						failed = true
						fmt.Fprintf(a.stderr, "error: %s: %s\n", src.where(i), errorLine(err))
						continue
					}
					fmt.Fprintf(a.stdout, "%s %s%s\n", objectName(out.Metadata.Name), result, suffix)
				}
			}
			if failed {
				return errAlreadyReported
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "manifest file, directory, or - for stdin (repeatable)")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "read directories recursively")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate on the server and show the result without storing")
	cmd.Flags().BoolVar(&force, "force", false, "delete and re-create Runs whose immutable fields changed")
	return cmd
}
