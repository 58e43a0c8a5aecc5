package apis

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRuns_Shapes(t *testing.T) {
	tests := map[string]struct {
		in    string
		names []string
	}{
		"single yaml": {in: "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\nspec: {command: echo, cpus: 0.1, mem: 32}\n", names: []string{"a"}},
		"single json": {in: `{"metadata":{"name":"a"},"spec":{"cpus":1,"mem":2}}`, names: []string{"a"}},
		"multi-document yaml with empty docs and comments": {in: "---\n# nothing here\n---\nmetadata: {name: a}\n---\n\n---\nmetadata: {name: b}\n...\n", names: []string{"a", "b"}},
		"content after separator":                          {in: "--- {metadata: {name: a}}\n--- # comment\nmetadata: {name: b}\n", names: []string{"a", "b"}},
		"run list":                                         {in: "apiVersion: sprint/v1\nkind: RunList\nmetadata: {resourceVersion: '7'}\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n", names: []string{"a", "b"}},
		"kind List":                                        {in: "apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n", names: []string{"a"}},
		"json stream":                                      {in: `{"metadata":{"name":"a"}} {"metadata":{"name":"b"}}`, names: []string{"a", "b"}},
		"json array":                                       {in: `[{"metadata":{"name":"a"}}, null, {"metadata":{"name":"b"}}]`, names: []string{"a", "b"}},
		"empty":                                            {in: "", names: []string{}},
		"only comment":                                     {in: "# hi\n", names: []string{}},
		"bom":                                              {in: "\xef\xbb\xbfmetadata: {name: a}\n", names: []string{"a"}},
		"null fields":                                      {in: "metadata: {name: a, labels: null}\nspec: null\n", names: []string{"a"}},
		"crlf":                                             {in: "metadata:\r\n  name: a\r\n---\r\nmetadata:\r\n  name: b\r\n", names: []string{"a", "b"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			runs, err := DecodeRuns([]byte(tc.in))
			require.NoError(t, err)
			got := make([]string, 0, len(runs))
			for _, r := range runs {
				got = append(got, r.Metadata.Name)
			}
			assert.Equal(t, tc.names, got)
		})
	}
}

func TestDecodeRuns_Values(t *testing.T) {
	in := `
metadata:
  name: etl
  labels: {team: data}
spec:
  args: ["/usr/bin/env", "-i"]
  cpus: 0.5
  mem: 256
  ttlSecondsAfterFinished: 0
  container:
    type: DOCKER
    docker: {image: "alpine:3.20", parameters: [{key: memory-swap, value: "-1"}]}
    portMappings: [{containerPort: 8080, name: http}]
  uris: [{value: "https://example.org/x.tgz", extract: false}]
  constraints: [[hostname, UNIQUE]]
status:
  phase: Running
  startTime: "2026-11-21T10:00:00Z"
`
	runs, err := DecodeRuns([]byte(in))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	r := runs[0]
	assert.Equal(t, []string{"/usr/bin/env", "-i"}, r.Spec.Args)
	assert.Equal(t, 0.5, r.Spec.Cpus)
	require.NotNil(t, r.Spec.TTLSecondsAfterFinished)
	assert.Equal(t, int64(0), *r.Spec.TTLSecondsAfterFinished)
	assert.Equal(t, "-1", r.Spec.Container.Docker.Parameters[0].Value)
	assert.Equal(t, int32(8080), r.Spec.Container.PortMappings[0].ContainerPort)
	assert.Equal(t, false, *r.Spec.URIs[0].Extract)
	assert.Equal(t, [][]string{{"hostname", "UNIQUE"}}, r.Spec.Constraints)
	assert.Equal(t, PhaseRunning, r.Status.Phase)
	assert.Equal(t, 2026, r.Status.StartTime.Year())
	assert.Empty(t, ValidateRun(&r))
}

func TestDecodeRuns_Errors(t *testing.T) {
	tests := map[string]struct {
		in   string
		want string
	}{
		"unknown field with suggestion": {in: "metadata: {name: a}\nspec:\n  cpu: 1\n", want: "spec.cpu: unknown field; did you mean spec.cpus?"},
		"case typo":                     {in: "metadata: {name: a}\nspec: {CPUS: 1}\n", want: "spec.CPUS: unknown field; did you mean spec.cpus?"},
		"unknown field far from all":    {in: "metadata: {name: a}\nspec: {flavour: big}\n", want: "spec.flavour: unknown field"},
		"unknown top level":             {in: "metdata: {name: a}\n", want: "metdata: unknown field; did you mean metadata?"},
		"deep unknown":                  {in: "spec:\n  container:\n    docker: {imgae: x}\n", want: "spec.container.docker.imgae: unknown field; did you mean spec.container.docker.image?"},
		"unknown in list item":          {in: "spec:\n  container:\n    portMappings: [{containerPort: 1, hostport: 2}]\n", want: "spec.container.portMappings[0].hostport: unknown field; did you mean spec.container.portMappings[0].hostPort?"},
		"type error string for number":  {in: "spec: {cpus: lots}\n", want: "spec.cpus: expected number, got string"},
		"quoted number":                 {in: `{"spec":{"mem":"256"}}`, want: "spec.mem: expected number, got string"},
		"type error int":                {in: "spec: {backoffLimit: 1.5}\n", want: "spec.backoffLimit: expected integer, got 1.5"},
		"int out of range":              {in: "spec: {gpus: 99999999999}\n", want: "spec.gpus: 99999999999 is out of range for a 32-bit integer"},
		"float out of range":            {in: `{"spec":{"cpus":1e400}}`, want: "spec.cpus: 1e400 is out of range"},
		"label must be string":          {in: "metadata: {labels: {version: 1.0}}\n", want: "metadata.labels[version]: expected string, got number"},
		"args not list":                 {in: "spec: {args: /bin/true}\n", want: "spec.args: expected array, got string"},
		"bool":                          {in: "spec: {cancel: maybe}\n", want: "spec.cancel: expected boolean, got string"},
		"object expected":               {in: "spec: [1]\n", want: "spec: expected object, got array"},
		"bad time":                      {in: "status: {startTime: yesterday}\n", want: `status.startTime: expected an RFC 3339 time such as "2026-11-21T10:00:00Z", got "yesterday"`},
		"several problems":              {in: "spec: {cpu: 1, mem: x}\n", want: "spec.cpu: unknown field; did you mean spec.cpus?; spec.mem: expected number, got string"},
		"scalar document":               {in: "hello\n", want: "expected an object (a Run or a RunList), got string"},
		"unknown kind":                  {in: "kind: Pod\n", want: `kind: unsupported value "Pod": must be Run or RunList`},
		"list apiVersion":               {in: "apiVersion: v2\nkind: RunList\nitems: []\n", want: `apiVersion: unsupported value "v2": must be sprint/v1`},
		"list item error":               {in: "kind: RunList\nitems:\n- spec: {cpu: 1}\n", want: "items[0].spec.cpu: unknown field; did you mean items[0].spec.cpus?"},
		"second document":               {in: "metadata: {name: a}\n---\nmetadata: {name: b}\nspec: {mme: 1}\n", want: "document 2: spec.mme: unknown field; did you mean spec.mem?"},
		"yaml syntax line in stream":    {in: "metadata: {name: a}\n---\n# c\nmetadata:\n  name: b\n   bad: x\n", want: "line 6: invalid YAML: mapping values are not allowed in this context"},
		"yaml syntax first line":        {in: "a: b: c\n", want: "line 1: invalid YAML: mapping values are not allowed in this context"},
		"yaml syntax first line of doc": {in: "metadata: {name: a}\n---\na: b: c\n", want: "line 3: invalid YAML: mapping values are not allowed in this context"},
		"yaml inf":                      {in: "spec: {cpus: .inf}\n", want: "line 1: invalid YAML: +Inf is not a valid number"},
		"json syntax":                   {in: "{\"spec\":{\"cpus\":1,\n\"mem\":}}", want: "line 2: invalid JSON: invalid character '}' looking for beginning of value"},
		"json truncated":                {in: "{\"spec\":\n{", want: "line 2: invalid JSON: unexpected EOF"},
		"json truncated after key":      {in: `{"spec":`, want: "line 1: invalid JSON: unexpected EOF"},
		"json truncated in array":       {in: `[{"spec":{}},`, want: "line 1: invalid JSON: unexpected EOF"},
		"json duplicate field":          {in: "{\"spec\":{\"cpus\":1,\n\"cpus\":8}}", want: "line 2: spec.cpus: duplicate field"},
		"json duplicate label":          {in: `{"metadata":{"labels":{"a":"1","a":"2"}}}`, want: "line 1: metadata.labels.a: duplicate field"},
		"json duplicate in list item":   {in: `[{"metadata":{"name":"a"}},{"metadata":{"name":"b","name":"c"}}]`, want: "line 1: [1].metadata.name: duplicate field"},
		"json duplicate top level":      {in: `{"spec":{},"spec":{}}`, want: "line 1: spec: duplicate field"},
		"yaml duplicate field":          {in: "metadata: {name: a}\nspec:\n  cpus: 1\n  cpus: 8\n", want: `line 4: invalid YAML: field "cpus" given twice in one mapping`},
		"yaml duplicate in 2nd doc":     {in: "metadata: {name: a}\n---\nmetadata:\n  name: b\n  name: c\n", want: `line 5: invalid YAML: field "name" given twice in one mapping`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRuns([]byte(tc.in))
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
			assert.True(t, errors.Is(err, ErrBadRequest), "decode errors are 400s")
			assert.Equal(t, 400, StatusFromError(err).Code)
		})
	}
}

func TestDecodeRuns_ProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("spec:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  unknown%04d: 1\n", i)
	}
	_, err := DecodeRuns([]byte(b.String()))
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Len(t, de.Problems, maxDecodeProblems+1)
	assert.Equal(t, "spec.unknown0000: unknown field", de.Problems[0])
	assert.Equal(t, "and 980 more problems", de.Problems[maxDecodeProblems])
}

func TestDecodeRunsReader_Limit(t *testing.T) {
	runs, err := DecodeRunsReader(strings.NewReader("metadata: {name: a}\n"))
	require.NoError(t, err)
	assert.Len(t, runs, 1)
	_, err = DecodeRunsReader(strings.NewReader(strings.Repeat(" ", MaxManifestBytes+1)))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Equal(t, "manifest larger than 33554432 bytes", err.Error())
}

func TestSuggest(t *testing.T) {
	known := []string{"cpus", "mem", "disk", "gpus", "activeDeadlineSeconds", "backoffLimit"}
	for in, want := range map[string]string{
		"cpu": "cpus", "CPUs": "cpus", "memory": "", "mme": "mem", "dsk": "disk", "x": "",
		"activeDeadlineSecond": "activeDeadlineSeconds", "backofflimit": "backoffLimit", "backoff": "",
	} {
		assert.Equal(t, want, suggest(in, known), in)
	}
}
