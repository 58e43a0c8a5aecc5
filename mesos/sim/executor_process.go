package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// ProcessExecutor runs command tasks as local processes, like Mesos' command
// executor: each in its own sandbox directory (cwd, with stdout and stderr
// files) and process group; `sh -c value` when shell is true (the default),
// else value exec'd with arguments as argv. The environment is built as an
// agent builds it (taskEnvironment), never inherited from the simulator.
// With SwitchUser each task runs as its user, in a sandbox it owns, as an
// agent with --switch_user does. Kill sends SIGTERM to the group and
// SIGKILL after the grace period. Container images cannot run here.
type ProcessExecutor struct {
	log  *slog.Logger
	opts ProcessOptions
	self *user.User // the simulator's own user, nil if unknown
	euid int

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	procs  map[string]*proc // by framework id + "\x00" + task id
}

// ProcessOptions are the agent flags a ProcessExecutor follows.
type ProcessOptions struct {
	// Environment is --executor_environment_variables: the base of every
	// task's environment (nil: none, as Mesos' default).
	Environment map[string]string
	// SwitchUser is --switch_user: run each task as Launch.User.
	SwitchUser bool
}

type proc struct {
	cmd    *exec.Cmd
	killed bool
	done   chan struct{}
	timer  *time.Timer
}

var _ Executor = (*ProcessExecutor)(nil)

// NewProcessExecutor returns a ProcessExecutor following opts.
func NewProcessExecutor(log *slog.Logger, opts ProcessOptions) *ProcessExecutor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &ProcessExecutor{log: log, opts: opts, euid: os.Geteuid(), procs: map[string]*proc{}}
	if u, err := user.LookupId(strconv.Itoa(e.euid)); err == nil {
		e.self = u
	}
	return e
}

// containerImage describes the image a task asks for, "" if none.
func containerImage(ti *mesos.TaskInfo) string {
	ci := ti.Container
	if ci == nil {
		return ""
	}
	switch {
	case ci.Docker != nil:
		return "docker image " + ci.Docker.Image
	case ci.Mesos != nil && ci.Mesos.Image != nil:
		img := ci.Mesos.Image
		if img.Docker != nil {
			return "docker image " + img.Docker.Name
		}
		if img.Appc != nil {
			return "appc image " + img.Appc.Name
		}
		return "container image"
	case ci.GetType() == mesos.ContainerInfo_DOCKER:
		return "DOCKER container"
	}
	return ""
}

// Launch implements Executor.
func (e *ProcessExecutor) Launch(l Launch) {
	fail := func(msg string) {
		l.Report(Update{State: mesos.TASK_FAILED, Message: msg, Reason: mesos.REASON_CONTAINER_LAUNCH_FAILED.Enum()})
	}
	if img := containerImage(&l.Task); img != "" {
		fail("this agent cannot run container images: " + img + " (mesos-sim runs tasks as local processes; no Docker here)")
		return
	}
	ci := l.Task.Command
	if ci == nil {
		fail("mesos-sim's process executor only runs command tasks")
		return
	}
	who, failure := e.createSandbox(l)
	if failure != "" {
		// Mesos' agent fails the launch with this text (paths.cpp
		// createExecutorDirectory); it sends TASK_DROPPED there, the
		// simulator TASK_FAILED (see docs/mesos-sim.md).
		source := mesos.SOURCE_AGENT
		l.Report(Update{State: mesos.TASK_FAILED, Message: "Failed to create executor directory '" + l.Sandbox + "': " + failure,
			Reason: mesos.REASON_EXECUTOR_TERMINATED.Enum(), Source: &source})
		return
	}
	stdout, err := e.createLog(l.Sandbox+"/stdout", who)
	if err != nil {
		fail("Failed to create stdout: " + err.Error())
		return
	}
	stderr, err := e.createLog(l.Sandbox+"/stderr", who)
	if err != nil {
		stdout.Close()
		fail("Failed to create stderr: " + err.Error())
		return
	}
	env := taskEnvironment(l, e.opts.Environment, who.home)
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", ci.GetValue()}}
	if ci.Shell != nil && !*ci.Shell {
		cmd = &exec.Cmd{Path: lookPath(ci.GetValue(), env), Args: []string{ci.GetValue()}}
		if len(ci.Arguments) > 0 {
			cmd.Args = append([]string(nil), ci.Arguments...)
		}
	}
	cmd.Dir = l.Sandbox
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: who.cred}
	key := l.FrameworkID + "\x00" + l.Task.TaskID.Value
	p := &proc{cmd: cmd, done: make(chan struct{})}
	l.Report(Update{State: mesos.TASK_STARTING}) // never under e.mu: Report may call back into Kill
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		stdout.Close()
		stderr.Close()
		return
	}
	if err := cmd.Start(); err != nil {
		e.mu.Unlock()
		stdout.Close()
		stderr.Close()
		fail("Failed to launch command: " + err.Error())
		return
	}
	e.procs[key] = p
	e.wg.Add(1)
	e.mu.Unlock()
	l.Report(Update{State: mesos.TASK_RUNNING})
	var maxTimer *time.Timer
	timedOut := false
	if mc := l.Task.MaxCompletionTime; mc != nil {
		maxTimer = time.AfterFunc(time.Duration(mc.Nanoseconds), func() {
			e.mu.Lock()
			timedOut = true
			e.mu.Unlock()
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		})
	}
	go func() {
		defer e.wg.Done()
		err := cmd.Wait()
		stdout.Close()
		stderr.Close()
		if maxTimer != nil {
			maxTimer.Stop()
		}
		e.mu.Lock()
		delete(e.procs, key)
		if p.timer != nil {
			p.timer.Stop()
		}
		closed, killed, late := e.closed, p.killed, timedOut
		e.mu.Unlock()
		close(p.done)
		if closed {
			return
		}
		l.Report(exitUpdate(err, killed, late))
	}()
}

// exitUpdate maps a process result to the command executor's update.
func exitUpdate(err error, killed, timedOut bool) Update {
	var ee *exec.ExitError
	code, sig := 0, ""
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = signalName(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	} else if err != nil {
		return Update{State: mesos.TASK_FAILED, Message: "Failed to wait for command: " + err.Error()}
	}
	switch {
	case timedOut:
		return Update{State: mesos.TASK_FAILED, Message: "Task has reached its max completion time", Reason: mesos.REASON_MAX_COMPLETION_TIME_REACHED.Enum()}
	case killed && sig != "":
		return Update{State: mesos.TASK_KILLED, Message: "Command terminated with signal " + sig}
	case killed:
		return Update{State: mesos.TASK_KILLED, Message: fmt.Sprintf("Command exited with status %d", code)}
	case sig != "":
		return Update{State: mesos.TASK_FAILED, Message: "Command terminated with signal " + sig}
	case code == 0:
		return Update{State: mesos.TASK_FINISHED, Message: "Command exited with status 0"}
	}
	return Update{State: mesos.TASK_FAILED, Message: fmt.Sprintf("Command exited with status %d", code)}
}

func signalName(s syscall.Signal) string {
	n := s.String() // "terminated", "killed"
	if n == "" {
		return fmt.Sprint(int(s))
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// Kill implements Executor: SIGTERM to the process group, SIGKILL after grace.
func (e *ProcessExecutor) Kill(frameworkID, taskID string, grace time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.procs[frameworkID+"\x00"+taskID]
	if p == nil {
		return
	}
	p.killed = true
	pgid := -p.cmd.Process.Pid
	if grace <= 0 {
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	if p.timer == nil {
		p.timer = time.AfterFunc(grace, func() { _ = syscall.Kill(pgid, syscall.SIGKILL) })
	}
}

// Close implements Executor: every process group gets SIGKILL; Close waits.
func (e *ProcessExecutor) Close() error {
	e.mu.Lock()
	e.closed = true
	for _, p := range e.procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}
