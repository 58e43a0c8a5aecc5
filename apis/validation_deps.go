package apis

import "strconv"

// MaxDependsOn bounds spec.dependsOn. A pipeline step rarely waits for more
// than a handful of others; the bound keeps the controller's evaluation of
// a Run and the store's cycle check cheap whatever a manifest says.
const MaxDependsOn = 64

// validateDependsOn checks spec.dependsOn at path: every entry names a
// valid Run, with a known condition, and no name twice. SetDefaults fills
// in an empty condition first. That a Run does not depend on itself is
// ValidateRun's check, which knows the name.
func validateDependsOn(path string, deps []RunDependency) ErrorList {
	var errs ErrorList
	if len(deps) > MaxDependsOn {
		errs = append(errs, fieldErr(path, "must have at most %d items, got %d", MaxDependsOn, len(deps)))
		deps = deps[:MaxDependsOn]
	}
	items := itemErrors{path: path}
	seen := make(map[string]int, len(deps))
	for i, d := range deps {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case d.Name == "":
			items.add(fieldErr(p+".name", "required: the name of the Run this one waits for"))
		case len(d.Name) > MaxNameLength || !isDNS1123Label(d.Name):
			items.add(validateDNS1123Label(p+".name", d.Name)...)
		default:
			if j, dup := seen[d.Name]; dup {
				items.add(fieldErr(p+".name", "duplicate value %q: already listed at %s[%d]", d.Name, path, j))
			} else {
				seen[d.Name] = i
			}
		}
		switch d.Condition {
		case ConditionSucceeded, ConditionFailed, ConditionCompleted:
		default:
			items.add(fieldErr(p+".condition", "unsupported value %q: must be one of %s, %s, %s",
				d.Condition, ConditionSucceeded, ConditionFailed, ConditionCompleted))
		}
	}
	return append(errs, items.list()...)
}

// DependencyMet reports whether a dependency in phase meets condition, and
// whether it never can: a terminal phase that does not meet the condition
// never will, since a terminal phase is final. A condition this package
// does not know is never met.
func DependencyMet(condition string, phase RunPhase) (met, never bool) {
	if !phase.Terminal() {
		return false, false
	}
	switch condition {
	case ConditionSucceeded, "":
		met = phase == PhaseSucceeded
	case ConditionFailed:
		met = phase == PhaseFailed || phase == PhaseKilled
	case ConditionCompleted:
		met = true
	}
	return met, !met
}
