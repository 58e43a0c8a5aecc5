package apis

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors callers branch on with errors.Is. Stores, the controller
// and the HTTP layer return these (wrapped); the HTTP layer maps each to one
// status code.
var (
	// ErrNotFound: the named object does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: create of a name that exists (409).
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a resourceVersion precondition failed (409).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the object failed validation (422); see *InvalidError.
	ErrInvalid = errors.New("invalid")
	// ErrBadRequest: the request could not be decoded or has bad parameters (400).
	ErrBadRequest = errors.New("bad request")
	// ErrGone: a watch asked for a resourceVersion older than the kept history (410).
	ErrGone = errors.New("resource version too old")
	// ErrForbidden: the admission policy refuses the object (403); see
	// *ForbiddenError.
	ErrForbidden = errors.New("forbidden")
	// ErrTooSlow: a watch was closed because its client did not keep up
	// with the changes (410, reason Gone). Like ErrGone it means: list
	// again, or watch without a resourceVersion.
	ErrTooSlow = errors.New("watch too slow")
)

// Status is the API error object, in the shape Kubernetes uses:
// {"kind":"Status","code":422,"reason":"Invalid","message":"…","details":{"causes":[…]}}.
type Status struct {
	TypeMeta `json:",inline"`
	// Status is "Failure" for errors, "Success" otherwise.
	Status  string         `json:"status,omitempty"`
	Code    int            `json:"code"`
	Reason  string         `json:"reason,omitempty"`
	Message string         `json:"message"`
	Details *StatusDetails `json:"details,omitempty"`
}

// StatusDetails names the object an error is about and its field causes.
type StatusDetails struct {
	Name   string        `json:"name,omitempty"`
	Kind   string        `json:"kind,omitempty"`
	Causes []StatusCause `json:"causes,omitempty"`
	// RetryAfterSeconds, on a 429, is how long to wait before trying
	// again; the Retry-After header says the same.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
}

// StatusCause is one field-level problem.
type StatusCause struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error makes a Status usable as an error, e.g. by API clients.
func (s *Status) Error() string { return s.Message }

// FieldError is one validation problem at a field path such as
// "spec.container.portMappings[0].containerPort".
type FieldError struct {
	Field   string
	Message string
}

// Error renders "field: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ErrorList is every problem validation found, in field order.
type ErrorList []*FieldError

// Error joins the problems with "; ".
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// InvalidError is a validation failure of a named object. It matches
// ErrInvalid with errors.Is.
type InvalidError struct {
	Kind   string
	Name   string
	Errors ErrorList
}

// Error renders `Run "name" is invalid: spec.cpus: must be greater than 0`.
func (e *InvalidError) Error() string {
	name := e.Name
	if name == "" {
		name = "(unnamed)"
	}
	return fmt.Sprintf("%s %q is invalid: %s", e.Kind, name, e.Errors.Error())
}

// Is matches ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ForbiddenError is an object the admission policy refuses (Policy.AdmitRun),
// with every violation at its field path. It matches ErrForbidden with
// errors.Is. Name may be empty for an object that has none yet (a Sprint
// submission, whose id is only made up when it is stored).
type ForbiddenError struct {
	Kind   string
	Name   string
	Errors ErrorList
}

// Error renders `Run "name" is forbidden by the admission policy: spec.user: …`.
func (e *ForbiddenError) Error() string {
	what := e.Kind
	if e.Name != "" {
		what = fmt.Sprintf("%s %q", e.Kind, e.Name)
	}
	return fmt.Sprintf("%s is forbidden by the admission policy: %s", what, e.Errors.Error())
}

// Is matches ErrForbidden.
func (e *ForbiddenError) Is(target error) bool { return target == ErrForbidden }
