package apis

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncode_RoundTripsThroughDecodeRuns(t *testing.T) {
	data, err := os.ReadFile("../manifests/examples/docker-ports.yaml")
	require.NoError(t, err)
	runs, err := DecodeRuns(data)
	require.NoError(t, err)
	extra := *validRun()
	started := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	extra.Status = RunStatus{Phase: PhaseRunning, StartTime: &started, Ports: []int32{31000}}
	runs = append(runs, extra)
	for i := range runs {
		SetDefaults(&runs[i])
	}

	y, err := EncodeRunsYAML(runs)
	require.NoError(t, err)
	fromYAML, err := DecodeRuns(y)
	require.NoError(t, err)
	for i := range fromYAML {
		SetDefaults(&fromYAML[i])
	}
	assert.Equal(t, runs, fromYAML)

	j, err := EncodeJSON(&RunList{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRunList}, Items: runs})
	require.NoError(t, err)
	assert.Contains(t, string(j), `"command": "echo hello"`)
	assert.Contains(t, string(j), "&&", "no HTML escaping in what users read")
	fromJSON, err := DecodeRuns(j)
	require.NoError(t, err)
	for i := range fromJSON {
		SetDefaults(&fromJSON[i])
	}
	assert.Equal(t, runs, fromJSON)
}
