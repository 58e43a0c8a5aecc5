package apis

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Selector operators.
const (
	OpEquals       = "="
	OpDoubleEquals = "=="
	OpNotEquals    = "!="
	OpIn           = "in"
	OpNotIn        = "notin"
	OpExists       = "exists"
	OpDoesNotExist = "!"
)

// Requirement is one clause of a label selector.
type Requirement struct {
	Key string
	// Operator is OpEquals, OpNotEquals, OpIn, OpNotIn, OpExists or
	// OpDoesNotExist ("==" parses as OpEquals).
	Operator string
	// Values are sorted and unique; one for = and !=, none for exists.
	Values []string
}

// LabelSelector selects Runs by labels, in Kubernetes syntax. The zero
// value matches everything.
type LabelSelector struct {
	Requirements []Requirement
}

// Empty reports whether the selector matches everything.
func (s LabelSelector) Empty() bool { return len(s.Requirements) == 0 }

// Matches reports whether every requirement holds for r's labels. As in
// Kubernetes, != and notin also match Runs without the label.
func (s LabelSelector) Matches(r *Run) bool {
	return s.MatchesLabels(r.Metadata.Labels)
}

// MatchesLabels is Matches on a label map.
func (s LabelSelector) MatchesLabels(labels map[string]string) bool {
	for _, q := range s.Requirements {
		v, ok := labels[q.Key]
		switch q.Operator {
		case OpEquals, OpIn:
			if !ok || !slices.Contains(q.Values, v) {
				return false
			}
		case OpNotEquals, OpNotIn:
			if ok && slices.Contains(q.Values, v) {
				return false
			}
		case OpExists:
			if !ok {
				return false
			}
		case OpDoesNotExist:
			if ok {
				return false
			}
		}
	}
	return true
}

// String renders the selector in canonical form, parseable again:
// requirements sorted by key, set values sorted.
func (s LabelSelector) String() string {
	parts := make([]string, 0, len(s.Requirements))
	for _, q := range s.Requirements {
		switch q.Operator {
		case OpExists:
			parts = append(parts, q.Key)
		case OpDoesNotExist:
			parts = append(parts, "!"+q.Key)
		case OpIn, OpNotIn:
			parts = append(parts, q.Key+" "+q.Operator+" ("+strings.Join(q.Values, ",")+")")
		default:
			parts = append(parts, q.Key+q.Operator+q.Values[0])
		}
	}
	return strings.Join(parts, ",")
}

// ParseLabelSelector parses a Kubernetes label selector such as
// "team=data,tier!=web,env in (prod,staging),!legacy,owner". Clauses are
// joined by commas (AND). Keys and values must be valid label keys and
// values. An empty string is the selector that matches everything.
func ParseLabelSelector(s string) (LabelSelector, error) {
	p := &selParser{in: s}
	var sel LabelSelector
	p.skipSpace()
	if p.pos == len(p.in) {
		return sel, nil
	}
	for {
		q, err := p.requirement()
		if err != nil {
			return LabelSelector{}, BadRequestf("label selector %q: %v", s, err)
		}
		sel.Requirements = append(sel.Requirements, q)
		p.skipSpace()
		if p.pos == len(p.in) {
			break
		}
		if p.in[p.pos] != ',' {
			return LabelSelector{}, BadRequestf("label selector %q: %v", s, p.errorf("expected ',' or end of selector, got %q", p.rest()))
		}
		p.pos++
	}
	sort.SliceStable(sel.Requirements, func(i, j int) bool {
		return sel.Requirements[i].Key < sel.Requirements[j].Key
	})
	return sel, nil
}

// selParser is a hand-written scanner over the selector string; positions
// in errors are 1-based character offsets.
type selParser struct {
	in  string
	pos int
}

func (p *selParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at position %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

func (p *selParser) rest() string {
	if p.pos >= len(p.in) {
		return "end of selector"
	}
	r := p.in[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return r
}

func (p *selParser) skipSpace() {
	for p.pos < len(p.in) && (p.in[p.pos] == ' ' || p.in[p.pos] == '\t') {
		p.pos++
	}
}

func isSelWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '/'
}

// word reads a key or value token.
func (p *selParser) word() string {
	start := p.pos
	for p.pos < len(p.in) && isSelWordChar(p.in[p.pos]) {
		p.pos++
	}
	return p.in[start:p.pos]
}

func (p *selParser) key() (string, error) {
	p.skipSpace()
	start := p.pos
	k := p.word()
	if k == "" {
		return "", p.errorf("expected a label key, got %q", p.rest())
	}
	if errs := validateQualifiedName("", k); len(errs) > 0 {
		p.pos = start
		return "", p.errorf("invalid label key %q: %s", k, errs[0].Message)
	}
	return k, nil
}

func (p *selParser) value() (string, error) {
	p.skipSpace()
	start := p.pos
	v := p.word()
	switch {
	case len(v) > MaxLabelValueLength:
		p.pos = start
		return "", p.errorf("invalid label value %q: %s", v, tooLong(MaxLabelValueLength))
	case !isLabelValue(v):
		p.pos = start
		return "", p.errorf("invalid label value %q: %s", v, labelValueMsg)
	}
	return v, nil
}

func (p *selParser) requirement() (Requirement, error) {
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == '!' {
		p.pos++
		k, err := p.key()
		return Requirement{Key: k, Operator: OpDoesNotExist}, err
	}
	k, err := p.key()
	if err != nil {
		return Requirement{}, err
	}
	p.skipSpace()
	rest := p.in[p.pos:]
	switch {
	case rest == "" || rest[0] == ',':
		return Requirement{Key: k, Operator: OpExists}, nil
	case strings.HasPrefix(rest, "=="), strings.HasPrefix(rest, "!="):
		op := rest[:2]
		if op == OpDoubleEquals {
			op = OpEquals
		}
		p.pos += 2
		v, err := p.value()
		return Requirement{Key: k, Operator: op, Values: []string{v}}, err
	case rest[0] == '=':
		p.pos++
		v, err := p.value()
		return Requirement{Key: k, Operator: OpEquals, Values: []string{v}}, err
	}
	opStart := p.pos
	op := p.word()
	if op != OpIn && op != OpNotIn {
		p.pos = opStart
		return Requirement{}, p.errorf("expected one of =, ==, !=, in, notin after key %q, got %q", k, p.rest())
	}
	vals, err := p.valueSet()
	return Requirement{Key: k, Operator: op, Values: vals}, err
}

func (p *selParser) valueSet() ([]string, error) {
	p.skipSpace()
	if p.pos >= len(p.in) || p.in[p.pos] != '(' {
		return nil, p.errorf("expected '(' to start a value set, got %q", p.rest())
	}
	p.pos++
	var vals []string
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.skipSpace()
		if p.pos >= len(p.in) {
			return nil, p.errorf("expected ',' or ')' in value set, got end of selector")
		}
		switch p.in[p.pos] {
		case ',':
			p.pos++
		case ')':
			p.pos++
			sort.Strings(vals)
			return slices.Compact(vals), nil
		default:
			return nil, p.errorf("expected ',' or ')' in value set, got %q", p.rest())
		}
	}
}
