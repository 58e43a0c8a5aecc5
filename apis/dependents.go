package apis

// KindRunDependents is the kind of the answer of GET
// /api/v1/runs/{name}/dependents.
const KindRunDependents = "RunDependents"

// MaxDependentsNodes bounds the nodes of a RunDependents tree: a Run that
// thousands of others wait for gets a truncated answer rather than an
// unbounded one.
const MaxDependentsNodes = 1000

// MaxUpstreamRuns bounds the Runs upstream of a new Run (its
// dependencies, theirs, and so on): the store walks them on every create
// to refuse cycles, inside the replicated state machine, so the walk must
// stay cheap whatever Runs exist. A create past the bound is refused.
const MaxUpstreamRuns = 1000

// RunDependents is the downstream subtree of a Run: the Runs whose
// spec.dependsOn names it, the Runs that depend on those, and so on
// (GET /api/v1/runs/{name}/dependents). The root is the Run itself.
type RunDependents struct {
	TypeMeta `json:",inline"`
	DependentNode
	// Truncated is set when the subtree has more than MaxDependentsNodes
	// nodes; the nodes past the bound are left out.
	Truncated bool `json:"truncated,omitempty"`
}

// DependentNode is one Run of a RunDependents tree.
type DependentNode struct {
	Name   string   `json:"name"`
	Phase  RunPhase `json:"phase,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// Condition is what this Run waits for of its parent in the tree
	// (Succeeded, Failed or Completed); empty on the root.
	Condition string `json:"condition,omitempty"`
	// Repeated marks a Run that already appears earlier in the tree (the
	// pipeline is a DAG, and it waits for more than one Run of it): its
	// own dependents are listed at that first appearance only.
	Repeated bool `json:"repeated,omitempty"`
	// Dependents are the Runs that wait for this one, by name.
	Dependents []DependentNode `json:"dependents,omitempty"`
}

// Walk calls fn for each node of the tree, parents before their
// dependents, with the node's depth (0 for the root).
func (n *DependentNode) Walk(fn func(node *DependentNode, depth int)) {
	n.walk(fn, 0)
}

func (n *DependentNode) walk(fn func(*DependentNode, int), depth int) {
	fn(n, depth)
	for i := range n.Dependents {
		n.Dependents[i].walk(fn, depth+1)
	}
}
