package apis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sprint-project/sprint/internal/hostile"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRuns_Shapes(t *testing.T) {
	const y = "apiVersion: sprint/v1\nkind: Run\n"
	const j = `"apiVersion":"sprint/v1","kind":"Run",`
	tests := map[string]struct {
		in    string
		names []string
	}{
		"single yaml": {in: y + "metadata: {name: a}\nspec: {command: echo, cpus: 0.1, mem: 32}\n", names: []string{"a"}},
		"single json": {in: `{` + j + `"metadata":{"name":"a"},"spec":{"cpus":1,"mem":2}}`, names: []string{"a"}},
		"multi-document yaml with empty docs and comments": {in: "---\n# nothing here\n---\n" + y + "metadata: {name: a}\n---\n\n---\n" + y + "metadata: {name: b}\n...\n", names: []string{"a", "b"}},
		"content after separator":                          {in: "--- {apiVersion: sprint/v1, kind: Run, metadata: {name: a}}\n--- # comment\n" + y + "metadata: {name: b}\n", names: []string{"a", "b"}},
		"run list":                                         {in: "apiVersion: sprint/v1\nkind: RunList\nmetadata: {resourceVersion: '7'}\nitems:\n- metadata: {name: a}\n- {apiVersion: sprint/v1, kind: Run, metadata: {name: b}}\n", names: []string{"a", "b"}},
		"kind List":                                        {in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: sprint/v1, kind: Run, metadata: {name: a}}\n", names: []string{"a"}},
		"json stream":                                      {in: `{` + j + `"metadata":{"name":"a"}} {` + j + `"metadata":{"name":"b"}}`, names: []string{"a", "b"}},
		"json array":                                       {in: `[{` + j + `"metadata":{"name":"a"}}, null, {` + j + `"metadata":{"name":"b"}}]`, names: []string{"a", "b"}},
		"yaml sequence":                                    {in: "- {apiVersion: sprint/v1, kind: Run, metadata: {name: a}}\n- {apiVersion: sprint/v1, kind: Run, metadata: {name: b}}\n", names: []string{"a", "b"}},
		"empty":                                            {in: "", names: []string{}},
		"only comment":                                     {in: "# hi\n", names: []string{}},
		"bom":                                              {in: "\xef\xbb\xbf" + y + "metadata: {name: a}\n", names: []string{"a"}},
		"null fields":                                      {in: y + "metadata: {name: a, labels: null}\nspec: null\n", names: []string{"a"}},
		"crlf":                                             {in: "apiVersion: sprint/v1\r\nkind: Run\r\nmetadata:\r\n  name: a\r\n---\r\napiVersion: sprint/v1\r\nkind: Run\r\nmetadata:\r\n  name: b\r\n", names: []string{"a", "b"}},
		"yaml anchors and merge":                           {in: y + "metadata:\n  name: a\n  labels: &l {team: data}\n  annotations:\n    <<: *l\n    x: z\n", names: []string{"a"}},
		"valid utf-8 and escapes":                          {in: `{` + j + `"metadata":{"name":"a","annotations":{"k":"h\u00e9 \ud83d\ude00 \ufffd é 😀"}}}`, names: []string{"a"}},
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
apiVersion: sprint/v1
kind: Run
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
	const y = "apiVersion: sprint/v1\nkind: Run\n"
	const j = `"apiVersion":"sprint/v1","kind":"Run",`
	tests := map[string]struct {
		in   string
		want string
	}{
		"unknown field with suggestion": {in: y + "metadata: {name: a}\nspec:\n  cpu: 1\n", want: "spec.cpu: unknown field; did you mean spec.cpus?"},
		"case typo":                     {in: y + "metadata: {name: a}\nspec: {CPUS: 1}\n", want: "spec.CPUS: unknown field; did you mean spec.cpus?"},
		"unknown field far from all":    {in: y + "metadata: {name: a}\nspec: {flavour: big}\n", want: "spec.flavour: unknown field"},
		"unknown top level":             {in: y + "metdata: {name: a}\n", want: "metdata: unknown field; did you mean metadata?"},
		"deep unknown":                  {in: y + "spec:\n  container:\n    docker: {imgae: x}\n", want: "spec.container.docker.imgae: unknown field; did you mean spec.container.docker.image?"},
		"unknown in list item":          {in: y + "spec:\n  container:\n    portMappings: [{containerPort: 1, hostport: 2}]\n", want: "spec.container.portMappings[0].hostport: unknown field; did you mean spec.container.portMappings[0].hostPort?"},
		"type error string for number":  {in: y + "spec: {cpus: lots}\n", want: "spec.cpus: expected number, got string"},
		"quoted number":                 {in: `{` + j + `"spec":{"mem":"256"}}`, want: "spec.mem: expected number, got string"},
		"type error int":                {in: y + "spec: {backoffLimit: 1.5}\n", want: "spec.backoffLimit: expected integer, got 1.5"},
		"int out of range":              {in: y + "spec: {gpus: 99999999999}\n", want: "spec.gpus: 99999999999 is out of range for a 32-bit integer"},
		"float out of range":            {in: `{` + j + `"spec":{"cpus":1e400}}`, want: "spec.cpus: 1e400 is out of range"},
		"label must be string":          {in: y + "metadata: {labels: {version: 1.0}}\n", want: "metadata.labels[version]: expected string, got number"},
		"args not list":                 {in: y + "spec: {args: /bin/true}\n", want: "spec.args: expected array, got string"},
		"bool":                          {in: y + "spec: {cancel: maybe}\n", want: "spec.cancel: expected boolean, got string"},
		"object expected":               {in: y + "spec: [1]\n", want: "spec: expected object, got array"},
		"bad time":                      {in: y + "status: {startTime: yesterday}\n", want: `status.startTime: expected an RFC 3339 time such as "2026-11-21T10:00:00Z", got "yesterday"`},
		"several problems":              {in: y + "spec: {cpu: 1, mem: x}\n", want: "spec.cpu: unknown field; did you mean spec.cpus?; spec.mem: expected number, got string"},
		"scalar document":               {in: "hello\n", want: "expected an object (a Run or a RunList), got string"},

		"kind missing":           {in: "apiVersion: sprint/v1\nmetadata: {name: a}\n", want: "kind: Object 'Kind' is missing in 'apiVersion: sprint/v1 metadata: {name: a}'"},
		"apiVersion missing":     {in: `{"kind":"Run","metadata":{"name":"a"}}`, want: `apiVersion: Object 'apiVersion' is missing in '{"kind":"Run","metadata":{"name":"a"}}'`},
		"both missing":           {in: `{"metadata":{"name":"a"}}`, want: `kind: Object 'Kind' is missing in '{"metadata":{"name":"a"}}'; apiVersion: Object 'apiVersion' is missing in '{"metadata":{"name":"a"}}'`},
		"kind empty":             {in: `{"apiVersion":"sprint/v1","kind":"","metadata":{"name":"a"}}`, want: `kind: Object 'Kind' is missing in '{"apiVersion":"sprint/v1","kind":"","metadata":{"name":"a"}}'`},
		"kind not a string":      {in: `{"apiVersion":"sprint/v1","kind":7}`, want: "kind: expected string, got number"},
		"excerpt is clipped":     {in: `{"metadata":{"name":"` + strings.Repeat("a", 300) + `"}}`, want: `kind: Object 'Kind' is missing in '{"metadata":{"name":"` + strings.Repeat("a", 99) + `…'; apiVersion: Object 'apiVersion' is missing in '{"metadata":{"name":"` + strings.Repeat("a", 99) + `…'`},
		"unknown kind":           {in: "apiVersion: sprint/v1\nkind: Pod\n", want: `kind: unsupported value "Pod": must be Run or RunList`},
		"kind is case-sensitive": {in: "apiVersion: sprint/v1\nkind: run\n", want: `kind: unsupported value "run": must be Run or RunList`},
		"unknown apiVersion":     {in: "apiVersion: v1\nkind: Run\n", want: `apiVersion: unsupported value "v1": must be sprint/v1`},
		"list apiVersion":        {in: "apiVersion: v2\nkind: RunList\nitems: []\n", want: `apiVersion: unsupported value "v2": must be sprint/v1`},
		"List apiVersion":        {in: "apiVersion: sprint/v1\nkind: List\nitems: []\n", want: `apiVersion: unsupported value "sprint/v1": must be v1`},
		"List item without kind": {in: "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: sprint/v1, metadata: {name: a}}\n", want: `items[0].kind: Object 'Kind' is missing in '{"apiVersion":"sprint/v1","metadata":{"name":"a"}}'`},
		"RunList item kind":      {in: "apiVersion: sprint/v1\nkind: RunList\nitems:\n- {kind: Pod}\n- {apiVersion: v1}\n", want: `items[0].kind: unsupported value "Pod": must be Run; items[1].apiVersion: unsupported value "v1": must be sprint/v1`},
		"list item error":        {in: "apiVersion: sprint/v1\nkind: RunList\nitems:\n- spec: {cpu: 1}\n", want: "items[0].spec.cpu: unknown field; did you mean items[0].spec.cpus?"},
		"second document":        {in: y + "metadata: {name: a}\n---\n" + y + "metadata: {name: b}\nspec: {mme: 1}\n", want: "document 2: spec.mme: unknown field; did you mean spec.mem?"},
		"second document kind":   {in: y + "metadata: {name: a}\n---\nmetadata: {name: b}\n", want: "document 2: kind: Object 'Kind' is missing in 'metadata: {name: b}'; apiVersion: Object 'apiVersion' is missing in 'metadata: {name: b}'"},

		"yaml syntax line in stream":    {in: y + "metadata: {name: a}\n---\n# c\nmetadata:\n  name: b\n   bad: x\n", want: "line 8: invalid YAML: mapping values are not allowed in this context"},
		"yaml syntax first line":        {in: "a: b: c\n", want: "line 1: invalid YAML: mapping values are not allowed in this context"},
		"yaml syntax first line of doc": {in: y + "metadata: {name: a}\n---\na: b: c\n", want: "line 5: invalid YAML: mapping values are not allowed in this context"},
		"yaml inf":                      {in: y + "spec: {cpus: .inf}\n", want: "line 1: spec.cpus: +Inf is not a valid number"},
		"yaml complex key":              {in: y + "metadata:\n  ? [a, b]\n  : c\n", want: "line 4: metadata: invalid YAML: a mapping key must be a scalar"},
		"yaml bad binary utf-8":         {in: y + "spec: {command: !!binary gA==}\n", want: "line 1: spec.command: invalid UTF-8 (a !!binary value?)"},
		"json syntax":                   {in: "{\"spec\":{\"cpus\":1,\n\"mem\":}}", want: "line 2: invalid JSON: invalid character '}' looking for beginning of value"},
		"json truncated":                {in: "{\"spec\":\n{", want: "line 2: invalid JSON: unexpected EOF"},
		"json truncated after key":      {in: `{"spec":`, want: "line 1: invalid JSON: unexpected EOF"},
		"json truncated in array":       {in: `[{"spec":{}},`, want: "line 1: invalid JSON: unexpected EOF"},
		"json duplicate field":          {in: "{\"spec\":{\"cpus\":1,\n\"cpus\":8}}", want: "line 2: spec.cpus: duplicate field"},
		"json duplicate label":          {in: `{"metadata":{"labels":{"a":"1","a":"2"}}}`, want: "line 1: metadata.labels.a: duplicate field"},
		"json duplicate in list item":   {in: `[{"metadata":{"name":"a"}},{"metadata":{"name":"b","name":"c"}}]`, want: "line 1: [1].metadata.name: duplicate field"},
		"json duplicate top level":      {in: `{"spec":{},"spec":{}}`, want: "line 1: spec: duplicate field"},
		"yaml duplicate field":          {in: y + "metadata: {name: a}\nspec:\n  cpus: 1\n  cpus: 8\n", want: "line 6: spec.cpus: duplicate field"},
		"yaml duplicate in 2nd doc":     {in: y + "metadata: {name: a}\n---\nmetadata:\n  name: b\n  name: c\n", want: "line 7: metadata.name: duplicate field"},
		"yaml duplicate after quoting":  {in: y + "metadata:\n  labels: {a: x, 'a': y}\n", want: "line 4: metadata.labels.a: duplicate field"},

		"json nesting":          {in: `{"metadata":{"labels":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 72), want: "line 1: metadata.labels" + strings.Repeat(".a", 62) + ": nested deeper than 64 levels"},
		"json nested arrays":    {in: strings.Repeat("[", 100000) + strings.Repeat("]", 100000), want: "line 1: " + strings.Repeat("[0]", 64) + ": nested deeper than 64 levels"},
		"yaml nesting":          {in: y + "metadata:\n  labels: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n", want: "line 1: metadata.labels" + strings.Repeat("[0]", 62) + ": nested deeper than 64 levels"},
		"yaml alias bomb":       {in: string(hostile.BillionLaughs(9)), want: "line 1: metadata.annotations.l5[0][4][9][7][1]: invalid YAML: aliases expand the document beyond 66190 bytes (its size plus 65536)"},
		"invalid utf-8 in json": {in: `{"spec":{"command":"echo ` + "\xff" + `"}}`, want: "line 1: invalid UTF-8 at byte 25"},
		"invalid utf-8 in key":  {in: "apiVersion: sprint/v1\nkind: Run\nmetadata:\n  labels: {\xc3\x28: x}\n", want: "line 4: invalid UTF-8 at byte 53"},
		"invalid utf-8 comment": {in: "# caf\xe9\n" + y, want: "line 1: invalid UTF-8 at byte 5"},
		"truncated rune":        {in: y + "spec: {command: \"\xe2\x82\"}\n", want: "line 3: invalid UTF-8 at byte 49"},
		"utf-16 body":           {in: "\xff\xfe{\x00}\x00", want: "line 1: invalid UTF-8 at byte 0: the body is UTF-16 (it starts with a UTF-16 byte order mark); send UTF-8"},
		"lone surrogate":        {in: `{"spec":{"command":"\ud800"}}`, want: `line 1: invalid JSON: \ud800 at byte 20 is half of a UTF-16 surrogate pair, which stands for no character`},
		"lone low surrogate":    {in: `{"spec":{"command":"a\\\udc00"}}`, want: `line 1: invalid JSON: \udc00 at byte 23 is half of a UTF-16 surrogate pair, which stands for no character`},
		"reversed pair":         {in: `{"spec":{"command":"\udc00\ud800"}}`, want: `line 1: invalid JSON: \udc00 at byte 20 is half of a UTF-16 surrogate pair, which stands for no character`},
		"surrogate after bom":   {in: "\xef\xbb\xbf" + `{"a":"\uD800"}`, want: `line 1: invalid JSON: \uD800 at byte 9 is half of a UTF-16 surrogate pair, which stands for no character`},
		"yaml surrogate":        {in: y + `spec: {command: "\ud800"}` + "\n", want: "line 3: invalid YAML: found invalid Unicode character escape code"},
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
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nspec:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  unknown%04d: 1\n", i)
	}
	_, err := DecodeRuns([]byte(b.String()))
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Len(t, de.Problems, maxDecodeProblems+1)
	assert.Equal(t, "spec.unknown0000: unknown field", de.Problems[0].Error())
	assert.Equal(t, "and 980 more problems", de.Problems[maxDecodeProblems].Error())
}

func TestDecodeRunsReader_Limit(t *testing.T) {
	runs, err := DecodeRunsReader(strings.NewReader("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\n"))
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

// TestDecodeRuns_YAMLScalars pins how YAML scalars decode: keys are taken
// as written (sigs.k8s.io/yaml turned the key `yes` into "true"), values
// keep YAML 1.1's types, as go-yaml v2 (and kubectl) read them.
func TestDecodeRuns_YAMLScalars(t *testing.T) {
	runs, err := DecodeRuns([]byte("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  labels: {yes: a, on: b, 1: c, 0x10: d, ~: e}\n" +
		"  annotations: {a: \"null\", b: '~', c: \"\", d: null, e: ~, f: '', \"null\": g}\n" +
		"spec:\n  cancel: yes\n  mem: 0x10\n  cpus: 1_0.5\n  disk: 1e3\n  args: [\"null\", '~', null, x]\n"))
	require.NoError(t, err)
	r := runs[0]
	assert.Equal(t, map[string]string{"yes": "a", "on": "b", "1": "c", "0x10": "d", "": "e"}, r.Metadata.Labels)
	assert.Equal(t, map[string]string{"a": "null", "b": "~", "c": "", "d": "", "e": "", "f": "", "null": "g"}, r.Metadata.Annotations, "quoted null is a string")
	assert.Equal(t, []string{"null", "~", "", "x"}, r.Spec.Args)
	assert.True(t, r.Spec.Cancel)
	assert.Equal(t, 16.0, r.Spec.Mem)
	assert.Equal(t, 10.5, r.Spec.Cpus)
	assert.Equal(t, 1000.0, r.Spec.Disk)
}

// TestDecodeRuns_DenseYAMLWithoutAliasesIsNotRefused: the alias budget
// charges what a document costs written out, which for a document without
// aliases is never more than its size, however dense (one-letter keys and
// scalars cost exactly their size).
func TestDecodeRuns_DenseYAMLWithoutAliasesIsNotRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: dense, labels: {")
	// Large enough that a charge of 1.2 bytes per byte would pass the
	// 64 KiB allowance.
	for i := range 60_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(i), 36))
	}
	b.WriteString("}}\nspec: {args: [")
	b.WriteString(strings.Repeat("a,", 100_000))
	b.WriteString("a]}\n")
	runs, err := DecodeRuns([]byte(b.String()))
	require.NoError(t, err)
	assert.Len(t, runs[0].Metadata.Labels, 60_000)
	assert.Len(t, runs[0].Spec.Args, 100_001)
}

// TestDecodeRuns_YAMLAliasCycle: an anchor that contains its own alias is
// refused by the depth limit, not followed for ever.
func TestDecodeRuns_YAMLAliasCycle(t *testing.T) {
	_, err := DecodeRuns([]byte("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  annotations: &a {x: *a, y: [*a, *a]}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), ": nested deeper than 64 levels")
	assert.True(t, strings.HasPrefix(err.Error(), "line 1: metadata.annotations.x.x.x"), err.Error())
}
