package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The console's own logic, run in the browser against a real node: how
// manifests are cut into Runs and the server's errors placed on lines,
// how objects render as YAML (the server must read back the same Run),
// and how the SSE parser frames events however the bytes are chunked.
func TestConsole_ModulesInTheBrowser(t *testing.T) {
	server, _ := startNode(t)
	p := openConsole(t, server)
	p.open("#/apply")
	p.waitJS(10*time.Second, `!!document.querySelector('#manifest')`)

	t.Run("manifests to lines", func(t *testing.T) {
		cases := map[string]struct {
			manifest string
			// want: for each Run, its first line and the lines the
			// server's errors land on.
			want []unitLines
		}{
			"yaml documents": {
				manifest: "# two Runs\n---\napiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: ok-one\n  labels: {team: data}\nspec:\n  command: |\n    echo one\n    echo two: three\n  cpus: 0.1\n  mem: 32\n---\napiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: bad-two\n  labels:\n    \"app.kubernetes.io/name\": \"-bad-\"\nspec:\n  command: echo\n  env:\n    PORT: \"1\"   # reserved\n  cpus: 0.1\n  mem: -1\n",
				want:     []unitLines{{Start: 3}, {Start: 15, Errors: []int{20, 24, 26}}},
			},
			"yaml RunList": {
				manifest: "apiVersion: sprint/v1\nkind: RunList\nitems:\n- metadata:\n    name: item-one\n  spec:\n    command: echo 1\n    cpus: 0.1\n    mem: 32\n- metadata:\n    name: item-two\n  spec:\n    args:\n    - /bin/echo\n    - \"\"\n    cpus: 0\n    mem: 32\nmetadata: {}\n",
				want:     []unitLines{{Start: 4}, {Start: 10, Errors: []int{16}}},
			},
			"yaml sequence": {
				manifest: "- apiVersion: sprint/v1\n  kind: Run\n  metadata: {name: seq-one}\n  spec: {command: echo, cpus: 0.1, mem: 32}\n- apiVersion: sprint/v1\n  kind: Run\n  metadata:\n    name: seq-two\n  spec:\n    command: echo\n    cpu: 1\n    mem: 32\n",
				want:     []unitLines{{Start: 1}, {Start: 5, Errors: []int{11}}},
			},
			"json RunList": {
				manifest: "{\"apiVersion\": \"sprint/v1\", \"kind\": \"RunList\", \"items\": [\n  {\"metadata\": {\"name\": \"j-one\"}, \"spec\": {\"command\": \"echo\", \"cpus\": 0.1, \"mem\": 32}},\n  {\"metadata\": {\"name\": \"j-two\"},\n   \"spec\": {\"command\": \"echo\",\n            \"cpus\": 0.1,\n            \"mem\": 0}}\n]}\n",
				want:     []unitLines{{Start: 2}, {Start: 3, Errors: []int{6}}},
			},
			"json stream with a syntax error": {
				manifest: "{\"metadata\": {\"name\": \"s-one\"}, \"spec\": {\"command\": \"echo\", \"cpus\": 0.1, \"mem\": 32}}\n{\"metadata\": {\"name\": \"s-two\"},\n \"spec\": {\"command\": \"echo\", \"cpus\": 0.1, \"mem\": 32,}}\n",
				want:     []unitLines{{Start: 1, Errors: []int{3}}},
			},
			"yaml syntax error in the second document": {
				manifest: "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: fine}\nspec: {command: echo, cpus: 0.1, mem: 32}\n---\napiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: x\nspec:\n  command: [unclosed\n  cpus: 1\n",
				want:     []unitLines{{Start: 1}, {Start: 6, Errors: []int{11}}},
			},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				var got []unitLines
				p.eval(fmt.Sprintf(`(async () => {
					const y = await import('/ui/js/yaml.js');
					const out = [];
					for (const u of y.splitManifest(%s)) {
						const resp = await fetch('/api/v1/runs?dryRun=true', {method: 'POST', headers: {'Content-Type': u.contentType}, body: u.text});
						const errors = [];
						if (!resp.ok) {
							const st = await resp.json();
							const err = {code: st.code, reason: st.reason, message: st.message, causes: (st.details && st.details.causes) || []};
							for (const e of y.locateErrors(u, err)) errors.push(e.line);
						}
						out.push({start: u.startLine, errors: errors.length ? errors : undefined});
					}
					return out; })()`, jsString(tc.manifest)), &got)
				assert.Equal(t, tc.want, got)
			})
		}
	})

	t.Run("field paths", func(t *testing.T) {
		manifest := "apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: paths\n  labels:\n    app.kubernetes.io/name: web\n    'quoted': \"v\"\nspec:\n  args:\n  - /bin/sh\n  - -c\n  uris:\n    - value: http://x/y\n      extract: false\n    - value: \"http://z\"\n  env:\n    FOO: bar\n  constraints:\n  - [hostname, UNIQUE]\n  - - rack\n    - LIKE\n"
		paths := map[string]int{
			"metadata.name": 4, "metadata.labels[app.kubernetes.io/name]": 6, "metadata.labels[quoted]": 7,
			"spec.args[1]": 11, "spec.uris[0].extract": 14, "spec.uris[1].value": 15, "spec.env[FOO]": 17,
			"spec.constraints[0]": 19, "spec.constraints[1][1]": 21, "spec.uris[7].value": 12, "spec.nothing": 8, "": 1,
		}
		var got map[string]int
		p.eval(fmt.Sprintf(`(async () => {
			const y = await import('/ui/js/yaml.js');
			const u = y.splitManifest(%s)[0];
			const out = {};
			for (const path of %s) out[path] = u.outline.lineOf(path);
			return out; })()`, jsString(manifest), mustJSON(t, keys(paths))), &got)
		assert.Equal(t, paths, got)
	})

	t.Run("YAML rendering reads back as the same Run", func(t *testing.T) {
		run := map[string]any{
			"apiVersion": "sprint/v1", "kind": "Run",
			"metadata": map[string]any{
				"name":        "render-check",
				"labels":      map[string]any{"app.kubernetes.io/name": "x", "tier": "1"},
				"annotations": map[string]any{"note": "#hash", "at": "@at", "q": "'quoted'", "u": "ünïcode ✓", "colon": "a:b", "spaced": "a: b", "tab": "a\tb", "empty": "", "lead": " x", "dash": "- x", "star": "*ref", "yes": "yes", "num": "0123", "exp": "1e3", "null": "null", "tilde": "~", "multi": "line one\nline two\n\n", "crlf": "a\r\nb", "bom": "\ufeffx", "ls": "a\u2028b"},
			},
			"spec": map[string]any{
				"command": "echo \"a: b\" # not a comment\nsecond line\n",
				"env":     map[string]any{"A": "yes", "B": "on", "C": "", "D": "-x", "E": "[x]", "F": "{y}", "G": "%p", "H": "`t`", "I": "a # b", "J": "trailing "},
				"cpus":    0.25, "mem": 64,
				"uris":                  []any{map[string]any{"value": "http://x/y?z=1#f", "extract": false}},
				"constraints":           []any{[]any{"hostname", "LIKE", "a[12]"}},
				"activeDeadlineSeconds": 30,
			},
		}
		var res struct {
			YAML     string          `json:"yaml"`
			FromJSON json.RawMessage `json:"fromJSON"`
			FromYAML json.RawMessage `json:"fromYAML"`
			Code     int             `json:"code"`
		}
		p.eval(fmt.Sprintf(`(async () => {
			const y = await import('/ui/js/yaml.js');
			const run = %s;
			const text = y.toYAML(run);
			const post = async (body, type) => {
				const r = await fetch('/api/v1/runs?dryRun=true', {method: 'POST', headers: {'Content-Type': type}, body});
				const o = await r.json();
				return {code: r.status, o};
			};
			const a = await post(JSON.stringify(run), 'application/json');
			const b = await post(text, 'application/yaml');
			const pick = o => o.spec ? {labels: o.metadata.labels, annotations: o.metadata.annotations, spec: o.spec} : o;
			return {yaml: text, fromJSON: pick(a.o), fromYAML: pick(b.o), code: b.code}; })()`, mustJSON(t, run)), &res)
		require.Equal(t, 201, res.Code, "the server refused the rendered YAML:\n%s\n%s", res.YAML, res.FromYAML)
		assert.JSONEq(t, string(res.FromJSON), string(res.FromYAML), "rendered YAML:\n%s", res.YAML)
	})

	t.Run("SSE framing", func(t *testing.T) {
		stream := ": comment\r\nevent: ADDED\r\nid: 7\r\ndata: {\"type\":\"ADDED\",\r\ndata: \"n\":1}\r\n\r\nevent: BOOKMARK\nid:8\ndata:{\"type\":\"BOOKMARK\"}\n\nretry: 10\r\rdata: x\r\r: more\n"
		var got []string
		p.eval(fmt.Sprintf(`(async () => {
			const w = await import('/ui/js/watch.js');
			const s = %s;
			const results = new Set();
			for (let cut = 0; cut <= s.length; cut++) {
				for (let cut2 = cut; cut2 <= s.length; cut2 += 7) {
					const evs = [];
					const p = new w.SSEParser(e => evs.push(e.event + '|' + e.id + '|' + e.data));
					p.push(s.slice(0, cut)); p.push(s.slice(cut, cut2)); p.push(s.slice(cut2));
					results.add(JSON.stringify(evs));
				}
			}
			return [...results]; })()`, jsString(stream)), &got)
		require.Len(t, got, 1, "the chunking changed the events: %v", got)
		assert.Equal(t, `["ADDED|7|{\"type\":\"ADDED\",\n\"n\":1}","BOOKMARK|8|{\"type\":\"BOOKMARK\"}","message|8|x"]`, got[0])
	})

	t.Run("behind a proxy that adds a path prefix", func(t *testing.T) {
		target, err := url.Parse(server)
		require.NoError(t, err)
		rp := httputil.NewSingleHostReverseProxy(target)
		proxy := httptest.NewServer(http.StripPrefix("/sprint", rp))
		t.Cleanup(func() {
			// The page's watch never ends by itself: leave the page,
			// and cut what is left, before Close waits for connections.
			_ = chromedp.Do(p.ctx, chromedp.Navigate("about:blank"))
			proxy.CloseClientConnections()
			proxy.Close()
		})
		putRun(t, server, "", runManifest("via-proxy", "true", nil))
		p.run(20*time.Second, chromedp.Navigate(proxy.URL+"/sprint/ui/#/runs"))
		p.waitJS(15*time.Second, `!!document.querySelector('tr.row[data-key="via-proxy"]') && document.querySelector('#conn').dataset.state === 'live'`)
	})
	p.requireClean("the module tests", allowed{422, "/api/v1/runs?dryRun=true"}, allowed{400, "/api/v1/runs?dryRun=true"})
}

// unitLines is where a manifest's Run starts and where its errors are.
type unitLines struct {
	Start  int   `json:"start"`
	Errors []int `json:"errors"`
}

func (u unitLines) String() string { return fmt.Sprintf("start %d errors %v", u.Start, u.Errors) }

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return strings.NewReplacer("\u2028", `\u2028`, "\u2029", `\u2029`).Replace(string(b))
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
