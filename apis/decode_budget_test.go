package apis

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sprint-project/sprint/internal/hostile"
)

// The decoding budget: any body the HTTP layer accepts (JSON up to 1 MiB,
// YAML up to 512 KiB) decodes with at most decodeHeapBudget of heap held
// and decodeCPUBudget of CPU (more under the race detector). CPU time
// rather than wall time, so that a loaded machine does not fail the test;
// wall time has a loose backstop.
const (
	decodeHeapBudget = 64 << 20
	decodeCPUBudget  = time.Second * hostile.CPUFactor
	decodeWallLimit  = 20 * time.Second * hostile.CPUFactor
)

// checkBudget decodes body once under hostile.Measure and fails t when it
// costs more than the budget. It returns the decode error.
func checkBudget(t *testing.T, body []byte) error {
	t.Helper()
	var err error
	c := hostile.Measure(decodeHeapBudget, func() { _, err = DecodeRuns(body) })
	if c.CPU > decodeCPUBudget {
		// Held near the heap budget, the collector ran far more than it
		// would by default: measure the CPU again at its defaults.
		c.CPU = hostile.CPU(func() { _, _ = DecodeRuns(body) })
	}
	if c.PeakHeap > decodeHeapBudget || c.CPU > decodeCPUBudget || c.Wall > decodeWallLimit {
		t.Fatalf("decoding %d bytes (%.40q…) cost %d MiB of heap, %v of CPU, %v: budget %d MiB, %v of CPU",
			len(body), body, c.PeakHeap>>20, c.CPU, c.Wall, decodeHeapBudget>>20, decodeCPUBudget)
	}
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || StatusFromError(err).Code != 400 {
			t.Fatalf("decoding %.40q…: %T %v, want a *DecodeError (400)", body, err, err)
		}
	}
	return err
}

// TestDecodeRuns_HostileShapesWithinBudget decodes each named hostile
// shape, the largest the HTTP layer lets through: the valid ones decode,
// the others are refused with a 400, and none costs more than the budget.
// Before the depth limit and linear paths, the 100,000 nested "[" took
// more than 60 s and 6 GiB.
func TestDecodeRuns_HostileShapesWithinBudget(t *testing.T) {
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		t.Run(sh.Name, func(t *testing.T) {
			max := hostile.MaxJSON
			if sh.YAML {
				max = hostile.MaxYAML
			}
			if len(sh.Body) > max {
				t.Fatalf("shape is %d bytes, over the %d the server takes", len(sh.Body), max)
			}
			err := checkBudget(t, sh.Body)
			if sh.Valid && err != nil {
				t.Fatalf("valid shape refused: %v", err)
			}
			if !sh.Valid && err == nil {
				t.Fatal("hostile shape accepted")
			}
		})
	}
}

// FuzzDecodeBudget builds bodies from a prefix, two repeated units and a
// suffix, up to the size the HTTP layer takes: the shapes that cost a
// decoder far more than their size (deep nesting, many keys, long strings,
// many documents, alias fan-out) are all repetitions. Every body must
// decode, or fail with a 400, within the budget.
func FuzzDecodeBudget(f *testing.F) {
	const run = `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"a"},"spec":{"command":"x","cpus":1,"mem":1}}`
	const yrun = "apiVersion: sprint/v1\nkind: Run\n"
	// Seeds are small: TestDecodeRuns_HostileShapesWithinBudget runs the
	// full-size shapes, and the fuzzer grows the counts.
	f.Add("", "[", 100000, "]", 100000, "")
	f.Add(`{"apiVersion":"sprint/v1","kind":"Run","metadata":{"labels":`, `{"a":`, 100000, "}", 100000, "}}")
	f.Add(`{"apiVersion":"sprint/v1","kind":"Run","spec":{"args":[`, `{"a":1},`, 10000, "", 0, `{}]}}`)
	f.Add(`{"apiVersion":"sprint/v1","kind":"Run","spec":{"command":"`, "x", 1<<20, "", 0, `"}}`)
	f.Add("[", run+",", 1000, "", 0, run+"]")
	f.Add("", run, 1000, "\n", 0, "")
	f.Add("", "---\n"+yrun, 1000, "", 0, "")
	f.Add(yrun+"spec:\n  args: ", "[", 100000, "]", 100000, "\n")
	f.Add(yrun+"spec:\n  args: [", "a,", 10000, "", 0, "a]\n")
	f.Add(yrun+"spec:\n  a: &a {b: c, d: e, f: g, h: i}\n  args: [", "*a,", 10000, "", 0, "*a]\n")
	f.Add(yrun+"metadata:\n  labels:\n", "  a:\n", 1000, "", 0, "")
	f.Add(yrun+"metadata:\n  annotations:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n    c: &c [", "*b, ", 10, "", 0, "*b]\n")
	f.Add(`{"a":"`, `\ud800`, 100000, "", 0, `"}`)
	f.Fuzz(func(t *testing.T, prefix, unit1 string, n1 int, unit2 string, n2 int, suffix string) {
		body := repeatBody(prefix, unit1, n1, unit2, n2, suffix)
		checkBudget(t, body)
	})
}

// repeatBody is prefix + unit1×n1 + unit2×n2 + suffix, cut to what the
// HTTP layer takes for its format.
func repeatBody(prefix, unit1 string, n1 int, unit2 string, n2 int, suffix string) []byte {
	max := hostile.MaxYAML
	if t := bytes.TrimLeft([]byte(prefix+unit1), " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		max = hostile.MaxJSON
	}
	var b bytes.Buffer
	b.WriteString(prefix)
	for _, u := range []struct {
		s string
		n int
	}{{unit1, n1}, {unit2, n2}} {
		if u.s == "" || u.n <= 0 {
			continue
		}
		room := max - b.Len() - len(suffix)
		if room <= 0 {
			break
		}
		b.Write(bytes.Repeat([]byte(u.s), min(u.n, room/len(u.s))))
	}
	b.WriteString(suffix)
	if b.Len() > max {
		b.Truncate(max)
	}
	return b.Bytes()
}

// BenchmarkDecodeShapes decodes each hostile shape: time and allocation
// per shape (run with -benchmem) for docs/benchmarks.md, with the CPU time
// per decode (cpu-ms/op: unlike ns/op it does not grow when other
// processes load the machine) and the most heap one decode holds live
// (live-MiB, from hostile.LivePeak).
func BenchmarkDecodeShapes(b *testing.B) {
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		b.Run(sh.Name, func(b *testing.B) {
			b.SetBytes(int64(len(sh.Body)))
			cpu := hostile.ProcessCPU()
			for b.Loop() {
				_, err := DecodeRuns(sh.Body)
				if (err == nil) != sh.Valid {
					b.Fatal(fmt.Sprint("unexpected outcome: ", err))
				}
			}
			b.ReportMetric(float64(hostile.ProcessCPU()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			live := hostile.LivePeak(func() { _, _ = DecodeRuns(sh.Body) })
			b.ReportMetric(float64(live)/(1<<20), "live-MiB")
		})
	}
}
