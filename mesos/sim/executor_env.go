package sim

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// hostDefaultPath is the PATH a Mesos agent gives a task whose environment
// has none (stout's os::host_default_path).
const hostDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// The Mesos 1.10 agent defaults the executor environment reports.
const (
	executorShutdownGracePeriod   = 5 * time.Second  // --executor_shutdown_grace_period
	recoveryTimeout               = 15 * time.Minute // --recovery_timeout
	executorReregistrationTimeout = 2 * time.Second  // --executor_reregistration_timeout
)

// checkEnvironment validates --executor_environment_variables: names that
// can be environment variable names, values without NUL bytes.
func checkEnvironment(env map[string]string) error {
	for k, v := range env {
		switch {
		case k == "":
			return fmt.Errorf("empty variable name")
		case strings.ContainsAny(k, "=\x00"):
			return fmt.Errorf("variable name %q: must not contain '=' or NUL", k)
		case strings.ContainsRune(v, 0):
			return fmt.Errorf("variable %s: the value must not contain NUL", k)
		}
	}
	return nil
}

// taskEnvironment is the environment of a command task, built in the order
// a Mesos 1.10 agent, its containerizer and its command executor build it
// (slave.cpp executorEnvironment, containerizer.cpp, launch.cpp,
// launcher/executor.cpp), each step overriding the one before:
//
//  1. the agent's --executor_environment_variables (base);
//  2. the agent's MESOS_* variables: MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID,
//     MESOS_DIRECTORY, MESOS_SLAVE_ID, MESOS_SLAVE_PID,
//     MESOS_AGENT_ENDPOINT, MESOS_CHECKPOINT, MESOS_HTTP_COMMAND_EXECUTOR,
//     MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD and, with checkpointing,
//     MESOS_RECOVERY_TIMEOUT and MESOS_SUBSCRIPTION_BACKOFF_MAX;
//  3. MESOS_SANDBOX (the containerizer);
//  4. PATH, if still unset, the host default path; and HOME, if still
//     unset, the home directory of the user the task runs as (home; ""
//     for none) — Mesos sets no HOME, but programs expect one;
//  5. the task's CommandInfo.environment (SECRET variables are skipped,
//     as an agent without a secret resolver does);
//  6. MESOS_ALLOCATION_ROLE, the role of the task's resources.
//
// The agent's own environment is never part of it. The result is sorted.
func taskEnvironment(l Launch, base map[string]string, home string) []string {
	env := make(map[string]string, len(base)+16)
	for k, v := range base {
		env[k] = v
	}
	env["MESOS_FRAMEWORK_ID"] = l.FrameworkID
	env["MESOS_EXECUTOR_ID"] = l.ExecutorID
	env["MESOS_DIRECTORY"] = l.Sandbox
	env["MESOS_SLAVE_ID"] = l.AgentID
	env["MESOS_SLAVE_PID"] = l.AgentPID
	env["MESOS_AGENT_ENDPOINT"] = l.AgentEndpoint
	env["MESOS_CHECKPOINT"] = "0"
	env["MESOS_HTTP_COMMAND_EXECUTOR"] = "0"
	env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] = mesosDuration(executorShutdownGracePeriod)
	if l.Checkpoint {
		env["MESOS_CHECKPOINT"] = "1"
		env["MESOS_RECOVERY_TIMEOUT"] = mesosDuration(recoveryTimeout)
		env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = mesosDuration(executorReregistrationTimeout)
	}
	env["MESOS_SANDBOX"] = l.Sandbox
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = hostDefaultPath
	}
	if _, ok := env["HOME"]; !ok && home != "" {
		env["HOME"] = home
	}
	if ci := l.Task.Command; ci != nil && ci.Environment != nil {
		for _, v := range ci.Environment.Variables {
			if v.GetType() == mesos.Environment_Variable_SECRET || v.Name == "" || strings.ContainsAny(v.Name, "=\x00") {
				continue
			}
			env[v.Name] = strings.ReplaceAll(v.GetValue(), "\x00", "")
		}
	}
	for _, r := range l.Task.Resources {
		if ai := r.AllocationInfo; ai != nil && ai.Role != nil {
			env["MESOS_ALLOCATION_ROLE"] = *ai.Role
			break
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// mesosDuration formats d as stout's Duration does: the largest unit that
// keeps the value at least 1 ("5secs", "15mins", "250ms").
func mesosDuration(d time.Duration) string {
	units := []struct {
		size time.Duration
		name string
	}{
		{7 * 24 * time.Hour, "weeks"}, {24 * time.Hour, "days"}, {time.Hour, "hrs"},
		{time.Minute, "mins"}, {time.Second, "secs"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"},
	}
	for _, u := range units {
		if d >= u.size {
			return strconv.FormatFloat(float64(d)/float64(u.size), 'g', -1, 64) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// lookPath resolves a program name without a slash on the task's own PATH,
// as execvpe does in Mesos' launcher (not on the simulator's PATH).
func lookPath(name string, env []string) string {
	if strings.Contains(name, "/") {
		return name
	}
	path := hostDefaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		if isExecutable(p) {
			return p
		}
	}
	return name
}
