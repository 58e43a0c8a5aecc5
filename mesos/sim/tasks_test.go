package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func processConfig(t *testing.T) Config {
	cfg := fastConfig()
	cfg.WorkDir = t.TempDir()
	cfg.Agents = []AgentConfig{{Hostname: "127.0.0.1", Executor: ExecutorProcess}}
	return cfg
}

func TestF1_FrameworkIDsAndOffersWithoutRevive(t *testing.T) {
	tm := startMaster(t, fastConfig())
	for i, want := range []string{"m1-0000", "m1-0001", "m1-0002"} {
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("f1"))
		e := s.subscribed()
		assert.Equal(t, want, e.Subscribed.FrameworkID.Value, "framework %d", i)
		if i == 0 {
			offers := s.offers(5 * time.Second)
			require.Len(t, offers, 1)
			assert.True(t, hasPrefix(offers[0].ID.Value, "m1-O"))
			assert.Equal(t, "m1-S0", offers[0].AgentID.Value)
		}
	}
}

// runOne launches one command task on the first offer and returns the updates
// up to the terminal one, ACKing each.
func runOne(t *testing.T, s *sub, id, cmd string) []mesos.TaskStatus {
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, commandTask(id, o, cmd)))
	var got []mesos.TaskStatus
	for {
		st := s.update(10*time.Second, id)
		got = append(got, st)
		s.ack(st)
		if isTerminal(st.GetState()) {
			return got
		}
	}
}

func TestT1_CommandTaskSuccess(t *testing.T) {
	tm := startMaster(t, processConfig(t))
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t1"))
	s.subscribed()
	ups := runOne(t, s, "t1", "echo hello; echo oops >&2")
	var states []mesos.TaskState
	for _, st := range ups {
		states = append(states, st.GetState())
		assert.Equal(t, mesos.SOURCE_EXECUTOR, st.GetSource())
		assert.Len(t, st.UUID, 16)
		assert.Equal(t, "m1-S0", st.GetAgentID().GetValue())
		assert.Equal(t, "t1", st.GetExecutorID().GetValue(), "command executor id = task id")
		assert.NotZero(t, st.GetTimestamp())
	}
	assert.Equal(t, []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}, states)
	assert.Equal(t, "Command exited with status 0", ups[2].GetMessage())

	// The sandbox is readable through the agent's /files/read, found the
	// way a client finds it: agent host:port from the offer URL, the
	// virtual path of the executor's latest run.
	path := "/frameworks/" + s.fwID + "/executors/t1/runs/latest/stdout"
	body := filesRead(t, tm.url, path, "0", "-1")
	assert.Equal(t, "hello\n", body.Data)
	assert.Equal(t, int64(0), body.Offset)
	size := filesRead(t, tm.url, path, "-1", "")
	assert.Equal(t, int64(6), size.Offset, "offset -1 → file size")
	assert.Empty(t, size.Data)
	part := filesRead(t, tm.url, path, "2", "2")
	assert.Equal(t, "ll", part.Data)
	assert.Equal(t, "oops\n", filesRead(t, tm.url, "/frameworks/"+s.fwID+"/executors/t1/runs/latest/stderr", "0", "").Data)

	// /master/state lists the completed task with its statuses.
	st := masterState(t, tm.url)
	fw := st.Frameworks[0]
	assert.Equal(t, s.fwID, fw.ID)
	assert.True(t, fw.Active)
	require.Len(t, fw.CompletedTasks, 1)
	ct := fw.CompletedTasks[0]
	assert.Equal(t, "t1", ct.ID)
	assert.Equal(t, "TASK_FINISHED", ct.State)
	assert.Equal(t, "m1-S0", ct.SlaveID)
	require.Len(t, ct.Statuses, 3)
	assert.Equal(t, "TASK_STARTING", ct.Statuses[0].State)
	require.Len(t, st.Slaves, 1)
	assert.Equal(t, "m1-S0", st.Slaves[0].ID)
	assert.Equal(t, "127.0.0.1", st.Slaves[0].Hostname)
	assert.True(t, strings.HasPrefix(st.Slaves[0].PID, "slave(1)@127.0.0.1:"))
}

type filesReadJSON struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

func filesRead(t *testing.T, base, path, offset, length string) filesReadJSON {
	t.Helper()
	q := url.Values{"path": {path}, "offset": {offset}}
	if length != "" {
		q.Set("length", length)
	}
	resp, err := http.Get(base + "/files/read?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(b))
	var out filesReadJSON
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

type stateDoc struct {
	ID         string
	Frameworks []struct {
		ID             string
		Name           string
		Active         bool
		Tasks          []stateTask
		CompletedTasks []stateTask `json:"completed_tasks"`
	}
	CompletedFrameworks []struct {
		ID             string
		CompletedTasks []stateTask `json:"completed_tasks"`
	} `json:"completed_frameworks"`
	Slaves []struct {
		ID, Hostname, PID string
		Active            bool
		Resources         map[string]any
		Attributes        map[string]any
	}
}

type stateTask struct {
	ID          string
	Name        string
	FrameworkID string `json:"framework_id"`
	SlaveID     string `json:"slave_id"`
	State       string
	Statuses    []struct {
		State     string
		Timestamp float64
	}
}

func masterState(t *testing.T, base string) stateDoc {
	t.Helper()
	resp, err := http.Get(base + "/master/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st stateDoc
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func TestT2_NonZeroExitFails(t *testing.T) {
	tm := startMaster(t, processConfig(t))
	s := subscribe(t, tm.url, mediaJSON, frameworkInfo("t2"))
	s.subscribed()
	ups := runOne(t, s, "t2", "exit 7")
	last := ups[len(ups)-1]
	assert.Equal(t, mesos.TASK_FAILED, last.GetState())
	assert.Equal(t, "Command exited with status 7", last.GetMessage())
}

func TestProcessExecutor_ContainerImageFails(t *testing.T) {
	tm := startMaster(t, processConfig(t))
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("img"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	ti := commandTask("img", o, "true")
	ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "alpine:3"}}
	s.mustCall(launch(o, ti))
	st := s.update(5*time.Second, "img")
	assert.Equal(t, mesos.TASK_FAILED, st.GetState())
	assert.Equal(t, mesos.REASON_CONTAINER_LAUNCH_FAILED, st.GetReason())
	assert.Contains(t, st.GetMessage(), "this agent cannot run container images: docker image alpine:3")
}

func TestProcessExecutor_EnvAndArgv(t *testing.T) {
	tm := startMaster(t, processConfig(t))
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("env"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	ti := commandTask("argv", o, "/bin/sh")
	shell := false
	ti.Command.Shell = &shell
	ti.Command.Arguments = []string{"sh", "-c", `echo "$GREETING $MESOS_EXECUTOR_ID"`}
	v := "hi"
	ti.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: &v}}}
	s.mustCall(launch(o, ti))
	for {
		st := s.update(10*time.Second, "argv")
		s.ack(st)
		if isTerminal(st.GetState()) {
			require.Equal(t, mesos.TASK_FINISHED, st.GetState(), st.GetMessage())
			break
		}
	}
	assert.Equal(t, "hi argv\n", filesRead(t, tm.url, "/frameworks/"+s.fwID+"/executors/argv/runs/latest/stdout", "0", "").Data)
}

var _ = scheduler.Event_UPDATE
