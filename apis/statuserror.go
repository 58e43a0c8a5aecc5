package apis

import (
	"errors"
	"fmt"
	"net/http"
)

// Status reasons, as Kubernetes names them.
const (
	ReasonNotFound      = "NotFound"
	ReasonAlreadyExists = "AlreadyExists"
	ReasonConflict      = "Conflict"
	ReasonInvalid       = "Invalid"
	ReasonForbidden     = "Forbidden"
	ReasonBadRequest    = "BadRequest"
	ReasonExpired       = "Expired"
	ReasonGone          = "Gone"
	ReasonTooMany       = "TooManyRequests"
	ReasonInternalError = "InternalError"
)

// ToStatus renders a validation failure of the named Run as a 422 Status
// with one cause per problem.
func (l ErrorList) ToStatus(name string) *Status {
	return StatusFromError(&InvalidError{Kind: KindRun, Name: name, Errors: l})
}

// NewStatus builds a failure Status.
func NewStatus(code int, reason, message string) *Status {
	return &Status{
		TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindStatus},
		Status:   "Failure",
		Code:     code,
		Reason:   reason,
		Message:  message,
	}
}

// StatusFromError is the one mapping from errors to API Status objects the
// HTTP layer uses: a *Status passes through, *InvalidError and ErrorList
// become 422 with causes, *ForbiddenError 403 with causes, *DecodeError
// 400 with causes, each sentinel error its own code, anything else 500. A
// nil error gives nil.
func StatusFromError(err error) *Status {
	if err == nil {
		return nil
	}
	var st *Status
	if errors.As(err, &st) {
		return st
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		s := NewStatus(http.StatusUnprocessableEntity, ReasonInvalid, err.Error())
		s.Details = &StatusDetails{Name: inv.Name, Kind: inv.Kind, Causes: causes(inv.Errors)}
		return s
	}
	var fe *ForbiddenError
	if errors.As(err, &fe) {
		s := NewStatus(http.StatusForbidden, ReasonForbidden, err.Error())
		s.Details = &StatusDetails{Name: fe.Name, Kind: fe.Kind, Causes: causes(fe.Errors)}
		return s
	}
	var de *DecodeError
	if errors.As(err, &de) {
		// A body that could not be decoded: 400, with a cause per
		// problem, so that clients find the field as for a 422.
		s := NewStatus(http.StatusBadRequest, ReasonBadRequest, err.Error())
		s.Details = &StatusDetails{Causes: causes(de.Problems)}
		return s
	}
	var list ErrorList
	if errors.As(err, &list) {
		s := NewStatus(http.StatusUnprocessableEntity, ReasonInvalid, err.Error())
		s.Details = &StatusDetails{Causes: causes(list)}
		return s
	}
	for _, m := range []struct {
		target error
		code   int
		reason string
	}{
		{ErrNotFound, http.StatusNotFound, ReasonNotFound},
		{ErrAlreadyExists, http.StatusConflict, ReasonAlreadyExists},
		{ErrConflict, http.StatusConflict, ReasonConflict},
		{ErrInvalid, http.StatusUnprocessableEntity, ReasonInvalid},
		{ErrForbidden, http.StatusForbidden, ReasonForbidden},
		{ErrBadRequest, http.StatusBadRequest, ReasonBadRequest},
		{ErrGone, http.StatusGone, ReasonExpired},
		{ErrTooSlow, http.StatusGone, ReasonGone},
	} {
		if errors.Is(err, m.target) {
			return NewStatus(m.code, m.reason, err.Error())
		}
	}
	return NewStatus(http.StatusInternalServerError, ReasonInternalError, err.Error())
}

func causes(l ErrorList) []StatusCause {
	out := make([]StatusCause, 0, len(l))
	for _, e := range l {
		out = append(out, StatusCause{Field: e.Field, Message: e.Message})
	}
	return out
}

// BadRequestError is a request that cannot be served as sent, e.g. an
// unparseable selector. It matches ErrBadRequest with errors.Is and
// renders only its message, which is what the user sees.
type BadRequestError struct {
	Message string
}

// Error returns the message.
func (e *BadRequestError) Error() string { return e.Message }

// Is matches ErrBadRequest.
func (e *BadRequestError) Is(target error) bool { return target == ErrBadRequest }

// BadRequestf builds a *BadRequestError.
func BadRequestf(format string, args ...any) error {
	return &BadRequestError{Message: fmt.Sprintf(format, args...)}
}
