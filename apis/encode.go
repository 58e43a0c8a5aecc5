package apis

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// EncodeJSON renders v (a Run, RunList, Status…) as indented JSON with a
// trailing newline, as sprintctl -o json and the API print it.
func EncodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b.Bytes(), nil
}

// EncodeYAML renders v as YAML through its JSON form, so field names and
// omitempty rules are the JSON ones and DecodeRuns reads the result back.
func EncodeYAML(v any) ([]byte, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return b, nil
}

// EncodeRunsYAML renders Runs as one multi-document YAML stream.
func EncodeRunsYAML(runs []Run) ([]byte, error) {
	var b bytes.Buffer
	for i := range runs {
		doc, err := EncodeYAML(&runs[i])
		if err != nil {
			return nil, fmt.Errorf("run %q: %w", runs[i].Metadata.Name, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(doc)
	}
	return b.Bytes(), nil
}
