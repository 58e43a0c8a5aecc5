package apis

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

var timeType = reflect.TypeFor[time.Time]()

func reflectTypeOf(ptr any) reflect.Type { return reflect.TypeOf(ptr).Elem() }

// checkValue walks a decoded JSON value against the Go type it will be
// decoded into and records every unknown field and type mismatch with its
// path. encoding/json would stop at the first, match field names
// case-insensitively and say "Go struct field RunSpec.spec.cpus": users
// need the path they wrote and a hint.
func checkValue(t reflect.Type, v any, path string, problems *problemList) {
	if v == nil {
		return // null leaves the zero value, as encoding/json does
	}
	if t == timeType {
		s, ok := v.(string)
		var tm time.Time
		if !ok || tm.UnmarshalJSON([]byte(strconv.Quote(s))) != nil {
			addProblem(problems, path, fmt.Sprintf("expected an RFC 3339 time such as \"2026-11-21T10:00:00Z\", got %s", describe(v)))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkValue(t.Elem(), v, path, problems)
	case reflect.Interface:
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			addProblem(problems, path, "expected object, got "+jsonTypeName(v))
			return
		}
		fields := structFields(t)
		for _, k := range sortedKeys(obj) {
			f, ok := fields.byName[k]
			if !ok {
				msg := "unknown field"
				if problems.full() {
					problems.dropped++
					continue
				}
				if s := suggest(k, fields.names); s != "" {
					msg += "; did you mean " + joinPath(path, s) + "?"
				}
				addProblem(problems, joinPath(path, k), msg)
				continue
			}
			checkValue(f, obj[k], joinPath(path, k), problems)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			addProblem(problems, path, "expected object, got "+jsonTypeName(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			checkValue(t.Elem(), obj[k], path+"["+k+"]", problems)
		}
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			addProblem(problems, path, "expected array, got "+jsonTypeName(v))
			return
		}
		for i, item := range arr {
			checkValue(t.Elem(), item, path+"["+strconv.Itoa(i)+"]", problems)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			addProblem(problems, path, "expected string, got "+jsonTypeName(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			addProblem(problems, path, "expected boolean, got "+jsonTypeName(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			addProblem(problems, path, "expected integer, got "+jsonTypeName(v))
			return
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			if _, ferr := strconv.ParseInt(n.String(), 10, 64); ferr != nil && !isRangeErr(ferr) {
				addProblem(problems, path, "expected integer, got "+n.String())
			} else {
				addProblem(problems, path, fmt.Sprintf("%s is out of range for a %d-bit integer", n.String(), t.Bits()))
			}
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			addProblem(problems, path, "expected number, got "+jsonTypeName(v))
			return
		}
		if _, err := strconv.ParseFloat(n.String(), t.Bits()); err != nil {
			addProblem(problems, path, n.String()+" is out of range")
		}
	default:
		addProblem(problems, path, "cannot decode into "+t.String())
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
	list    []string
	dropped int
}

func (p *problemList) full() bool { return len(p.list) >= maxDecodeProblems }

// messages returns the kept problems, with a count of the dropped ones.
func (p *problemList) messages() []string {
	if p.dropped == 0 {
		return p.list
	}
	return append(p.list, fmt.Sprintf("and %d more problems", p.dropped))
}

func addProblem(problems *problemList, path, msg string) {
	if problems.full() {
		problems.dropped++
		return
	}
	if path != "" {
		msg = path + ": " + msg
	}
	problems.list = append(problems.list, msg)
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
	case map[string]any:
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
	byName map[string]reflect.Type
	names  []string
}

// structFields lists the JSON names of t's fields, flattening embedded
// structs as encoding/json does.
func structFields(t reflect.Type) *fieldSet {
	fs := &fieldSet{byName: map[string]reflect.Type{}}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
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
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if name == "" {
				name = f.Name
			}
			fs.byName[name] = f.Type
			fs.names = append(fs.names, name)
		}
	}
	walk(t)
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
