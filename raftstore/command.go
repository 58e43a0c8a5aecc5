package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// cmdType is the first byte of every Raft entry the store writes. Types with
// the high bit (ignorableFlag) set may be skipped by an older FSM that does
// not know them (Nomad's rule): new command types that older nodes may
// safely skip get that bit. Any other unknown type is rejected — applied as
// a no-op and counted, the same way on every replica (DESIGN.md) — so a new
// command that must not be skipped needs every node upgraded before it is
// first proposed.
type cmdType byte

const ignorableFlag cmdType = 0x80

const (
	cmdCreateRun         cmdType = 1
	cmdUpdateRun         cmdType = 2
	cmdUpdateStatus      cmdType = 3
	cmdBatchUpdateStatus cmdType = 4
	cmdRequestDelete     cmdType = 5
	cmdDeleteRun         cmdType = 6
	cmdRecordAttempt     cmdType = 7
	cmdAppendEvents      cmdType = 8
	cmdSetFrameworkID    cmdType = 9
	cmdSetMember         cmdType = 10
	cmdRemoveMember      cmdType = 11
	// cmdApplyRuns carries create-or-update operations, each conditioned
	// on the state the leader decided it against (fsm_apply.go). An FSM
	// that predates it must not skip it, so it has no ignorableFlag: every
	// node runs a binary that knows it before a leader proposes it.
	cmdApplyRuns cmdType = 12
	// cmdBatchStatusAttempts is cmdBatchUpdateStatus whose items may
	// record an attempt first (a launch: the attempt and the status
	// pointing at it in one entry). Like apply_runs it has no
	// ignorableFlag: every node must know it before a leader proposes it.
	cmdBatchStatusAttempts cmdType = 30

	// Notifiers and their outbox (command_notifier.go): 20–27. No
	// ignorableFlag: a node that skipped them would diverge.
	cmdCreateNotifier cmdType = 20
	cmdUpdateNotifier cmdType = 21
	cmdDeleteNotifier cmdType = 22
	cmdOutboxDone     cmdType = 23
)

func (t cmdType) String() string {
	switch t {
	case cmdCreateRun:
		return "create_run"
	case cmdUpdateRun:
		return "update_run"
	case cmdUpdateStatus:
		return "update_status"
	case cmdBatchUpdateStatus:
		return "batch_update_status"
	case cmdRequestDelete:
		return "request_delete"
	case cmdDeleteRun:
		return "delete_run"
	case cmdRecordAttempt:
		return "record_attempt"
	case cmdAppendEvents:
		return "append_events"
	case cmdSetFrameworkID:
		return "set_framework_id"
	case cmdSetMember:
		return "set_member"
	case cmdRemoveMember:
		return "remove_member"
	case cmdApplyRuns:
		return "apply_runs"
	case cmdBatchStatusAttempts:
		return "batch_status_attempts"
	case cmdCreateNotifier, cmdUpdateNotifier, cmdDeleteNotifier, cmdOutboxDone:
		return notifierCmdName(t)
	}
	if name, ok := scheduleCmdName(t); ok {
		return name
	}
	return fmt.Sprintf("cmd(%d)", byte(t))
}

// createRunCmd carries a Run whose name, UID and creation time the Store
// chose before Apply, so that every replica stores the same object.
type createRunCmd struct {
	Run apis.Run `json:"run"`
}

// updateRunCmd replaces labels, annotations and spec. A non-empty
// resourceVersion or UID in Run.Metadata is a precondition.
type updateRunCmd struct {
	Run apis.Run `json:"run"`
}

// statusEntry is one status write of UpdateStatus and BatchUpdateStatus as
// the log carries it (an apis.StatusUpdate, flattened).
type statusEntry struct {
	// Name of the Run.
	Name string `json:"name"`
	// UID, when set, must be the Run's: a status meant for a Run that was
	// deleted and re-created under the same name fails with
	// apis.ErrNotFound instead of landing on the new Run. Entries written
	// before the field existed have none and apply without the check.
	UID string `json:"uid,omitempty"`
	// Status replaces the Run's status as a whole.
	Status apis.RunStatus `json:"status"`
	// PreconditionRV, when set, must equal the Run's resourceVersion.
	PreconditionRV string `json:"preconditionRV,omitempty"`
	// FinishTaskID, when set, marks that attempt terminal in the same
	// entry. An attempt is also marked terminal when Status.Phase is
	// terminal and Status.TaskID names it.
	FinishTaskID string `json:"finishTaskID,omitempty"`
}

func newStatusEntry(u apis.StatusUpdate) statusEntry {
	return statusEntry{Name: u.Run.Name, UID: u.Run.UID, PreconditionRV: u.Run.ResourceVersion, Status: u.Status, FinishTaskID: u.FinishTaskID}
}

type updateStatusCmd struct {
	Update statusEntry `json:"update"`
}

type batchUpdateStatusCmd struct {
	Updates []statusEntry `json:"updates"`
}

// attemptStatusEntry is a statusEntry that, with Attempt set, records
// that attempt (as record_attempt does, with UID as its RunUID) before
// writing the status; a refused attempt fails the item, status included.
type attemptStatusEntry struct {
	statusEntry
	Attempt *apis.Attempt `json:"attempt,omitempty"`
}

type batchStatusAttemptsCmd struct {
	Updates []attemptStatusEntry `json:"updates"`
}

type requestDeleteCmd struct {
	Name           string    `json:"name"`
	PreconditionRV string    `json:"preconditionRV,omitempty"`
	Now            time.Time `json:"now"`
}

type deleteRunCmd struct {
	Name           string `json:"name"`
	UID            string `json:"uid,omitempty"`
	PreconditionRV string `json:"preconditionRV,omitempty"`
}

// recordAttemptCmd records an attempt of the Run named Attempt.Run. RunUID,
// when set, must be that Run's UID (absent in entries written before the
// field existed: no check).
type recordAttemptCmd struct {
	Attempt apis.Attempt `json:"attempt"`
	RunUID  string       `json:"runUID,omitempty"`
}

type appendEventsCmd struct {
	Events []apis.EventRecord `json:"events"`
}

type setFrameworkIDCmd struct {
	ID string `json:"id"`
}

// Member is a cluster member's addresses as the FSM records them, so every
// node can forward to the leader's HTTP address.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
	// StoreLevel is the store feature level the member's binary supports
	// (StoreLevel), as it reported it; 0 for a record written by a binary
	// that predates levels. The leader proposes commands of a level only
	// once every member reports it (DESIGN.md, "Rolling upgrade").
	StoreLevel int `json:"storeLevel,omitempty"`
}

type setMemberCmd struct {
	Member Member `json:"member"`
}

type removeMemberCmd struct {
	ID string `json:"id"`
}

// applyOpKind is what one operation of an apply_runs entry does.
type applyOpKind string

const (
	// opCreate stores Run as a new Run; its precondition is that no Run
	// has the name.
	opCreate applyOpKind = "create"
	// opUpdate replaces the labels, annotations and spec of the Run named
	// Run.Metadata.Name with Run's, as update_run does. Its precondition is
	// the Run's resourceVersion being ExpectRV when that is set (the
	// client asked for it); otherwise the Run's uid and generation being
	// ExpectUID and ExpectGeneration: the same Run with the same spec as
	// the leader validated the update against, whatever status writes (or
	// label changes, which the update replaces) came in between.
	opUpdate applyOpKind = "update"
	// opCheck writes nothing; its precondition is that the Run's
	// resourceVersion is ExpectRV, or, with ExpectRV empty, that there is
	// no such Run. It confirms a decision the leader made without writing
	// (unchanged, or refused) at the entry's place in the log.
	opCheck applyOpKind = "check"
)

// applyOp is one operation of an apply_runs entry. The leader decided it
// against the Run as its local state had it; the precondition tells the
// FSM whether the state is still that one at this entry. If not, the op
// does nothing and its result says so (errStale), and the leader decides
// again on fresher state.
type applyOp struct {
	Op       applyOpKind `json:"op"`
	Name     string      `json:"name"`
	ExpectRV string      `json:"expectRV,omitempty"`
	// ExpectUID and ExpectGeneration: opUpdate's precondition without
	// ExpectRV.
	ExpectUID        string `json:"expectUID,omitempty"`
	ExpectGeneration int64  `json:"expectGeneration,omitempty"`
	// Run is the new Run (create) or the labels, annotations and spec to
	// set (update); nil for check.
	Run *apis.Run `json:"run,omitempty"`
}

type applyRunsCmd struct {
	Ops []applyOp `json:"ops"`
}

// encodeCommand frames a command as 1 type byte + JSON.
func encodeCommand(t cmdType, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	out := make([]byte, 0, len(b)+1)
	out = append(out, byte(t))
	return append(out, b...), nil
}

var (
	errEmptyCommand   = errors.New("empty command")
	errUnknownCommand = errors.New("unknown command type")
)

// decodeCommand splits an entry into its type and decoded payload. It never
// panics; the FSM decides what an error means (errUnknownCommand: ignore or
// reject by the type's high bit; anything else: reject).
func decodeCommand(data []byte) (cmdType, any, error) {
	if len(data) == 0 {
		return 0, nil, errEmptyCommand
	}
	t := cmdType(data[0])
	var v any
	switch t {
	case cmdCreateRun:
		v = &createRunCmd{}
	case cmdUpdateRun:
		v = &updateRunCmd{}
	case cmdUpdateStatus:
		v = &updateStatusCmd{}
	case cmdBatchUpdateStatus:
		v = &batchUpdateStatusCmd{}
	case cmdRequestDelete:
		v = &requestDeleteCmd{}
	case cmdDeleteRun:
		v = &deleteRunCmd{}
	case cmdRecordAttempt:
		v = &recordAttemptCmd{}
	case cmdAppendEvents:
		v = &appendEventsCmd{}
	case cmdSetFrameworkID:
		v = &setFrameworkIDCmd{}
	case cmdSetMember:
		v = &setMemberCmd{}
	case cmdRemoveMember:
		v = &removeMemberCmd{}
	case cmdApplyRuns:
		v = &applyRunsCmd{}
	case cmdBatchStatusAttempts:
		v = &batchStatusAttemptsCmd{}
	case cmdCreateNotifier, cmdUpdateNotifier, cmdDeleteNotifier, cmdOutboxDone:
		v = newNotifierCmd(t)
	default:
		if v = newScheduleCmd(t); v == nil {
			return t, nil, fmt.Errorf("%w %d", errUnknownCommand, byte(t))
		}
	}
	if err := json.Unmarshal(data[1:], v); err != nil {
		return t, nil, fmt.Errorf("decode %s: %w", t, err)
	}
	return t, v, nil
}

// maxMemberIDBytes bounds a member ID, a bbolt key (bbolt allows 32 KiB).
const maxMemberIDBytes = 1024

// validateCommand checks what can be checked of a decoded command without
// the state: the FSM rejects an entry that fails it, and the Store refuses
// to propose one. It must stay deterministic: every replica, replaying the
// same log, has to come to the same answer (DESIGN.md).
func validateCommand(v any) error {
	if ok, err := validateScheduleCommand(v); ok {
		return err
	}
	switch c := v.(type) {
	case *createRunCmd:
		run := newStoredRun(c)
		if errs := apis.ValidateRun(&run); len(errs) > 0 {
			return &apis.InvalidError{Kind: apis.KindRun, Name: run.Metadata.Name, Errors: errs}
		}
	case *applyRunsCmd:
		return validateApplyOps(c)
	case *setMemberCmd:
		return validateMemberID(c.Member.ID)
	case *removeMemberCmd:
		return validateMemberID(c.ID)
	case *createNotifierCmd, *updateNotifierCmd, *deleteNotifierCmd, *outboxDoneCmd:
		return validateNotifierCommand(c)
	}
	return nil
}

func validateMemberID(id string) error {
	if id == "" || len(id) > maxMemberIDBytes {
		return fmt.Errorf("member id must be 1 to %d bytes, got %d: %w", maxMemberIDBytes, len(id), apis.ErrBadRequest)
	}
	return nil
}

// newStoredRun is the Run a create entry stores, but for its
// resourceVersion (the entry's index).
func newStoredRun(c *createRunCmd) apis.Run {
	run := c.Run
	run.APIVersion, run.Kind = apis.APIVersion, apis.KindRun
	run.Metadata.Generation = 1
	run.Metadata.DeletionTimestamp = nil
	return run
}

// mergeUpdate is the Run an update entry makes of cur: labels, annotations
// and spec from req, everything else kept; the generation is bumped when
// the spec changed. changed is false when the update is a no-op.
func mergeUpdate(cur, req *apis.Run) (next apis.Run, changed bool) {
	specChanged := !cur.Spec.Equal(&req.Spec)
	if !specChanged && maps.Equal(cur.Metadata.Labels, req.Metadata.Labels) &&
		maps.Equal(cur.Metadata.Annotations, req.Metadata.Annotations) {
		return *cur, false
	}
	next = *cur
	next.Metadata.Labels = req.Metadata.Labels
	next.Metadata.Annotations = req.Metadata.Annotations
	next.Spec = req.Spec
	if specChanged {
		next.Metadata.Generation++
	}
	return next, true
}

// validateUpdate is the validation an update entry's result must pass.
func validateUpdate(next *apis.Run) error {
	if errs := apis.ValidateRun(next); len(errs) > 0 {
		return &apis.InvalidError{Kind: apis.KindRun, Name: next.Metadata.Name, Errors: errs}
	}
	return nil
}
