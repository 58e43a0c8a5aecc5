package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A three-Run pipeline a → b → c in the console against a real node: the
// pipeline page draws three nodes and two edges, left to right, with the
// same Runs as a list; a node is keyboard-focusable; a node's colour
// changes when its Run finishes, without a reload, and Runs added to it
// appear (one not created yet dashed); the Run page draws the
// graph with what the Run depends on and what it blocks. No page logs an
// error.
func TestConsole_PipelineGraph(t *testing.T) {
	server, _ := startNode(t)
	p := openConsole(t, server)

	// A pipeline a → b → c; a runs until the test lets it finish.
	gate := filepath.Join(t.TempDir(), "go")
	a := runManifest("ui-extract", fmt.Sprintf("echo extracting; while [ ! -e %s ]; do sleep 0.1; done", gate), nil)
	b := runManifest("ui-transform", "echo transforming", nil)
	b["spec"].(map[string]any)["dependsOn"] = []map[string]any{{"name": "ui-extract"}}
	c := runManifest("ui-load", "echo loading", nil)
	c["spec"].(map[string]any)["dependsOn"] = []map[string]any{{"name": "ui-transform"}}
	for _, r := range []map[string]any{a, b, c} {
		putRun(t, server, "", r)
	}
	p.open("#/pipelines/ui-load")
	p.waitJS(20*time.Second, `document.querySelectorAll('svg.graph a.node').length === 3 && document.querySelectorAll('svg.graph path.edge').length === 2`)
	p.waitJS(30*time.Second, `document.querySelector('svg.graph a.node[data-name="ui-extract"]')?.classList.contains('g-Running')`)
	var edges []string
	p.eval(`[...document.querySelectorAll('svg.graph path.edge')].map(e => e.dataset.from + '>' + e.dataset.to).sort()`, &edges)
	assert.Equal(t, []string{"ui-extract>ui-transform", "ui-transform>ui-load"}, edges)
	var layers []int
	p.eval(`['ui-extract', 'ui-transform', 'ui-load'].map(n => Number(document.querySelector('svg.graph a.node[data-name="' + n + '"] rect').getAttribute('x')))`, &layers)
	require.Len(t, layers, 3)
	assert.True(t, layers[0] < layers[1] && layers[1] < layers[2], "layers left to right: %v", layers)
	assert.Equal(t, 3, countJS(p, `document.querySelectorAll('#pipeline-list li[data-name]').length`), "the graph as a list")
	var focused bool
	p.eval(`(() => { const n = document.querySelector('svg.graph a.node[data-name="ui-transform"]'); n.focus(); return document.activeElement === n; })()`, &focused)
	assert.True(t, focused, "a node is keyboard-focusable")
	p.eval(`(() => { window.__pipelineDocument = true; return true; })()`, nil)
	p.screenshot("pipeline")

	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	p.waitJS(30*time.Second, `document.querySelector('svg.graph a.node[data-name="ui-extract"]')?.classList.contains('g-Succeeded')`)
	p.waitJS(60*time.Second, `document.querySelector('svg.graph a.node[data-name="ui-load"]')?.classList.contains('g-Succeeded')`)

	// The pipeline grows while shown: a Run waiting for ui-load and for
	// one not created yet (drawn dashed), which then is.
	d := runManifest("ui-report", "echo reporting", nil)
	d["spec"].(map[string]any)["dependsOn"] = []map[string]any{{"name": "ui-load"}, {"name": "ui-late", "condition": "Completed"}}
	putRun(t, server, "", d)
	p.waitJS(20*time.Second, `document.querySelectorAll('svg.graph a.node').length === 5 && document.querySelectorAll('svg.graph path.edge').length === 4 &&
		document.querySelector('svg.graph a.node[data-name="ui-late"]')?.classList.contains('g-Missing')`)
	putRun(t, server, "", runManifest("ui-late", "true", nil))
	p.waitJS(60*time.Second, `document.querySelector('svg.graph a.node[data-name="ui-report"]')?.classList.contains('g-Succeeded')`)
	var same bool
	p.eval(`window.__pipelineDocument === true`, &same)
	assert.True(t, same, "the graph changed without a reload")

	// The Run page draws the same graph, with what it depends on and blocks.
	p.open("#/runs/ui-transform")
	// Its ancestors and descendants: not ui-late, which only ui-report waits for.
	p.waitJS(20*time.Second, `document.querySelectorAll('#pipeline svg.graph a.node').length === 4 && document.querySelectorAll('#pipeline svg.graph path.edge').length === 3`)
	assert.Equal(t, 0, countJS(p, `document.querySelectorAll('#pipeline svg.graph a.node[data-name="ui-late"]').length`))
	assert.Contains(t, p.text("#depends-on"), "ui-extract")
	assert.Contains(t, p.text("#blocked"), "every Run downstream has finished")

	// A pipeline page whose Run is deleted while shown says so.
	p.open("#/pipelines/ui-report")
	p.waitJS(20*time.Second, `document.querySelectorAll('svg.graph a.node').length === 5`)
	code, body := apiDo(t, http.MethodDelete, server+"/api/v1/runs/ui-report", "", nil)
	require.Less(t, code, 300, "%s", body)
	p.waitJS(20*time.Second, `document.querySelector('#pipeline-summary')?.textContent.includes('ui-report was deleted.') && !document.querySelector('svg.graph')`)

	// The layout on its own, table-driven: every edge points right (one
	// layer or more), a node sits one layer after its deepest dependency,
	// and the sweeps leave no crossing where none is needed.
	cases := map[string]struct {
		edges     [][2]string
		layers    map[string]int
		crossings int
		cycle     bool // the server refuses cycles; the layout must only end
	}{
		"chain": {edges: [][2]string{{"a", "b"}, {"b", "c"}}, layers: map[string]int{"a": 0, "b": 1, "c": 2}},
		"diamond": {edges: [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}},
			layers: map[string]int{"a": 0, "b": 1, "c": 1, "d": 2}},
		"longest path wins": {edges: [][2]string{{"a", "b"}, {"b", "c"}, {"a", "c"}, {"c", "d"}},
			layers: map[string]int{"a": 0, "b": 1, "c": 2, "d": 3}},
		// Sorted by name, z's child would cross a's: the sweeps untangle it.
		"two chains, names crossed": {edges: [][2]string{{"a", "y"}, {"z", "b"}},
			layers: map[string]int{"a": 0, "z": 0, "y": 1, "b": 1}},
		"cycle does not loop": {edges: [][2]string{{"a", "b"}, {"b", "a"}, {"c", "a"}},
			layers: map[string]int{"c": 0}, cycle: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got struct {
				Layers    map[string]int `json:"layers"`
				Crossings int            `json:"crossings"`
				Right     bool           `json:"right"`
			}
			edges, _ := json.Marshal(tc.edges)
			p.eval(`(async () => {
				const g = await import('/ui/js/graph.js');
				const edges = `+string(edges)+`.map(([from, to]) => ({from, to}));
				const names = [...new Set(edges.flatMap(e => [e.from, e.to]))];
				const lay = g.layout(names, edges);
				const layers = {}; for (const [n, p] of lay.pos) layers[n] = p.layer;
				let crossings = 0;
				for (const e of edges) for (const f of edges) {
					const [a, b, c, d] = [lay.pos.get(e.from), lay.pos.get(e.to), lay.pos.get(f.from), lay.pos.get(f.to)];
					if (a.layer === c.layer && b.layer === d.layer && a.layer + 1 === b.layer && (a.row - c.row) * (b.row - d.row) < 0) crossings++;
				}
				const right = edges.every(e => lay.pos.get(e.to).x > lay.pos.get(e.from).x);
				return {layers, crossings: crossings / 2, right};
			})()`, &got)
			for n, l := range tc.layers {
				assert.Equal(t, l, got.Layers[n], "layer of %s in %v", n, got.Layers)
			}
			assert.Equal(t, tc.crossings, got.Crossings)
			if !tc.cycle {
				assert.True(t, got.Right, "an edge points left: %v", got.Layers)
			}
		})
	}

	p.requireClean("the pipeline pages")
}
