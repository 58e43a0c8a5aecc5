package apis

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExamples_DecodeAndValidate keeps every file in manifests/examples
// applyable.
func TestExamples_DecodeAndValidate(t *testing.T) {
	files, err := filepath.Glob("../manifests/examples/*")
	require.NoError(t, err)
	want := map[string]int{
		"hello.yaml": 1, "exec-args.yaml": 1, "docker-ports.yaml": 1, "volumes-uris.yaml": 1,
		"retries.yaml": 1, "constraints.yaml": 1, "multi.yaml": 2, "runlist.json": 2,
		"pipeline.yaml":         4,
		"etl-notify.yaml":       5,
		"nightly-schedule.yaml": 1, "interval-schedule.yaml": 1,
	}
	require.Len(t, files, len(want), "a new example needs an entry here")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			m, err := DecodeManifest(data)
			require.NoError(t, err)
			objects := 0
			for _, d := range m.Runs {
				for i := range d.Runs {
					objects++
					SetDefaults(&d.Runs[i])
					assert.Empty(t, messagesOrNil(ValidateRun(&d.Runs[i])), "run %s", d.Runs[i].Metadata.Name)
				}
				for i := range d.Schedules {
					objects++
					SetScheduleDefaults(&d.Schedules[i])
					assert.Empty(t, messagesOrNil(ValidateSchedule(&d.Schedules[i])), "schedule %s", d.Schedules[i].Metadata.Name)
					assert.NoError(t, DefaultPolicy().AdmitSchedule(&d.Schedules[i]))
				}
			}
			for _, d := range m.Notifiers {
				for i := range d.Notifiers {
					objects++
					SetNotifierDefaults(&d.Notifiers[i])
					assert.Empty(t, messagesOrNil(ValidateNotifier(&d.Notifiers[i])), "notifier %s", d.Notifiers[i].Metadata.Name)
				}
			}
			assert.Equal(t, want[filepath.Base(f)], objects)
		})
	}
}

// sprintFlags are the server flags of DESIGN §3, as SPRINT_* variables.
var sprintFlags = []string{
	"data-dir", "listen", "node-id", "raft-addr", "peers", "join", "mesos-master", "framework-name",
	"framework-role", "failover-timeout", "gc-max-age", "gc-max-finished", "staging-timeout",
	"unreachable-timeout", "log-format", "token-file", "tls-cert", "tls-key", "tls-ca",
	"raft-tls-cert", "raft-tls-key", "raft-tls-ca", "insecure",
}

func isSprintFlagEnv(k string) bool {
	for _, f := range sprintFlags {
		if k == "SPRINT_"+strings.ToUpper(strings.ReplaceAll(f, "-", "_")) {
			return true
		}
	}
	return false
}

func TestDeploy_MarathonRunsThreeNodes(t *testing.T) {
	data, err := os.ReadFile("../manifests/deploy/marathon.json")
	require.NoError(t, err)
	var group struct {
		ID   string `json:"id"`
		Apps []struct {
			ID        string            `json:"id"`
			Instances int               `json:"instances"`
			Env       map[string]string `json:"env"`
		} `json:"apps"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	require.NoError(t, dec.Decode(&group))
	require.Len(t, group.Apps, 3)
	ids := map[string]bool{}
	for _, app := range group.Apps {
		assert.Equal(t, 1, app.Instances, app.ID)
		for k := range app.Env {
			assert.True(t, isSprintFlagEnv(k), "%s: %s is not a sprint flag", app.ID, k)
		}
		id := app.Env["SPRINT_NODE_ID"]
		ids[id] = true
		assert.Contains(t, app.Env["SPRINT_PEERS"], id+"=", "%s is in the peer list", id)
		assert.Contains(t, app.Env["SPRINT_PEERS"], app.Env["SPRINT_RAFT_ADDR"], "the peer list names this node's raft address")
		assert.NotEmpty(t, app.Env["SPRINT_TOKEN_FILE"], "listening beyond loopback needs tokens")
		for _, k := range []string{"SPRINT_RAFT_TLS_CERT", "SPRINT_RAFT_TLS_KEY", "SPRINT_RAFT_TLS_CA"} {
			assert.NotEmpty(t, app.Env[k], "%s: Raft beyond loopback needs mutual TLS", app.ID)
		}
	}
	assert.Len(t, ids, 3, "node IDs are distinct")

	unit, err := os.ReadFile("../manifests/deploy/sprint.service")
	require.NoError(t, err)
	for _, line := range []string{"[Service]", "ExecStart=/usr/local/bin/sprint", "EnvironmentFile=/etc/sprint/sprint.env", "Restart=on-failure", "[Install]"} {
		assert.Contains(t, string(unit), line+"\n")
	}
}
