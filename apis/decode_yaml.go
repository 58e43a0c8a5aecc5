package apis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v2"
)

// YAML aliases let a small document stand for a huge one ("billion
// laughs"). yamlWalk charges every value it converts the bytes it would
// take written out at the least (a scalar or a key its text and one
// separator, a collection one bracket), and stops when aliases have made a
// document cost more than its size plus yamlExpansionAllowance. Written
// out, a document without aliases never costs more than its size, so no
// such document is refused, while an alias bomb stops after costing what
// a plain document of its size would.
const yamlExpansionAllowance = 64 << 10

func splitYAML(data []byte) ([]document, error) {
	var docs []document
	var cur bytes.Buffer
	startLine, lineNo := 1, 0
	flush := func() error {
		defer cur.Reset()
		if len(bytes.TrimSpace(cur.Bytes())) == 0 {
			return nil
		}
		v, err := yamlValue(cur.Bytes(), startLine)
		if err != nil {
			return err
		}
		items := []any{v}
		if arr, ok := v.([]any); ok {
			items = arr // a YAML sequence of Runs, like a JSON array
		}
		source := excerpt(cur.Bytes())
		for _, item := range items {
			if item != nil {
				docs = append(docs, document{value: item, line: startLine, source: source})
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), MaxManifestBytes+1)
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if isDocSeparator(line) {
			if err := flush(); err != nil {
				return nil, err
			}
			startLine = lineNo + 1
			if bytes.HasPrefix(line, []byte("---")) {
				// Content after "--- " on the same line belongs to the
				// next document.
				if rest := bytes.TrimSpace(line[3:]); len(rest) > 0 && rest[0] != '#' {
					cur.Write(rest)
					cur.WriteByte('\n')
					startLine = lineNo
				}
			}
			continue
		}
		cur.Write(line)
		cur.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, &DecodeError{Problems: problems("read YAML: " + err.Error())}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

func isDocSeparator(line []byte) bool {
	line = bytes.TrimRight(line, " \t\r")
	if string(line) == "---" || string(line) == "..." {
		return true
	}
	return bytes.HasPrefix(line, []byte("--- ")) || bytes.HasPrefix(line, []byte("---\t"))
}

// yamlNode is a YAML node not decoded yet. go-yaml hands it over through
// its Unmarshaler protocol and yamlValue decodes it when it gets there. An
// alias hands over its anchor's node again, so expanding aliases costs
// only what the walk chooses to visit: the walk's budget bounds it, where
// go-yaml's own defence (a ratio of alias to plain nodes) lets a padded
// document expand to hundreds of MiB. (go-yaml's ratio check and its
// "anchor contains itself" check see only nodes decoded within its own
// call, so they do not apply to this walk; the depth limit stops a cycle.)
type yamlNode struct {
	decode func(any) error
	// text is a quoted scalar that reads like null ("null", "~"): go-yaml
	// takes any untagged "null" for null before it looks for an
	// Unmarshaler, then, finding a string, hands its text to a
	// TextUnmarshaler.
	text *string
}

// UnmarshalYAML keeps the node's decode function for later.
func (n *yamlNode) UnmarshalYAML(decode func(any) error) error {
	n.decode = decode
	return nil
}

// UnmarshalText keeps a quoted scalar go-yaml would not hand to
// UnmarshalYAML.
func (n *yamlNode) UnmarshalText(text []byte) error {
	s := string(text)
	n.text = &s
	return nil
}

// yamlWalk turns yamlNodes into the values jsonReader produces (objects,
// slices, strings, json.Numbers, bools, nil), keeping the path, depth and
// the bytes charged against the expansion budget.
type yamlWalk struct {
	path      fieldPath
	depth     int
	charged   int
	budget    int
	startLine int
}

// charge counts n more bytes of written-out document against the budget.
func (w *yamlWalk) charge(n int) error {
	w.charged += n
	if w.charged > w.budget {
		return w.problem(fmt.Sprintf("invalid YAML: aliases expand the document beyond %d bytes (its size plus %d)", w.budget, yamlExpansionAllowance))
	}
	return nil
}

// yamlValue parses one YAML document (startLine is its first line in the
// whole input) into the values jsonReader produces. Keys given twice in
// one mapping, nesting deeper than MaxDepth and alias expansion beyond
// the document's size are errors.
func yamlValue(doc []byte, startLine int) (any, error) {
	var root yamlNode
	if err := yaml.UnmarshalStrict(doc, &root); err != nil {
		return nil, yamlError(err, startLine)
	}
	w := &yamlWalk{budget: len(doc) + yamlExpansionAllowance, startLine: startLine}
	return w.value(root)
}

func (w *yamlWalk) value(n yamlNode) (any, error) {
	if n.text != nil {
		if err := w.charge(len(*n.text) + 1); err != nil {
			return nil, err
		}
		return w.scalar(*n.text)
	}
	if n.decode == nil {
		return nil, nil // null, ~ or nothing
	}
	// Scalars are most nodes: try a string first, which fails at once for
	// a collection without looking inside it.
	var s string
	err := n.decode(&s)
	if err == nil {
		if err := w.charge(len(s) + 1); err != nil {
			return nil, err
		}
		var v any
		if err := n.decode(&v); err != nil {
			return nil, w.yamlError(err)
		}
		return w.scalar(v)
	}
	if !isYAMLTypeError(err) {
		return nil, w.yamlError(err)
	}
	if err := w.charge(1); err != nil {
		return nil, err
	}
	w.depth++
	if w.depth > MaxDepth {
		return nil, w.problem(fmt.Sprintf("nested deeper than %d levels", MaxDepth))
	}
	defer func() { w.depth-- }()
	var seq []yamlNode
	err = n.decode(&seq)
	if err == nil {
		arr := make([]any, len(seq))
		for i := range seq {
			w.path.index(i)
			v, err := w.value(seq[i])
			if err != nil {
				return nil, err
			}
			w.path.pop()
			arr[i] = v
			seq[i] = yamlNode{} // its closure may go now
		}
		return arr, nil
	}
	if !isYAMLTypeError(err) {
		return nil, w.yamlError(err)
	}
	var m map[string]yamlNode
	if err := n.decode(&m); err != nil {
		return nil, w.yamlError(err)
	}
	obj := make(object, 0, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // problems in a stable order
	for _, k := range keys {
		w.path.field(k)
		if err := w.charge(len(k) + 1); err != nil {
			return nil, err
		}
		if !utf8.ValidString(k) {
			return nil, w.problem("invalid UTF-8 in a field name (a !!binary key?)")
		}
		v, err := w.value(m[k])
		if err != nil {
			return nil, err
		}
		w.path.pop()
		obj = append(obj, member{key: k, value: v})
		delete(m, k) // its closure may go now
	}
	return obj, nil
}

// scalar converts a value go-yaml resolved into what JSON carries.
func (w *yamlWalk) scalar(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		if !utf8.ValidString(v) {
			return nil, w.problem("invalid UTF-8 (a !!binary value?)")
		}
		return v, nil
	case int:
		return json.Number(strconv.Itoa(v)), nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), nil
	case uint64:
		return json.Number(strconv.FormatUint(v, 10)), nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, w.problem(fmt.Sprintf("%v is not a valid number", v))
		}
		b, err := json.Marshal(v) // the number as encoding/json writes it
		if err != nil {
			return nil, w.problem(err.Error())
		}
		return json.Number(b), nil
	}
	return nil, w.problem(fmt.Sprintf("unsupported YAML value of type %T", v))
}

// problem is a DecodeError at the current path, on the document's line.
func (w *yamlWalk) problem(msg string) error {
	return &DecodeError{Line: w.startLine, Problems: ErrorList{{Field: w.path.String(), Message: msg}}}
}

var yamlDuplicateRe = regexp.MustCompile(`line (\d+): key ("(?:[^"\\]|\\.)*") already set in map`)

// yamlError turns an error of go-yaml's decode function into a
// DecodeError at the current path.
func (w *yamlWalk) yamlError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, msg := range te.Errors {
			if m := yamlDuplicateRe.FindStringSubmatch(msg); m != nil {
				n, _ := strconv.Atoi(m[1])
				key, _ := strconv.Unquote(m[2])
				w.path.field(key)
				defer w.path.pop()
				return &DecodeError{Line: n + w.startLine - 1, Problems: ErrorList{{Field: w.path.String(), Message: "duplicate field"}}}
			}
		}
		if len(te.Errors) > 0 {
			// A collection as a mapping key, the only other way a
			// mapping fails to decode into map[string]yamlNode.
			line := w.startLine
			if m := yamlLineRe.FindStringSubmatch(te.Errors[0]); m != nil {
				n, _ := strconv.Atoi(m[1])
				line = n + w.startLine - 1
			}
			return &DecodeError{Line: line, Problems: ErrorList{{Field: w.path.String(), Message: "invalid YAML: a mapping key must be a scalar"}}}
		}
	}
	de := yamlError(err, w.startLine).(*DecodeError)
	de.Problems[0].Field = w.path.String()
	return de
}

func isYAMLTypeError(err error) bool {
	var te *yaml.TypeError
	return errors.As(err, &te)
}

var yamlLineRe = regexp.MustCompile(`line (\d+)`)

// yamlError turns a go-yaml error into one naming the line of the whole
// stream rather than of the document.
func yamlError(err error, startLine int) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	// go-yaml leaves out "line 1" for errors on a document's first line.
	line := startLine
	if m := yamlLineRe.FindStringSubmatchIndex(msg); m != nil {
		n, _ := strconv.Atoi(msg[m[2]:m[3]])
		line = n + startLine - 1
		msg = msg[:m[0]] + msg[m[1]:]
		msg = strings.TrimLeft(strings.TrimPrefix(strings.TrimLeft(msg, " "), ":"), " ")
	}
	return &DecodeError{Line: line, Problems: problems("invalid YAML: " + msg)}
}
