package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scheduleManifest is a Schedule that fires at most once a year on its
// own, so the Runs the test sees are the ones it asks for.
func scheduleManifest(name, command string) map[string]any {
	return map[string]any{
		"apiVersion": "sprint/v1", "kind": "Schedule",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"schedule": "0 0 1 1 *", "timeZone": "Europe/Berlin",
			"runTemplate": map[string]any{"spec": map[string]any{"command": command, "cpus": 0.1, "mem": 32}},
		},
	}
}

// apiGet reads url into out (when the answer is 200) and returns the
// status code.
func apiGet(t *testing.T, url string, out any) int {
	t.Helper()
	code, body := apiDo(t, http.MethodGet, url, "", nil)
	if code == http.StatusOK && out != nil {
		require.NoError(t, json.Unmarshal(body, out), "%s", body)
	}
	return code
}

type scheduleObject struct {
	Metadata struct {
		Name            string `json:"name"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	Spec struct {
		Suspend bool `json:"suspend"`
	} `json:"spec"`
	Status struct {
		NextScheduleTime string `json:"nextScheduleTime"`
	} `json:"status"`
}

// The Schedules pages against a real node with the embedded simulator:
// a Schedule applied through the API shows on the Schedules page with its
// next firing; "Run now" creates Runs that show in its history strip
// coloured by how they ended; suspend and resume flip spec.suspend;
// a chain of Schedules (spec.dependsOn) is drawn above the table; delete
// keeps the Runs when asked to orphan them. No page logs an error.
func TestConsole_Schedules(t *testing.T) {
	server, _ := startNode(t)
	p := openConsole(t, server)

	// A Schedule applied through the API appears with its next firing.
	code, body := apiDo(t, http.MethodPut, server+"/api/v1/schedules/ui-nightly", "", scheduleManifest("ui-nightly", "echo fired by the console"))
	require.Less(t, code, 300, "%s", body)
	p.open("#/schedules")
	p.waitJS(20*time.Second, `!!document.querySelector('tr.row[data-key="ui-nightly"] time.next')`)
	var sc scheduleObject
	require.Equal(t, http.StatusOK, apiGet(t, server+"/api/v1/schedules/ui-nightly", &sc))
	require.NotEmpty(t, sc.Status.NextScheduleTime)
	var shown string
	p.eval(`document.querySelector('tr.row[data-key="ui-nightly"] time.next').getAttribute('datetime')`, &shown)
	assert.Equal(t, sc.Status.NextScheduleTime, shown)
	assert.Contains(t, p.text(`tr.row[data-key="ui-nightly"]`), "Europe/Berlin")
	assert.Contains(t, p.text(`tr.row[data-key="ui-nightly"]`), "0 0 1 1 *")
	p.eval(`(() => { window.__sameDocument = true; return true; })()`, nil)

	// Run now: a Run that succeeds, in the Runs table and the strip.
	p.click(`tr.row[data-key="ui-nightly"] a`)
	p.waitJS(15*time.Second, `document.querySelector('#run-now') && !document.querySelector('#run-now').hidden`)
	p.click(`#run-now`)
	p.waitJS(15*time.Second, `document.querySelectorAll('#fired a').length === 1`)
	first := p.text(`#fired a`)
	p.waitJS(60*time.Second, `document.querySelectorAll('#schedule-runs .strip .tick[data-phase="Succeeded"]').length === 1`)

	// A template that fails, and run now again (at once: a manual
	// firing's names carry a random part, so the same second is fine).
	failing := scheduleManifest("ui-nightly", "echo failing on purpose; exit 3")
	code, body = apiDo(t, http.MethodPut, server+"/api/v1/schedules/ui-nightly", "", failing)
	require.Less(t, code, 300, "%s", body)
	p.waitJS(15*time.Second, `document.querySelector('#spec-yaml').textContent.includes('exit 3')`)
	p.click(`#run-now`)
	p.waitJS(15*time.Second, `document.querySelector('#fired a') && document.querySelector('#fired a').textContent !== `+jsString(first))
	p.waitJS(60*time.Second, `document.querySelectorAll('#schedule-runs .strip .tick[data-phase="Failed"]').length === 1`)
	assert.Equal(t, 2, countJS(p, `document.querySelectorAll('#schedule-runs tbody tr').length`))

	// Suspend, then resume: spec.suspend flips each time.
	p.click(`#suspend`)
	p.waitJS(15*time.Second, `!!document.querySelector('#suspended-tag') && document.querySelector('#suspend').textContent === 'Resume'`)
	require.Equal(t, http.StatusOK, apiGet(t, server+"/api/v1/schedules/ui-nightly", &sc))
	assert.True(t, sc.Spec.Suspend, "suspend")
	p.click(`#suspend`)
	p.waitJS(15*time.Second, `!document.querySelector('#suspended-tag') && document.querySelector('#suspend').textContent === 'Suspend'`)
	sc = scheduleObject{}
	require.Equal(t, http.StatusOK, apiGet(t, server+"/api/v1/schedules/ui-nightly", &sc))
	assert.False(t, sc.Spec.Suspend, "resume")
	p.requireClean("the Schedule page")
	p.screenshotTall("schedule", 1000)

	// The list shows the history: one success, one failure.
	p.open("#/schedules")
	p.waitJS(20*time.Second, `document.querySelectorAll('tr.row[data-key="ui-nightly"] .strip .tick').length === 2`)
	var phases []string
	p.eval(`[...document.querySelectorAll('tr.row[data-key="ui-nightly"] .strip .tick')].map(e => e.dataset.phase)`, &phases)
	assert.ElementsMatch(t, []string{"Succeeded", "Failed"}, phases)
	code, body = apiDo(t, http.MethodPut, server+"/api/v1/schedules/ui-hourly", "", map[string]any{
		"apiVersion": "sprint/v1", "kind": "Schedule", "metadata": map[string]any{"name": "ui-hourly"},
		"spec": map[string]any{"schedule": "@hourly", "suspend": true,
			"runTemplate": map[string]any{"spec": map[string]any{"command": "true", "cpus": 0.1, "mem": 32}}},
	})
	require.Less(t, code, 300, "%s", body)
	p.waitJS(20*time.Second, `(document.querySelector('tr.row[data-key="ui-hourly"]') || {}).textContent?.includes('suspended')`)
	// A chain: ui-report fires after ui-nightly succeeded; drawn above
	// the table, ui-nightly coloured by its latest Run (the failed one).
	code, body = apiDo(t, http.MethodPut, server+"/api/v1/schedules/ui-report", "", map[string]any{
		"apiVersion": "sprint/v1", "kind": "Schedule", "metadata": map[string]any{"name": "ui-report"},
		"spec": map[string]any{"dependsOn": []map[string]any{{"schedule": "ui-nightly"}},
			"runTemplate": map[string]any{"spec": map[string]any{"command": "true", "cpus": 0.1, "mem": 32}}},
	})
	require.Less(t, code, 300, "%s", body)
	p.waitJS(20*time.Second, `document.querySelectorAll('#schedule-chains svg.graph a.node').length === 2 && document.querySelectorAll('#schedule-chains svg.graph path.edge').length === 1`)
	var chain struct {
		Edge   string `json:"edge"`
		Phase  string `json:"phase"`
		Target string `json:"target"`
	}
	p.eval(`(() => { const e = document.querySelector('#schedule-chains path.edge'); const n = document.querySelector('#schedule-chains a.node[data-name="ui-nightly"]');
		return {edge: e.dataset.from + '>' + e.dataset.to, phase: n.dataset.phase, target: n.getAttribute('href')}; })()`, &chain)
	assert.Equal(t, "ui-nightly>ui-report", chain.Edge)
	assert.Equal(t, "Failed", chain.Phase, "coloured by its latest Run")
	assert.Equal(t, "#/schedules/ui-nightly", chain.Target)
	p.screenshot("schedules")

	// Delete, keeping the Runs.
	p.open("#/schedules/ui-nightly")
	p.waitJS(15*time.Second, `document.querySelector('#delete') && !document.querySelector('#delete').hidden`)
	p.click(`#delete`)
	p.waitJS(5*time.Second, `document.querySelector('dialog[open]')?.textContent.includes('Delete ui-nightly?')`)
	p.click(`dialog[open] input[value="Orphan"]`)
	p.click(`dialog[open] button[value="ok"]`)
	p.waitJS(15*time.Second, `!!document.querySelector('#deleted')`)
	assert.Equal(t, http.StatusNotFound, apiGet(t, server+"/api/v1/schedules/ui-nightly", nil))
	var runs struct {
		Items []struct {
			Metadata struct {
				OwnerReferences []any `json:"ownerReferences"`
			} `json:"metadata"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, apiGet(t, server+"/api/v1/runs?labelSelector=sprint/schedule%3Dui-nightly", &runs))
	require.Len(t, runs.Items, 2, "orphaned Runs are kept")
	for _, r := range runs.Items {
		assert.Empty(t, r.Metadata.OwnerReferences, "an orphan has no owner")
	}

	// The Apply page takes Schedules too, with the server's field errors
	// on their lines, mixed with Runs.
	bad := strings.Join([]string{
		"apiVersion: sprint/v1",      // 1
		"kind: Schedule",             // 2
		"metadata: {name: ui-typed}", // 3
		"spec:",                      // 4
		"  schedule: \"61 * * * *\"", // 5 → spec.schedule: minute out of range
		"  runTemplate:",             // 6
		"    spec: {command: \"true\", cpus: 0.1, mem: 32}",
		"---",
		"apiVersion: sprint/v1",
		"kind: Run",
		"metadata: {name: ui-typed-run}",
		"spec: {command: \"true\", cpus: 0.1, mem: 32}",
	}, "\n") + "\n"
	p.open("#/apply")
	p.setValue("#manifest", bad)
	p.click("#dry-run")
	p.waitJS(15*time.Second, `document.querySelector('#results-title')?.textContent === 'Dry run: 1 of 2 objects refused'`)
	var mark struct {
		Line  string `json:"line"`
		Field string `json:"field"`
	}
	p.eval(`(() => { const li = document.querySelector('li.msg'); return {line: li.dataset.line, field: li.dataset.field}; })()`, &mark)
	assert.Equal(t, "5", mark.Line)
	assert.Equal(t, "spec.schedule", mark.Field)
	p.setValue("#manifest", strings.Replace(bad, "61 * * * *", "@daily", 1))
	p.click("#dry-run")
	p.waitJS(15*time.Second, `document.querySelector('#results-title')?.textContent === 'Dry run: 2 objects valid'`)
	p.click("#apply")
	p.waitJS(15*time.Second, `document.querySelector('#results-title')?.textContent === 'Applied'`)
	assert.Contains(t, p.text("#apply-results"), "Schedule ui-typed created")
	assert.Contains(t, p.text("#apply-results"), "Run ui-typed-run created")
	var href string
	p.eval(`document.querySelector('#apply-results a[href^="#/schedules/"]').getAttribute('href')`, &href)
	assert.Equal(t, "#/schedules/ui-typed", href)
	assert.Equal(t, http.StatusOK, apiGet(t, server+"/api/v1/schedules/ui-typed", nil))

	p.requireClean("the Schedules pages", allowed{422, "/api/v1/schedules?dryRun=true"})
}
