package apis

import (
	"encoding/json"
	"reflect"
)

// fastObject reads data, which must hold exactly one JSON object and white
// space around it, into the same object tree jsonReader builds (objects,
// []any, strings, json.Numbers, bools, nils), with one pass over the bytes
// instead of encoding/json's Token API, which costs several times more
// per byte and was the largest part of a single PUT's decoding on the
// leader (docs/benchmarks.md, issue 17). It returns the tree and the
// offset just after the object.
//
// It decides nothing on its own: whenever the input is anything but a
// plain, well-formed object — a syntax error, a field given twice,
// nesting deeper than MaxDepth, a control character in a string, more
// than one value — it returns ok false and the caller decodes with
// jsonReader, whose error messages are the API's. A string with escapes is
// unquoted by encoding/json itself, so the two readers agree on every
// input fastObject accepts (FuzzFastObjectAgrees). data must be valid
// UTF-8 (checkText) without lone surrogate escapes (loneSurrogate).
func fastObject(data []byte) (obj object, end int, ok bool) {
	p := fastParser{data: data, members: make([]member, 0, 16)}
	p.space()
	if p.i >= len(p.data) || p.data[p.i] != '{' {
		return nil, 0, false
	}
	v, ok := p.value(0)
	if !ok {
		return nil, 0, false
	}
	end = p.i
	p.space()
	if p.i != len(p.data) {
		return nil, 0, false
	}
	return v.(object), end, true
}

type fastParser struct {
	data []byte
	i    int
	// members holds the members of the objects being read, the innermost
	// last: an object is copied out of it, at its size, when it ends, one
	// allocation instead of a slice grown member by member.
	members []member
}

func (p *fastParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// value reads one value at p.i; depth is the nesting of objects and
// arrays around it.
func (p *fastParser) value(depth int) (any, bool) {
	if p.i >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, false
}

func (p *fastParser) literal(word string) bool {
	if len(p.data)-p.i < len(word) || string(p.data[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *fastParser) object(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // '{'
	var seen map[string]struct{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return object{}, true
	}
	base := len(p.members)
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		if fastSeen(p.members[base:], &seen, key) {
			return nil, false
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.members = append(p.members, member{key: key, value: v})
		p.space()
		if p.i >= len(p.data) {
			return nil, false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			obj := make(object, len(p.members)-base)
			copy(obj, p.members[base:])
			clear(p.members[base:]) // hold no values of a finished object
			p.members = p.members[:base]
			return obj, true
		default:
			return nil, false
		}
	}
}

// fastSeen reports whether obj already has a member name, as
// jsonReader.seen does: a search while obj is small, a set beyond.
func fastSeen(obj object, set *map[string]struct{}, name string) bool {
	if len(obj) < seenSearchLimit {
		_, ok := obj.get(name)
		return ok
	}
	if *set == nil {
		*set = make(map[string]struct{}, 2*len(obj))
		for _, m := range obj {
			(*set)[m.key] = struct{}{}
		}
	}
	if _, ok := (*set)[name]; ok {
		return true
	}
	(*set)[name] = struct{}{}
	return false
}

func (p *fastParser) array(depth int) (any, bool) {
	if depth > MaxDepth {
		return nil, false
	}
	p.i++ // '['
	arr := []any{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return arr, true
	}
	for {
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		arr = append(arr, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return arr, true
		default:
			return nil, false
		}
	}
}

// str reads a string value. One without escapes is its bytes (valid
// UTF-8, as checked before); one with escapes is unquoted by
// encoding/json, so that both readers give the same string.
func (p *fastParser) str() (any, bool) {
	raw, escaped, ok := p.quoted()
	switch {
	case !ok:
		return nil, false
	case escaped:
		return unquote(raw)
	}
	if v, ok := knownValues[string(raw[1:len(raw)-1])]; ok {
		return v, true
	}
	return string(raw[1 : len(raw)-1]), true
}

// key reads a member's name as str does; a field name of the API's types
// is not copied.
func (p *fastParser) key() (string, bool) {
	raw, escaped, ok := p.quoted()
	switch {
	case !ok:
		return "", false
	case escaped:
		v, ok := unquote(raw)
		if !ok {
			return "", false
		}
		return v.(string), true
	}
	if k, ok := knownKeys[string(raw[1:len(raw)-1])]; ok {
		return k, true
	}
	return string(raw[1 : len(raw)-1]), true
}

// quoted reads a string at p.i and returns its text, quotes included, and
// whether it has escapes.
func (p *fastParser) quoted() (raw []byte, escaped, ok bool) {
	start := p.i
	p.i++ // '"'
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return p.data[start:p.i], escaped, true
		case c == '\\':
			escaped = true
			p.i += 2 // the escaped byte cannot end the string
		case c < 0x20:
			return nil, false, false
		default:
			p.i++
		}
	}
	return nil, false, false
}

func unquote(raw []byte) (any, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false
	}
	return s, true
}

// knownKeys are the JSON names of the API's fields, each its own value:
// the names of a manifest's members are looked up here rather than copied
// from the body. Built once, never modified.
var knownKeys = func() map[string]string {
	keys := map[string]string{}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for name, f := range structFields(t).byName {
			keys[name] = name
			walk(f.typ)
		}
	}
	for _, t := range []reflect.Type{reflect.TypeFor[RunList](), reflect.TypeFor[ScheduleList](), reflect.TypeFor[NotifierList]()} {
		walk(t)
	}
	return keys
}()

// knownValues are the string values every manifest repeats (apiVersion,
// kind), held as interface values already, so that reading one allocates
// nothing. Built once, never modified.
var knownValues = func() map[string]any {
	vals := map[string]any{}
	for _, v := range []string{APIVersion, listAPIVersion, KindRun, KindRunList, kindList, KindSchedule, KindScheduleList, KindNotifier, KindNotifierList} {
		vals[v] = v
	}
	return vals
}()

// number reads a number as RFC 8259 spells it, kept as its text (the
// decoder's UseNumber).
func (p *fastParser) number() (any, bool) {
	start := p.i
	d := p.data
	if d[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(d) && d[p.i] == '0':
		p.i++
	case p.i < len(d) && d[p.i] >= '1' && d[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.i < len(d) && d[p.i] == '.' {
		p.i++
		if !p.digits() {
			return nil, false
		}
	}
	if p.i < len(d) && (d[p.i] == 'e' || d[p.i] == 'E') {
		p.i++
		if p.i < len(d) && (d[p.i] == '+' || d[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return nil, false
		}
	}
	return json.Number(d[start:p.i]), true
}

// digits reads one or more decimal digits.
func (p *fastParser) digits() bool {
	start := p.i
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}
