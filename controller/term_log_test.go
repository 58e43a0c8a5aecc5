package controller

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestTermLogger: a reconcile's log lines carry its Run and reconcile ID;
// other lines carry neither.
func TestTermLogger(t *testing.T) {
	var buf bytes.Buffer
	tm := &term{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	ctx := context.WithValue(context.Background(), logKey{}, reconcileLog{run: "etl-1", id: 7})
	tm.logger(ctx).Info("killing task", "task_id", "t1")
	tm.logger(context.Background()).Info("other")
	assert.Equal(t, "level=INFO msg=\"killing task\" run=etl-1 reconcile_id=7 task_id=t1\nlevel=INFO msg=other\n", buf.String())
}
