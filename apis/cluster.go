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
	// RejectedEntries counts committed Raft entries the state machine
	// could not decode or apply and applied as no-ops, the same way on
	// every node; LastRejectedEntry is the latest of them.
	RejectedEntries   uint64         `json:"rejectedEntries"`
	LastRejectedEntry *RejectedEntry `json:"lastRejectedEntry,omitempty"`
}

// RejectedEntry is a committed Raft entry the state machine rejected.
type RejectedEntry struct {
	// Index is the entry's Raft index.
	Index uint64 `json:"index"`
	// Type is the command type (create_run, …, or cmd(N) when unknown).
	Type string `json:"type"`
	// Reason is unknown_type, decode, invalid or panic.
	Reason string `json:"reason"`
	// Message says what was wrong with it.
	Message string `json:"message"`
}

// Member is one server in the Raft configuration.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	// Suffrage is Voter, Nonvoter or Staging.
	Suffrage string `json:"suffrage"`
	Leader   bool   `json:"leader"`
	// StoreLevel is the store feature level the member reported (0: none,
	// a binary that predates levels); writes of a level wait until every
	// member has it (docs/raftstore.md, "Rolling upgrade").
	StoreLevel int `json:"storeLevel,omitempty"`
}
