package apis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// MaxManifestBytes bounds what DecodeRunsReader reads, so a runaway pipe
// cannot exhaust memory. The HTTP layer applies its own, smaller limit.
const MaxManifestBytes = 32 << 20

// DecodeError is a manifest that could not be decoded. It matches
// ErrBadRequest with errors.Is, so the HTTP layer answers 400.
type DecodeError struct {
	// Document is the 1-based document of a multi-document stream, 0 when
	// the input held a single document.
	Document int
	// Line is the 1-based line in the whole input, 0 when unknown.
	Line int
	// Problems are "path: message" strings, or one syntax error.
	Problems []string
}

// Error renders the problems, prefixed with the document when the stream
// had several.
func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Document > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Document)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(strings.Join(e.Problems, "; "))
	return b.String()
}

// Is matches ErrBadRequest.
func (e *DecodeError) Is(target error) bool { return target == ErrBadRequest }

// DecodeRunsReader reads all of r and decodes it as DecodeRuns does.
func DecodeRunsReader(r io.Reader) ([]Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(data) > MaxManifestBytes {
		return nil, &DecodeError{Problems: []string{fmt.Sprintf("manifest larger than %d bytes", MaxManifestBytes)}}
	}
	return DecodeRuns(data)
}

// DecodeRuns decodes JSON or YAML into Runs: a single Run, a RunList (or a
// kind List of Runs), a multi-document YAML stream ("---" separators, empty
// documents skipped), a stream of JSON objects, or a JSON array or YAML
// sequence of Runs. Decoding is
// strict: unknown fields and wrong types are errors naming their path. It
// neither defaults nor validates; errors are *DecodeError (ErrBadRequest).
func DecodeRuns(data []byte) ([]Run, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	multi := len(docs) > 1
	runs := []Run{}
	for i, d := range docs {
		got, err := decodeDocument(d.value)
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) && multi {
				de.Document = i + 1
			}
			return nil, err
		}
		runs = append(runs, got...)
	}
	return runs, nil
}

// document is one decoded JSON value and where it started.
type document struct {
	value any
	line  int
}

func splitDocuments(data []byte) ([]document, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return splitJSON(data)
	}
	return splitYAML(data)
}

func splitJSON(data []byte) ([]document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var docs []document
	for {
		start := dec.InputOffset()
		v, err := readJSONValue(dec, "")
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var se *json.SyntaxError
			var dup *duplicateFieldError
			if errors.As(err, &dup) {
				return nil, &DecodeError{Line: lineAt(data, dup.offset), Problems: []string{dup.Error()}}
			}
			if errors.As(err, &se) {
				line = lineAt(data, se.Offset)
			} else if errors.Is(err, io.ErrUnexpectedEOF) {
				line = lineAt(data, int64(len(data)))
			}
			msg := strings.TrimPrefix(err.Error(), "json: ")
			return nil, &DecodeError{Line: line, Problems: []string{"invalid JSON: " + msg}}
		}
		if arr, ok := v.([]any); ok {
			for _, item := range arr {
				if item != nil {
					docs = append(docs, document{value: item, line: lineAt(data, start)})
				}
			}
			continue
		}
		if v != nil {
			docs = append(docs, document{value: v, line: lineAt(data, start)})
		}
	}
	return docs, nil
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

var (
	yamlLineRe      = regexp.MustCompile(`line (\d+)`)
	yamlDuplicateRe = regexp.MustCompile(`line (\d+): key ("(?:[^"\\]|\\.)*") already set in map`)
)

func splitYAML(data []byte) ([]document, error) {
	var docs []document
	var cur bytes.Buffer
	startLine, lineNo := 1, 0
	flush := func() error {
		defer cur.Reset()
		if len(bytes.TrimSpace(cur.Bytes())) == 0 {
			return nil
		}
		// Strict: a key given twice in one mapping is an error, not
		// silently the last one (readJSONValue does the same for JSON).
		j, err := yaml.YAMLToJSONStrict(cur.Bytes())
		if err != nil {
			return yamlError(err, startLine)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return &DecodeError{Line: startLine, Problems: []string{"invalid YAML: " + err.Error()}}
		}
		items := []any{v}
		if arr, ok := v.([]any); ok {
			items = arr // a YAML sequence of Runs, like a JSON array
		}
		for _, item := range items {
			if item != nil {
				docs = append(docs, document{value: item, line: startLine})
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), MaxManifestBytes+1)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if isDocSeparator(line) {
			if err := flush(); err != nil {
				return nil, err
			}
			startLine = lineNo + 1
			if strings.HasPrefix(line, "---") {
				// Content after "--- " on the same line belongs to the
				// next document.
				if rest := strings.TrimSpace(line[3:]); rest != "" && !strings.HasPrefix(rest, "#") {
					cur.WriteString(rest + "\n")
					startLine = lineNo
				}
			}
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, &DecodeError{Problems: []string{"read YAML: " + err.Error()}}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

func isDocSeparator(line string) bool {
	line = strings.TrimRight(line, " \t\r")
	if line == "---" || line == "..." {
		return true
	}
	return strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t")
}

// yamlError turns a go-yaml error into one naming the line of the whole
// stream rather than of the document.
func yamlError(err error, startLine int) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	if strings.HasPrefix(msg, "json: unsupported value: ") {
		// go-yaml decoded .inf or .nan, which JSON cannot carry.
		return &DecodeError{Line: startLine, Problems: []string{"invalid YAML: " + strings.TrimPrefix(msg, "json: unsupported value: ") + " is not a valid number"}}
	}
	if m := yamlDuplicateRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		key, _ := strconv.Unquote(m[2])
		return &DecodeError{Line: n + startLine - 1, Problems: []string{fmt.Sprintf("invalid YAML: field %q given twice in one mapping", key)}}
	}
	// go-yaml leaves out "line 1" for errors on a document's first line.
	line := startLine
	if m := yamlLineRe.FindStringSubmatchIndex(msg); m != nil {
		n, _ := strconv.Atoi(msg[m[2]:m[3]])
		line = n + startLine - 1
		msg = msg[:m[0]] + msg[m[1]:]
		msg = strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(msg, " "), ":"), " ")
	}
	return &DecodeError{Line: line, Problems: []string{"invalid YAML: " + msg}}
}

// decodeDocument decodes one JSON value: a Run or a list of Runs.
func decodeDocument(v any) ([]Run, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &DecodeError{Problems: []string{"expected an object (a Run or a RunList), got " + jsonTypeName(v)}}
	}
	kind, _ := obj["kind"].(string)
	switch kind {
	case "", KindRun:
		var r Run
		if err := strictDecode(v, &r, ""); err != nil {
			return nil, err
		}
		return []Run{r}, nil
	case KindRunList, "List":
		if av, ok := obj["apiVersion"].(string); ok && av != "" && av != APIVersion && !(kind == "List" && av == "v1") {
			return nil, &DecodeError{Problems: []string{fmt.Sprintf("apiVersion: unsupported value %q: must be %s", av, APIVersion)}}
		}
		var l RunList
		if err := strictDecode(v, &l, ""); err != nil {
			return nil, err
		}
		return l.Items, nil
	default:
		return nil, &DecodeError{Problems: []string{fmt.Sprintf("kind: unsupported value %q: must be Run or RunList", kind)}}
	}
}

// strictDecode checks v against out's type, then decodes it.
func strictDecode(v any, out any, path string) error {
	var problems problemList
	checkValue(reflectTypeOf(out), v, path, &problems)
	if len(problems.list) > 0 {
		return &DecodeError{Problems: problems.messages()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return &DecodeError{Problems: []string{err.Error()}}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &DecodeError{Problems: []string{err.Error()}}
	}
	return nil
}
