package sim

import (
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// validateRole applies Mesos' role name rules (roles.cpp).
func validateRole(r string) error {
	if r == "*" {
		return nil
	}
	if r == "" {
		return wireErr("Empty role name is invalid")
	}
	if strings.HasPrefix(r, "/") || strings.HasSuffix(r, "/") {
		return wireErr("Role names cannot start or end with '/'")
	}
	if strings.Contains(r, "//") {
		return wireErr("Role names cannot contain '//'")
	}
	if strings.ContainsAny(r, "\t\n\v\f\r \x7f\b") {
		return wireErr("Role names cannot contain whitespace or backspace")
	}
	for _, c := range strings.Split(r, "/") {
		switch {
		case c == "." || c == ".." || c == "*":
			return wireErrf("Role name component '%s' is reserved", c)
		case strings.HasPrefix(c, "-"):
			return wireErrf("Role name component '%s' is invalid because it starts with a dash", c)
		}
	}
	return nil
}

// validateID applies the rule shared by task, executor, framework and agent ids.
func validateID(id string) error {
	switch {
	case id == "":
		return wireErr("ID must not be empty")
	case len(id) > 255:
		return wireErr("ID must not be greater than 255 characters")
	case id == "." || id == "..":
		return wireErr("'.' and '..' are disallowed for ID")
	case strings.ContainsAny(id, "/\\"):
		return wireErr("'/' and '\\' are disallowed for ID")
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return wireErr("ID must not contain control characters")
		}
	}
	return nil
}

// validateCall is the synchronous part of Mesos' scheduler::call::validate.
func validateCall(c *scheduler.Call, principal string) error {
	if c.Type == scheduler.Call_SUBSCRIBE {
		if c.Subscribe == nil {
			return wireErr("Expecting 'subscribe' to be present")
		}
		fi := c.Subscribe.FrameworkInfo
		if fi == nil {
			return wireErr("Not initialized: subscribe.framework_info")
		}
		callID, infoID := "", ""
		if c.FrameworkID != nil {
			callID = c.FrameworkID.Value
		}
		if fi.ID != nil {
			infoID = fi.ID.Value
		}
		if (c.FrameworkID != nil) != (fi.ID != nil) || callID != infoID {
			return wireErr("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		if principal != "" && fi.Principal != nil && fi.GetPrincipal() != principal {
			return wireErrf("Authenticated principal '%s' does not match principal '%s' set in `FrameworkInfo`", principal, fi.GetPrincipal())
		}
		return nil
	}
	if c.FrameworkID == nil {
		return wireErr("Expecting 'framework_id' to be present")
	}
	missing := func(name string) error { return wireErrf("Expecting '%s' to be present", name) }
	switch c.Type {
	case scheduler.Call_ACCEPT:
		if c.Accept == nil {
			return missing("accept")
		}
	case scheduler.Call_DECLINE:
		if c.Decline == nil {
			return missing("decline")
		}
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		if c.AcceptInverseOffers == nil {
			return missing("accept_inverse_offers")
		}
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		if c.DeclineInverseOffers == nil {
			return missing("decline_inverse_offers")
		}
	case scheduler.Call_KILL:
		if c.Kill == nil {
			return missing("kill")
		}
	case scheduler.Call_SHUTDOWN:
		if c.Shutdown == nil {
			return missing("shutdown")
		}
	case scheduler.Call_ACKNOWLEDGE:
		if c.Acknowledge == nil {
			return missing("acknowledge")
		}
		if len(c.Acknowledge.UUID) != 16 {
			return wireErr("Not a valid UUID")
		}
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		a := c.AcknowledgeOperationStatus
		if a == nil {
			return missing("acknowledge_operation_status")
		}
		if len(a.UUID) != 16 {
			return wireErr("Not a valid UUID")
		}
		if a.AgentID == nil {
			return missing("agent_id")
		}
	case scheduler.Call_RECONCILE:
		if c.Reconcile == nil {
			return missing("reconcile")
		}
	case scheduler.Call_RECONCILE_OPERATIONS:
		if c.ReconcileOperations == nil {
			return missing("reconcile_operations")
		}
	case scheduler.Call_MESSAGE:
		if c.Message == nil {
			return missing("message")
		}
	case scheduler.Call_REQUEST:
		if c.Request == nil {
			return missing("request")
		}
	case scheduler.Call_UPDATE_FRAMEWORK:
		if c.UpdateFramework == nil {
			return missing("update_framework")
		}
		if fid := c.UpdateFramework.FrameworkInfo.ID; fid == nil || fid.Value != c.FrameworkID.Value {
			return wireErr("'framework_id' differs from 'update_framework.framework_info.id'")
		}
	}
	return nil
}

// validateTask applies the master's task validation (§3.4). remaining is
// what is left of the offer; execCharged reports whether the executor's
// resources are already charged on this agent. Caller holds mu.
func (m *Master) validateTask(fw *framework, a *agent, ti *mesos.TaskInfo, remaining resVec, execCharged, inGroup bool) (resVec, resVec, error) {
	var none resVec
	if err := validateID(ti.TaskID.Value); err != nil {
		return none, none, wireErrf("Task ID '%s' is invalid: %w", ti.TaskID.Value, err)
	}
	if _, dup := fw.tasks[ti.TaskID.Value]; dup {
		return none, none, wireErrf("Task has duplicate ID: %s", ti.TaskID.Value)
	}
	if _, dup := fw.unreachable[ti.TaskID.Value]; dup {
		return none, none, wireErrf("Task reuses the ID of an unreachable task: %s", ti.TaskID.Value)
	}
	if ti.AgentID.Value != a.id {
		return none, none, wireErrf("Task uses invalid agent %s while agent %s is expected", ti.AgentID.Value, a.id)
	}
	if kp := ti.KillPolicy; kp != nil && kp.GracePeriod != nil && kp.GracePeriod.Nanoseconds < 0 {
		return none, none, wireErr("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if mc := ti.MaxCompletionTime; mc != nil && mc.Nanoseconds < 0 {
		return none, none, wireErr("Task's `max_completion_time` must be non-negative")
	}
	if hc := ti.HealthCheck; hc != nil && hc.Type == mesos.HealthCheck_UNKNOWN {
		return none, none, wireErr("HealthCheck must specify 'type'")
	}
	if len(ti.Resources) == 0 {
		return none, none, wireErr("Task uses no resources")
	}
	res, _, err := resourcesToVec(ti.Resources)
	if err != nil {
		return none, none, wireErrf("Task uses invalid resources: %w", err)
	}
	if !inGroup && (ti.Command == nil) == (ti.Executor == nil) {
		return none, none, wireErr("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if len(ti.Limits) > 0 {
		return none, none, wireErr("Task specifies resource limits but the agent does not have the TASK_RESOURCE_LIMITS capability")
	}
	if ci := ti.Container; ci != nil && ci.Type == nil {
		return none, none, wireErr("Container type is required")
	}
	execRes := newResVec()
	if ei := ti.Executor; ei != nil && !inGroup {
		if err := validateID(ei.ExecutorID.Value); err != nil {
			return none, none, wireErrf("Executor ID '%s' is invalid: %w", ei.ExecutorID.Value, err)
		}
		if ei.Type != mesos.ExecutorInfo_UNKNOWN && ei.Type != mesos.ExecutorInfo_CUSTOM {
			return none, none, wireErr("'ExecutorInfo.type' must be 'CUSTOM'")
		}
		if ei.Command == nil {
			return none, none, wireErr("Executor must have a 'CommandInfo'")
		}
		if e := a.executors[fw.id+"/"+ei.ExecutorID.Value]; e != nil && !e.info.Command.Equal(ei.Command) {
			return none, none, wireErrf("ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID")
		}
		if len(ei.Resources) > 0 {
			execRes, _, err = resourcesToVec(ei.Resources)
			if err != nil {
				return none, none, wireErrf("Executor uses invalid resources: %w", err)
			}
		}
	}
	need := res.clone()
	if !execCharged {
		need.add(execRes)
	}
	if !remaining.contains(need) {
		return none, none, wireErrf("Total resources %s required by task and its executor is more than available %s", need.String(), remaining.String())
	}
	return res, execRes, nil
}
