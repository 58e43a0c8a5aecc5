package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds the browser the console tests drive: $SPRINT_CHROMIUM,
// else Debian's chromium on PATH. Without one the tests skip, except in
// CI (CI set, as .ci/run's environment has it), where .ci/run installs
// chromium and a missing browser is a failure, not a silent pass.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SPRINT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: the console's browser tests must run in CI (.ci/run installs Debian's chromium)")
	}
	t.Skip("chromium not found: install it (apt-get install -y chromium) or set SPRINT_CHROMIUM to run the web console's browser tests")
	return ""
}

// consoleEntry is something the page reported: an uncaught exception, a
// console.error/warn call, or a browser log entry (failed loads, CSP
// violations).
type consoleEntry struct {
	Source, Level, Text string
}

func (e consoleEntry) String() string { return e.Source + "/" + e.Level + ": " + e.Text }

// page is one browser tab on a sprint node's console.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string // http://host:port

	mu      sync.Mutex
	entries []consoleEntry
}

// openConsole starts a headless Chromium with the flags this machine needs
// (no sandbox as root; no background connections, which a closed network
// refuses) and a fresh profile, and returns a tab. It is closed when the
// test ends.
func openConsole(t *testing.T, base string) *page {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	p := &page{t: t, ctx: ctx, base: base}
	// Start the browser now, so its start-up is not counted in a timing,
	// and collect what the page reports for the whole test.
	messages := chromedp.Console(ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				p.add(consoleEntry{Source: m.Source, Level: string(m.Type), Text: m.Text + " " + m.URL})
			}
		}
	}()
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		<-done
	})
	return p
}

func (p *page) add(e consoleEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries = append(p.entries, e)
}

// allowed is a failed request a test provokes on purpose: a browser log
// entry from the network with this HTTP status on a URL containing path.
type allowed struct {
	status int
	path   string
}

// problems returns what the page reported, less the allowed failed
// requests (e.g. the 422 of a dry run the test makes fail).
func (p *page) problems(ok ...allowed) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
next:
	for _, e := range p.entries {
		if e.Source == "network" {
			for _, a := range ok {
				if strings.Contains(e.Text, fmt.Sprintf("status of %d ", a.status)) && strings.Contains(e.Text, a.path) {
					continue next
				}
			}
		}
		out = append(out, e.String())
	}
	return out
}

// requireClean fails when the page reported anything not allowed.
func (p *page) requireClean(what string, ok ...allowed) {
	p.t.Helper()
	require.Empty(p.t, p.problems(ok...), "console of %s", what)
}

// run runs chromedp actions with a deadline.
func (p *page) run(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(err)
	}
}

func (p *page) fail(err error) {
	p.t.Helper()
	body, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	p.t.Fatalf("browser: %v\npage text:\n%s\nconsole: %v", err, clipText(body, 3000), p.problems())
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// open navigates to the console at fragment (e.g. "#/runs").
func (p *page) open(fragment string) {
	p.t.Helper()
	p.run(20*time.Second, chromedp.Navigate(p.base+"/ui/"+fragment), chromedp.WaitReady(chromedp.CSS("body")))
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value into out (nil: ignore it).
func (p *page) eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail(fmt.Errorf("evaluate %s: %w", clipText(expr, 200), err))
	}
	if out != nil {
		require.NoError(p.t, json.Unmarshal(raw, out), "result of %s: %s", clipText(expr, 200), raw)
	}
}

// waitJS waits until a JavaScript expression is truthy.
func (p *page) waitJS(timeout time.Duration, cond string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		p.fail(fmt.Errorf("wait for %s: %w", cond, err))
	}
}

// text returns the innerText of the first element matching a CSS
// selector ("" when there is none).
func (p *page) text(sel string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.innerText : ""; })()`, jsString(sel)), &s)
	return s
}

// setValue sets a form field's value as typing would, firing input.
func (p *page) setValue(sel, value string) {
	p.t.Helper()
	var ok bool
	p.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%s); if (!el) return false;
		el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, jsString(sel), jsString(value)), &ok)
	require.True(p.t, ok, "no element %s", sel)
}

func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals; U+2028 and U+2029 come out escaped
	return string(b)
}

// click clicks the first visible element matching a CSS selector, with
// the mouse, as a user does. A live page may replace the element between
// finding it and clicking it (a watch event re-renders a table row): the
// browser then no longer knows the node, and the click is tried again on
// the element that now matches, a few times.
func (p *page) click(sel string) {
	p.t.Helper()
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		cancel()
		if err == nil {
			return
		}
		if attempt < 5 && isDetachedNode(err) {
			continue
		}
		p.fail(fmt.Errorf("click %s: %w", sel, err))
	}
}

// isDetachedNode reports the DevTools error of a node removed from the
// document after it was found.
func isDetachedNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "Node is detached from document")
}

// darkMode makes the page see prefers-color-scheme: dark (or light).
func (p *page) darkMode(on bool) {
	p.t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}},
	}); err != nil {
		p.fail(err)
	}
}

// screenshotTall saves the page in a viewport height pixels tall, for a
// page whose lower half matters (a Run's log).
func (p *page) screenshotTall(name string, height int64) {
	p.t.Helper()
	p.run(10*time.Second, chromedp.EmulateViewport(1366, height))
	p.screenshot(name)
	p.run(10*time.Second, chromedp.ResetViewport())
}

// screenshot saves the viewport as name.png in $SPRINT_UI_SHOTS (docs/ui
// when run by make ui-shots), else in the test's temporary directory.
func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail(err)
	}
	dir := os.Getenv("SPRINT_UI_SHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(p.t), dir)
	}
	require.NoError(p.t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, name+".png")
	require.NoError(p.t, os.WriteFile(path, png, 0o644))
	p.t.Logf("screenshot %s", path)
}
