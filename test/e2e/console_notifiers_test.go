package e2e

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Cluster page shows each Notifier's delivered, failed and pending
// counts and its last error, from a real node delivering to a hook that
// takes every notification and one that refuses them all.
func TestConsole_NotifierCounts(t *testing.T) {
	var received atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			http.Error(w, "this endpoint refuses every notification", http.StatusBadRequest)
			return
		}
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)

	// The hook listens on loopback, which --notifier-deny-cidrs denies by
	// default.
	server, _ := startNode(t, "--notifier-deny-cidrs=")
	code, body := apiDo(t, http.MethodPut, server+"/api/v1/notifiers/ui-hook", "", map[string]any{
		"apiVersion": "sprint/v1", "kind": "Notifier", "metadata": map[string]any{"name": "ui-hook"},
		"spec": map[string]any{"on": []string{"Succeeded", "Failed"}, "webhook": map[string]any{"url": hook.URL + "/ok"}},
	})
	require.Less(t, code, 300, "notifier ui-hook: %s", body)

	// The other through the Apply page, dry run first.
	p := openConsole(t, server)
	p.open("#/apply")
	p.setValue("#manifest", "apiVersion: sprint/v1\nkind: Notifier\nmetadata: {name: ui-broken}\nspec:\n  on: [Succeeded, Failed]\n  webhook: {url: \""+hook.URL+"/broken\"}\n")
	p.click("#dry-run")
	p.waitJS(15*time.Second, `document.querySelector('#results-title')?.textContent === 'Dry run: 1 Notifier valid'`)
	p.click("#apply")
	p.waitJS(15*time.Second, `document.querySelector('#results-title')?.textContent === 'Applied'`)
	assert.Contains(t, p.text("#apply-results"), "Notifier ui-broken created")

	p.open("#/cluster")
	p.waitJS(15*time.Second, `!!document.querySelector('#notifiers tr[data-name="ui-hook"]')`)
	assert.Equal(t, "0", p.text(`#notifiers tr[data-name="ui-hook"] .delivered`))

	// Two Runs end, one well, one badly: each is one notification to each
	// Notifier.
	putRun(t, server, "", runManifest("ui-notify-ok", "true", nil))
	putRun(t, server, "", runManifest("ui-notify-bad", "exit 1", nil))
	cell := func(name, col string) string {
		return "document.querySelector('#notifiers tr[data-name=\"" + name + "\"] ." + col + "')?.textContent"
	}
	p.waitJS(30*time.Second, cell("ui-hook", "delivered")+` === '2' && `+cell("ui-broken", "failed")+` === '2' && `+
		cell("ui-hook", "pending")+` === '0' && `+cell("ui-broken", "pending")+` === '0'`)
	assert.Equal(t, int64(2), received.Load(), "the hook received what the page counts")
	assert.Equal(t, "0", p.text(`#notifiers tr[data-name="ui-hook"] .failed`))
	assert.Equal(t, "0", p.text(`#notifiers tr[data-name="ui-broken"] .delivered`))
	assert.Contains(t, p.text(`#notifiers tr[data-name="ui-broken"]`), "HTTP 400")
	assert.NotContains(t, p.text(`#notifiers tr[data-name="ui-broken"] td:nth-child(2)`), "/broken", "a webhook URL shows its origin only")
	p.eval(`document.querySelector('#notifiers-title').scrollIntoView(); true`, nil)
	p.screenshot("cluster-notifiers")

	p.requireClean("the Cluster page")
}
