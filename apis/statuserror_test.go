package apis

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusFromError(t *testing.T) {
	invalid := &InvalidError{Kind: KindRun, Name: "a", Errors: ErrorList{{Field: "spec.cpus", Message: "must be greater than 0"}}}
	given := NewStatus(503, "ServiceUnavailable", "no leader")
	tests := map[string]struct {
		err     error
		code    int
		reason  string
		message string
		causes  []StatusCause
	}{
		"not found":      {err: fmt.Errorf("get run x: %w", ErrNotFound), code: 404, reason: "NotFound", message: "get run x: not found"},
		"already exists": {err: ErrAlreadyExists, code: 409, reason: "AlreadyExists", message: "already exists"},
		"conflict":       {err: ErrConflict, code: 409, reason: "Conflict", message: "conflict"},
		"bad request": {err: &DecodeError{Problems: ErrorList{{Field: "spec.cpu", Message: "unknown field"}}}, code: 400, reason: "BadRequest", message: "spec.cpu: unknown field",
			causes: []StatusCause{{Field: "spec.cpu", Message: "unknown field"}}},
		"decode syntax": {err: &DecodeError{Line: 3, Problems: problems("invalid JSON: unexpected EOF")}, code: 400, reason: "BadRequest", message: "line 3: invalid JSON: unexpected EOF",
			causes: []StatusCause{{Message: "invalid JSON: unexpected EOF"}}},
		"bad request f": {err: BadRequestf("limit: must be positive"), code: 400, reason: "BadRequest", message: "limit: must be positive"},
		"gone":          {err: ErrGone, code: 410, reason: "Expired", message: "resource version too old"},
		"bare invalid":  {err: ErrInvalid, code: 422, reason: "Invalid", message: "invalid"},
		"other":         {err: errors.New("disk on fire"), code: 500, reason: "InternalError", message: "disk on fire"},
		"invalid with causes": {err: fmt.Errorf("apply: %w", invalid), code: 422, reason: "Invalid",
			message: `apply: Run "a" is invalid: spec.cpus: must be greater than 0`,
			causes:  []StatusCause{{Field: "spec.cpus", Message: "must be greater than 0"}}},
		"status passes through": {err: fmt.Errorf("forward: %w", given), code: 503, reason: "ServiceUnavailable", message: "no leader"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := StatusFromError(tc.err)
			assert.Equal(t, KindStatus, s.Kind)
			assert.Equal(t, "Failure", s.Status)
			assert.Equal(t, tc.code, s.Code)
			assert.Equal(t, tc.reason, s.Reason)
			assert.Equal(t, tc.message, s.Message)
			if tc.causes != nil {
				assert.Equal(t, tc.causes, s.Details.Causes)
			}
		})
	}
	assert.Nil(t, StatusFromError(nil))
}

func TestErrorList_ToStatus(t *testing.T) {
	s := ErrorList{{Field: "metadata.name", Message: "required"}, {Field: "spec.mem", Message: "must be greater than 0"}}.ToStatus("x")
	assert.Equal(t, 422, s.Code)
	assert.Equal(t, `Run "x" is invalid: metadata.name: required; spec.mem: must be greater than 0`, s.Message)
	assert.Equal(t, &StatusDetails{Name: "x", Kind: KindRun, Causes: []StatusCause{{Field: "metadata.name", Message: "required"}, {Field: "spec.mem", Message: "must be greater than 0"}}}, s.Details)
	assert.True(t, errors.Is(&InvalidError{}, ErrInvalid))
}
