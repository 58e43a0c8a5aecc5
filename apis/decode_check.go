package apis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

// typedDecoder walks a decoded JSON value against the Go value it decodes
// into: it records every unknown field and type mismatch with its path,
// and assigns what fits. encoding/json would stop at the first problem,
// match field names case-insensitively and say "Go struct field
// RunSpec.spec.cpus": users need the path they wrote and a hint. Decoding
// straight from the value (rather than re-encoding it for encoding/json)
// also keeps the cost to one walk.
type typedDecoder struct {
	// schedules admits Schedules and ScheduleLists besides Runs.
	schedules bool
	path      fieldPath
	problems  problemList
}

// fieldSets caches structFields per type for the life of the process, as
// encoding/json caches its own per-type encoders: a type's fields never
// change, and working them out again for every request body was 5 % of a
// leader's CPU under a stream of writes. It only ever holds the types of
// the API (those typedDecoder walks), and its values are never modified.
var fieldSets sync.Map // reflect.Type → *fieldSet

func (d *typedDecoder) structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs, _ := fieldSets.LoadOrStore(t, structFields(t))
	return fs.(*fieldSet)
}

func (d *typedDecoder) problem(msg string) {
	if d.problems.full() {
		d.problems.dropped++ // no path to render
		return
	}
	addProblem(&d.problems, d.path.String(), msg)
}

// decode sets out (settable, and zero) from v.
func (d *typedDecoder) decode(out reflect.Value, v any) {
	if v == nil {
		return // null leaves the zero value, as encoding/json does
	}
	t := out.Type()
	if t == timeType {
		s, ok := v.(string)
		var tm time.Time
		if !ok || tm.UnmarshalJSON([]byte(strconv.Quote(s))) != nil {
			d.problem(fmt.Sprintf("expected an RFC 3339 time such as \"2026-11-21T10:00:00Z\", got %s", describe(v)))
			return
		}
		out.Set(reflect.ValueOf(tm))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(p.Elem(), v)
		out.Set(p)
	case reflect.Interface:
		out.Set(reflect.ValueOf(v))
	case reflect.Struct:
		obj, ok := v.(object)
		if !ok {
			d.problem("expected object, got " + jsonTypeName(v))
			return
		}
		fields := d.structFields(t)
		for _, m := range obj.sorted() {
			k := m.key
			f, ok := fields.byName[k]
			if !ok {
				if d.problems.full() {
					d.problems.dropped++
					continue
				}
				msg := "unknown field"
				if s := suggest(k, fields.names); s != "" {
					msg += "; did you mean " + d.path.child(s) + "?"
				}
				d.path.field(k)
				d.problem(msg)
				d.path.pop()
				continue
			}
			d.path.field(k)
			d.decode(out.FieldByIndex(f.index), m.value)
			d.path.pop()
		}
	case reflect.Map:
		obj, ok := v.(object)
		if !ok {
			d.problem("expected object, got " + jsonTypeName(v))
			return
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for _, mem := range obj.sorted() {
			e := reflect.New(t.Elem()).Elem()
			d.path.key(mem.key)
			d.decode(e, mem.value)
			d.path.pop()
			m.SetMapIndex(reflect.ValueOf(mem.key).Convert(t.Key()), e)
		}
		out.Set(m)
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			d.problem("expected array, got " + jsonTypeName(v))
			return
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, item := range arr {
			d.path.index(i)
			d.decode(s.Index(i), item)
			d.path.pop()
		}
		out.Set(s)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.problem("expected string, got " + jsonTypeName(v))
			return
		}
		out.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.problem("expected boolean, got " + jsonTypeName(v))
			return
		}
		out.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			d.problem("expected integer, got " + jsonTypeName(v))
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, t.Bits())
		if err != nil {
			if _, ferr := strconv.ParseInt(n.String(), 10, 64); ferr != nil && !isRangeErr(ferr) {
				d.problem("expected integer, got " + clipName(n.String()))
			} else {
				d.problem(fmt.Sprintf("%s is out of range for a %d-bit integer", clipName(n.String()), t.Bits()))
			}
			return
		}
		out.SetInt(i)
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			d.problem("expected number, got " + jsonTypeName(v))
			return
		}
		f, err := strconv.ParseFloat(n.String(), t.Bits())
		if err != nil {
			d.problem(clipName(n.String()) + " is out of range")
			return
		}
		out.SetFloat(f)
	default:
		d.problem("cannot decode into " + t.String())
	}
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// maxDecodeProblems bounds what one decode error lists: a manifest with
// thousands of unknown fields needs fixing at the first few, and a huge
// message would only hide them.
const maxDecodeProblems = 20

// problemList collects decode problems, keeping the first
// maxDecodeProblems and counting the rest.
type problemList struct {
	list    ErrorList
	dropped int
}

func (p *problemList) full() bool { return len(p.list) >= maxDecodeProblems }

// messages returns the kept problems, with a count of the dropped ones.
func (p *problemList) messages() ErrorList {
	if p.dropped == 0 {
		return p.list
	}
	return append(p.list, &FieldError{Message: fmt.Sprintf("and %d more problems", p.dropped)})
}

func addProblem(problems *problemList, path, msg string) {
	if problems.full() {
		problems.dropped++
		return
	}
	problems.list = append(problems.list, &FieldError{Field: path, Message: msg})
}

// problems is an ErrorList of messages that name no field.
func problems(msgs ...string) ErrorList {
	l := make(ErrorList, len(msgs))
	for i, m := range msgs {
		l[i] = &FieldError{Message: m}
	}
	return l
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case object, map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return jsonTypeName(v)
}

type fieldSet struct {
	byName map[string]structField
	names  []string
}

// structField is a field's place in its struct (through embedded structs)
// and type.
type structField struct {
	index []int
	typ   reflect.Type
}

// structFields lists the JSON names of t's fields, flattening embedded
// structs as encoding/json does.
func structFields(t reflect.Type) *fieldSet {
	fs := &fieldSet{byName: map[string]structField{}}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			at := append(slices.Clip(index), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, at)
				continue
			}
			if name == "" {
				name = f.Name
			}
			fs.byName[name] = structField{index: at, typ: f.Type}
			fs.names = append(fs.names, name)
		}
	}
	walk(t, nil)
	sort.Strings(fs.names)
	return fs
}

// suggest returns the known name closest to an unknown one, if it is close
// enough to be a typo: a case difference or an edit distance of at most a
// third of the name (at least 1, at most 3).
func suggest(unknown string, known []string) string {
	best, bestD := "", 1<<30
	u := strings.ToLower(unknown)
	for _, k := range known {
		if d := editDistance(u, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	limit := min(max(len(unknown)/3, 1), 3)
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and adjacent transpositions ("mme" → "mem") each
// cost 1.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20 // no typo of a field name is this long
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
