package controller

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
)

// transition is what one Mesos status update of a Run's current attempt
// does to the Run.
type transition struct {
	status apis.RunStatus
	// finish: the attempt is over; mark it terminal with the status write.
	finish bool
	// retry: the Run goes back to Pending for another attempt.
	retry  bool
	events []apis.RunEvent
}

// killReasons are the reasons the controller writes before it kills a task,
// so that the terminal update that follows (possibly seen by another
// leader) is attributed to them. Higher value wins when several apply.
var killReasons = map[string]int{
	apis.ReasonStagingTimeout:   1,
	apis.ReasonDeadlineExceeded: 2,
	apis.ReasonCancelled:        3,
	apis.ReasonReplaced:         3,
	apis.ReasonDeleted:          4,
}

var exitRE = regexp.MustCompile(`(?i)exited with (?:status|code) (-?\d+)`)

// exitCode extracts the task's exit code from the command executor's
// message ("Command exited with status N") or from JSON status data
// carrying {"exitCode": N} / {"exit_code": N}.
func exitCode(ts *mesos.TaskStatus) *int32 {
	if m := exitRE.FindStringSubmatch(ts.GetMessage()); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 32); err == nil {
			c := int32(n)
			return &c
		}
	}
	if len(ts.Data) > 0 && ts.Data[0] == '{' {
		var d struct {
			ExitCode  *int32 `json:"exitCode"`
			ExitCode2 *int32 `json:"exit_code"`
		}
		if json.Unmarshal(ts.Data, &d) == nil {
			if d.ExitCode != nil {
				return d.ExitCode
			}
			return d.ExitCode2
		}
	}
	return nil
}

// relaunchBackoff is the wait before attempt failures+1: base·2^(failures-1)
// capped at max.
func relaunchBackoff(base, max time.Duration, failures int32) time.Duration {
	if failures < 1 {
		return 0
	}
	return backoff.Policy{Initial: base, Max: max}.Delay(int(failures - 1))
}

// phaseRank orders non-terminal phases so a late or duplicate update never
// moves a Run backwards.
func phaseRank(p apis.RunPhase) int {
	switch p {
	case apis.PhaseStarting:
		return 1
	case apis.PhaseRunning:
		return 2
	}
	return 0
}

func setPhase(s *apis.RunStatus, p apis.RunPhase, now time.Time) {
	if s.Phase != p {
		s.Phase = p
		t := now
		s.LastTransitionTime = &t
	}
}

func event(now time.Time, typ, reason, format string, args ...any) apis.RunEvent {
	return apis.RunEvent{Time: now, Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// applyTaskStatus computes the Run's next status from a status update of
// its current attempt. It is pure: the caller writes the result.
func (c *Controller) applyTaskStatus(run *apis.Run, ts *mesos.TaskStatus, now time.Time) transition {
	s := run.Status
	s.Ports = append([]int32(nil), s.Ports...)
	prevMesos := s.MesosState
	state := ts.GetState()
	s.MesosState = state.String()
	if ts.AgentID != nil && ts.AgentID.Value != "" {
		s.AgentID = ts.AgentID.Value
	}
	if s.MesosState != prevMesos {
		t := now
		s.LastTransitionTime = &t
	}
	msg := ts.GetMessage()
	tr := transition{}

	switch state {
	case mesos.TASK_STAGING, mesos.TASK_STARTING:
		if phaseRank(s.Phase) < phaseRank(apis.PhaseStarting) {
			setPhase(&s, apis.PhaseStarting, now)
		}
		if s.Reason == apis.ReasonUnreachable {
			s.Reason = ""
		}
	case mesos.TASK_RUNNING, mesos.TASK_KILLING:
		if s.Phase != apis.PhaseRunning {
			setPhase(&s, apis.PhaseRunning, now)
			tr.events = append(tr.events, event(now, apis.EventNormal, "Running", "task %s running on %s", ts.TaskID.Value, s.Hostname))
		}
		if s.StartTime == nil {
			t := now
			s.StartTime = &t
		}
		if s.Reason == apis.ReasonUnreachable {
			s.Reason = ""
			s.Message = "agent reachable again"
		}
	case mesos.TASK_UNREACHABLE:
		if s.Reason != apis.ReasonUnreachable && killReasons[s.Reason] == 0 {
			s.Reason = apis.ReasonUnreachable
			s.Message = fmt.Sprintf("agent unreachable: %s", msg)
			tr.events = append(tr.events, event(now, apis.EventWarning, apis.ReasonUnreachable, "agent of task %s unreachable; counted as lost after %s", ts.TaskID.Value, c.cfg.UnreachableTimeout))
		}
	default:
		if !isTerminal(state) {
			break
		}
		return c.finishAttempt(run, s, prevMesos, ts, now)
	}
	tr.status = s
	return tr
}

// isTerminal reports whether the task is over. TASK_UNKNOWN (a
// reconciliation answer) means Mesos does not know the task: over too.
func isTerminal(st mesos.TaskState) bool {
	switch st {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR, mesos.TASK_UNKNOWN:
		return true
	}
	return false
}

// neverLaunched reports whether a terminal answer means the attempt's task
// never reached an agent: the master answered for a task from which no
// update was ever seen (a reconciliation answer after the previous leader
// recorded the attempt but died before ACCEPT), or dropped it for a stale
// offer. Such an attempt is relaunched without counting as a failure.
func neverLaunched(prevMesos string, ts *mesos.TaskStatus) bool {
	if prevMesos != "" || ts.GetSource() != mesos.SOURCE_MASTER {
		return false
	}
	switch ts.GetState() {
	case mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_UNKNOWN:
	default:
		return false
	}
	switch ts.GetReason() {
	case mesos.REASON_RECONCILIATION, mesos.REASON_INVALID_OFFERS:
		return true
	}
	return false
}

// finishAttempt handles a terminal update of the current attempt.
func (c *Controller) finishAttempt(run *apis.Run, s apis.RunStatus, prevMesos string, ts *mesos.TaskStatus, now time.Time) transition {
	tr := transition{finish: true}
	state := ts.GetState()
	msg := ts.GetMessage()
	if code := exitCode(ts); code != nil {
		s.ExitCode = code
	}
	done := func(p apis.RunPhase, reason, message string) {
		setPhase(&s, p, now)
		s.Reason = reason
		s.Message = message
		t := now
		s.CompletionTime = &t
	}

	if neverLaunched(prevMesos, ts) {
		s.Attempts--
		setPhase(&s, apis.PhasePending, now)
		s.Reason = ""
		s.Message = fmt.Sprintf("attempt %s never started (%s: %s); relaunching", ts.TaskID.Value, state, msg)
		s.MesosState = ""
		tr.retry = true
		tr.events = append(tr.events, event(now, apis.EventWarning, "NotLaunched", "%s", s.Message))
		tr.status = s
		return tr
	}

	if state == mesos.TASK_FINISHED {
		done(apis.PhaseSucceeded, apis.ReasonCompleted, msg)
		tr.events = append(tr.events, event(now, apis.EventNormal, "Completed", "%s", exitedMessage(ts, s.ExitCode)))
		tr.status = s
		return tr
	}

	// Kills the controller asked for are attributed to their reason.
	switch s.Reason {
	case apis.ReasonDeleted, apis.ReasonCancelled, apis.ReasonReplaced:
		done(apis.PhaseKilled, s.Reason, fmt.Sprintf("killed: %s", strings.ToLower(s.Reason)))
		tr.events = append(tr.events, event(now, apis.EventNormal, "Killed", "task %s %s (%s)", ts.TaskID.Value, stateWord(state), s.Reason))
		tr.status = s
		return tr
	case apis.ReasonDeadlineExceeded:
		done(apis.PhaseFailed, s.Reason, fmt.Sprintf("killed after activeDeadlineSeconds %d", run.Spec.ActiveDeadlineSeconds))
		tr.events = append(tr.events, event(now, apis.EventWarning, "DeadlineExceeded", "task %s killed: active deadline exceeded", ts.TaskID.Value))
		tr.status = s
		return tr
	}

	var reason string
	retryable := true
	switch {
	case s.Reason == apis.ReasonStagingTimeout:
		reason = apis.ReasonStagingTimeout
		msg = fmt.Sprintf("not running within %s of launch", c.cfg.StagingTimeout)
	case state == mesos.TASK_FAILED:
		reason = apis.ReasonTaskFailed
	case state == mesos.TASK_KILLED:
		reason, retryable = apis.ReasonTaskKilled, false
	case state == mesos.TASK_ERROR:
		reason, retryable = apis.ReasonTaskError, false
	case state == mesos.TASK_GONE_BY_OPERATOR:
		reason = apis.ReasonAgentGone
	default: // LOST, DROPPED, GONE, UNKNOWN
		reason = apis.ReasonTaskLost
	}
	if msg == "" {
		msg = state.String()
	}
	tr.events = append(tr.events, event(now, apis.EventWarning, reason, "%s", exitedMessage(ts, s.ExitCode)))
	if reason == apis.ReasonTaskKilled {
		done(apis.PhaseKilled, reason, msg)
		tr.status = s
		return tr
	}
	failures := s.Attempts
	limit := run.Spec.BackoffLimit
	switch {
	case retryable && failures <= limit:
		wait := relaunchBackoff(c.cfg.BackoffBase, c.cfg.BackoffMax, failures)
		setPhase(&s, apis.PhasePending, now)
		t := now
		s.LastTransitionTime = &t // the back-off is measured from here
		s.Reason = apis.ReasonBackoff
		s.Message = fmt.Sprintf("attempt %d %s (%s); retrying in %s", failures, reasonWords(reason), msg, wait)
		tr.retry = true
		tr.events = append(tr.events, event(now, apis.EventNormal, "Retrying", "retrying in %s (attempt %d of %d)", wait, failures+1, limit+1))
	case retryable && limit > 0:
		done(apis.PhaseFailed, apis.ReasonBackoffLimitExceeded, fmt.Sprintf("backoffLimit %d exceeded; last attempt %s: %s", limit, reasonWords(reason), msg))
	default:
		done(apis.PhaseFailed, reason, msg)
	}
	tr.status = s
	return tr
}

// exitedMessage is the event text for a terminal update.
func exitedMessage(ts *mesos.TaskStatus, code *int32) string {
	if code != nil {
		return fmt.Sprintf("task %s exited with code %d", ts.TaskID.Value, *code)
	}
	m := ts.GetMessage()
	if m == "" {
		return fmt.Sprintf("task %s %s", ts.TaskID.Value, ts.GetState())
	}
	return fmt.Sprintf("task %s %s: %s", ts.TaskID.Value, ts.GetState(), m)
}

// taskRunName maps a task ID "<run>.<attempt>.<random>" back to its Run.
func taskRunName(taskID string) (string, bool) {
	i := strings.IndexByte(taskID, '.')
	if i <= 0 {
		return "", false
	}
	return taskID[:i], true
}

// stateWord renders a Mesos task state for people: TASK_KILLED → "killed".
func stateWord(state mesos.TaskState) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(state.String(), "TASK_")), "_", " ")
}

// reasonWords renders a Run reason for people: TaskLost → "task lost".
func reasonWords(reason string) string {
	var b strings.Builder
	for i, r := range reason {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
