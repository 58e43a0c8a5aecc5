package apis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/sprint-project/sprint/internal/hostile"
)

// slowJSON reads data as splitJSON did before fastObject: every document
// through jsonReader.
func slowJSON(data []byte) ([]document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &jsonReader{dec: dec}
	var docs []document
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		v, err := r.rest(tok)
		if err != nil {
			return nil, err
		}
		if v != nil {
			docs = append(docs, document{value: v, line: lineAt(data, start), source: excerpt(data[start:dec.InputOffset()])})
		}
	}
}

// checkFastAgrees fails when fastObject accepts data and reads anything
// else than jsonReader does.
func checkFastAgrees(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	if checkText(data) != nil || loneSurrogate(data) >= 0 {
		return false
	}
	obj, end, ok := fastObject(data)
	if !ok {
		return false
	}
	want, err := slowJSON(data)
	if err != nil {
		t.Fatalf("fastObject accepted %q, which jsonReader refuses: %v", data, err)
	}
	got := []document{{value: obj, line: 1, source: excerpt(data[:end])}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fastObject read %q as\n%#v\njsonReader as\n%#v", data, got, want)
	}
	return true
}

func TestFastObject(t *testing.T) {
	run := `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"a","labels":{"x":"y"}},"spec":{"command":"true","cpus":0.01,"mem":1}}`
	tests := []struct {
		name   string
		data   string
		accept bool
	}{
		{"a Run", run, true},
		{"white space around and inside", " \n\t" + strings.ReplaceAll(run, ",", " ,\r\n ") + "\n ", true},
		{"empty object", "{}", true},
		{"every kind of value", `{"s":"x","n":-1.5e+3,"z":0,"t":true,"f":false,"null":null,"a":[],"o":{},"l":[1,"2",[{}]]}`, true},
		{"escapes", `{"a":"line\nbreak \"quoted\" \u00e9 \\ \/"}`, true},
		{"non-ASCII text", `{"é":"日本"}`, true},
		{"a field given twice", `{"a":1,"a":2}`, false},
		{"a field given twice in a large object", `{` + strings.Repeat(`"k":1,`, 0) + largeObject(20) + `,"k3":0}`, false},
		{"two objects", run + run, false},
		{"an array", `[` + run + `]`, false},
		{"trailing comma", `{"a":1,}`, false},
		{"leading zero", `{"a":01}`, false},
		{"bare minus", `{"a":-}`, false},
		{"fraction without digits", `{"a":1.}`, false},
		{"exponent without digits", `{"a":1e}`, false},
		{"bad literal", `{"a":tru}`, false},
		{"literal run on", `{"a":truex}`, false},
		{"control character in a string", "{\"a\":\"x\ty\"}", false},
		{"bad escape", `{"a":"\x"}`, false},
		{"unterminated string", `{"a":"x`, false},
		{"unterminated object", `{"a":1`, false},
		{"missing colon", `{"a" 1}`, false},
		{"key not a string", `{a:1}`, false},
		{"too deep", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), false},
		{"deepest allowed", strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth), true},
		{"too deep in arrays", `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFastAgrees(t, []byte(tt.data)); got != tt.accept {
				t.Fatalf("fastObject accepted %v, want %v", got, tt.accept)
			}
		})
	}
}

// largeObject is an object body of n distinct members k0..k(n-1).
func largeObject(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + string(rune('a'+i)) + `":0`)
	}
	b.WriteString(`,"kc":1`)
	return b.String()
}

// FuzzFastObjectAgrees checks that fastObject, whenever it accepts an
// input, reads exactly what jsonReader reads: the fast path changes the
// cost of decoding, never its outcome.
func FuzzFastObjectAgrees(f *testing.F) {
	addExampleSeeds(f)
	for _, s := range []string{
		`{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"a"},"spec":{"command":"true","cpus":0.01,"mem":1}}`,
		`{"a":"\u00e9\n","b":[1,2.5e-3,true,null,{"c":{}}]}`, `{"a":1,"a":2}`, ` {} `, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastAgrees(t, data)
	})
}

// BenchmarkDecodeOneRun decodes the ~1 KiB Run of scripts/bench-api.sh, as
// PUT /api/v1/runs/{name} does.
func BenchmarkDecodeOneRun(b *testing.B) {
	data := []byte(`{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"bench-m1-1","labels":{"bench":"bench"},"annotations":{"pad":"` +
		strings.Repeat("x", 900) + `"}},"spec":{"command":"true","cpus":0.01,"mem":1}}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeRunDocuments(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFastObject_FallbackWithinBudget: a body the one-pass reader reads to
// its very end before giving up is then read again by the token reader;
// the two passes together stay within the decoding budget.
func TestFastObject_FallbackWithinBudget(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{`)
	for i := 0; many.Len() < hostile.MaxJSON-64; i++ {
		fmt.Fprintf(&many, `"k%d":[1,"x",{}],`, i)
	}
	many.WriteString(`"k0":1}`)
	var numbers strings.Builder
	numbers.WriteString(`{"a":[`)
	for numbers.Len() < hostile.MaxJSON-64 {
		numbers.WriteString(`1,`)
	}
	numbers.WriteString(`1,]}`)
	for name, body := range map[string]string{
		"a field given twice at the end": many.String(),
		"a syntax error at the end":      numbers.String(),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, ok := fastObject([]byte(body)); ok {
				t.Fatal("fastObject accepted the body")
			}
			if err := checkBudget(t, []byte(body)); err == nil {
				t.Fatal("the body decoded")
			}
		})
	}
}
