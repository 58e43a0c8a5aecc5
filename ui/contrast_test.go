package ui_test

import (
	"io/fs"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/ui"
)

// Every text colour of the stylesheet, in both schemes, meets WCAG AA
// (4.5:1) on the backgrounds it is drawn on.
func TestStylesheet_ContrastMeetsWCAGAA(t *testing.T) {
	css, err := fs.ReadFile(ui.Assets(), "css/app.css")
	require.NoError(t, err)
	text := string(css)
	dark := strings.Index(text, "@media (prefers-color-scheme: dark)")
	require.Positive(t, dark)
	light := vars(text[:dark])
	darkVars := vars(text[dark:])
	pairs := [][2]string{
		{"fg", "bg"}, {"fg", "bg2"}, {"fg", "bg3"}, {"fg", "code-bg"},
		{"muted", "bg"}, {"muted", "bg2"},
		{"accent", "bg"}, {"accent", "bg2"}, {"accent-fg", "accent"},
		{"danger", "bg"}, {"danger", "danger-bg"}, {"bg", "danger"},
		{"ok", "bg"}, {"warn", "warn-bg"},
	}
	for _, p := range []string{"pending", "starting", "running", "succeeded", "failed", "killed"} {
		pairs = append(pairs, [2]string{"p-" + p, "p-" + p + "-bg"})
	}
	for scheme, v := range map[string]map[string]string{"light": light, "dark": withDefaults(darkVars, light)} {
		for _, p := range pairs {
			fg, bg := v[p[0]], v[p[1]]
			require.NotEmpty(t, fg, "%s: --%s", scheme, p[0])
			require.NotEmpty(t, bg, "%s: --%s", scheme, p[1])
			r := contrast(fg, bg)
			assert.GreaterOrEqual(t, r, 4.5, "%s: --%s %s on --%s %s is %.2f:1", scheme, p[0], fg, p[1], bg, r)
		}
	}
}

var varRe = regexp.MustCompile(`--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;`)

func vars(css string) map[string]string {
	out := map[string]string{}
	for _, m := range varRe.FindAllStringSubmatch(css, -1) {
		if _, seen := out[m[1]]; !seen {
			out[m[1]] = m[2]
		}
	}
	return out
}

func withDefaults(v, base map[string]string) map[string]string {
	out := map[string]string{}
	for k, x := range base {
		out[k] = x
	}
	for k, x := range v {
		out[k] = x
	}
	return out
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	ch := func(i int) float64 {
		n, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(n) / 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(0) + 0.7152*ch(1) + 0.0722*ch(2)
}
