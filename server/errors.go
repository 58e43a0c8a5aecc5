package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// Headers the server sets on its answers.
const (
	// HeaderApplyResult tells how PUT /api/v1/runs/{name} ended: created,
	// configured or unchanged (sprintctl prints it as kubectl does).
	HeaderApplyResult = "Sprint-Apply-Result"
	// HeaderNotLeader marks a 503 given because this node is not (or no
	// longer) the leader; a forwarding node retries on it.
	HeaderNotLeader = "Sprint-Not-Leader"
	// HeaderNodeID names the node that produced the answer.
	HeaderNodeID = "Sprint-Node"
)

// Apply results reported in HeaderApplyResult.
const (
	ApplyCreated    = "created"
	ApplyConfigured = "configured"
	ApplyUnchanged  = "unchanged"
)

// statusError is an error that already knows its Status.
func statusError(code int, reason, format string, args ...any) *apis.Status {
	return apis.NewStatus(code, reason, fmt.Sprintf(format, args...))
}

// badRequest is a 400 whose message is just the problem: the status
// code already says it is a bad request.
func badRequest(format string, args ...any) error {
	return apis.BadRequestf(format, args...)
}

// reasons names the Status reason of plain HTTP codes echo produces itself.
var reasons = map[int]string{
	http.StatusBadRequest:            "BadRequest",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "Forbidden",
	http.StatusNotFound:              "NotFound",
	http.StatusMethodNotAllowed:      "MethodNotAllowed",
	http.StatusRequestTimeout:        "Timeout",
	http.StatusRequestEntityTooLarge: "RequestEntityTooLarge",
	http.StatusUnsupportedMediaType:  "UnsupportedMediaType",
	http.StatusServiceUnavailable:    "ServiceUnavailable",
	http.StatusLoopDetected:          "LoopDetected",
	http.StatusGatewayTimeout:        "Timeout",
}

// toStatus is the one error→HTTP mapping: echo's own errors by code,
// server conditions by sentinel, the rest through apis.StatusFromError.
func toStatus(err error, path string) *apis.Status {
	var he *echo.HTTPError
	var st *apis.Status
	switch {
	case errors.As(err, &st):
		c := *st
		return &c
	case errors.Is(err, echo.ErrNotFound):
		// The router found no route: say so, and mark the Status so a
		// client can tell it from a missing object and blame its URL.
		st := statusError(http.StatusNotFound, "NotFound", "the sprint API has no path %s", quoteClip(path))
		st.Details = &apis.StatusDetails{Kind: "Path", Name: clip(path)}
		return st
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		reason := reasons[he.Code]
		if reason == "" {
			reason = http.StatusText(he.Code)
		}
		return statusError(he.Code, reason, "%s", msg)
	case errors.Is(err, apis.ErrNotLeader), errors.Is(err, ErrNoLeader), errors.Is(err, apis.ErrUnavailable):
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "%s", err.Error())
	case errors.Is(err, ErrLogUnavailable):
		return statusError(http.StatusNotFound, "NotFound", "%s", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return statusError(http.StatusGatewayTimeout, "Timeout", "%s", err.Error())
	case errors.Is(err, context.Canceled):
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "request cancelled: %s", err.Error())
	}
	s := apis.StatusFromError(err)
	if s == nil {
		return statusError(http.StatusInternalServerError, "InternalError", "%s", err.Error())
	}
	return s
}

// handleError is echo's HTTPErrorHandler: every error leaves as a Status.
// Detail is logged for 5xx only; 4xx are the client's to read.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	st := toStatus(err, c.Request().URL.Path)
	st.Message = clipMessage(st.Message)
	if st.Code >= 500 && c.Request().Context().Err() == nil {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "code", st.Code, "err", err)
	}
	if errors.Is(err, apis.ErrNotLeader) || errors.Is(err, ErrNoLeader) {
		c.Response().Header().Set(HeaderNotLeader, "true")
	}
	if st.Code == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sprint"`)
	}
	if st.Code == http.StatusTooManyRequests && st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(st.Details.RetryAfterSeconds))
	}
	if c.Request().Method == http.MethodHead {
		// GET's headers without its body.
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		_ = c.NoContent(st.Code)
		return
	}
	if werr := c.JSON(st.Code, st); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// maxEcho bounds how much of a user-supplied string an error message
// repeats: enough to recognise it, not enough to turn a 200 KB selector
// into a 200 KB answer.
const maxEcho = 256

// clip shortens s to maxEcho bytes (on a rune boundary), saying how much
// was left out.
func clip(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d more bytes)", s[:cut], len(s)-cut)
}

// quoteClip quotes user input for a message, %q style so that control
// characters and escaped path segments show as what they are.
func quoteClip(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	c := clip(s)
	i := strings.LastIndex(c, "…(")
	return strconv.Quote(c[:i]) + c[i:]
}

// invalidStatus is the 422 of a validation failure. An empty name leaves
// the object unnamed ("Member is invalid: …") rather than printing a
// placeholder or a name that was never stored.
func invalidStatus(kind, name string, errs apis.ErrorList) *apis.Status {
	msg := fmt.Sprintf("%s is invalid: %s", kind, errs.Error())
	if name != "" {
		msg = fmt.Sprintf("%s %s is invalid: %s", kind, quoteClip(name), errs.Error())
	}
	st := apis.NewStatus(http.StatusUnprocessableEntity, apis.ReasonInvalid, msg)
	st.Details = &apis.StatusDetails{Kind: kind, Name: name}
	for _, e := range errs {
		st.Details.Causes = append(st.Details.Causes, apis.StatusCause{Field: e.Field, Message: e.Message})
	}
	return st
}

// maxMessage bounds a Status message. Messages quote user input (a
// selector, a name); a huge one keeps its head, where the input is named,
// and its tail, where the problem is said.
const maxMessage = 1024

func clipMessage(m string) string {
	if len(m) <= maxMessage {
		return m
	}
	head, tail := maxEcho*2, maxEcho
	for head > 0 && !utf8.RuneStart(m[head]) {
		head--
	}
	start := len(m) - tail
	for start < len(m) && !utf8.RuneStart(m[start]) {
		start++
	}
	return fmt.Sprintf("%s…(%d bytes left out)…%s", m[:head], start-head, m[start:])
}
