package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Prefix is where the console is mounted; every asset path starts with it.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every asset. Scripts and styles come
// from this origin only (no inline code, no eval), the page talks to this
// origin only, and nothing may frame it: a stolen or injected string can
// neither run nor phone home.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	contentType string
	etag        string
}

// Handler serves the embedded console. Build it with New; it is safe for
// concurrent use and never changes after New.
type Handler struct {
	assets map[string]*asset // by path below Prefix, "" for index.html
}

// New loads the embedded assets, computing their content types, ETags and
// gzip forms once.
func New() (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		a, err := newAsset(p, body)
		if err != nil {
			return err
		}
		h.assets[strings.TrimPrefix(p, "static/")] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load console assets: %w", err)
	}
	if h.assets["index.html"] == nil {
		return nil, fmt.Errorf("load console assets: index.html missing")
	}
	return h, nil
}

// contentTypes are set explicitly: module scripts must be served as
// JavaScript, and the system's MIME table may not know every extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

func newAsset(name string, body []byte) (*asset, error) {
	ext := path.Ext(name)
	ct := contentTypes[ext]
	if ct == "" {
		ct = mime.TypeByExtension(ext)
	}
	if ct == "" {
		return nil, fmt.Errorf("asset %s: unknown content type", name)
	}
	sum := sha256.Sum256(body)
	a := &asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if ext != ".png" && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
		if _, err := zw.Write(body); err != nil {
			return nil, fmt.Errorf("asset %s: %w", name, err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("asset %s: %w", name, err)
		}
		if buf.Len() < len(body)*9/10 {
			a.gzipped = buf.Bytes()
		}
	}
	return a, nil
}

// Serves reports whether path is the console's: /ui, /ui/ or an asset
// under /ui/. A router uses it to answer other paths in its own way.
func (h *Handler) Serves(path string) bool {
	if path == strings.TrimSuffix(Prefix, "/") || path == Prefix {
		return true
	}
	name, ok := strings.CutPrefix(path, Prefix)
	return ok && h.assets[name] != nil
}

// ServeHTTP serves GET and HEAD of /ui/ (index.html) and /ui/<asset>;
// /ui redirects to /ui/. Assets are revalidated on every load (ETag), so
// a node upgrade reaches open consoles on their next reload.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	a := h.assets[name]
	if a == nil {
		http.Error(w, "404 not found: the console has no file "+path.Clean("/"+name), http.StatusNotFound)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Add("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match list names etag (weak
// validators compare equal, as RFC 9110 says for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (q=0 refuses).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// Assets returns the embedded files, rooted at the console's top (the
// file index.html is at "index.html"), for tests and tools.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // "static" is a valid path in every build
	}
	return sub
}
