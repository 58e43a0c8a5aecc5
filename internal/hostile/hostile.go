// Package hostile generates request bodies shaped to make a decoder spend
// far more than their size: deep nesting, huge numbers of keys, long
// strings, many documents, YAML alias expansion. Tests and benchmarks of
// the decoders and of the HTTP server use the same shapes, so a budget
// checked in one place is the budget checked everywhere.
package hostile

import (
	"bytes"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Shape is one generated body.
type Shape struct {
	// Name identifies the shape in test and benchmark names.
	Name string
	// YAML tells the body is YAML (send it as application/yaml);
	// otherwise it is JSON.
	YAML bool
	// Valid tells a strict decoder should accept the body as one or more
	// Runs; the rest must be refused with a 400.
	Valid bool
	// Body is the request body.
	Body []byte
}

// The body limits the shapes are sized for: sprint's server takes JSON
// bodies up to 1 MiB and YAML bodies up to 512 KiB (YAML costs go-yaml
// several times more memory per byte).
const (
	MaxJSON = 1 << 20
	MaxYAML = 512 << 10
)

// header is a Run's apiVersion and kind, as JSON members.
const header = `"apiVersion":"sprint/v1","kind":"Run"`

// Shapes are the named hostile bodies: JSON ones of at most maxJSON
// bytes, YAML ones of at most maxYAML.
func Shapes(maxJSON, maxYAML int) []Shape {
	j, y := maxJSON-1024, maxYAML-1024 // room for headers and brackets
	return []Shape{
		{Name: "json-deep-arrays", Body: DeepJSONArrays(100_000)},
		{Name: "json-deep-arrays-max", Body: DeepJSONArrays(j / 2)},
		{Name: "json-deep-labels", Body: DeepJSONLabels(100_000)},
		{Name: "json-deep-labels-max", Body: DeepJSONLabels(j / 6)},
		{Name: "json-100k-keys", Body: ManyJSONKeys(min(100_000, j/9))},
		{Name: "json-10k-labels", Valid: true, Body: ManyJSONLabels(10_000)},
		{Name: "json-long-string", Valid: true, Body: LongJSONString(j)},
		{Name: "json-many-arrays", Valid: true, Body: ManyJSONArrays(j / 3)},
		{Name: "json-many-strings", Valid: true, Body: JSONStrings(j / 4)},
		{Name: "json-many-runs", Valid: true, Body: JSONRunArray(j / 120)},
		{Name: "json-many-objects", Body: ManyJSONObjects(j / 8)},
		{Name: "yaml-10k-documents", YAML: true, Valid: true, Body: YAMLDocuments(min(10_000, y/40))},
		{Name: "yaml-empty-documents", YAML: true, Valid: true, Body: bytes.Repeat([]byte("---\n"), y/4)},
		{Name: "yaml-deep-flow", YAML: true, Body: DeepYAMLFlow(min(100_000, y/2))},
		{Name: "yaml-deep-block", YAML: true, Body: DeepYAMLBlock(min(1_000, isqrt(2*y)-8))},
		{Name: "yaml-many-keys", YAML: true, Body: ManyYAMLKeys(min(100_000, y/10))},
		{Name: "yaml-10k-labels", YAML: true, Valid: true, Body: ManyYAMLLabels(min(10_000, y/30))},
		{Name: "yaml-billion-laughs", YAML: true, Body: BillionLaughs(9)},
		{Name: "yaml-alias-fanout", YAML: true, Body: AliasFanout(y/3 - 300)},
		{Name: "yaml-alias-padded", YAML: true, Body: AliasPadded(y/4, y/8/3)},
		{Name: "yaml-many-objects", YAML: true, Body: ManyYAMLObjects(y / 8)},
		{Name: "yaml-many-scalars", YAML: true, Valid: true, Body: YAMLFlowScalars(y / 2)},
		{Name: "yaml-long-string", YAML: true, Valid: true, Body: LongYAMLString(y)},
	}
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// DeepJSONArrays is depth nested arrays: [[[…]]].
func DeepJSONArrays(depth int) []byte {
	var b bytes.Buffer
	b.Grow(2 * depth)
	b.WriteString(strings.Repeat("[", depth))
	b.WriteString(strings.Repeat("]", depth))
	return b.Bytes()
}

// DeepJSONLabels is a Run whose metadata.labels nests depth objects:
// {"a":{"a":{…}}}.
func DeepJSONLabels(depth int) []byte {
	var b bytes.Buffer
	b.Grow(6*depth + 100)
	b.WriteString(`{` + header + `,"metadata":{"name":"deep","labels":`)
	b.WriteString(strings.Repeat(`{"a":`, depth))
	b.WriteString(`"x"`)
	b.WriteString(strings.Repeat("}", depth))
	b.WriteString(`}}`)
	return b.Bytes()
}

// ManyJSONKeys is a Run whose spec has n distinct unknown fields.
func ManyJSONKeys(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{` + header + `,"metadata":{"name":"keys"},"spec":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s":1`, strconv.FormatInt(int64(i), 36))
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// ManyJSONLabels is a valid Run with n labels.
func ManyJSONLabels(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{` + header + `,"metadata":{"name":"labels","labels":{`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"label-%d":"value-%d"`, i, i)
	}
	b.WriteString(`}},"spec":{"command":"true","cpus":0.1,"mem":32}}`)
	return b.Bytes()
}

// LongJSONString is a Run whose command is n bytes long.
func LongJSONString(n int) []byte {
	return []byte(`{` + header + `,"metadata":{"name":"long"},"spec":{"command":"` + strings.Repeat("x", n) + `","cpus":0.1,"mem":32}}`)
}

// ManyJSONArrays is a Run whose spec.constraints holds n empty arrays.
func ManyJSONArrays(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{` + header + `,"metadata":{"name":"arrays"},"spec":{"constraints":[`)
	b.WriteString(strings.Repeat("[],", n-1))
	b.WriteString(`[]]}}`)
	return b.Bytes()
}

// ManyJSONObjects is a Run whose spec.args holds n one-field objects.
func ManyJSONObjects(n int) []byte {
	return []byte(`{` + header + `,"metadata":{"name":"objects"},"spec":{"args":[` + strings.Repeat(`{"a":1},`, n-1) + `{"a":1}]}}`)
}

// ManyYAMLObjects is a Run whose spec.args holds n one-field mappings.
func ManyYAMLObjects(n int) []byte {
	return []byte("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: objects}\nspec:\n  args: [" + strings.Repeat("{a: 1},", n-1) + "{a: 1}]\n")
}

// JSONRunArray is a JSON array of n small valid Runs.
func JSONRunArray(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{`+header+`,"metadata":{"name":"r%d"},"spec":{"command":"true","cpus":0.1,"mem":32}}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// YAMLDocuments is n of the smallest Runs, one per YAML document.
func YAMLDocuments(n int) []byte {
	return bytes.Repeat([]byte("---\n{apiVersion: sprint/v1, kind: Run}\n"), n)
}

// DeepYAMLFlow is depth nested flow sequences under a Run's labels.
func DeepYAMLFlow(depth int) []byte {
	return []byte("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  labels: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n")
}

// DeepYAMLBlock is depth nested block mappings under a Run's labels; its
// size grows with the square of depth (indentation).
func DeepYAMLBlock(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  labels:\n")
	for i := range depth {
		b.WriteString(strings.Repeat(" ", i+4))
		b.WriteString("a:\n")
	}
	b.WriteString(strings.Repeat(" ", depth+4) + "b: c\n")
	return b.Bytes()
}

// ManyYAMLKeys is a Run whose spec has n distinct unknown fields.
func ManyYAMLKeys(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: keys}\nspec:\n")
	for i := range n {
		fmt.Fprintf(&b, "  %s: 1\n", strconv.FormatInt(int64(i), 36))
	}
	return b.Bytes()
}

// ManyYAMLLabels is a valid Run with n labels.
func ManyYAMLLabels(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: labels\n  labels:\n")
	for i := range n {
		fmt.Fprintf(&b, "    label-%d: value-%d\n", i, i)
	}
	b.WriteString("spec: {command: 'true', cpus: 0.1, mem: 32}\n")
	return b.Bytes()
}

// BillionLaughs is the classic alias bomb: levels of anchors, each a
// list of ten aliases of the one before, under a Run's labels.
func BillionLaughs(levels int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: lol\n  annotations:\n    l0: &l0 \"lol\"\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "    l%d: &l%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.Bytes()
}

// AliasFanout is one anchored mapping of 64 keys, then n aliases of it:
// linear in size, but n×64 nodes once expanded.
func AliasFanout(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: fan\nspec:\n  anchor: &a {")
	for i := range 64 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: v", i)
	}
	b.WriteString("}\n  args: [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*a")
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// AliasPadded is pad plain scalars, then n aliases of a mapping of 64
// keys: enough plain nodes that go-yaml's alias-ratio check lets the
// expansion through.
func AliasPadded(pad, n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: fan\nspec:\n  pad: [")
	b.WriteString(strings.Repeat("1,", pad-1))
	b.WriteString("1]\n  anchor: &a {")
	for i := range 64 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "k%d: v", i)
	}
	b.WriteString("}\n  args: [")
	b.WriteString(strings.Repeat("*a,", n-1))
	b.WriteString("*a]\n")
	return b.Bytes()
}

// YAMLFlowScalars is a Run whose spec.args is a flow sequence of n
// one-letter plain scalars: the most YAML nodes a body can hold.
func YAMLFlowScalars(n int) []byte {
	return []byte("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: scalars}\nspec:\n  cpus: 0.1\n  mem: 32\n  args: [" + strings.Repeat("a,", n-1) + "a]\n")
}

// JSONStrings is a Run whose spec.args holds n one-letter strings.
func JSONStrings(n int) []byte {
	return []byte(`{` + header + `,"metadata":{"name":"strings"},"spec":{"cpus":0.1,"mem":32,"args":[` + strings.Repeat(`"a",`, n-1) + `"a"]}}`)
}

// LongYAMLString is a Run whose command is n bytes long.
func LongYAMLString(n int) []byte {
	return []byte("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: long}\nspec:\n  cpus: 0.1\n  mem: 32\n  command: " + strings.Repeat("x", n) + "\n")
}

// Cost is what running a function cost.
type Cost struct {
	// PeakHeap is the most heap in use above what was in use before, while
	// the garbage collector was told to keep the heap within the budget
	// given to Measure: it exceeds that budget only when the function held
	// more than it live.
	PeakHeap uint64
	// Allocated is the bytes allocated, garbage included.
	Allocated uint64
	// CPU is the process's CPU time (user and system, garbage collection
	// included): unlike wall time it does not grow when other processes
	// load the machine. With the collector held to the budget, a function
	// that holds nearly the budget live makes it collect far more often
	// than it would by default: measure CPU again with CPU when that
	// matters.
	CPU time.Duration
	// Wall is the elapsed time.
	Wall time.Duration
}

// Runaway bounds Measure: a function whose heap grows beyond
// RunawayFactor times the budget, or that runs longer than RunawayTime,
// crashes the process with a message instead of exhausting the machine.
const (
	RunawayFactor = 8
	RunawayTime   = 2 * time.Minute
)

// Measure runs f once and reports its cost. budget is the heap f may hold
// above what is in use when it starts: the garbage collector runs as often
// as it must to stay under it, so garbage does not count, while live data
// beyond it shows in PeakHeap. Measure changes process-wide garbage
// collector settings while f runs (restoring them after): run nothing else
// meanwhile. A runaway f (see RunawayFactor) panics the process.
func Measure(budget uint64, f func()) Cost {
	runtime.GC()
	base := heapInUse()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	oldPercent := debug.SetGCPercent(-1)
	oldLimit := debug.SetMemoryLimit(int64(base + budget))
	defer func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	}()

	done := make(chan struct{})
	var peak atomic.Uint64
	go func() {
		defer close(done)
		f()
	}()
	cpu0 := ProcessCPU()
	start := time.Now()
	tick := time.NewTicker(200 * time.Microsecond)
	defer tick.Stop()
sample:
	for {
		if h := heapInUse(); h > peak.Load() {
			peak.Store(h)
			if h > base+RunawayFactor*budget {
				panic(fmt.Sprintf("hostile: heap grew by %d MiB, beyond %d times the %d MiB budget: aborting before the machine runs out of memory", (h-base)>>20, RunawayFactor, budget>>20))
			}
		}
		if time.Since(start) > RunawayTime {
			panic(fmt.Sprintf("hostile: still running after %v: aborting", RunawayTime))
		}
		select {
		case <-done:
			break sample
		case <-tick.C:
		}
	}
	c := Cost{Wall: time.Since(start), CPU: ProcessCPU() - cpu0}
	if h := heapInUse(); h > peak.Load() {
		peak.Store(h)
	}
	if p := peak.Load(); p > base {
		c.PeakHeap = p - base
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	c.Allocated = after.TotalAlloc - before.TotalAlloc
	return c
}

// LivePeak runs f once with the garbage collector running at every 5 %
// of heap growth, and returns the most heap in use above what was in use
// before: close to the most f held live, garbage left out. It is slow (f
// runs with a collection every few MiB allocated): for reports, not for
// budgets.
func LivePeak(f func()) uint64 {
	runtime.GC()
	base := heapInUse()
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	var peak uint64
	tick := time.NewTicker(200 * time.Microsecond)
	defer tick.Stop()
	for {
		if h := heapInUse(); h > peak {
			peak = h
		}
		select {
		case <-done:
			if peak < base {
				return 0
			}
			return peak - base
		case <-tick.C:
		}
	}
}

// CPU runs f once with the garbage collector at its defaults and returns
// the process's CPU time while it ran.
func CPU(f func()) time.Duration {
	runtime.GC()
	cpu0 := ProcessCPU()
	f()
	return ProcessCPU() - cpu0
}

// heapInUse is the bytes of heap objects, live and not yet collected.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// ProcessCPU is the CPU time (user and system) the process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
