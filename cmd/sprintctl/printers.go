package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"

	"github.com/sprint-project/sprint/apis"
)

const none = "<none>"

// table prints aligned columns. Widths grow as rows come, so rows printed
// later (get -w) stay aligned with earlier ones as far as they fit.
type table struct {
	w      io.Writer
	widths []int
}

func newTable(w io.Writer, header []string, rows [][]string) *table {
	t := &table{w: w}
	for _, r := range append([][]string{header}, rows...) {
		t.fit(r)
	}
	t.print(header)
	for _, r := range rows {
		t.print(r)
	}
	return t
}

// newTableMinWidths prints a header whose columns are at least widths wide.
func newTableMinWidths(w io.Writer, header []string, widths []int) *table {
	t := &table{w: w, widths: append([]int(nil), widths...)}
	t.print(header)
	return t
}

func (t *table) fit(row []string) {
	for i, cell := range row {
		if i >= len(t.widths) {
			t.widths = append(t.widths, 0)
		}
		t.widths[i] = max(t.widths[i], utf8.RuneCountInString(cell))
	}
}

func (t *table) print(row []string) {
	t.fit(row)
	var b strings.Builder
	for i, cell := range row {
		if i == len(row)-1 {
			b.WriteString(cell)
			break
		}
		b.WriteString(cell)
		b.WriteString(strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(cell)+3))
	}
	fmt.Fprintln(t.w, strings.TrimRight(b.String(), " "))
}

// age renders a duration as kubectl does: 45s, 3m12s, 17m, 5h4m, 3d, 400d.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case d < 2*time.Minute:
		return strconv.FormatInt(s, 10) + "s"
	case d < 10*time.Minute:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 8*time.Hour:
		if m := (s / 60) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", s/3600)
	case d < 8*24*time.Hour:
		if h := (s / 3600) % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", s/86400, h)
		}
		return fmt.Sprintf("%dd", s/86400)
	}
	return fmt.Sprintf("%dd", s/86400)
}

func (a *app) since(t *time.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	return age(a.now().Sub(*t))
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func phaseOf(r *apis.Run) string {
	switch {
	case r.Metadata.DeletionTimestamp != nil && !r.Status.Phase.Terminal():
		return "Terminating"
	case r.Status.Phase == "":
		return string(apis.PhasePending)
	}
	return string(r.Status.Phase)
}

func exitOf(r *apis.Run) string {
	if r.Status.ExitCode == nil {
		return none
	}
	return strconv.Itoa(int(*r.Status.ExitCode))
}

func labelsOf(m map[string]string) string {
	if len(m) == 0 {
		return none
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

var (
	runColumns     = []string{"NAME", "PHASE", "AGE", "HOST", "EXIT"}
	runWideColumns = []string{"NAME", "PHASE", "AGE", "HOST", "EXIT", "REASON", "ATTEMPTS", "TASK", "LABELS"}
)

func (a *app) runRow(r *apis.Run, wide bool) []string {
	row := []string{r.Metadata.Name, phaseOf(r), a.since(r.Metadata.CreationTimestamp), orNone(r.Status.Hostname), exitOf(r)}
	if wide {
		row = append(row, orNone(r.Status.Reason), strconv.Itoa(int(r.Status.Attempts)), orNone(r.Status.TaskID), labelsOf(r.Metadata.Labels))
	}
	return row
}

func writeObject(w io.Writer, v any, format string) error {
	if format == "yaml" {
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode yaml: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
