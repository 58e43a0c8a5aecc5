package apis

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDepth is how deeply objects and arrays may nest in a manifest, JSON
// or YAML alike. The deepest field of a Run inside a RunList inside a JSON
// array (spec.container.docker.parameters[0].key) sits 8 levels down, so
// 64 refuses no real manifest, and it keeps the cost of a hostile one
// (100,000 nested "[") to a few bytes of work per level.
const MaxDepth = 64

// maxPathName bounds how much of one field name a path repeats in an
// error: a 1 MiB key is named by its head.
const maxPathName = 64

// segKind tells how a path segment renders.
type segKind uint8

const (
	segField segKind = iota // .name
	segKey                  // [key], a map key
	segIndex                // [3]
)

type pathSeg struct {
	kind  segKind
	name  string
	index int
}

// fieldPath is where a decoder is in the value it walks, as a stack of
// segments. Descending and returning cost O(1) whatever the depth; the
// path is rendered only when a problem is reported, so that a deeply
// nested body costs no more than its size.
type fieldPath struct {
	segs []pathSeg
}

func (p *fieldPath) field(name string) { p.segs = append(p.segs, pathSeg{kind: segField, name: name}) }
func (p *fieldPath) key(k string)      { p.segs = append(p.segs, pathSeg{kind: segKey, name: k}) }
func (p *fieldPath) index(i int)       { p.segs = append(p.segs, pathSeg{kind: segIndex, index: i}) }
func (p *fieldPath) pop()              { p.segs = p.segs[:len(p.segs)-1] }

// String renders the path as the API names fields:
// spec.container.portMappings[0].hostPort, metadata.labels[team].
func (p *fieldPath) String() string {
	var b strings.Builder
	for i, s := range p.segs {
		switch s.kind {
		case segField:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(clipName(s.name))
		case segKey:
			b.WriteByte('[')
			b.WriteString(clipName(s.name))
			b.WriteByte(']')
		case segIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		}
	}
	return b.String()
}

// child renders the path of a field of the current value.
func (p *fieldPath) child(name string) string {
	p.field(name)
	s := p.String()
	p.pop()
	return s
}

// object is a decoded JSON object or YAML mapping: its members, without
// duplicates. A slice costs a fraction of a map for the small objects
// manifests (and hostile bodies of a million "{}") are made of, and
// nothing looks a member up often enough to need a map.
type object []member

type member struct {
	key   string
	value any
}

// get returns the value of member key.
func (o object) get(key string) (any, bool) {
	for _, m := range o {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

// sorted returns the members in key order, so that problems are reported
// in the same order whatever the input's. It sorts o in place: the
// decoders walk a tree they built for one decode, and nothing reads its
// members' order after the walk (a message quoting a value, excerptValue,
// is made before). Already sorted (as encoders write objects), it costs
// one pass.
func (o object) sorted() object {
	cmp := func(a, b member) int { return strings.Compare(a.key, b.key) }
	if !slices.IsSortedFunc(o, cmp) {
		slices.SortFunc(o, cmp)
	}
	return o
}

// MarshalJSON writes the members in order, for messages that quote a
// decoded value.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// clipName shortens a field name to maxPathName bytes, on a rune boundary.
func clipName(s string) string {
	if len(s) <= maxPathName {
		return s
	}
	cut := maxPathName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
