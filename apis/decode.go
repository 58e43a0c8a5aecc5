package apis

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxManifestBytes bounds what DecodeRunsReader reads, so a runaway pipe
// cannot exhaust memory. The HTTP layer applies its own, smaller limit.
const MaxManifestBytes = 32 << 20

// DecodeError is a manifest that could not be decoded. It matches
// ErrBadRequest with errors.Is, so the HTTP layer answers 400, with one
// cause per problem.
type DecodeError struct {
	// Document is the 1-based document of a multi-document stream, 0 when
	// the input held a single document.
	Document int
	// Line is the 1-based line in the whole input, 0 when unknown.
	Line int
	// Problems are the field problems ("spec.cpu: unknown field"), or one
	// problem naming no field (a syntax error).
	Problems ErrorList
}

// Error renders the problems, prefixed with the document when the stream
// had several, and the line when known.
func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Document > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Document)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Problems.Error())
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
		return nil, &DecodeError{Problems: problems(fmt.Sprintf("manifest larger than %d bytes", MaxManifestBytes))}
	}
	return DecodeRuns(data)
}

// DecodeRuns decodes JSON or YAML into Runs: a single Run, a RunList (or a
// kind List of Runs), a multi-document YAML stream ("---" separators, empty
// documents skipped), a stream of JSON objects, or a JSON array or YAML
// sequence of Runs. Every Run names its apiVersion and kind (a RunList's
// items may leave them to the list). Decoding is strict: unknown fields,
// wrong types, fields given twice, invalid UTF-8 and nesting deeper than
// MaxDepth are errors naming their path. Its cost is linear in the size of
// data whatever its shape. It neither defaults nor validates; errors are
// *DecodeError (ErrBadRequest).
func DecodeRuns(data []byte) ([]Run, error) {
	docs, err := DecodeRunDocuments(data)
	if err != nil {
		return nil, err
	}
	runs := []Run{}
	for _, d := range docs {
		runs = append(runs, d.Runs...)
	}
	return runs, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// checkText refuses a body that is not valid UTF-8, naming the offset of
// the first bad byte: decoders would turn it into U+FFFD without a word,
// and the command that ran would not be the one sent.
func checkText(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return &DecodeError{Line: 1, Problems: problems("invalid UTF-8 at byte 0: the body is UTF-16 (it starts with a UTF-16 byte order mark); send UTF-8")}
	}
	off := 0
	for off < len(data) {
		r, size := utf8.DecodeRune(data[off:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		off += size
	}
	return &DecodeError{Line: lineAt(data, int64(off)), Problems: problems(fmt.Sprintf("invalid UTF-8 at byte %d", off))}
}

// document is one decoded JSON value and where it started.
type document struct {
	value any
	line  int
	// source is the head of the document's text, for messages; or, when
	// text is set, excerpt(text), worked out only for a message.
	source string
	text   []byte
}

// excerpt is the head of the document's text, for a message.
func (d *document) excerpt() string {
	if d.text != nil {
		return excerpt(d.text)
	}
	return d.source
}

// IsJSON reports whether DecodeRuns reads data as JSON: when it starts,
// after white space and a byte order mark, with '{' or '['. Anything else
// is read as YAML.
func IsJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, utf8BOM), " \t\r\n")
	return len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
}

// splitDocuments decodes data, which starts at offset base of the body
// (after a byte order mark), into its documents.
func splitDocuments(data []byte, base int) ([]document, error) {
	if IsJSON(data) {
		return splitJSON(data, base)
	}
	return splitYAML(data)
}

// surrogateError reports a lone surrogate escape at data[off:].
func surrogateError(data []byte, off, base int) error {
	return &DecodeError{Line: lineAt(data, int64(off)), Problems: problems(fmt.Sprintf(
		"invalid JSON: %s at byte %d is half of a UTF-16 surrogate pair, which stands for no character", data[off:off+6], base+off))}
}

func splitJSON(data []byte, base int) ([]document, error) {
	if off := loneSurrogate(data); off >= 0 {
		return nil, surrogateError(data, off, base)
	}
	// One object, as a PUT or POST of one Run sends: read it in one pass
	// (fastObject); anything it does not take is read below, which also
	// words the errors.
	if obj, end, ok := fastObject(data); ok {
		return []document{{value: obj, line: 1, text: data[:end]}}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &jsonReader{dec: dec}
	var docs []document
	lines := lineCounter{data: data}
	add := func(v any, start int64) {
		if v != nil {
			docs = append(docs, document{value: v, line: lines.at(start), text: data[start:dec.InputOffset()]})
		}
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, jsonError(data, err)
		}
		if tok != json.Delim('[') {
			v, err := r.rest(tok)
			if err != nil {
				return nil, jsonError(data, err)
			}
			add(v, start)
			continue
		}
		// An array of Runs: each item is a document of its own.
		if err := r.enter(); err != nil {
			return nil, jsonError(data, err)
		}
		for i := 0; dec.More(); i++ {
			start := dec.InputOffset()
			tok, err := r.token()
			if err != nil {
				return nil, jsonError(data, err)
			}
			r.path.index(i)
			v, err := r.rest(tok)
			if err != nil {
				return nil, jsonError(data, err)
			}
			r.path.pop()
			add(v, start)
		}
		if _, err := r.token(); err != nil { // ']'
			return nil, jsonError(data, err)
		}
		r.depth--
	}
	return docs, nil
}

// jsonError turns an error of jsonReader into a DecodeError naming the
// line.
func jsonError(data []byte, err error) error {
	var ie *inputError
	if errors.As(err, &ie) {
		return &DecodeError{Line: lineAt(data, ie.offset), Problems: ErrorList{{Field: ie.field, Message: ie.msg}}}
	}
	line := 0
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line = lineAt(data, se.Offset)
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		line = lineAt(data, int64(len(data)))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return &DecodeError{Line: line, Problems: problems("invalid JSON: " + msg)}
}

// lineCounter finds the lines of increasing offsets, counting each byte
// once: a stream of 10,000 documents must not count from the start for
// each.
type lineCounter struct {
	data []byte
	off  int64
	line int
}

func (c *lineCounter) at(off int64) int {
	off = min(max(off, c.off), int64(len(c.data)))
	c.line += bytes.Count(c.data[c.off:off], []byte("\n"))
	c.off = off
	return c.line + 1
}

func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// maxExcerpt bounds how much of a document a message quotes.
const maxExcerpt = 120

// excerpt is the head of a document's text on one line, for a message.
func excerpt(src []byte) string {
	src = bytes.TrimLeft(src, ", \t\r\n")
	var b strings.Builder
	space := false
	for _, r := range string(src[:min(len(src), 4*maxExcerpt)]) {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len() >= maxExcerpt {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// excerptValue is the head of a decoded value as JSON, for a message.
func excerptValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return excerpt(b)
}

// Kinds a manifest may hold besides Run and RunList.
const (
	kindList       = "List" // Kubernetes' generic list
	listAPIVersion = "v1"   // its apiVersion
)

// document decodes one JSON value: a Run or a list of Runs, or, when the
// decoder takes them, a Schedule or a list of Schedules (a List may mix
// both). It returns the document's kind with its objects.
func (d *typedDecoder) document(doc document) (string, []Run, []Schedule, error) {
	obj, ok := doc.value.(object)
	if !ok {
		what := "a Run or a RunList"
		if d.schedules {
			what = "a Run, a Schedule or a list of them"
		}
		return "", nil, nil, &DecodeError{Problems: problems("expected an object (" + what + "), got " + jsonTypeName(doc.value))}
	}
	kind, errs := d.typeMeta(obj, "", true, doc.excerpt, "")
	if len(errs) > 0 {
		return "", nil, nil, &DecodeError{Problems: errs}
	}
	switch kind.Kind {
	case KindRun:
		var r Run
		if err := d.decodeInto(&r, obj); err != nil {
			return "", nil, nil, err
		}
		return kind.Kind, []Run{r}, nil, nil
	case KindSchedule:
		var s Schedule
		if err := d.decodeInto(&s, obj); err != nil {
			return "", nil, nil, err
		}
		return kind.Kind, nil, []Schedule{s}, nil
	case KindRunList, KindScheduleList, kindList:
		// A RunList names the kind of its items, which may leave theirs
		// out (Kubernetes serves typed lists that way); a List holds
		// objects of any kind, so each must name its own, as kubectl
		// requires.
		itemKind := KindRun
		if kind.Kind == KindScheduleList {
			itemKind = KindSchedule
		}
		v, _ := obj.get("items")
		items, _ := v.([]any)
		kinds := make([]string, len(items))
		for i, item := range items {
			if m, ok := item.(object); ok {
				tm, e := d.typeMeta(m, fmt.Sprintf("items[%d].", i), kind.Kind == kindList, func() string { return excerptValue(m) }, itemKind)
				kinds[i] = tm.Kind
				errs = append(errs, e...)
			}
		}
		if len(errs) > 0 {
			return "", nil, nil, &DecodeError{Problems: errs}
		}
		if kind.Kind == KindScheduleList {
			var l ScheduleList
			if err := d.decodeInto(&l, obj); err != nil {
				return "", nil, nil, err
			}
			return kind.Kind, nil, l.Items, nil
		}
		if !d.schedules || !slices.Contains(kinds, KindSchedule) {
			var l RunList
			if err := d.decodeInto(&l, obj); err != nil {
				return "", nil, nil, err
			}
			return kind.Kind, l.Items, nil, nil
		}
		// A List mixing Runs and Schedules: the list's own fields as a
		// RunList without items, then each item as its kind.
		rest := make(object, 0, len(obj))
		for _, kv := range obj {
			if kv.key != "items" {
				rest = append(rest, kv)
			}
		}
		var l RunList
		if err := d.decodeInto(&l, rest); err != nil {
			return "", nil, nil, err
		}
		var runs []Run
		var scheds []Schedule
		for i, item := range items {
			d.problems = problemList{}
			d.path = fieldPath{}
			d.path.field("items")
			d.path.index(i)
			if kinds[i] == KindSchedule {
				var s Schedule
				d.decode(reflect.ValueOf(&s).Elem(), item)
				scheds = append(scheds, s)
			} else {
				var r Run
				d.decode(reflect.ValueOf(&r).Elem(), item)
				runs = append(runs, r)
			}
			if len(d.problems.list) > 0 {
				return "", nil, nil, &DecodeError{Problems: d.problems.messages()}
			}
		}
		return kind.Kind, runs, scheds, nil
	}
	panic("unreachable: typeMeta returned kind " + kind.Kind)
}

// typeMeta checks an object's apiVersion and kind: a Run (or, at the top,
// a RunList or List; with schedules also a Schedule or ScheduleList) of a
// version this package serves. Absent ones are errors when required,
// worded as the Kubernetes API server words them. prefix is the object's
// path, for the causes; itemKind the kind of a typed list's items that
// name none. source gives the head of the object's text, for a message.
func (d *typedDecoder) typeMeta(obj object, prefix string, required bool, source func() string, itemKind string) (TypeMeta, ErrorList) {
	var tm TypeMeta
	var errs ErrorList
	get := func(name, title string) (string, bool) {
		v, ok := obj.get(name)
		if !ok || v == nil || v == "" {
			if required {
				errs = append(errs, &FieldError{Field: prefix + name, Message: fmt.Sprintf("Object '%s' is missing in '%s'", title, source())})
			}
			return "", false
		}
		s, ok := v.(string)
		if !ok {
			errs = append(errs, &FieldError{Field: prefix + name, Message: "expected string, got " + jsonTypeName(v)})
			return "", false
		}
		return s, true
	}
	kind, hasKind := get("kind", "Kind")
	version, hasVersion := get("apiVersion", "apiVersion")
	if !hasKind && !hasVersion {
		if !required && len(errs) == 0 {
			tm.Kind = itemKind // a typed list's item
		}
		return tm, errs
	}
	top := prefix == ""
	objectKind := kind == KindRun || d.schedules && kind == KindSchedule
	switch {
	case !hasKind:
	case top && (objectKind || kind == KindRunList || kind == kindList || d.schedules && kind == KindScheduleList):
		tm.Kind = kind
	case !top && itemKind != "" && !required && kind == itemKind:
		tm.Kind = kind // a typed list's item naming its kind
	case !top && required && objectKind:
		tm.Kind = kind // a List's item
	case top && d.schedules:
		errs = append(errs, &FieldError{Field: "kind", Message: fmt.Sprintf("unsupported value %q: must be Run, RunList, Schedule, ScheduleList or List", clipName(kind))})
	case top:
		errs = append(errs, &FieldError{Field: "kind", Message: fmt.Sprintf("unsupported value %q: must be Run or RunList", clipName(kind))})
	case !required:
		errs = append(errs, &FieldError{Field: prefix + "kind", Message: fmt.Sprintf("unsupported value %q: must be %s", clipName(kind), itemKind)})
	case d.schedules:
		errs = append(errs, &FieldError{Field: prefix + "kind", Message: fmt.Sprintf("unsupported value %q: must be Run or Schedule", clipName(kind))})
	default:
		errs = append(errs, &FieldError{Field: prefix + "kind", Message: fmt.Sprintf("unsupported value %q: must be Run", clipName(kind))})
	}
	want := APIVersion
	if kind == kindList && top {
		want = listAPIVersion
	}
	if hasVersion && version != want {
		errs = append(errs, &FieldError{Field: prefix + "apiVersion", Message: fmt.Sprintf("unsupported value %q: must be %s", clipName(version), want)})
	}
	tm.APIVersion = version
	return tm, errs
}

// decodeInto decodes v into out (a pointer), with every problem found.
func (d *typedDecoder) decodeInto(out any, v any) error {
	d.problems = problemList{}
	// Deep enough for every field of a Run (spec.container.docker.
	// parameters[0].key) without growing.
	d.path = fieldPath{segs: make([]pathSeg, 0, 8)}
	d.decode(reflect.ValueOf(out).Elem(), v)
	if len(d.problems.list) > 0 {
		return &DecodeError{Problems: d.problems.messages()}
	}
	return nil
}
