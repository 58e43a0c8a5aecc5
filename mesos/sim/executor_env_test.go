package sim

import (
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func strp(s string) *string { return &s }

func TestTaskEnvironment_Precedence(t *testing.T) {
	role := "web"
	base := Launch{
		FrameworkID: "fw", AgentID: "m1-S0", ExecutorID: "t1", Sandbox: "/work/sb",
		AgentEndpoint: "127.0.0.1:5050", AgentPID: "slave(1)@127.0.0.1:5050",
		Task: mesos.TaskInfo{TaskID: mesos.TaskID{Value: "t1"}, Resources: []mesos.Resource{{Name: "cpus", AllocationInfo: &mesos.Resource_AllocationInfo{Role: &role}}}},
	}
	withEnv := func(l Launch, kv ...string) Launch {
		var vars []mesos.Environment_Variable
		for i := 0; i+1 < len(kv); i += 2 {
			vars = append(vars, mesos.Environment_Variable{Name: kv[i], Value: strp(kv[i+1])})
		}
		secret := mesos.Environment_Variable_SECRET
		vars = append(vars, mesos.Environment_Variable{Name: "FROM_SECRET", Type: &secret})
		l.Task.Command = &mesos.CommandInfo{Environment: &mesos.Environment{Variables: vars}}
		return l
	}
	checkpointed := base
	checkpointed.Checkpoint = true
	tests := map[string]struct {
		l    Launch
		base map[string]string
		home string
		want map[string]string // a value "" means absent
	}{
		"mesos default: no base": {l: base, home: "/root", want: map[string]string{
			"PATH": hostDefaultPath, "HOME": "/root",
			"MESOS_SANDBOX": "/work/sb", "MESOS_DIRECTORY": "/work/sb", "MESOS_FRAMEWORK_ID": "fw", "MESOS_EXECUTOR_ID": "t1",
			"MESOS_SLAVE_ID": "m1-S0", "MESOS_SLAVE_PID": "slave(1)@127.0.0.1:5050", "MESOS_AGENT_ENDPOINT": "127.0.0.1:5050",
			"MESOS_CHECKPOINT": "0", "MESOS_HTTP_COMMAND_EXECUTOR": "0", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
			"MESOS_ALLOCATION_ROLE": "web", "MESOS_RECOVERY_TIMEOUT": "", "MESOS_TASK_ID": "", "FROM_SECRET": "",
		}},
		"checkpointing": {l: checkpointed, want: map[string]string{
			"MESOS_CHECKPOINT": "1", "MESOS_RECOVERY_TIMEOUT": "15mins", "MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs", "HOME": "",
		}},
		"agent flag is the base, MESOS_* and the task win": {
			l:    withEnv(base, "GREETING", "hi", "PATH", "/task/bin", "MESOS_TASK_ID", "t1", "MESOS_ALLOCATION_ROLE", "nope"),
			base: map[string]string{"PATH": "/agent/bin", "HOME": "/agent/home", "LANG": "C.UTF-8", "MESOS_SANDBOX": "/elsewhere"},
			home: "/root",
			want: map[string]string{
				"PATH": "/task/bin", "HOME": "/agent/home", "LANG": "C.UTF-8", "MESOS_SANDBOX": "/work/sb",
				"GREETING": "hi", "MESOS_TASK_ID": "t1", "MESOS_ALLOCATION_ROLE": "web",
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := taskEnvironment(tc.l, tc.base, tc.home)
			got := map[string]string{}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, kv)
				_, dup := got[k]
				require.False(t, dup, "%s twice", k)
				got[k] = v
			}
			for k, want := range tc.want {
				if want == "" {
					assert.NotContains(t, got, k)
					continue
				}
				assert.Equal(t, want, got[k], k)
			}
			assert.IsIncreasing(t, env)
		})
	}
}

func TestMesosDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second: "5secs", 15 * time.Minute: "15mins", 2500 * time.Millisecond: "2.5secs",
		250 * time.Millisecond: "250ms", 3 * time.Hour: "3hrs", 50: "50ns", 14 * 24 * time.Hour: "2weeks",
	} {
		assert.Equal(t, want, mesosDuration(d), "%v", d)
	}
}

// runTask launches one command task on a process agent and returns its
// terminal status and stdout.
func runTask(t *testing.T, tm *testMaster, fi *mesos.FrameworkInfo, ti func(o mesos.Offer) mesos.TaskInfo) (mesos.TaskStatus, string) {
	t.Helper()
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	task := ti(o)
	s.mustCall(launch(o, task))
	for {
		st := s.update(10*time.Second, task.TaskID.Value)
		s.ack(st)
		if isTerminal(st.GetState()) {
			out := ""
			if st.GetState() == mesos.TASK_FINISHED {
				out = filesRead(t, tm.url, "/frameworks/"+s.fwID+"/executors/"+task.TaskID.Value+"/runs/latest/stdout", "0", "").Data
			}
			return st, out
		}
	}
}

// A task on the process executor sees the environment a Mesos agent gives
// (the --executor_environment_variables base, MESOS_*, its own), never the
// simulator's: a canary set in this process does not reach it.
func TestProcessExecutor_TaskSeesNoneOfTheSimulatorsEnvironment(t *testing.T) {
	t.Setenv("SIM_CANARY_SECRET", "canary-5f0c")
	for name, base := range map[string]map[string]string{
		"no executor environment": nil,
		"executor environment":    {"FROM_AGENT_FLAG": "yes", "PATH": "/usr/bin:/bin"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := processConfig(t)
			cfg.ExecutorEnvironment = base
			tm := startMaster(t, cfg)
			st, out := runTask(t, tm, frameworkInfo("env"), func(o mesos.Offer) mesos.TaskInfo {
				ti := commandTask("env-task", o, "env")
				ti.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: strp("hi")}}}
				return ti
			})
			require.Equal(t, mesos.TASK_FINISHED, st.GetState(), st.GetMessage())
			assert.NotContains(t, out, "canary-5f0c")
			assert.NotContains(t, out, "SIM_CANARY_SECRET")
			lines := strings.Split(out, "\n")
			assert.Contains(t, lines, "GREETING=hi")
			assert.Contains(t, lines, "MESOS_EXECUTOR_ID=env-task")
			assert.Contains(t, out, "\nMESOS_SANDBOX="+cfg.WorkDir+"/slaves/")
			if base == nil {
				assert.Contains(t, lines, "PATH="+hostDefaultPath)
			} else {
				assert.Contains(t, lines, "PATH=/usr/bin:/bin")
				assert.Contains(t, lines, "FROM_AGENT_FLAG=yes")
			}
			if u, err := user.Current(); err == nil && u.HomeDir != "" {
				assert.Contains(t, lines, "HOME="+u.HomeDir)
			}
		})
	}
}

// With shell=false the program is looked up on the task's PATH, not on the
// simulator's.
func TestProcessExecutor_ExecFormUsesTheTasksPath(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "only-here"), []byte("#!/bin/sh\necho found-it\n"), 0o755))
	tm := startMaster(t, processConfig(t))
	st, out := runTask(t, tm, frameworkInfo("path"), func(o mesos.Offer) mesos.TaskInfo {
		ti := commandTask("exec-form", o, "only-here")
		ti.Command.Shell = new(bool)
		ti.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "PATH", Value: strp(bin + ":/bin")}}}
		return ti
	})
	require.Equal(t, mesos.TASK_FINISHED, st.GetState(), st.GetMessage())
	assert.Equal(t, "found-it\n", out)
}

// switchUserConfig is a process agent with --switch_user whose work dir
// other users can traverse (t.TempDir's parent is 0700).
func switchUserConfig(t *testing.T) Config {
	t.Helper()
	dir, err := os.MkdirTemp("", "sim-switch-user-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o711))
	cfg := processConfig(t)
	cfg.WorkDir = filepath.Join(dir, "work")
	cfg.SwitchUser = true
	return cfg
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
}

// As a Mesos agent with --switch_user: the task runs as CommandInfo.user,
// else FrameworkInfo.user, with that user's HOME and groups, in a sandbox
// (0750) and log files that user owns.
func TestProcessExecutor_SwitchUser(t *testing.T) {
	requireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody here")
	}
	tests := map[string]struct {
		frameworkUser, commandUser string
		switchUser                 bool
		want                       string
	}{
		"command user":           {frameworkUser: "root", commandUser: "nobody", switchUser: true, want: "nobody"},
		"framework user":         {frameworkUser: "nobody", switchUser: true, want: "nobody"},
		"same user as the agent": {frameworkUser: "root", switchUser: true, want: "root"},
		"switch_user off":        {frameworkUser: "nobody", commandUser: "nobody", want: "root"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := switchUserConfig(t)
			cfg.SwitchUser = tc.switchUser
			tm := startMaster(t, cfg)
			fi := frameworkInfo("switch")
			fi.User = tc.frameworkUser
			st, out := runTask(t, tm, fi, func(o mesos.Offer) mesos.TaskInfo {
				ti := commandTask("whoami", o, `id -un; echo "$HOME"; touch "$MESOS_SANDBOX/written"`)
				if tc.commandUser != "" {
					ti.Command.User = &tc.commandUser
				}
				return ti
			})
			require.Equal(t, mesos.TASK_FINISHED, st.GetState(), st.GetMessage())
			home := "/root"
			if tc.want == "nobody" {
				home = nobody.HomeDir
			}
			assert.Equal(t, tc.want+"\n"+home+"\n", out)
			sandboxes, err := filepath.Glob(filepath.Join(cfg.WorkDir, "slaves", "*", "frameworks", "*", "executors", "whoami", "runs", "*"))
			require.NoError(t, err)
			require.Len(t, sandboxes, 1)
			for _, p := range []string{sandboxes[0], filepath.Join(sandboxes[0], "stdout"), filepath.Join(sandboxes[0], "written")} {
				fi, err := os.Stat(p)
				require.NoError(t, err)
				owner, err := user.LookupId(strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Uid), 10))
				require.NoError(t, err)
				assert.Equal(t, tc.want, owner.Username, p)
			}
			fi2, err := os.Stat(sandboxes[0])
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o750), fi2.Mode().Perm())
			parent, err := os.Stat(filepath.Dir(sandboxes[0]))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o711), parent.Mode().Perm())
		})
	}
}

// A task for a user that does not exist (or, without root, any other
// user) fails with the agent's words, and its sandbox is removed.
func TestProcessExecutor_UnknownUserFailsTheTask(t *testing.T) {
	cfg := switchUserConfig(t)
	tm := startMaster(t, cfg)
	fi := frameworkInfo("ghost")
	fi.User = "no-such-user-3f1a"
	st, _ := runTask(t, tm, fi, func(o mesos.Offer) mesos.TaskInfo { return commandTask("ghost", o, "true") })
	assert.Equal(t, mesos.TASK_FAILED, st.GetState())
	assert.Equal(t, mesos.SOURCE_AGENT, st.GetSource())
	assert.Equal(t, mesos.REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Regexp(t, `^Failed to create executor directory '`+cfg.WorkDir+`/slaves/m1-S0/frameworks/m1-0000/executors/ghost/runs/[0-9a-f-]+': Failed to chown directory to 'no-such-user-3f1a': No such user 'no-such-user-3f1a'$`, st.GetMessage())
	sandboxes, _ := filepath.Glob(filepath.Join(cfg.WorkDir, "slaves", "*", "frameworks", "*", "executors", "ghost", "runs", "*"))
	assert.Empty(t, sandboxes)
}

// Without root, a task for another user fails as on a Mesos agent that
// cannot chown the sandbox.
func TestProcessExecutor_OtherUserWithoutRootFails(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("needs a non-root user (run the test binary as nobody)")
	}
	cfg := switchUserConfig(t)
	tm := startMaster(t, cfg)
	fi := frameworkInfo("other")
	fi.User = "root"
	st, _ := runTask(t, tm, fi, func(o mesos.Offer) mesos.TaskInfo { return commandTask("other", o, "true") })
	assert.Equal(t, mesos.TASK_FAILED, st.GetState())
	assert.Contains(t, st.GetMessage(), "Failed to chown directory to 'root': Operation not permitted")
}

// /files/read does not follow a task's symlink out of the work dir (the
// simulator may run as root) and does not block on a FIFO.
func TestFilesRead_StaysInsideTheWorkDir(t *testing.T) {
	tm := startMaster(t, processConfig(t))
	st, _ := runTask(t, tm, frameworkInfo("links"), func(o mesos.Offer) mesos.TaskInfo {
		return commandTask("links", o, "ln -s /etc/hostname leak && mkfifo pipe && echo ok > real && ln -s real inside")
	})
	require.Equal(t, mesos.TASK_FINISHED, st.GetState(), st.GetMessage())
	base := "/frameworks/m1-0000/executors/links/runs/latest/"
	assert.Equal(t, "ok\n", filesRead(t, tm.url, base+"inside", "0", "").Data, "a link inside the sandbox is fine")
	for file, want := range map[string]int{"leak": 404, "pipe": 400} {
		resp, err := http.Get(tm.url + "/files/read?path=" + base + file + "&offset=0")
		require.NoError(t, err)
		assert.Equal(t, want, resp.StatusCode, file+": "+readBody(t, resp))
	}
}

func TestPrepareWorkDir(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "a", "b")
	require.NoError(t, PrepareWorkDir(fresh))
	fi, err := os.Stat(fresh)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o711), fi.Mode().Perm())
	open := filepath.Join(dir, "open")
	require.NoError(t, os.Mkdir(open, 0o777))
	require.NoError(t, os.Chmod(open, 0o777))
	assert.ErrorContains(t, PrepareWorkDir(open), "lets other users write to it")
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	assert.Error(t, PrepareWorkDir(file))
}
