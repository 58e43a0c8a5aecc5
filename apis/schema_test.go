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
	t.Helper()
	r := &jsonschema.Reflector{ExpandedStruct: true}
	require.NoError(t, r.AddGoComments("github.com/sprint-project/sprint/apis", "."))
	s := r.Reflect(&Run{})
	s.ID = "https://sprint-project.github.io/schemas/sprint/v1/run.json"
	s.Title = "Run (sprint/v1)"
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
