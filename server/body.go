package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// readBody reads the whole request body, at most MaxBodyBytes (413 beyond).
// The bytes read replace the body (a replayBody), so that leaderOnly can
// replay them to a handler or to the leader and a second call returns
// them again.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	if rb, ok := c.Request().Body.(*replayBody); ok {
		return rb.b, nil
	}
	req := c.Request()
	limit := s.cfg.MaxBodyBytes
	if req.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	var b []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		b, err = readAll(req.Body, req.ContentLength, limit+1)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(limit)
			}
			if errors.Is(err, errBodyTooSlow) {
				// Closing the connection after the answer is net/http's
				// doing: the rest of the body was not read.
				return nil, statusError(http.StatusRequestTimeout, "Timeout", "%v", err)
			}
			return nil, badRequest("read request body: %v", err)
		}
		if int64(len(b)) > limit {
			return nil, tooLarge(limit)
		}
	}
	req.Body = newReplayBody(b)
	return b, nil
}

// replayBody is a body already read, served again from memory, and the
// bytes readBody read: one allocation where caching them in the echo
// context (its map and the bytes as an interface) and
// io.NopCloser(bytes.NewReader(b)) took four.
type replayBody struct {
	bytes.Reader
	b []byte
}

func newReplayBody(b []byte) *replayBody {
	r := &replayBody{b: b}
	r.Reset(b)
	return r
}

func (*replayBody) Close() error { return nil }

// maxPresizedBody bounds what readAll allocates on a client's word (its
// Content-Length) before the bytes arrive: a client that announces a
// large body and sends it slowly holds only what it sent.
const maxPresizedBody = 64 << 10

// readAll is io.ReadAll(io.LimitReader(r, limit)) into a buffer sized
// for the announced length (up to maxPresizedBody), so a write's body of a
// few KiB is read into one allocation rather than grown from 512 bytes by
// copies.
func readAll(r io.Reader, announced, limit int64) ([]byte, error) {
	size := int64(512)
	if announced >= 0 {
		size = min(announced, maxPresizedBody) + 1 // +1: room to see EOF
	}
	b := make([]byte, 0, min(size, limit))
	for {
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if int64(len(b)) >= limit {
			return b, nil
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next size
		}
	}
}

func tooLarge(limit int64) error {
	return statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
		"request body is larger than %d bytes", limit)
}

// bodyFormat checks the Content-Type of a write: JSON (also when absent) or
// YAML; anything else is 415.
func bodyFormat(c echo.Context, allowYAML bool) (yaml bool, err error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	switch ct {
	case "", "application/json":
		return false, nil // what most writes send: nothing to parse
	}
	mt, _, perr := mime.ParseMediaType(ct)
	if perr != nil {
		return false, unsupportedType(ct, allowYAML)
	}
	switch mt {
	case "application/json":
		return false, nil
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		if allowYAML {
			return true, nil
		}
	}
	return false, unsupportedType(ct, allowYAML)
}

func unsupportedType(ct string, allowYAML bool) error {
	want := "application/json"
	if allowYAML {
		want += " or application/yaml"
	}
	return statusError(http.StatusUnsupportedMediaType, "UnsupportedMediaType",
		"unsupported content type %q: send %s", ct, want)
}

// decodeRun decodes exactly one Run from a JSON or YAML body, with the
// strict checks of apis.DecodeRuns: apiVersion and kind named, no unknown
// or repeated field, valid UTF-8, bounded nesting. A YAML body may be at
// most MaxYAMLBodyBytes.
func (s *Server) decodeRun(c echo.Context) (*apis.Run, error) {
	b, err := readOneBody(s, c, runKind)
	if err != nil {
		return nil, err
	}
	var docs []apis.RunDocument
	err = s.decoding(c, func() (err error) {
		docs, err = apis.DecodeRunDocuments(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case len(docs) == 1 && docs[0].Kind != apis.KindRun:
		return nil, badRequest("kind %s: this endpoint takes one Run; apply the items of a list one by one", docs[0].Kind)
	case len(docs) != 1:
		return nil, badRequest("request body holds %d documents: send exactly one Run", len(docs))
	}
	r := docs[0].Runs[0]
	return &r, nil
}

// decoding runs decode, a decoder of a request body, when one of
// Config.MaxConcurrentDecodes slots is free. Decoding is CPU-bound and a
// hostile body may cost up to 64 MiB of memory, so more at once would not
// finish sooner but would hold more memory. Its errors are 400s.
func (s *Server) decoding(c echo.Context, decode func() error) error {
	ctx := c.Request().Context()
	select {
	case s.decodeSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.decodeSlots }()
	err := decode()
	if err == nil || errors.Is(err, apis.ErrBadRequest) || errors.Is(err, apis.ErrInvalid) {
		return err
	}
	return fmt.Errorf("%w: %w", apis.ErrBadRequest, err)
}

// strictJSON decodes one JSON value, refusing unknown fields and trailing data.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
