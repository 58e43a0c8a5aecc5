package sim

import (
	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// reconcileOperations answers RECONCILE_OPERATIONS. The simulated agents run
// no offer operations with ids, so every named operation is unknown (or
// recovering/unreachable/gone with its agent). Caller holds mu.
func (m *Master) reconcileOperations(fw *framework, r *scheduler.Call_ReconcileOperations) {
	if fw.stream == nil {
		return
	}
	for _, op := range r.Operations {
		st := mesos.OPERATION_UNKNOWN
		if op.AgentID != nil {
			if a := m.agents[op.AgentID.Value]; a != nil {
				switch a.state {
				case agentRecovering:
					st = mesos.OPERATION_RECOVERING
				case agentUnreachable:
					st = mesos.OPERATION_UNREACHABLE
				case agentGone:
					st = mesos.OPERATION_GONE_BY_OPERATOR
				}
			}
		}
		id := op.OperationID
		fw.stream.push(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
			Status: mesos.OperationStatus{OperationID: &id, State: st, AgentID: op.AgentID, ResourceProviderID: op.ResourceProviderID},
		}})
	}
}
