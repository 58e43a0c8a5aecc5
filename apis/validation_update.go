package apis

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// ImmutableMessage is what a user sees for every changed immutable field.
const ImmutableMessage = "field is immutable; delete and re-create the Run, or apply with --force"

// opaqueUpdatePaths are reported as one field when anything inside them
// changed: a map or a list of tuples reads better as a whole.
var opaqueUpdatePaths = map[string]bool{
	"spec.args": true, "spec.env": true, "spec.constraints": true,
}

// ValidateRunUpdate validates newRun as ValidateRun does and also rejects
// changes of immutable fields, naming each. Runs are one-off, so the spec is
// immutable except activeDeadlineSeconds, ttlSecondsAfterFinished and
// cancel; metadata labels and annotations may change, the name may not.
// Both Runs should have had SetDefaults applied.
func ValidateRunUpdate(newRun, oldRun *Run) ErrorList {
	errs := ValidateRun(newRun)
	if newRun.Metadata.Name != oldRun.Metadata.Name {
		errs = append(errs, fieldErr("metadata.name", "%s", ImmutableMessage))
	}
	oldSpec, newSpec := oldRun.Spec, newRun.Spec
	for _, s := range []*RunSpec{&oldSpec, &newSpec} {
		s.ActiveDeadlineSeconds, s.TTLSecondsAfterFinished, s.Cancel = 0, nil, false
	}
	var changed []string
	diffJSON("spec", toJSONValue(oldSpec), toJSONValue(newSpec), &changed)
	for _, p := range changed {
		errs = append(errs, fieldErr(p, "%s", ImmutableMessage))
	}
	return errs
}

func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		// Only NaN/Inf fail to marshal; compare those by Go value instead.
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// diffJSON appends the paths where a and b (decoded JSON) differ, at the
// finest granularity that still reads well.
func diffJSON(path string, a, b any, out *[]string) {
	if reflect.DeepEqual(a, b) {
		return
	}
	if opaqueUpdatePaths[path] {
		*out = append(*out, path)
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			diffJSON(path+"."+k, am[k], bm[k], out)
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffJSON(path+"["+strconv.Itoa(i)+"]", al[i], bl[i], out)
		}
		return
	}
	*out = append(*out, path)
}
