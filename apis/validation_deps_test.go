package apis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateRun_DependsOn(t *testing.T) {
	dep := func(name, cond string) RunDependency { return RunDependency{Name: name, Condition: cond} }
	many := func(n int) []RunDependency {
		out := make([]RunDependency, n)
		for i := range out {
			out[i] = dep(fmt.Sprintf("d%d", i), ConditionSucceeded)
		}
		return out
	}
	tests := map[string]struct {
		deps []RunDependency
		want []string
	}{
		"none":                {},
		"each condition":      {deps: []RunDependency{dep("a", ConditionSucceeded), dep("b", ConditionFailed), dep("c", ConditionCompleted)}},
		"default condition":   {deps: []RunDependency{dep("a", "")}},
		"not yet existing ok": {deps: []RunDependency{dep("later", ConditionSucceeded)}},
		"64 ok":               {deps: many(64)},
		"65 too many":         {deps: many(65), want: []string{"spec.dependsOn: must have at most 64 items, got 65"}},
		"empty name": {deps: []RunDependency{dep("a", ""), dep("", ConditionSucceeded)},
			want: []string{"spec.dependsOn[1].name: required: the name of the Run this one waits for"}},
		"bad name": {deps: []RunDependency{dep("Extract", "")},
			want: []string{`spec.dependsOn[0].name: invalid value "Extract": ` + dns1123LabelMsg}},
		"long name": {deps: []RunDependency{dep(strings.Repeat("a", 64), "")},
			want: []string{"spec.dependsOn[0].name: must be no more than 63 characters"}},
		"bad condition": {deps: []RunDependency{dep("a", ""), dep("b", "succeeded")},
			want: []string{`spec.dependsOn[1].condition: unsupported value "succeeded": must be one of Succeeded, Failed, Completed`}},
		"duplicate": {deps: []RunDependency{dep("a", ""), dep("b", ""), dep("a", ConditionFailed)},
			want: []string{`spec.dependsOn[2].name: duplicate value "a": already listed at spec.dependsOn[0]`}},
		"itself": {deps: []RunDependency{dep("x", ""), dep("nightly-etl", "")},
			want: []string{"spec.dependsOn[1].name: a Run cannot depend on itself"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := validRun()
			r.Spec.DependsOn = tc.deps
			SetDefaults(r)
			assert.Equal(t, tc.want, nilIfNone(messages(ValidateRun(r))))
		})
	}
}

func nilIfNone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestSetDefaults_DependsOnConditionIsSucceeded(t *testing.T) {
	r := validRun()
	r.Spec.DependsOn = []RunDependency{{Name: "a"}, {Name: "b", Condition: ConditionFailed}}
	SetDefaults(r)
	assert.Equal(t, []RunDependency{{Name: "a", Condition: ConditionSucceeded}, {Name: "b", Condition: ConditionFailed}}, r.Spec.DependsOn)
	r.Spec.DependsOn = []RunDependency{}
	SetDefaults(r)
	assert.Nil(t, r.Spec.DependsOn)
}

func TestValidateRunUpdate_DependsOnIsImmutable(t *testing.T) {
	old := validRun()
	old.Spec.DependsOn = []RunDependency{{Name: "a"}}
	SetDefaults(old)
	tests := map[string]struct {
		deps []RunDependency
		want []string
	}{
		"unchanged":         {deps: []RunDependency{{Name: "a", Condition: ConditionSucceeded}}},
		"default unchanged": {deps: []RunDependency{{Name: "a"}}},
		"condition changed": {deps: []RunDependency{{Name: "a", Condition: ConditionFailed}}, want: []string{"spec.dependsOn[0].condition: " + ImmutableMessage}},
		"added":             {deps: []RunDependency{{Name: "a"}, {Name: "b"}}, want: []string{"spec.dependsOn: " + ImmutableMessage}},
		"removed":           {want: []string{"spec.dependsOn: " + ImmutableMessage}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			next := old.DeepCopy()
			next.Spec.DependsOn = tc.deps
			SetDefaults(next)
			assert.Equal(t, tc.want, nilIfNone(messages(ValidateRunUpdate(next, old))))
		})
	}
}

func TestDependencyMet(t *testing.T) {
	type res struct{ met, never bool }
	phases := []RunPhase{"", PhasePending, PhaseRunning, PhaseSucceeded, PhaseFailed, PhaseKilled}
	want := map[string][]res{
		ConditionSucceeded: {{}, {}, {}, {true, false}, {false, true}, {false, true}},
		ConditionFailed:    {{}, {}, {}, {false, true}, {true, false}, {true, false}},
		ConditionCompleted: {{}, {}, {}, {true, false}, {true, false}, {true, false}},
	}
	for cond, rs := range want {
		for i, p := range phases {
			met, never := DependencyMet(cond, p)
			require.Equal(t, rs[i], res{met, never}, "%s in phase %q", cond, p)
		}
	}
}
