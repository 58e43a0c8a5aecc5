package sim

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/internal/clock"
)

// SimulatedExecutor runs no processes. A task's script comes from its labels
// (first) or its command environment:
//
//	SIM_DURATION  how long the task runs after TASK_RUNNING (Go duration, default 0)
//	SIM_EXIT_CODE exit status: 0 → TASK_FINISHED, else TASK_FAILED (default 0)
//	SIM_OUTCOME   FINISHED | FAILED | LOST | ERROR, overriding SIM_EXIT_CODE
//
// Each running task costs one clock timer and a map entry, no goroutine.
type SimulatedExecutor struct {
	clk clock.Clock

	mu     sync.Mutex
	closed bool
	tasks  map[string]*simTask // by framework id + "\x00" + task id
}

type simTask struct {
	timer  clock.Timer
	report func(Update)
}

var _ Executor = (*SimulatedExecutor)(nil)

// NewSimulatedExecutor returns a SimulatedExecutor timed by clk.
func NewSimulatedExecutor(clk clock.Clock) *SimulatedExecutor {
	return &SimulatedExecutor{clk: clk, tasks: map[string]*simTask{}}
}

// simScript is the parsed SIM_* settings of a task.
type simScript struct {
	duration time.Duration
	state    mesos.TaskState
	message  string
}

func taskSetting(ti *mesos.TaskInfo, key string) (string, bool) {
	if ti.Labels != nil {
		for _, l := range ti.Labels.Labels {
			if l.Key == key {
				return l.GetValue(), true
			}
		}
	}
	cmd := ti.Command
	if cmd == nil && ti.Executor != nil {
		cmd = ti.Executor.Command
	}
	if cmd != nil && cmd.Environment != nil {
		for _, v := range cmd.Environment.Variables {
			if v.Name == key {
				return v.GetValue(), true
			}
		}
	}
	return "", false
}

func parseSimScript(ti *mesos.TaskInfo) (simScript, error) {
	s := simScript{state: mesos.TASK_FINISHED, message: "Command exited with status 0"}
	if v, ok := taskSetting(ti, "SIM_DURATION"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("bad SIM_DURATION %q", v)
		}
		s.duration = d
	}
	if v, ok := taskSetting(ti, "SIM_EXIT_CODE"); ok {
		code, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("bad SIM_EXIT_CODE %q", v)
		}
		if code != 0 {
			s.state = mesos.TASK_FAILED
		}
		s.message = fmt.Sprintf("Command exited with status %d", code)
	}
	if v, ok := taskSetting(ti, "SIM_OUTCOME"); ok {
		switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(v), "TASK_")) {
		case "FINISHED":
			s.state, s.message = mesos.TASK_FINISHED, "Command exited with status 0"
		case "FAILED":
			s.state = mesos.TASK_FAILED
			if s.message == "Command exited with status 0" {
				s.message = "Command exited with status 1"
			}
		case "LOST":
			s.state, s.message = mesos.TASK_LOST, "Task lost (simulated)"
		case "ERROR":
			s.state, s.message = mesos.TASK_ERROR, "Task error (simulated)"
		default:
			return s, fmt.Errorf("bad SIM_OUTCOME %q", v)
		}
	}
	return s, nil
}

// Launch implements Executor.
func (e *SimulatedExecutor) Launch(l Launch) {
	script, err := parseSimScript(&l.Task)
	if err != nil {
		l.Report(Update{State: mesos.TASK_FAILED, Message: err.Error(), Reason: mesos.REASON_CONTAINER_LAUNCH_FAILED.Enum()})
		return
	}
	key := l.FrameworkID + "\x00" + l.Task.TaskID.Value
	st := &simTask{report: l.Report}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.tasks[key] = st
	e.mu.Unlock()
	if !l.Custom {
		l.Report(Update{State: mesos.TASK_STARTING})
	}
	l.Report(Update{State: mesos.TASK_RUNNING})
	finish := func() {
		if e.take(key) != nil {
			u := Update{State: script.state, Message: script.message}
			if script.state == mesos.TASK_LOST || script.state == mesos.TASK_ERROR {
				u.Source = mesos.SOURCE_AGENT.Enum()
			}
			l.Report(u)
		}
	}
	if script.duration == 0 {
		finish()
		return
	}
	t := e.clk.AfterFunc(script.duration, finish)
	e.mu.Lock()
	st.timer = t
	e.mu.Unlock()
}

func (e *SimulatedExecutor) take(key string) *simTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.tasks[key]
	delete(e.tasks, key)
	if st != nil && st.timer != nil {
		st.timer.Stop()
	}
	if e.closed {
		return nil
	}
	return st
}

// Kill implements Executor: the task ends TASK_KILLED at once.
func (e *SimulatedExecutor) Kill(frameworkID, taskID string, _ time.Duration) {
	if st := e.take(frameworkID + "\x00" + taskID); st != nil {
		st.report(Update{State: mesos.TASK_KILLED, Message: "Command terminated with signal Terminated"})
	}
}

// Running reports how many tasks are running.
func (e *SimulatedExecutor) Running() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.tasks)
}

// Close implements Executor.
func (e *SimulatedExecutor) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for k, st := range e.tasks {
		if st.timer != nil {
			st.timer.Stop()
		}
		delete(e.tasks, k)
	}
	return nil
}
