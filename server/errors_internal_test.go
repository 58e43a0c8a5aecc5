package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/apis"
)

func TestToStatus_OneMapping(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		err    error
		code   int
		reason string
	}{
		"not leader":    {err: fmt.Errorf("create: %w", apis.ErrNotLeader), code: 503, reason: "ServiceUnavailable"},
		"no leader":     {err: ErrNoLeader, code: 503, reason: "ServiceUnavailable"},
		"unavailable":   {err: fmt.Errorf("x: %w", apis.ErrUnavailable), code: 503, reason: "ServiceUnavailable"},
		"no log":        {err: fmt.Errorf("x: %w", ErrLogUnavailable), code: 404, reason: "NotFound"},
		"deadline":      {err: fmt.Errorf("apply: %w", context.DeadlineExceeded), code: 504, reason: "Timeout"},
		"cancelled":     {err: context.Canceled, code: 503, reason: "ServiceUnavailable"},
		"echo 404":      {err: echo.ErrNotFound, code: 404, reason: "NotFound"},
		"echo 405":      {err: echo.ErrMethodNotAllowed, code: 405, reason: "MethodNotAllowed"},
		"echo 413":      {err: echo.ErrStatusRequestEntityTooLarge, code: 413, reason: "RequestEntityTooLarge"},
		"conflict":      {err: fmt.Errorf("update: %w", apis.ErrConflict), code: 409, reason: "Conflict"},
		"exists":        {err: fmt.Errorf("create: %w", apis.ErrAlreadyExists), code: 409, reason: "AlreadyExists"},
		"gone":          {err: fmt.Errorf("watch: %w", apis.ErrGone), code: 410, reason: "Expired"},
		"bad request":   {err: badRequest("x"), code: 400, reason: "BadRequest"},
		"invalid":       {err: fmt.Errorf("w: %w", &apis.InvalidError{Kind: "Run", Name: "a", Errors: apis.ErrorList{{Field: "spec.cpus", Message: "m"}}}), code: 422, reason: "Invalid"},
		"status":        {err: statusError(http.StatusLoopDetected, "LoopDetected", "loop"), code: 508, reason: "LoopDetected"},
		"anything else": {err: errors.New("disk on fire"), code: 500, reason: "InternalError"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := toStatus(tc.err, "/x")
			assert.Equal(t, tc.code, st.Code)
			assert.Equal(t, tc.reason, st.Reason)
			assert.Equal(t, apis.KindStatus, st.Kind)
			assert.NotEmpty(t, st.Message)
		})
	}
}
