package apis

import (
	"slices"
	"strings"
)

// Fields a FieldSelector can test.
const (
	FieldMetadataName = "metadata.name"
	FieldStatusPhase  = "status.phase"
)

var supportedFields = []string{FieldMetadataName, FieldStatusPhase}

var knownPhases = []RunPhase{PhasePending, PhaseStarting, PhaseRunning, PhaseSucceeded, PhaseFailed, PhaseKilled}

// FieldRequirement is one clause of a field selector.
type FieldRequirement struct {
	Field string
	// Operator is OpEquals or OpNotEquals ("==" parses as OpEquals).
	Operator string
	Value    string
}

// FieldSelector selects Runs by metadata.name and status.phase. The zero
// value matches everything.
type FieldSelector struct {
	Requirements []FieldRequirement
}

// Empty reports whether the selector matches everything.
func (s FieldSelector) Empty() bool { return len(s.Requirements) == 0 }

// Matches reports whether every requirement holds for r.
func (s FieldSelector) Matches(r *Run) bool {
	for _, q := range s.Requirements {
		var got string
		switch q.Field {
		case FieldMetadataName:
			got = r.Metadata.Name
		case FieldStatusPhase:
			got = string(r.Status.Phase)
		}
		if (got == q.Value) != (q.Operator == OpEquals) {
			return false
		}
	}
	return true
}

// String renders the selector, parseable again.
func (s FieldSelector) String() string {
	parts := make([]string, len(s.Requirements))
	for i, q := range s.Requirements {
		parts[i] = q.Field + q.Operator + q.Value
	}
	return strings.Join(parts, ",")
}

// ParseFieldSelector parses "field=value,field!=value" clauses (AND) over
// metadata.name and status.phase. Phases must be spelt as the API does
// ("Running", not "running"), so a typo is an error rather than a selector
// that silently matches nothing.
func ParseFieldSelector(s string) (FieldSelector, error) {
	var sel FieldSelector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, clause := range strings.Split(s, ",") {
		clause = strings.TrimSpace(clause)
		var q FieldRequirement
		switch {
		case strings.Contains(clause, "!="):
			q.Field, q.Value, _ = strings.Cut(clause, "!=")
			q.Operator = OpNotEquals
		case strings.Contains(clause, "=="):
			q.Field, q.Value, _ = strings.Cut(clause, "==")
			q.Operator = OpEquals
		case strings.Contains(clause, "="):
			q.Field, q.Value, _ = strings.Cut(clause, "=")
			q.Operator = OpEquals
		default:
			return FieldSelector{}, BadRequestf("field selector %q: clause %q: expected field=value, field==value or field!=value", s, clause)
		}
		q.Field, q.Value = strings.TrimSpace(q.Field), strings.TrimSpace(q.Value)
		switch q.Field {
		case FieldMetadataName:
		case FieldStatusPhase:
			if q.Value != "" && !slices.Contains(knownPhases, RunPhase(q.Value)) {
				return FieldSelector{}, BadRequestf("field selector %q: unknown phase %q: must be one of Pending, Starting, Running, Succeeded, Failed, Killed", s, q.Value)
			}
		default:
			return FieldSelector{}, BadRequestf("field selector %q: unsupported field %q: supported fields are %s", s, q.Field, strings.Join(supportedFields, ", "))
		}
		sel.Requirements = append(sel.Requirements, q)
	}
	return sel, nil
}
