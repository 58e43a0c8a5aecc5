package apis

import (
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
