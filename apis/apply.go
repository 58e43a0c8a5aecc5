package apis

import "encoding/json"

// KindRunApplyList is the kind of the answer to a bulk apply.
const KindRunApplyList = "RunApplyList"

// MaxApplyItems bounds the Runs of one bulk apply (POST
// /api/v1/runs:apply), so that one request is one bounded Raft entry;
// clients split longer lists (sprintctl apply does).
const MaxApplyItems = 1000

// RunApplyList is the answer to POST /api/v1/runs:apply: one item per Run
// of the request, in its order. Items succeed or fail on their own.
type RunApplyList struct {
	TypeMeta `json:",inline"`
	Items    []RunApplyItem `json:"items"`
}

// RunApplyItem is the outcome of one Run of a bulk apply: Result and the
// Run as stored (for a dry run, as it would be), or Error.
type RunApplyItem struct {
	// Name is the Run's name (generated from metadata.generateName when
	// the Run had none); empty when the item had neither.
	Name string `json:"name"`
	// Result is created, configured or unchanged; empty with Error.
	Result string `json:"result,omitempty"`
	// Object is the Run.
	Object json.RawMessage `json:"object,omitempty"`
	// Error is why the Run was refused: its code, reason and, for an
	// invalid or forbidden Run, every field at fault in details.causes.
	Error *Status `json:"error,omitempty"`
}
