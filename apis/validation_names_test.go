package apis

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The name rules as Kubernetes writes them: the loops of validation_meta.go
// must agree with them on every string.
var (
	dns1123LabelRe     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123SubdomainRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedNameRe    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRe       = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	envNameRe          = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// checkNameRules fails t when a name rule and its expression disagree on s.
func checkNameRules(t *testing.T, s string) {
	t.Helper()
	for _, r := range []struct {
		name string
		fn   func(string) bool
		re   *regexp.Regexp
	}{
		{"DNS-1123 label", isDNS1123Label, dns1123LabelRe},
		{"DNS-1123 subdomain", isDNS1123Subdomain, dns1123SubdomainRe},
		{"qualified name", isQualifiedName, qualifiedNameRe},
		{"label value", isLabelValue, labelValueRe},
		{"environment name", isEnvName, envNameRe},
	} {
		if got, want := r.fn(s), r.re.MatchString(s); got != want {
			t.Errorf("%s %q: %v, the expression says %v", r.name, s, got, want)
		}
	}
}

func TestNameRules_AgreeWithTheirExpressions(t *testing.T) {
	for _, s := range []string{
		"", "a", "A", "0", "-", ".", "_", "a-", "-a", "a.b", "a..b", ".a", "a.", "a-b", "a_b", "A_b.C-d", "a--b",
		"ab", "a1", "1a", "a.b.c", "a.-b", "a-.b", "Ab", "aB", "a\n", "\na", "a b", "é", "aé", "a\xffb", "a/b",
		"nightly-etl", "example.com", "my.name", "123-abc", "MyValue", "1.0", "x_", "_x", "_", "_1", "1_", "MY_VAR", "my_var1", "A-B", strings.Repeat("a", 300),
	} {
		checkNameRules(t, s)
	}
}

func FuzzNameRules(f *testing.F) {
	for _, s := range []string{"", "a", "a.b", "a-b_c.D", "-a", "a.", "a\xff", "é"} {
		f.Add(s)
	}
	f.Fuzz(checkNameRules)
}

// checkMapRules fails t when a map's quick check (labelsValid,
// annotationsValid, envValid) and its full validation disagree on m.
func checkMapRules(t *testing.T, m map[string]string) {
	t.Helper()
	for _, r := range []struct {
		name  string
		valid func(map[string]string) bool
		errs  func(string, map[string]string) ErrorList
	}{
		{"labels", labelsValid, labelErrors},
		{"annotations", annotationsValid, annotationErrors},
		{"env", envValid, envErrors},
	} {
		errs := r.errs("p", m)
		if got, want := r.valid(m), len(errs) == 0; got != want {
			t.Errorf("%s %.120q: quick check %v, full validation %.200v", r.name, fmt.Sprint(m), got, errs)
		}
	}
}

func TestMapRules_QuickCheckAgreesWithValidation(t *testing.T) {
	long := strings.Repeat("v", MaxAnnotationsBytes)
	for _, m := range []map[string]string{
		nil, {}, {"team": "data"}, {"a/b": "c"}, {"example.com/team": "x"}, {"": "x"}, {"a//b": "x"},
		{"/b": "x"}, {"a/": "x"}, {"Example.com/b": "x"}, {strings.Repeat("a", 64): "x"},
		{"team": strings.Repeat("v", 64)}, {"team": "bad value"}, {"team": "-x"}, {"team": ""},
		{"MY_VAR": "1", "OTHER": "2"}, {"1VAR": "x"}, {"PORT": "80"}, {"PORT0": "1"}, {"SPRINT_LABEL_X": "1"},
		{"HOST": "h"}, {"V": "a\x00b"}, {"ok": "fine", "bad key!": "x"}, {"pad": long}, {"pad": long[:len(long)-3]},
	} {
		checkMapRules(t, m)
	}
}

func FuzzMapRules(f *testing.F) {
	for _, kv := range [][2]string{{"team", "data"}, {"a/b", "c"}, {"MY_VAR", "x\x00"}, {"PORT1", ""}, {"-", "."}} {
		f.Add(kv[0], kv[1], "k2", "v2")
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		checkMapRules(t, map[string]string{k1: v1, k2: v2})
	})
}
