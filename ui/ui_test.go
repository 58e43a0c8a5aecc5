package ui_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/ui"
)

func serve(t *testing.T, h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandler_ServesAssetsWithTheirTypesAndPolicy(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	for path, wantType := range map[string]string{
		"/ui/":                 "text/html; charset=utf-8",
		"/ui/js/main.js":       "text/javascript; charset=utf-8",
		"/ui/js/pages/runs.js": "text/javascript; charset=utf-8",
		"/ui/css/app.css":      "text/css; charset=utf-8",
		"/ui/favicon.svg":      "image/svg+xml",
	} {
		t.Run(path, func(t *testing.T) {
			rec := serve(t, h, http.MethodGet, path)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, wantType, rec.Header().Get("Content-Type"))
			assert.Equal(t, ui.ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
			assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
			assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"))
			assert.NotEmpty(t, rec.Header().Get("ETag"))
			assert.NotEmpty(t, rec.Body.Bytes())
		})
	}
}

// The policy allows nothing inline and nothing from elsewhere: the
// assets must not need either.
func TestAssets_NoInlineCodeNoExternalResources(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	index := serve(t, h, http.MethodGet, "/ui/").Body.String()
	assert.NotRegexp(t, `<script(?:\s[^>]*)?>\s*[^<\s]`, index, "an inline script")
	assert.NotContains(t, index, "<style")
	assert.NotRegexp(t, `\son[a-z]+=`, index, "an inline event handler")
	assert.NotRegexp(t, `\sstyle=`, index, "an inline style attribute")
	markup := regexp.MustCompile(`\.(?:inner|outer)HTML\s*=|insertAdjacentHTML|document\.write`)
	dynamicCode := regexp.MustCompile("\\beval\\(|new Function\\(|setTimeout\\(\\s*[\"'`]")
	external := regexp.MustCompile(`(?i)(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//|fetch\(\s*["']https?:`)
	err = fs.WalkDir(ui.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui.Assets(), p)
		require.NoError(t, err)
		assert.False(t, external.Match(b), "%s loads something from another origin", p)
		if strings.HasSuffix(p, ".js") {
			assert.False(t, markup.Match(b), "%s writes markup: text must go in as textContent", p)
			assert.False(t, dynamicCode.Match(b), "%s evaluates strings as code", p)
		}
		return nil
	})
	require.NoError(t, err)
}

func TestHandler_Revalidation(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	first := serve(t, h, http.MethodGet, "/ui/js/main.js")
	etag := first.Header().Get("ETag")
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		rec := serve(t, h, http.MethodGet, "/ui/js/main.js", "If-None-Match", inm)
		assert.Equal(t, http.StatusNotModified, rec.Code, inm)
		assert.Empty(t, rec.Body.Bytes())
	}
	assert.Equal(t, http.StatusOK, serve(t, h, http.MethodGet, "/ui/js/main.js", "If-None-Match", `"stale"`).Code)
}

func TestHandler_Gzip(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	plain := serve(t, h, http.MethodGet, "/ui/js/yaml.js").Body.Bytes()
	for ae, want := range map[string]bool{"gzip": true, "br, gzip;q=0.8": true, "gzip;q=0": false, "identity": false, "": false} {
		rec := serve(t, h, http.MethodGet, "/ui/js/yaml.js", "Accept-Encoding", ae)
		require.Equal(t, http.StatusOK, rec.Code)
		if !want {
			assert.Empty(t, rec.Header().Get("Content-Encoding"), ae)
			assert.Equal(t, plain, rec.Body.Bytes(), ae)
			continue
		}
		assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"), ae)
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Equal(t, plain, got)
	}
}

func TestHandler_RefusesWhatIsNotAnAsset(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	cases := map[string]struct {
		method, path string
		code         int
		location     string
	}{
		"missing file":        {http.MethodGet, "/ui/js/nope.js", http.StatusNotFound, ""},
		"directory":           {http.MethodGet, "/ui/js/", http.StatusNotFound, ""},
		"dot segments":        {http.MethodGet, "/ui/../ui.go", http.StatusNotFound, ""},
		"encoded dot segment": {http.MethodGet, "/ui/%2e%2e/ui.go", http.StatusNotFound, ""},
		"outside the prefix":  {http.MethodGet, "/index.html", http.StatusNotFound, ""},
		"write":               {http.MethodPost, "/ui/", http.StatusMethodNotAllowed, ""},
		"no slash":            {http.MethodGet, "/ui", http.StatusMovedPermanently, "/ui/"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := serve(t, h, tc.method, tc.path)
			assert.Equal(t, tc.code, rec.Code)
			assert.Equal(t, tc.location, rec.Header().Get("Location"))
			assert.Equal(t, ui.ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
		})
	}
	head := serve(t, h, http.MethodHead, "/ui/")
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Empty(t, head.Body.Bytes())
	assert.NotEmpty(t, head.Header().Get("Content-Length"))
}

// index.html preloads every module, so the browser fetches them at once
// rather than level by level as it finds the imports (first paint).
func TestIndex_PreloadsEveryModule(t *testing.T) {
	index, err := fs.ReadFile(ui.Assets(), "index.html")
	require.NoError(t, err)
	linked := map[string]bool{}
	for _, m := range regexp.MustCompile(`<(?:link rel="modulepreload" href|script type="module" src)="([^"]+)"`).FindAllSubmatch(index, -1) {
		linked[string(m[1])] = true
	}
	modules, err := fs.Glob(ui.Assets(), "js/*.js")
	require.NoError(t, err)
	pages, err := fs.Glob(ui.Assets(), "js/pages/*.js")
	require.NoError(t, err)
	for _, m := range append(modules, pages...) {
		assert.True(t, linked[m], "index.html does not preload %s", m)
		delete(linked, m)
	}
	assert.Empty(t, linked, "index.html links modules that do not exist")
}

func TestHandler_Serves(t *testing.T) {
	h, err := ui.New()
	require.NoError(t, err)
	for path, want := range map[string]bool{
		"/ui": true, "/ui/": true, "/ui/js/main.js": true, "/ui/js/": false, "/ui/nope": false,
		"/ui/../ui.go": false, "/": false, "/uix": false, "/api/v1/runs": false,
	} {
		assert.Equal(t, want, h.Serves(path), path)
	}
}
