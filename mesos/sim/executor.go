package sim

import (
	"fmt"
	"log/slog"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/internal/clock"
)

// Executor kinds understood by DefaultExecutorFactory.
const (
	// ExecutorSimulated runs no processes: a task's duration and outcome come
	// from its labels or environment (SIM_DURATION, SIM_EXIT_CODE, SIM_OUTCOME).
	ExecutorSimulated = "simulated"
	// ExecutorProcess runs command tasks as local processes in sandboxes.
	ExecutorProcess = "process"
)

// Executor runs the tasks of one agent. The master never calls it with its
// lock held, and Report may be called from any goroutine, even from inside
// Launch or Kill.
type Executor interface {
	// Launch starts a task; it must not block on the task.
	Launch(l Launch)
	// Kill stops a running task: gracefully, then forcibly after grace. The
	// executor reports the terminal state (TASK_KILLED) through Report.
	Kill(frameworkID, taskID string, grace time.Duration)
	// Close stops every task without reporting and waits for them.
	Close() error
}

// Launch is one task handed to an Executor.
type Launch struct {
	FrameworkID string
	AgentID     string
	ExecutorID  string
	Task        mesos.TaskInfo
	// Sandbox is the task's sandbox directory (the executor creates it).
	Sandbox string
	// User is the OS user the task asks to run as: CommandInfo.user, else
	// FrameworkInfo.user.
	User string
	// Checkpoint is FrameworkInfo.checkpoint (MESOS_CHECKPOINT).
	Checkpoint bool
	// AgentEndpoint is the agent's host:port and AgentPID its libprocess
	// pid, slave(N)@host:port (MESOS_AGENT_ENDPOINT, MESOS_SLAVE_PID).
	AgentEndpoint string
	AgentPID      string
	// Custom is set for tasks of a custom executor (TaskInfo.executor): no
	// TASK_STARTING is sent, as with mesos-go's example executor.
	Custom bool
	// Report sends a status update for this task.
	Report func(Update)
}

// Update is a status change reported by an executor.
type Update struct {
	State   mesos.TaskState
	Message string
	// Reason is optional.
	Reason *mesos.TaskStatus_Reason
	// Source defaults to SOURCE_EXECUTOR.
	Source *mesos.TaskStatus_Source
}

// ExecutorEnv is what an ExecutorFactory gets for one agent.
type ExecutorEnv struct {
	AgentID string
	Clock   clock.Clock
	Logger  *slog.Logger
	// KillGrace is the default SIGTERM→SIGKILL grace period.
	KillGrace time.Duration
	// Environment and SwitchUser are Config.ExecutorEnvironment and
	// Config.SwitchUser, the agent's --executor_environment_variables and
	// --switch_user.
	Environment map[string]string
	SwitchUser  bool
}

// ExecutorFactory builds the executor of one agent from its kind.
type ExecutorFactory func(kind string, env ExecutorEnv) (Executor, error)

// DefaultExecutorFactory knows ExecutorSimulated and ExecutorProcess.
func DefaultExecutorFactory(kind string, env ExecutorEnv) (Executor, error) {
	switch kind {
	case "", ExecutorSimulated:
		return NewSimulatedExecutor(env.Clock), nil
	case ExecutorProcess:
		return NewProcessExecutor(env.Logger, ProcessOptions{Environment: env.Environment, SwitchUser: env.SwitchUser}), nil
	default:
		return nil, fmt.Errorf("unknown executor kind %q", kind)
	}
}
