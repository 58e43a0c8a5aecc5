package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHCLog_ForwardsWithSnakeCaseKeys(t *testing.T) {
	var buf bytes.Buffer
	l := HCLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Named("raft").With("node-id", "n1").Warn("heartbeat failed", "last-index", 7, "error", "boom")
	l.Trace("dropped: below the handler's level")

	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "WARN", rec["level"])
	assert.Equal(t, "heartbeat failed", rec["msg"])
	assert.Equal(t, "n1", rec["node_id"])
	assert.Equal(t, float64(7), rec["last_index"])
	assert.Equal(t, "boom", rec["err"])
	assert.Equal(t, "raft", rec["logger"])
	assert.False(t, l.IsTrace())
	assert.True(t, l.IsDebug())
}

func TestHCLog_StandardLoggerParsesLevelPrefix(t *testing.T) {
	var buf bytes.Buffer
	l := HCLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.StandardLogger(&hclog.StandardLoggerOptions{}).Print("[ERR] raft: oops")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "ERROR", rec["level"])
	assert.Equal(t, "raft: oops", rec["msg"])
}

func TestHCLog_RendersFormatValues(t *testing.T) {
	var buf bytes.Buffer
	l := HCLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	l.Info("initial configuration", "servers", hclog.Fmt("%+v", []string{"n1", "n2"}))

	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
	assert.Equal(t, "[n1 n2]", rec["servers"])
}
