package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// DefaultServer is the server address when none is given.
const DefaultServer = "http://127.0.0.1:9090"

// Client talks to one sprint server. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	token      string
	hc         *http.Client
	userAgent  string
	leaderWait time.Duration
}

// maxIdleConnsPerHost is how many keep-alive connections a Client keeps
// to a server: as many as goroutines calling it at once, up to this, so
// that concurrent calls reuse connections instead of opening (and
// closing) one per call, as http.DefaultTransport's 2 would.
const maxIdleConnsPerHost = 64

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	return t
}

// defaultHTTPClient is shared by the Clients New makes without
// WithHTTPClient or WithTLSConfig, as http.DefaultClient would be, so
// that they share its idle connections. It holds no settings that change.
var defaultHTTPClient = &http.Client{Transport: newTransport()}

// DefaultLeaderWait is how long calls wait out a cluster without a leader.
const DefaultLeaderWait = 10 * time.Second

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client, e.g. one trusting a private CA. Its
// Timeout must be zero or long enough for watches and followed logs;
// bound calls with their context instead.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTLSConfig makes the client trust the servers tls.Config trusts (a
// private CA, say), over a transport of its own.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *Client) {
		tr := newTransport()
		tr.TLSClientConfig = cfg
		c.hc = &http.Client{Transport: tr}
	}
}

// LoadCA reads PEM certificates into a tls.Config for WithTLSConfig.
func LoadCA(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificates", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// WithLeaderWait sets how long a call keeps retrying while the cluster
// elects a leader (0: fail at once).
func WithLeaderWait(d time.Duration) Option { return func(c *Client) { c.leaderWait = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client for the server at serverURL ("http://host:port"; a
// bare host:port means http). token, when not empty, is sent as a bearer
// token.
func New(serverURL, token string, opts ...Option) (*Client, error) {
	if serverURL == "" {
		serverURL = DefaultServer
	}
	if !strings.Contains(serverURL, "://") {
		serverURL = "http://" + serverURL
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", serverURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server address %q: scheme must be http or https", serverURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server address %q: no host", serverURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, token: token, hc: defaultHTTPClient, userAgent: "sprint-client", leaderWait: DefaultLeaderWait}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Server returns the server's base URL.
func (c *Client) Server() string { return c.base.String() }

// request is one API call.
type request struct {
	method      string
	path        string
	query       url.Values
	body        []byte
	contentType string
	accept      string
}

// maxThrottled is how many times a call is sent again after 429 Too Many
// Requests before the 429 is returned.
const maxThrottled = 10

// do sends a request and returns the response when its status is 2xx;
// otherwise it returns the server's Status as the error. While the cluster
// has no leader (503 with Sprint-Not-Leader, which the server only answers
// when nothing was written) it tries again for up to the client's
// leader wait. A 429 (the server limits expensive calls per client) is
// tried again after the Retry-After the server asked for, up to
// maxThrottled times. The caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	deadline := time.Now().Add(c.leaderWait)
	// Jittered: after a leader change many clients retry at once.
	retry := backoff.Retry{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: 0.5}}
	throttled := 0
	for {
		resp, err := c.send(ctx, r)
		if err == nil {
			return resp, nil
		}
		var pause time.Duration
		switch {
		case resp == nil:
			return nil, err
		case resp.StatusCode == http.StatusTooManyRequests && throttled < maxThrottled:
			throttled++
			pause = retryAfter(err)
		case resp.Header.Get("Sprint-Not-Leader") != "":
			if pause = retry.Next(); time.Now().Add(pause).After(deadline) {
				return nil, err
			}
		default:
			return nil, err
		}
		if clock.Sleep(ctx, clock.Real{}, pause) != nil {
			return nil, err
		}
	}
}

// maxRetryAfter caps the wait a 429 asks for, against a nonsensical one.
const maxRetryAfter = 10 * time.Minute

// retryAfter is how long a 429 Status asked the client to wait: its
// details.retryAfterSeconds (decodeStatus puts a Retry-After header
// there), else one second.
func retryAfter(err error) time.Duration {
	var st *apis.Status
	if errors.As(err, &st) && st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		return min(time.Duration(st.Details.RetryAfterSeconds)*time.Second, maxRetryAfter)
	}
	return time.Second
}

// send makes one attempt. On a non-2xx answer it returns the response
// (body closed) beside the Status error, so that do can look at headers.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := *c.base
	u.Path += r.path
	u.RawQuery = r.query.Encode()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and URL
		}
		return nil, fmt.Errorf("%s %s: %w", r.method, u.Redacted(), err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return resp, decodeStatus(resp, r.method, u.Redacted())
}

// UnexpectedAnswerError is an error answer that is not about the request's
// object: it came from something else (a proxy, another service), or the
// sprint server has no such path (a wrong base URL).
// It unwraps to an *apis.Status carrying the HTTP code.
type UnexpectedAnswerError struct {
	Status *apis.Status
}

// Error returns "METHOD URL: 404 Not Found[: body]".
func (e *UnexpectedAnswerError) Error() string { return e.Status.Message }

// Unwrap gives the Status, so StatusCode and IsNotFound work.
func (e *UnexpectedAnswerError) Unwrap() error { return e.Status }

// IsUnexpectedAnswer reports whether err is an answer that did not come
// from the sprint API proper, e.g. because the server URL has a wrong path.
func IsUnexpectedAnswer(err error) bool {
	var fe *UnexpectedAnswerError
	return errors.As(err, &fe)
}

// decodeStatus turns an error response into *apis.Status, also when the
// body is not one (a proxy's HTML page, say): then the message names the
// request, since the URL is the likeliest thing to be wrong.
func decodeStatus(resp *http.Response, method, url string) error {
	err := decodeStatusBody(resp, method, url)
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && secs > 0 {
			var st *apis.Status
			if errors.As(err, &st) {
				if st.Details == nil {
					st.Details = &apis.StatusDetails{}
				}
				st.Details.RetryAfterSeconds = secs
			}
		}
	}
	return err
}

func decodeStatusBody(resp *http.Response, method, url string) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st apis.Status
	if json.Unmarshal(b, &st) == nil && st.Kind == apis.KindStatus && st.Message != "" {
		if st.Code == 0 {
			st.Code = resp.StatusCode
		}
		if st.Details == nil || st.Details.Kind != "Path" {
			return &st
		}
		b = nil // the server has no such path: name the URL instead
	}
	msg := fmt.Sprintf("%s %s: %d %s", method, url, resp.StatusCode, http.StatusText(resp.StatusCode))
	body := strings.Join(strings.Fields(string(b)), " ")
	if body != "" && len(body) <= 200 && !strings.EqualFold(body, http.StatusText(resp.StatusCode)) &&
		!strings.HasPrefix(body, "<") && !strings.EqualFold(body, strconv.Itoa(resp.StatusCode)+" "+http.StatusText(resp.StatusCode)) {
		msg += ": " + body
	}
	return &UnexpectedAnswerError{Status: apis.NewStatus(resp.StatusCode, strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", ""), msg)}
}

// call sends r and decodes the answer into a new T: the body of every
// typed read and write of one object or list.
func call[T any](ctx context.Context, c *Client, r request) (*T, error) {
	var out T
	if _, _, err := c.doJSON(ctx, r, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// doJSON sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) doJSON(ctx context.Context, r request, out any) (http.Header, int, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return nil, 0, fmt.Errorf("%s %s: decode answer: %w", r.method, r.path, err)
		}
	}
	return resp.Header, resp.StatusCode, nil
}

// StatusCode returns the HTTP code of a Status error, or 0.
func StatusCode(err error) int {
	var st *apis.Status
	if errors.As(err, &st) {
		return st.Code
	}
	return 0
}

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool { return StatusCode(err) == http.StatusNotFound }

// IsConflict reports whether err is a 409 (name taken or stale resourceVersion).
func IsConflict(err error) bool { return StatusCode(err) == http.StatusConflict }

// IsInvalid reports whether err is a 422 validation failure.
func IsInvalid(err error) bool { return StatusCode(err) == http.StatusUnprocessableEntity }

// IsForbidden reports whether err is a 403: the admission policy refused
// the object; the Status's details.causes name each field.
func IsForbidden(err error) bool { return StatusCode(err) == http.StatusForbidden }

// IsGone reports whether err is a 410 (watch history too old).
func IsGone(err error) bool { return StatusCode(err) == http.StatusGone }

func runPath(name string) string { return "/api/v1/runs/" + url.PathEscape(name) }

// kind describes one kind of object (Run, Schedule, Notifier) to the
// calls every kind shares, written once in this file: encode, create,
// apply by name, and a watch. A new kind is a descriptor, not a copy of
// these calls.
type kind[T any] struct {
	// name is the kind as the API spells it ("Schedule").
	name string
	// path is the collection's path ("/api/v1/schedules").
	path string
	// parts are the object's type and metadata.
	parts func(*T) (*apis.TypeMeta, *apis.ObjectMeta)
	// fillType sets only the apiVersion and kind an object leaves empty
	// (the Runs': one that names another kind is sent as it is, for the
	// server to refuse); otherwise both are set.
	fillType bool
}

// The descriptors of the three kinds. They are never written.
var (
	runKind = kind[apis.Run]{name: apis.KindRun, path: "/api/v1/runs", fillType: true,
		parts: func(r *apis.Run) (*apis.TypeMeta, *apis.ObjectMeta) { return &r.TypeMeta, &r.Metadata }}
	scheduleKind = kind[apis.Schedule]{name: apis.KindSchedule, path: "/api/v1/schedules",
		parts: func(s *apis.Schedule) (*apis.TypeMeta, *apis.ObjectMeta) { return &s.TypeMeta, &s.Metadata }}
	notifierKind = kind[apis.Notifier]{name: apis.KindNotifier, path: "/api/v1/notifiers",
		parts: func(n *apis.Notifier) (*apis.TypeMeta, *apis.ObjectMeta) { return &n.TypeMeta, &n.Metadata }}
)

// typed returns obj as the server wants it, with apiVersion and kind (a
// Run built in Go may leave them out: its type says what it is), never
// writing to obj.
func (k kind[T]) typed(obj *T) *T {
	c := *obj
	tm, _ := k.parts(&c)
	if !k.fillType || tm.APIVersion == "" {
		tm.APIVersion = apis.APIVersion
	}
	if !k.fillType || tm.Kind == "" {
		tm.Kind = k.name
	}
	return &c
}

// meta is the object's metadata.
func (k kind[T]) meta(obj *T) *apis.ObjectMeta {
	_, m := k.parts(obj)
	return m
}

// objectPath is the path of the object with this name.
func (k kind[T]) objectPath(name string) string { return k.path + "/" + url.PathEscape(name) }

// encode is obj's JSON as the server wants it.
func (k kind[T]) encode(obj *T) ([]byte, error) {
	b, err := json.Marshal(k.typed(obj))
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", strings.ToLower(k.name), err)
	}
	return b, nil
}

// createObject POSTs a new object (dryRun: validated and shown, not
// stored); a 409 Status when the name exists.
func createObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, error) {
	body, err := k.encode(obj)
	if err != nil {
		return nil, err
	}
	return call[T](ctx, c, request{method: http.MethodPost, path: k.path, query: dryRunQuery(dryRun), body: body})
}

// putObject PUTs obj to its name and tells what the server did: its
// Sprint-Apply-Result header, or, from a server without it, created for a
// 201 and configured otherwise.
func putObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, ApplyResult, error) {
	body, err := k.encode(obj)
	if err != nil {
		return nil, "", err
	}
	var out T
	hdr, code, err := c.doJSON(ctx, request{method: http.MethodPut, path: k.objectPath(k.meta(obj).Name), query: dryRunQuery(dryRun), body: body}, &out)
	if err != nil {
		return nil, "", err
	}
	result := ApplyResult(hdr.Get("Sprint-Apply-Result"))
	if result == "" {
		result = Configured
		if code == http.StatusCreated {
			result = Created
		}
	}
	return &out, result, nil
}

// applyObject creates obj when it has no name (a name generated from
// metadata.generateName is new), else PUTs it to its name.
func applyObject[T any](ctx context.Context, c *Client, k kind[T], obj *T, dryRun bool) (*T, ApplyResult, error) {
	if k.meta(obj).Name == "" {
		out, err := createObject(ctx, c, k, obj, dryRun)
		if err != nil {
			return nil, "", err
		}
		return out, Created, nil
	}
	return putObject(ctx, c, k, obj, dryRun)
}

// watchKind starts the watch loop of kind k whose events, made by event,
// it delivers on the channel it returns (closed when the loop returns).
// It returns an error at once when the server refuses the first request.
func watchKind[T, E any](ctx context.Context, c *Client, k kind[T], opts WatchOptions, event func(apis.EventType, *T) E) (*watchLoop[T], <-chan E, error) {
	events := make(chan E, 16)
	loop := newWatchLoop(c, k.path, opts, k.meta, func(ctx context.Context, typ apis.EventType, obj *T) bool {
		select {
		case events <- event(typ, obj):
			return true
		case <-ctx.Done():
			return false
		}
	}, func() { close(events) })
	if err := loop.start(ctx); err != nil {
		return nil, nil, err
	}
	return loop, events, nil
}

// updateRetrying reads the named object, changes it (change false: there
// is nothing to write, and the object is returned as read) and puts it
// back, reading it again when a concurrent write made the put a conflict,
// six tries at most.
func updateRetrying[T any](ctx context.Context, c *Client, k kind[T], name string, change func(*T) bool) (*T, error) {
	for attempt := 0; ; attempt++ {
		obj, err := call[T](ctx, c, request{method: http.MethodGet, path: k.objectPath(name)})
		if err != nil {
			return nil, err
		}
		if !change(obj) {
			return obj, nil
		}
		out, _, err := putObject(ctx, c, k, obj, false)
		if err == nil {
			return out, nil
		}
		if !IsConflict(err) || attempt >= 5 {
			return nil, err
		}
	}
}
