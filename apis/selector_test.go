package apis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runWithLabels(labels map[string]string) *Run {
	return &Run{Metadata: ObjectMeta{Name: "r", Labels: labels}}
}

func TestParseLabelSelector_Matches(t *testing.T) {
	data := map[string]string{"team": "data", "tier": "batch", "env": "prod"}
	web := map[string]string{"team": "web"}
	tests := map[string]struct {
		sel       string
		canonical string
		data, web bool
	}{
		"empty":           {sel: "", canonical: "", data: true, web: true},
		"blank":           {sel: "   ", canonical: "", data: true, web: true},
		"equals":          {sel: "team=data", canonical: "team=data", data: true},
		"double equals":   {sel: "team == data", canonical: "team=data", data: true},
		"not equals":      {sel: "tier!=batch", canonical: "tier!=batch", web: true},
		"in":              {sel: "env in (prod, staging)", canonical: "env in (prod,staging)", data: true},
		"in sorted dedup": {sel: "team in (web,data,web)", canonical: "team in (data,web)", data: true, web: true},
		"notin":           {sel: "env notin (prod)", canonical: "env notin (prod)", web: true},
		"exists":          {sel: "tier", canonical: "tier", data: true},
		"not exists":      {sel: "!tier", canonical: "!tier", web: true},
		"and, sorted":     {sel: "tier, team=data,env in (prod)", canonical: "env in (prod),team=data,tier", data: true},
		"empty value":     {sel: "tier=", canonical: "tier=", web: false, data: false},
		"empty in value":  {sel: "tier in (,batch)", canonical: "tier in (,batch)", data: true},
		"prefixed key":    {sel: "example.com/owner!=x", canonical: "example.com/owner!=x", data: true, web: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := ParseLabelSelector(tc.sel)
			require.NoError(t, err)
			assert.Equal(t, tc.canonical, s.String())
			assert.Equal(t, tc.data, s.Matches(runWithLabels(data)), "data run")
			assert.Equal(t, tc.web, s.Matches(runWithLabels(web)), "web run")
			again, err := ParseLabelSelector(s.String())
			require.NoError(t, err)
			assert.Equal(t, s, again, "String() parses back to the same selector")
		})
	}
}

func TestParseLabelSelector_Errors(t *testing.T) {
	tests := map[string]string{
		"team=data,":    `label selector "team=data,": at position 11: expected a label key, got "end of selector"`,
		"=x":            `label selector "=x": at position 1: expected a label key, got "=x"`,
		"team>3":        `label selector "team>3": at position 5: expected one of =, ==, !=, in, notin after key "team", got ">3"`,
		"team data":     `label selector "team data": at position 6: expected one of =, ==, !=, in, notin after key "team", got "data"`,
		"team in prod":  `label selector "team in prod": at position 9: expected '(' to start a value set, got "prod"`,
		"team in (a b)": `label selector "team in (a b)": at position 12: expected ',' or ')' in value set, got "b)"`,
		"team in (a":    `label selector "team in (a": at position 11: expected ',' or ')' in value set, got end of selector`,
		"-team=x":       `label selector "-team=x": at position 1: invalid label key "-team": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyName", "my.name" or "123-abc")`,
		"team=-x":       `label selector "team=-x": at position 6: invalid label value "-x": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyValue" or "1.0")`,
		"team=a=b":      `label selector "team=a=b": at position 7: expected ',' or end of selector, got "=b"`,
		"!":             `label selector "!": at position 2: expected a label key, got "end of selector"`,
	}
	for sel, want := range tests {
		t.Run(sel, func(t *testing.T) {
			_, err := ParseLabelSelector(sel)
			require.Error(t, err)
			assert.Equal(t, want, err.Error())
			assert.ErrorIs(t, err, ErrBadRequest)
		})
	}
}

func TestParseFieldSelector(t *testing.T) {
	running := &Run{Metadata: ObjectMeta{Name: "a"}, Status: RunStatus{Phase: PhaseRunning}}
	fresh := &Run{Metadata: ObjectMeta{Name: "b"}}
	tests := map[string]struct {
		sel            string
		canonical      string
		running, fresh bool
	}{
		"empty":       {sel: "", running: true, fresh: true},
		"name":        {sel: "metadata.name=a", canonical: "metadata.name=a", running: true},
		"name ==":     {sel: "metadata.name==b", canonical: "metadata.name=b", fresh: true},
		"phase":       {sel: "status.phase=Running", canonical: "status.phase=Running", running: true},
		"phase not":   {sel: "status.phase!=Running", canonical: "status.phase!=Running", fresh: true},
		"empty phase": {sel: "status.phase=", canonical: "status.phase=", fresh: true},
		"and":         {sel: "status.phase!=Succeeded, metadata.name!=b", canonical: "status.phase!=Succeeded,metadata.name!=b", running: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := ParseFieldSelector(tc.sel)
			require.NoError(t, err)
			assert.Equal(t, tc.canonical, s.String())
			assert.Equal(t, tc.running, s.Matches(running))
			assert.Equal(t, tc.fresh, s.Matches(fresh))
		})
	}
	errs := map[string]string{
		"spec.cpus=1":          `field selector "spec.cpus=1": unsupported field "spec.cpus": supported fields are metadata.name, status.phase`,
		"status.phase=running": `field selector "status.phase=running": unknown phase "running": must be one of Pending, Starting, Running, Succeeded, Failed, Killed`,
		"metadata.name":        `field selector "metadata.name": clause "metadata.name": expected field=value, field==value or field!=value`,
	}
	for sel, want := range errs {
		_, err := ParseFieldSelector(sel)
		require.Error(t, err, sel)
		assert.Equal(t, want, err.Error())
		assert.ErrorIs(t, err, ErrBadRequest)
	}
}
