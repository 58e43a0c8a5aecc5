package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// TestKinds_SharedHandlersKeepEachKindsAnswers drives the handlers the
// three kinds share (server/kinds.go) through each kind's routes and
// checks what differs between the kinds: the words of their messages,
// the Notifiers' shorter 413 for a large YAML body, their selectors, and
// that a dry-run apply of an unchanged object says unchanged and stores
// nothing.
func TestKinds_SharedHandlersKeepEachKindsAnswers(t *testing.T) {
	t.Parallel()
	const maxYAML = 1 << 10
	srv := servertest.StartRaft(t, server.Config{MaxYAMLBodyBytes: maxYAML})
	bigYAML := "apiVersion: sprint/v1\n# " + strings.Repeat("x", maxYAML) + "\n"
	tests := []struct {
		kind, path, body string
		// yamlHint is the end of the 413 message for a YAML body over
		// MaxYAMLBodyBytes.
		yamlHint string
		// fieldSel is a fieldSelector every kind refuses, and badField
		// the start of the kind's message for it.
		fieldSel, badField string
	}{
		{"Run", "/api/v1/runs", runJSON("k"), "which costs the server far less to decode",
			"spec.command=x", `field selector "spec.command=x": unsupported field`},
		{"Schedule", "/api/v1/schedules", scheduleJSON("k"), "which costs the server far less to decode",
			"status.phase=x", `fieldSelector "status.phase=x": Schedules support only metadata.name=NAME`},
		{"Notifier", "/api/v1/notifiers", strings.NewReplacer(`"name":"etl"`, `"name":"k"`, `,"secretFile":"/etc/sprint/hook.secret"`, "").Replace(notifierJSON), "send it as JSON",
			"metadata.name=k", "query parameter fieldSelector: not supported for Notifiers"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			base := srv.URL + tt.path

			st := call(t, "POST", base, " ").status(t)
			assert.Equal(t, http.StatusBadRequest, int(st.Code))
			assert.Equal(t, "request body is empty: send one "+tt.kind, st.Message)

			st = call(t, "POST", base, bigYAML, "Content-Type", "application/yaml").status(t)
			assert.Equal(t, http.StatusRequestEntityTooLarge, int(st.Code))
			assert.True(t, strings.HasSuffix(st.Message, tt.yamlHint), "413 message: %s", st.Message)

			st = call(t, "GET", base+"?fieldSelector="+tt.fieldSel, "").status(t)
			assert.Equal(t, http.StatusBadRequest, int(st.Code))
			assert.True(t, strings.HasPrefix(st.Message, tt.badField), "400 message: %s", st.Message)

			withRV := strings.Replace(tt.body, `"name":"k"`, `"name":"k","resourceVersion":"7"`, 1)
			st = call(t, "PUT", base+"/k", withRV).status(t)
			assert.Equal(t, http.StatusConflict, int(st.Code))
			assert.Equal(t, tt.kind+` "k" does not exist, but the request has a resourceVersion precondition`, st.Message)

			r := call(t, "PUT", base+"/k", tt.body)
			require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
			assert.Equal(t, server.ApplyCreated, r.header.Get(server.HeaderApplyResult))
			created := call(t, "GET", base+"/k", "")
			require.Equal(t, http.StatusOK, created.code)

			r = call(t, "PUT", base+"/k?dryRun=true", tt.body)
			assert.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
			assert.Equal(t, server.ApplyUnchanged, r.header.Get(server.HeaderApplyResult))
			assert.JSONEq(t, string(created.body), string(r.body), "a dry run of no change answers the stored object")

			st = call(t, "PUT", base+"/other", tt.body).status(t)
			assert.Equal(t, http.StatusBadRequest, int(st.Code))
			assert.Equal(t, `metadata.name "k" does not match the name "other" in the URL`, st.Message)
		})
	}
}
