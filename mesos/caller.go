package mesos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// headerStreamID is the header a master sets on SUBSCRIBE responses and
// expects back on every other call.
const headerStreamID = "Mesos-Stream-Id"

// maxErrorBody bounds how much of an error response body is kept.
const maxErrorBody = 4 << 10

// StatusError is a master's non-2xx answer to a call. The subscription is
// not affected by it: the caller decides what the error means.
type StatusError struct {
	// Code is the HTTP status code, e.g. 400, 403 or 503.
	Code int
	// Message is the start of the response body, Mesos' explanation.
	Message string
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	if e.Code == http.StatusUnauthorized {
		// Mesos says no more than "401 Unauthorized.".
		msg += " (the master requires credentials: a principal and its secret; none were sent or they were refused)"
	}
	return fmt.Sprintf("master answered %d: %s", e.Code, msg)
}

// Temporary reports whether retrying the same call later may succeed.
func (e *StatusError) Temporary() bool {
	return e.Code == http.StatusServiceUnavailable || e.Code == http.StatusTooManyRequests
}

// httpCaller is a calls.Caller speaking the v1 scheduler HTTP API to a set
// of masters. Unlike mesos-go's httpsched it follows 307 redirects on every
// call, remembers the leader for later calls, keeps the stream id of the
// latest subscription, and never tears a subscription down because a call
// failed.
type httpCaller struct {
	masters      []*url.URL
	codec        encoding.Codec
	client       *http.Client
	transport    *http.Transport
	principal    string
	secret       string
	maxRedirects int
	log          *slog.Logger

	mu       sync.Mutex
	leader   *url.URL // last endpoint known to lead; nil until one answered
	streamID string   // Mesos-Stream-Id of the latest subscription
}

var _ calls.Caller = (*httpCaller)(nil)

// newHTTPCaller returns a caller for cfg, which must have its defaults set.
func newHTTPCaller(cfg Config, logger *slog.Logger) (*httpCaller, error) {
	masters, err := cfg.masterURLs()
	if err != nil {
		return nil, err
	}
	codec, err := cfg.codec()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   MaxIdleConnsPerMaster,
		IdleConnTimeout:       90 * time.Second,
	}
	return &httpCaller{
		masters: masters,
		codec:   codec,
		client: &http.Client{
			Transport: tr,
			// Redirects are followed by hand: a POST must be replayed with
			// its body and our headers, and the leader remembered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport:    tr,
		principal:    cfg.Principal,
		secret:       cfg.Secret,
		maxRedirects: cfg.MaxRedirects,
		log:          logger,
	}, nil
}

// Call sends call. For SUBSCRIBE the response is the event stream, which
// the caller must Close; for other calls the response is nil.
func (c *httpCaller) Call(ctx context.Context, call *scheduler.Call) (mesosproto.Response, error) {
	var body bytes.Buffer
	if err := c.codec.NewEncoder(encoding.SinkWriter(&body)).Encode(call); err != nil {
		return nil, fmt.Errorf("encode %s: %w", call.GetType(), err)
	}
	if call.GetType() == scheduler.Call_SUBSCRIBE {
		return c.subscribe(ctx, body.Bytes())
	}
	return nil, c.send(ctx, body.Bytes())
}

// candidates lists the endpoints to try for SUBSCRIBE: the last known
// leader first, then every configured master.
func (c *httpCaller) candidates() []*url.URL {
	c.mu.Lock()
	leader := c.leader
	c.mu.Unlock()
	out := make([]*url.URL, 0, len(c.masters)+1)
	seen := map[string]bool{}
	if leader != nil {
		out = append(out, leader)
		seen[leader.String()] = true
	}
	for _, m := range c.masters {
		if !seen[m.String()] {
			out = append(out, m)
			seen[m.String()] = true
		}
	}
	return out
}

// subscribe tries each candidate master once and returns the first event
// stream. Cancelling ctx or closing the stream ends the request.
func (c *httpCaller) subscribe(ctx context.Context, body []byte) (mesosproto.Response, error) {
	var errs []error
	for _, target := range c.candidates() {
		subCtx, cancel := context.WithCancel(ctx)
		resp, final, err := c.do(subCtx, target, body, "", true)
		if err == nil {
			if err = c.checkSubscribed(resp); err != nil {
				// Cancel before Close: a stream's body has no end to drain.
				cancel()
				_ = resp.Body.Close()
			}
		}
		if err != nil {
			cancel()
			errs = append(errs, fmt.Errorf("%s: %w", target.Redacted(), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		c.mu.Lock()
		c.leader = final
		c.streamID = resp.Header.Get(headerStreamID)
		c.mu.Unlock()
		return newStream(resp.Body, cancel, c.codec), nil
	}
	return nil, fmt.Errorf("subscribe: %w", errors.Join(errs...))
}

// checkSubscribed validates a SUBSCRIBE response.
func (c *httpCaller) checkSubscribed(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return &StatusError{Code: resp.StatusCode, Message: string(b)}
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case err != nil || mt != string(c.codec.Type):
		err = fmt.Errorf("subscribe answered with Content-Type %q, want %q: %w",
			resp.Header.Get("Content-Type"), c.codec.Type, ErrProtocol)
	case resp.Header.Get(headerStreamID) == "":
		err = fmt.Errorf("subscribe answered without %s: %w", headerStreamID, ErrProtocol)
	}
	return err
}

// send posts a non-SUBSCRIBE call to the leader with the current stream id.
func (c *httpCaller) send(ctx context.Context, body []byte) error {
	c.mu.Lock()
	target := c.leader
	streamID := c.streamID
	c.mu.Unlock()
	if target == nil {
		target = c.masters[0]
	}
	resp, final, err := c.do(ctx, target, body, streamID, false)
	if err != nil {
		return err
	}
	if final != target {
		c.mu.Lock()
		if c.leader == nil || c.leader == target {
			c.leader = final
		}
		c.mu.Unlock()
	}
	if resp.StatusCode/100 != 2 {
		return statusError(resp)
	}
	drain(resp.Body)
	return nil
}

// do posts body to target, following up to maxRedirects redirects. It
// returns the response and the endpoint that produced it.
func (c *httpCaller) do(ctx context.Context, target *url.URL, body []byte, streamID string, subscribe bool) (*http.Response, *url.URL, error) {
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
		if err != nil {
			return nil, target, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", string(c.codec.Type))
		req.Header.Set("Accept", string(c.codec.Type))
		if streamID != "" {
			req.Header.Set(headerStreamID, streamID)
		}
		if c.secret != "" {
			req.SetBasicAuth(c.principal, c.secret)
		}
		// The event stream owns its connection until it ends.
		req.Close = subscribe
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, target, fmt.Errorf("post %s: %w", target.Redacted(), err)
		}
		if !isRedirect(resp.StatusCode) {
			return resp, target, nil
		}
		loc := resp.Header.Get("Location")
		drain(resp.Body)
		next, err := resolveRedirect(target, loc)
		if err != nil {
			return nil, target, err
		}
		if hop >= c.maxRedirects {
			return nil, target, fmt.Errorf("post %s: more than %d redirects: %w", target.Redacted(), c.maxRedirects, ErrProtocol)
		}
		c.log.Debug("following leader redirect", "from", target.Redacted(), "to", next.Redacted())
		target = next
	}
}

// close releases idle connections.
func (c *httpCaller) close() { c.transport.CloseIdleConnections() }

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// resolveRedirect resolves a Location header against the endpoint that sent
// it. Mesos sends scheme-relative "//host:port/api/v1/scheduler"; the
// scheme of base is kept, and base's path when Location has none (Mesos'
// /redirect answers with just "//host:port").
func resolveRedirect(base *url.URL, location string) (*url.URL, error) {
	if location == "" {
		return nil, fmt.Errorf("redirect from %s without Location: %w", base.Redacted(), ErrProtocol)
	}
	loc, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("redirect Location %q: %w", location, ErrProtocol)
	}
	next := base.ResolveReference(loc)
	if loc.Path == "" {
		next.Path, next.RawPath = base.Path, base.RawPath
	}
	if next.Host == "" {
		return nil, fmt.Errorf("redirect Location %q has no host: %w", location, ErrProtocol)
	}
	next.User = base.User
	return next, nil
}

// statusError reads and closes resp.Body into a StatusError.
func statusError(resp *http.Response) error {
	defer drain(resp.Body)
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{Code: resp.StatusCode, Message: string(b)}
}

// drain reads a little of body, so the connection can be reused, and closes it.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// stream is the event stream of one subscription: RecordIO records, each
// one Event in the codec's encoding, decoded by mesos-go's codec.
type stream struct {
	body   io.ReadCloser
	cancel context.CancelFunc
	dec    encoding.Decoder
	once   sync.Once
}

func newStream(body io.ReadCloser, cancel context.CancelFunc, codec encoding.Codec) *stream {
	return &stream{
		body:   body,
		cancel: cancel,
		dec:    codec.NewDecoder(func() framing.Reader { return newRecordReader(body, maxRecord) }),
	}
}

// Decode reads the next event.
func (s *stream) Decode(u encoding.Unmarshaler) error { return s.dec.Decode(u) }

// Close ends the subscription request; a concurrent Decode returns an error.
// Safe to call from any goroutine, more than once.
func (s *stream) Close() error {
	s.once.Do(func() {
		// Cancelling first unblocks a Read in progress; Close alone would
		// wait for it.
		s.cancel()
		_ = s.body.Close()
	})
	return nil
}
