package apis

// Cluster is the Raft cluster as one sprint node sees it: the body of
// GET /api/v1/cluster, shared by the server and its clients.
type Cluster struct {
	// NodeID is the answering node.
	NodeID       string   `json:"nodeID"`
	Leader       string   `json:"leader"`
	LeaderAddr   string   `json:"leaderAddr"`
	State        string   `json:"state"`
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commitIndex"`
	AppliedIndex uint64   `json:"appliedIndex"`
	LastIndex    uint64   `json:"lastIndex"`
	Members      []Member `json:"members"`
}

// Member is one server in the Raft configuration.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// Suffrage is Voter, Nonvoter or Staging.
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
}
