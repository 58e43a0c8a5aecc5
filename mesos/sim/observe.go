package sim

import (
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// WithCallObserver registers f to see every scheduler call the master
// accepts for processing (after the synchronous checks, HTTP and in-process
// alike), in the order the master processes them, so tests can assert the
// actions a scheduler took. f may run with the master's lock held: it must
// not block or call the Master, and must not modify the call.
func WithCallObserver(f func(*scheduler.Call)) Option { return func(d *deps) { d.observe = f } }

// TaskSnapshot is one task as the master sees it.
type TaskSnapshot struct {
	FrameworkID string
	TaskID      string
	AgentID     string
	State       mesos.TaskState
	// Unreachable is set for tasks on an unreachable agent.
	Unreachable bool
}

// Tasks lists the tasks the master knows (live, terminal but not yet
// acknowledged, and unreachable), sorted by framework and task id.
func (m *Master) Tasks() []TaskSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TaskSnapshot
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			out = append(out, TaskSnapshot{FrameworkID: fw.id, TaskID: t.id, AgentID: t.agent.id, State: t.state})
		}
		for _, t := range fw.unreachable {
			out = append(out, TaskSnapshot{FrameworkID: fw.id, TaskID: t.id, AgentID: t.agent.id, State: t.state, Unreachable: true})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FrameworkID != out[j].FrameworkID {
			return out[i].FrameworkID < out[j].FrameworkID
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out
}
