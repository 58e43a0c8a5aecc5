package apis

// MesosState is the Mesos side of a sprint cluster as its leader knows it:
// the body of GET /api/v1/cluster/mesos, shared by the server and the
// console. It is a report for operators, read-only and best effort: the
// agents come from the master's state endpoint at the time of the request.
type MesosState struct {
	// NodeID is the sprint node that answered (the Raft leader, which
	// holds the Mesos subscription).
	NodeID string `json:"nodeID"`
	// Connected reports whether the framework is subscribed right now.
	Connected bool `json:"connected"`
	// FrameworkID is the framework's ID, "" before the first subscription.
	FrameworkID   string `json:"frameworkID,omitempty"`
	FrameworkName string `json:"frameworkName"`
	Role          string `json:"role"`
	// Masters are the configured master URLs, credentials removed.
	Masters []string `json:"masters"`
	// Embedded is true when the node runs its own Mesos simulator (no
	// --mesos-master).
	Embedded bool `json:"embedded"`
	// Agents are the agents the master reports; absent when it could not
	// be asked, and then AgentsError says why.
	Agents      []MesosAgent `json:"agents"`
	AgentsError string       `json:"agentsError,omitempty"`
}

// MesosAgent is one agent as the Mesos master reports it.
type MesosAgent struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	Active   bool   `json:"active"`
	// Total is what the agent offers to Mesos; Used what running tasks
	// hold; Offered what is out in offers to frameworks; Free is Total
	// less Used.
	Total   MesosResources `json:"total"`
	Used    MesosResources `json:"used"`
	Offered MesosResources `json:"offered"`
	Free    MesosResources `json:"free"`
	// Attributes are the agent's attributes (what constraints match),
	// rendered as text.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// MesosResources are the resources a Run asks for, as Mesos counts them:
// cpus, mem and disk in MiB, gpus; Ports is the port ranges as Mesos
// writes them, e.g. "[31000-32000]".
type MesosResources struct {
	CPUs  float64 `json:"cpus"`
	Mem   float64 `json:"mem"`
	Disk  float64 `json:"disk"`
	GPUs  float64 `json:"gpus"`
	Ports string  `json:"ports,omitempty"`
}
