package apis

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunFromDefinition_SeedExample(t *testing.T) {
	// The request body from Sprint's README.
	body := `{"labels":{"name":"testing","tier":"local"},"cpus":0.1,"mem":100,
	          "container":{"type":"DOCKER","docker":{"image":"hello-world:latest"}}}`
	var def ContainerRunDefinition
	require.NoError(t, json.Unmarshal([]byte(body), &def))
	r, err := RunFromDefinition(def, "08028217-5270-41dd-81c6-de2dcfd832cb")
	require.NoError(t, err)
	assert.Equal(t, "08028217-5270-41dd-81c6-de2dcfd832cb", r.Metadata.Name)
	assert.Equal(t, map[string]string{"name": "testing", "tier": "local"}, r.Metadata.Labels)
	assert.Equal(t, "testing", TaskName(r))
	assert.Equal(t, NetworkBridge, r.Spec.Container.Network, "Sprint ran every Docker task on BRIDGE")
	assert.Empty(t, ValidateRun(r))
}

func TestRunFromDefinition_Defaults(t *testing.T) {
	r, err := RunFromDefinition(ContainerRunDefinition{Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{Image: "alpine"}}}, "a")
	require.NoError(t, err)
	assert.Equal(t, 0.1, r.Spec.Cpus)
	assert.Equal(t, 100.0, r.Spec.Mem)
	assert.Equal(t, APIVersion, r.APIVersion)
	assert.Equal(t, "a", TaskName(r), "without a name label the run name is the task name")
}

func TestDefinitionRoundTrip(t *testing.T) {
	defs := map[string]ContainerRunDefinition{
		"minimal": {Cpus: 0.1, Mem: 100, Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{Image: "hello-world:latest"}}},
		"full": {
			Cmd: "echo $PORT0", Cpus: 2, Mem: 512,
			Env:         map[string]string{"A": "1"},
			Labels:      map[string]string{"name": "job", "team": "data"},
			Constraints: [][]string{{"rack", "LIKE", "r[12]"}, {"zone", "UNLIKE", "eu-.*"}},
			Container: &SprintContainer{Type: "MESOS",
				Docker:       &DockerInfo{Image: "alpine:3.20", ForcePullImage: true, Parameters: []Parameter{{Key: "memory-swap", Value: "-1"}}},
				PortMappings: []SprintPortMapping{{ContainerPort: 8080, Name: "http"}, {ContainerPort: 0, HostPort: 31000, Protocol: "udp"}}},
		},
		"args and host network": {Args: []string{"/bin/echo", "hi"}, Cpus: 0.5, Mem: 64, Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{Image: "busybox"},
			Networks: []SprintNetwork{{Mode: "host"}}}},
		"user networks": {Cpus: 0.5, Mem: 64, Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{Image: "busybox"},
			Networks: []SprintNetwork{{Name: "dcos", Mode: "container"}, {Name: "other", Mode: "container"}}}},
	}
	for name, def := range defs {
		t.Run(name, func(t *testing.T) {
			r, err := RunFromDefinition(def, "x")
			require.NoError(t, err)
			assert.Equal(t, def, DefinitionFromRun(r), "definition → run → definition")
			r2, err := RunFromDefinition(DefinitionFromRun(r), "x")
			require.NoError(t, err)
			assert.Equal(t, r, r2, "run → definition → run")
		})
	}
}

func TestRunFromDefinition_Errors(t *testing.T) {
	img := &DockerInfo{Image: "alpine"}
	tests := map[string]struct {
		def  ContainerRunDefinition
		want string
	}{
		"container required": {def: ContainerRunDefinition{Cmd: "x"}, want: `ContainerRunDefinition "x" is invalid: container: required`},
		"sprint paths": {def: ContainerRunDefinition{Cmd: "x", Args: []string{"y"}, Cpus: -1, Labels: map[string]string{"a": "b c"},
			Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{}}},
			want: `ContainerRunDefinition "x" is invalid: labels[a]: invalid value "b c": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyValue" or "1.0"); args: may not be set together with cmd: set exactly one; cpus: must be greater than 0; container.docker.image: required`},
		"bad mode": {def: ContainerRunDefinition{Container: &SprintContainer{Type: "DOCKER", Docker: img, Networks: []SprintNetwork{{Mode: "overlay"}}}},
			want: `ContainerRunDefinition "x" is invalid: container.networks[0].mode: unsupported value "overlay": must be host, container/bridge or container`},
		"mixed modes": {def: ContainerRunDefinition{Container: &SprintContainer{Type: "DOCKER", Docker: img, Networks: []SprintNetwork{{Mode: "host"}, {Name: "a", Mode: "container"}}}},
			want: `ContainerRunDefinition "x" is invalid: container.networks[1].mode: all networks must have the same mode`},
		"user network name": {def: ContainerRunDefinition{Container: &SprintContainer{Type: "DOCKER", Docker: img, Networks: []SprintNetwork{{Mode: "container"}}}},
			want: `ContainerRunDefinition "x" is invalid: container.networks[0].name: required`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := RunFromDefinition(tc.def, "x")
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.True(t, errors.Is(err, ErrInvalid))
		})
	}
}

func TestSprintState(t *testing.T) {
	tests := []struct {
		status RunStatus
		want   string
	}{
		{RunStatus{}, SprintCreated},
		{RunStatus{Phase: PhasePending}, SprintWaitingForOffers},
		{RunStatus{Phase: PhasePending, Reason: ReasonBackoff, Attempts: 1}, SprintWaitingForOffers},
		{RunStatus{Phase: PhaseStarting}, SprintSubmitted},
		{RunStatus{Phase: PhaseStarting, MesosState: "TASK_STAGING"}, SprintStaging},
		{RunStatus{Phase: PhaseStarting, MesosState: "TASK_STARTING"}, SprintStarting},
		{RunStatus{Phase: PhaseStarting, MesosState: "TASK_RUNNING"}, SprintRunning},
		{RunStatus{Phase: PhaseRunning, MesosState: "TASK_RUNNING"}, SprintRunning},
		{RunStatus{Phase: PhaseRunning, MesosState: "TASK_KILLING"}, SprintRunning},
		{RunStatus{Phase: PhaseSucceeded, Reason: ReasonCompleted}, SprintFinished},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonTaskFailed, MesosState: "TASK_FAILED"}, SprintFailed},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonDeadlineExceeded, MesosState: "TASK_KILLED"}, SprintFailed},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonStagingTimeout}, SprintFailed},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonTaskLost}, SprintLost},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonAgentGone}, SprintLost},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonUnreachable}, SprintLost},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonBackoffLimitExceeded, MesosState: "TASK_GONE"}, SprintLost},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonBackoffLimitExceeded, MesosState: "TASK_FAILED"}, SprintFailed},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonTaskError}, SprintError},
		{RunStatus{Phase: PhaseFailed, Reason: ReasonBackoffLimitExceeded, MesosState: "TASK_ERROR"}, SprintError},
		{RunStatus{Phase: PhaseKilled, Reason: ReasonCancelled}, SprintKilled},
		{RunStatus{Phase: "Bogus"}, SprintError},
	}
	for _, tc := range tests {
		name := string(tc.status.Phase) + "/" + tc.status.Reason + "/" + tc.status.MesosState
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, SprintState(&Run{Status: tc.status}))
		})
	}
}

func TestSprintRunFromRun(t *testing.T) {
	def := ContainerRunDefinition{Cpus: 0.1, Mem: 100, Container: &SprintContainer{Type: "DOCKER", Docker: &DockerInfo{Image: "nginx"},
		PortMappings: []SprintPortMapping{{ContainerPort: 80, Name: "http"}, {ContainerPort: 0}}}}
	r, err := RunFromDefinition(def, "id-1")
	require.NoError(t, err)
	created := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r.Metadata.CreationTimestamp = &created
	assert.Equal(t, SprintRun{ID: "id-1", LastModified: created, State: SprintCreated, Definition: def}, SprintRunFromRun(r))

	moved := created.Add(time.Minute)
	r.Status = RunStatus{Phase: PhaseRunning, MesosState: "TASK_RUNNING", Hostname: "agent-7", Ports: []int32{31004, 31005}, LastTransitionTime: &moved}
	got := SprintRunFromRun(r)
	assert.Equal(t, SprintRunning, got.State)
	assert.Equal(t, moved, got.LastModified)
	assert.Equal(t, &SprintRunNetwork{Host: "agent-7", PortMappings: []SprintPortMapping{
		{ContainerPort: 80, HostPort: 31004, Protocol: "tcp", Name: "http"}, {ContainerPort: 31005, HostPort: 31005, Protocol: "tcp"}}}, got.Network)
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"id-1","lastModified":"2026-11-21T10:01:00Z","state":"Running",
		"definition":{"container":{"type":"DOCKER","docker":{"image":"nginx"},"portMappings":[{"containerPort":80,"name":"http"},{"containerPort":0}]},"cpus":0.1,"mem":100},
		"network":{"host":"agent-7","portMappings":[{"containerPort":80,"hostPort":31004,"protocol":"tcp","name":"http"},{"containerPort":31005,"hostPort":31005,"protocol":"tcp"}]}}`, string(b))
}

func TestSprintLabelSelector(t *testing.T) {
	sel, err := SprintLabelSelector("region:us, version:1")
	require.NoError(t, err)
	assert.True(t, sel.Matches(runWithLabels(map[string]string{"region": "us", "version": "1", "x": "y"})))
	assert.False(t, sel.Matches(runWithLabels(map[string]string{"region": "us"})))
	empty, err := SprintLabelSelector("")
	require.NoError(t, err)
	assert.True(t, empty.Empty())
	_, err = SprintLabelSelector("region")
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Equal(t, `labels "region": "region" is not key:value`, err.Error())
}

func TestDecodeContainerRunDefinition(t *testing.T) {
	def, err := DecodeContainerRunDefinition([]byte(`{"cmd":"x","cpus":0.5,"labels":{"a":"b"}}`))
	require.NoError(t, err)
	assert.Equal(t, ContainerRunDefinition{Cmd: "x", Cpus: 0.5, Labels: map[string]string{"a": "b"}}, def)
	_, err = DecodeContainerRunDefinition([]byte(`{"cpus":"1","bogus":true}`))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.EqualError(t, err, "bogus: unknown field; cpus: expected number, got string")
	_, err = DecodeContainerRunDefinition([]byte(`{"cmd":"x","env":{"A":"1","A":"2"}}`))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.EqualError(t, err, "line 1: env.A: duplicate field")
	_, err = DecodeContainerRunDefinition(nil)
	assert.EqualError(t, err, "invalid JSON: empty body")
}
