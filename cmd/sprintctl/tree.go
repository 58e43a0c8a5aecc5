package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sprint-project/sprint/apis"
)

func (a *app) treeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tree run NAME",
		Short: "Show the Runs downstream of a Run (spec.dependsOn) with their phases",
		Example: `  sprintctl tree run extract
  sprintctl get runs --tree   # every listed Run's pipeline`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := runsResource(args[0]); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			name := args[1]
			tree, err := c.Dependents(cmd.Context(), name)
			if err != nil {
				return fmt.Errorf("%s", runView.notFoundLine(name, err))
			}
			printTree(a.stdout, &tree.DependentNode)
			if tree.Truncated {
				fmt.Fprintf(a.stdout, "… more than %d Runs; the rest is left out\n", apis.MaxDependentsNodes)
			}
			return nil
		},
	}
}

// printTree prints a dependents tree, one Run a line, drawn as tree(1)
// does:
//
//	extract  Failed (TaskFailed)
//	└── transform  Failed (DependencyFailed)  needs extract Succeeded
func printTree(w io.Writer, root *apis.DependentNode) {
	fmt.Fprintln(w, nodeLine(root, ""))
	printChildren(w, root, "")
}

func printChildren(w io.Writer, n *apis.DependentNode, prefix string) {
	for i := range n.Dependents {
		c := &n.Dependents[i]
		branch, next := "├── ", "│   "
		if i == len(n.Dependents)-1 {
			branch, next = "└── ", "    "
		}
		fmt.Fprintln(w, prefix+branch+nodeLine(c, n.Name))
		printChildren(w, c, prefix+next)
	}
}

func nodeLine(n *apis.DependentNode, parent string) string {
	phase := string(n.Phase)
	if phase == "" {
		phase = string(apis.PhasePending)
	}
	line := n.Name + "  " + phase
	if n.Reason != "" {
		line += " (" + n.Reason + ")"
	}
	if parent != "" && n.Condition != "" {
		line += "  needs " + parent + " " + n.Condition
	}
	if n.Repeated {
		line += "  [shown above]"
	}
	return line
}

// forest makes dependency trees of a list of Runs: a Run is a root when it
// depends on no Run of the list, and each Run is listed under every Run of
// the list it depends on (the second time on as Repeated, its dependents
// shown once). Runs in a cycle with no way in (which the server refuses to
// create) would be left out, so they are added as roots.
func forest(runs []apis.Run) []apis.DependentNode {
	byName := make(map[string]*apis.Run, len(runs))
	for i := range runs {
		byName[runs[i].Metadata.Name] = &runs[i]
	}
	children := map[string][]string{}
	var roots []string
	for _, r := range runs {
		isRoot := true
		for _, d := range r.Spec.DependsOn {
			if _, ok := byName[d.Name]; ok {
				children[d.Name] = append(children[d.Name], r.Metadata.Name)
				isRoot = false
			}
		}
		if isRoot {
			roots = append(roots, r.Metadata.Name)
		}
	}
	slices.Sort(roots)
	shown := map[string]bool{}
	var build func(name, parent string) apis.DependentNode
	build = func(name, parent string) apis.DependentNode {
		r := byName[name]
		n := apis.DependentNode{Name: name, Phase: apis.RunPhase(phaseOf(r)), Reason: r.Status.Reason}
		if i := slices.IndexFunc(r.Spec.DependsOn, func(d apis.RunDependency) bool { return d.Name == parent }); i >= 0 {
			n.Condition = r.Spec.DependsOn[i].Condition
		}
		if shown[name] {
			n.Repeated = true
			return n
		}
		shown[name] = true
		kids := children[name]
		slices.Sort(kids)
		for _, k := range kids {
			n.Dependents = append(n.Dependents, build(k, name))
		}
		return n
	}
	var out []apis.DependentNode
	for _, name := range roots {
		out = append(out, build(name, ""))
	}
	for _, r := range runs {
		if !shown[r.Metadata.Name] {
			out = append(out, build(r.Metadata.Name, ""))
		}
	}
	return out
}

// printForest prints the trees of forest(runs).
func printForest(w io.Writer, runs []apis.Run) {
	if len(runs) == 0 {
		fmt.Fprintln(w, "No runs found.")
		return
	}
	for _, t := range forest(runs) {
		printTree(w, &t)
	}
}

// blocked lists the Runs of a dependents tree (but its root) that have
// not finished: they wait, directly or through others, for the root.
func blocked(root *apis.DependentNode) []string {
	var out []string
	seen := map[string]bool{root.Name: true}
	root.Walk(func(n *apis.DependentNode, _ int) {
		if !seen[n.Name] && !n.Phase.Terminal() {
			out = append(out, n.Name)
		}
		seen[n.Name] = true
	})
	return out
}

// dependsOnLine renders spec.dependsOn for describe.
func dependsOnLine(deps []apis.RunDependency) string {
	parts := make([]string, len(deps))
	for i, d := range deps {
		parts[i] = d.Name + " (" + orDefault(d.Condition, apis.ConditionSucceeded) + ")"
	}
	return strings.Join(parts, ", ")
}
