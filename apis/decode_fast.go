package apis

import (
	"encoding/json"
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
	p := fastParser{data: data}
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
	obj := object{}
	var seen map[string]struct{}
	p.space()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return obj, true
	}
	for {
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		key := k.(string)
		if fastSeen(obj, &seen, key) {
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
		obj = append(obj, member{key: key, value: v})
		p.space()
		if p.i >= len(p.data) {
			return nil, false
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
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

// str reads a string. One without escapes is its bytes (valid UTF-8, as
// checked before); one with escapes is unquoted by encoding/json, so that
// both readers give the same string.
func (p *fastParser) str() (any, bool) {
	start := p.i
	p.i++ // '"'
	escaped := false
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			if !escaped {
				return string(p.data[start+1 : p.i-1]), true
			}
			var s string
			if err := json.Unmarshal(p.data[start:p.i], &s); err != nil {
				return nil, false
			}
			return s, true
		case c == '\\':
			escaped = true
			p.i += 2 // the escaped byte cannot end the string
		case c < 0x20:
			return nil, false
		default:
			p.i++
		}
	}
	return nil, false
}

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
