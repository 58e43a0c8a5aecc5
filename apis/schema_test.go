package apis

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/invopop/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite run.schema.json from the Go types")

func generateRunSchema(t *testing.T) []byte {
	return generateSchema(t, &Run{}, "run", "Run")
}

func generateSchema(t *testing.T, v any, file, kind string) []byte {
	t.Helper()
	r := &jsonschema.Reflector{ExpandedStruct: true}
	require.NoError(t, r.AddGoComments("github.com/sprint-project/sprint/apis", "."))
	s := r.Reflect(v)
	s.ID = jsonschema.ID("https://sprint-project.github.io/schemas/sprint/v1/" + file + ".json")
	s.Title = kind + " (sprint/v1)"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "> 0" readable in descriptions
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(s))
	return b.Bytes()
}

func TestRunSchema_UpToDate(t *testing.T) {
	got := generateRunSchema(t)
	if *update {
		require.NoError(t, os.WriteFile("run.schema.json", got, 0o644))
	}
	if !bytes.Equal(got, RunSchema()) {
		t.Fatalf("apis/run.schema.json is out of date with the Go types; regenerate it with\n\tgo test ./apis -run TestRunSchema_UpToDate -update\n(or go generate ./apis) and commit the result")
	}
}

func TestRunSchema_DescribesRun(t *testing.T) {
	var s map[string]any
	require.NoError(t, json.Unmarshal(RunSchema(), &s))
	assert.Equal(t, "object", s["type"])
	props := s["properties"].(map[string]any)
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
		assert.Contains(t, props, k)
	}
	assert.Equal(t, false, s["additionalProperties"], "unknown fields are rejected, as the decoder does")
}

func TestScheduleSchema_UpToDate(t *testing.T) {
	got := generateSchema(t, &Schedule{}, "schedule", "Schedule")
	if *update {
		require.NoError(t, os.WriteFile("schedule.schema.json", got, 0o644))
	}
	if !bytes.Equal(got, ScheduleSchema()) {
		t.Fatalf("apis/schedule.schema.json is out of date with the Go types; regenerate it with\n\tgo test ./apis -run TestScheduleSchema_UpToDate -update\n(or go generate ./apis) and commit the result")
	}
}

func TestScheduleSchema_DescribesSchedule(t *testing.T) {
	var s map[string]any
	require.NoError(t, json.Unmarshal(ScheduleSchema(), &s))
	props := s["properties"].(map[string]any)
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status"} {
		assert.Contains(t, props, k)
	}
	assert.Equal(t, false, s["additionalProperties"])
	defs := s["$defs"].(map[string]any)
	assert.Contains(t, defs, "RunSpec", "the template's spec is a Run spec")
}
