package apis_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// The tests below fill every field of a type by reflection, so a field
// added to an API type and not handled by DeepCopy or Equal fails them.

// step is one move from a value to a part of it.
type step struct {
	kind  reflect.Kind // Struct (field i), Slice (element i), Map (key), Pointer (elem)
	i     int
	key   reflect.Value
	label string
}

type path []step

func (p path) String() string {
	var b strings.Builder
	for _, s := range p {
		b.WriteString(s.label)
	}
	return b.String()
}

var timeType = reflect.TypeOf(time.Time{})

// fill sets every field reachable from v to a non-zero value that depends
// on seed only: two fills with the same seed are equal.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), seed+1)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, seed+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, seed+2)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 21, 12, 0, seed, 123456789, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), seed*7+i)
		}
	case reflect.Interface:
		// WatchEvent.Object: not part of the types checked here.
	default:
		panic(fmt.Sprintf("fill: unhandled kind %s", v.Kind()))
	}
}

// walk calls visit for every part of v (v included) with its path.
func walk(v reflect.Value, p path, visit func(path, reflect.Value)) {
	visit(p, v)
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walk(v.Elem(), append(p[:len(p):len(p)], step{kind: reflect.Pointer, label: "*"}), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walk(v.Index(i), append(p[:len(p):len(p)], step{kind: reflect.Slice, i: i, label: fmt.Sprintf("[%d]", i)}), visit)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walk(v.MapIndex(k), append(p[:len(p):len(p)], step{kind: reflect.Map, key: k, label: fmt.Sprintf("[%v]", k)}), visit)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := range v.NumField() {
			walk(v.Field(i), append(p[:len(p):len(p)], step{kind: reflect.Struct, i: i, label: "." + v.Type().Field(i).Name}), visit)
		}
	}
}

// set replaces the part of v at p with fn(old); v must be addressable.
func set(v reflect.Value, p path, fn func(old reflect.Value) reflect.Value) {
	if len(p) == 0 {
		v.Set(fn(v))
		return
	}
	s := p[0]
	switch s.kind {
	case reflect.Struct:
		set(v.Field(s.i), p[1:], fn)
	case reflect.Slice:
		set(v.Index(s.i), p[1:], fn)
	case reflect.Pointer:
		set(v.Elem(), p[1:], fn)
	case reflect.Map:
		cp := reflect.New(v.Type().Elem()).Elem()
		cp.Set(v.MapIndex(s.key))
		set(cp, p[1:], fn)
		v.SetMapIndex(s.key, cp)
	}
}

// mutation changes one part of a value.
type mutation struct {
	name string
	p    path
	fn   func(old reflect.Value) reflect.Value
	// equal: the change keeps the value Equal (nil for empty).
	equal bool
	// jsonDiffers: the JSON form changes although Equal holds (an inner
	// nil slice against an empty one, which omitempty cannot hide).
	jsonDiffers bool
}

// mutations lists, for a filled value, a change of every part: every
// scalar and time, every pointer to nil, every slice and map one longer
// and nil against empty.
func mutations(root reflect.Value) []mutation {
	var out []mutation
	walk(root, nil, func(p path, v reflect.Value) {
		p = append(path(nil), p...)
		switch v.Kind() {
		case reflect.String:
			out = append(out, mutation{name: "change", p: p, fn: func(o reflect.Value) reflect.Value {
				return reflect.ValueOf(o.String() + "x").Convert(o.Type())
			}})
		case reflect.Bool:
			out = append(out, mutation{name: "flip", p: p, fn: func(o reflect.Value) reflect.Value { return reflect.ValueOf(!o.Bool()).Convert(o.Type()) }})
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			out = append(out, mutation{name: "change", p: p, fn: func(o reflect.Value) reflect.Value {
				n := reflect.New(o.Type()).Elem()
				n.SetInt(o.Int() + 1)
				return n
			}})
		case reflect.Float32, reflect.Float64:
			out = append(out, mutation{name: "change", p: p, fn: func(o reflect.Value) reflect.Value {
				n := reflect.New(o.Type()).Elem()
				n.SetFloat(o.Float() + 1)
				return n
			}})
		case reflect.Pointer:
			out = append(out, mutation{name: "nil", p: p, fn: func(o reflect.Value) reflect.Value { return reflect.Zero(o.Type()) }})
		case reflect.Slice:
			inner := len(p) > 0 && p[len(p)-1].kind == reflect.Slice
			out = append(out,
				mutation{name: "longer", p: p, fn: func(o reflect.Value) reflect.Value {
					e := reflect.New(o.Type().Elem()).Elem()
					fill(e, 99)
					return reflect.Append(o, e)
				}},
				mutation{name: "empty", p: p, equal: true, jsonDiffers: inner, fn: func(o reflect.Value) reflect.Value { return reflect.MakeSlice(o.Type(), 0, 0) }},
			)
		case reflect.Map:
			out = append(out,
				mutation{name: "longer", p: p, fn: func(o reflect.Value) reflect.Value {
					m := reflect.MakeMap(o.Type())
					for _, k := range o.MapKeys() {
						m.SetMapIndex(k, o.MapIndex(k))
					}
					k := reflect.New(o.Type().Key()).Elem()
					fill(k, 99)
					e := reflect.New(o.Type().Elem()).Elem()
					fill(e, 99)
					m.SetMapIndex(k, e)
					return m
				}},
				mutation{name: "empty", p: p, equal: true, fn: func(o reflect.Value) reflect.Value { return reflect.MakeMap(o.Type()) }},
			)
		case reflect.Struct:
			if v.Type() != timeType {
				return
			}
			out = append(out,
				mutation{name: "+1ns", p: p, fn: func(o reflect.Value) reflect.Value {
					return reflect.ValueOf(o.Interface().(time.Time).Add(time.Nanosecond))
				}},
				mutation{name: "other offset", p: p, fn: func(o reflect.Value) reflect.Value {
					return reflect.ValueOf(o.Interface().(time.Time).In(time.FixedZone("CET", 3600)))
				}},
				mutation{name: "other zone name, same offset", p: p, equal: true, fn: func(o reflect.Value) reflect.Value {
					return reflect.ValueOf(o.Interface().(time.Time).In(time.FixedZone("Z0", 0)))
				}},
			)
		}
	})
	return out
}

// nilled is the "empty" mutations' partner: the same part set to nil.
func nilled(o reflect.Value) reflect.Value { return reflect.Zero(o.Type()) }

func filled[T any]() *T {
	v := new(T)
	fill(reflect.ValueOf(v).Elem(), 1)
	return v
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// checkEqual proves that equal tells apart values that differ in any one
// part, holds for nil against empty, and agrees with the JSON form.
func checkEqual[T any](t *testing.T, equal func(a, b *T) bool) {
	base := filled[T]()
	require.True(t, equal(base, filled[T]()), "a value equals itself")
	ms := mutations(reflect.ValueOf(base).Elem())
	require.NotEmpty(t, ms)
	for _, m := range ms {
		a, b := filled[T](), filled[T]()
		set(reflect.ValueOf(b).Elem(), m.p, m.fn)
		if m.name == "empty" {
			set(reflect.ValueOf(a).Elem(), m.p, nilled)
		}
		got := equal(a, b)
		if got != m.equal {
			t.Errorf("%s %s: Equal = %v, want %v (a field Equal does not compare?)", m.p, m.name, got, m.equal)
		}
		if sameJSON := bytes.Equal(jsonOf(t, a), jsonOf(t, b)); sameJSON != (m.equal && !m.jsonDiffers) {
			t.Errorf("%s %s: Equal = %v but the JSON forms are equal: %v", m.p, m.name, got, sameJSON)
		}
	}
}

// checkDeepCopy proves that deepCopy copies every part and shares none.
func checkDeepCopy[T any](t *testing.T, deepCopy func(*T) *T) {
	orig := filled[T]()
	cp := deepCopy(orig)
	require.Equal(t, orig, cp, "every field is copied")
	// A change anywhere in the copy — replacing a part, or changing what a
	// map, slice or pointer holds — must leave the original as it was.
	for _, m := range mutations(reflect.ValueOf(orig).Elem()) {
		orig := filled[T]()
		cp := deepCopy(orig)
		set(reflect.ValueOf(cp).Elem(), m.p, m.fn)
		if !reflect.DeepEqual(orig, filled[T]()) {
			t.Errorf("%s %s on the copy changed the original: memory is shared", m.p, m.name)
		}
	}
	var nilT *T
	assert.Nil(t, deepCopy(nilT), "nil copies to nil")
}

func TestDeepCopyAndEqual_HandleEveryField(t *testing.T) {
	t.Parallel()
	t.Run("Run", func(t *testing.T) {
		checkEqual(t, (*apis.Run).Equal)
		checkDeepCopy(t, (*apis.Run).DeepCopy)
	})
	t.Run("RunSpec", func(t *testing.T) {
		checkEqual(t, (*apis.RunSpec).Equal)
		checkDeepCopy(t, (*apis.RunSpec).DeepCopy)
	})
	t.Run("RunStatus", func(t *testing.T) {
		checkEqual(t, (*apis.RunStatus).Equal)
		checkDeepCopy(t, (*apis.RunStatus).DeepCopy)
	})
	t.Run("ObjectMeta", func(t *testing.T) {
		checkEqual(t, (*apis.ObjectMeta).Equal)
		checkDeepCopy(t, func(m *apis.ObjectMeta) *apis.ObjectMeta {
			if m == nil {
				return nil
			}
			var out apis.ObjectMeta
			m.DeepCopyInto(&out)
			return &out
		})
	})
	t.Run("RunList", func(t *testing.T) {
		checkDeepCopy(t, (*apis.RunList).DeepCopy)
	})
	t.Run("Schedule", func(t *testing.T) {
		checkEqual(t, (*apis.Schedule).Equal)
		checkDeepCopy(t, (*apis.Schedule).DeepCopy)
	})
	t.Run("ScheduleSpec", func(t *testing.T) {
		checkEqual(t, (*apis.ScheduleSpec).Equal)
		checkDeepCopy(t, (*apis.ScheduleSpec).DeepCopy)
	})
	t.Run("ScheduleStatus", func(t *testing.T) {
		checkEqual(t, (*apis.ScheduleStatus).Equal)
		checkDeepCopy(t, (*apis.ScheduleStatus).DeepCopy)
	})
	t.Run("RunTemplate", func(t *testing.T) {
		checkEqual(t, (*apis.RunTemplate).Equal)
		checkDeepCopy(t, (*apis.RunTemplate).DeepCopy)
	})
	t.Run("ScheduleList", func(t *testing.T) {
		checkDeepCopy(t, (*apis.ScheduleList).DeepCopy)
	})
	t.Run("Notifier", func(t *testing.T) {
		checkEqual(t, (*apis.Notifier).Equal)
		checkDeepCopy(t, (*apis.Notifier).DeepCopy)
	})
	t.Run("NotifierSpec", func(t *testing.T) {
		checkEqual(t, (*apis.NotifierSpec).Equal)
		checkDeepCopy(t, (*apis.NotifierSpec).DeepCopy)
	})
	t.Run("NotifierStatus", func(t *testing.T) {
		checkEqual(t, (*apis.NotifierStatus).Equal)
		checkDeepCopy(t, (*apis.NotifierStatus).DeepCopy)
	})
	t.Run("NotifierList", func(t *testing.T) {
		checkDeepCopy(t, (*apis.NotifierList).DeepCopy)
	})
}

// What the store keeps is the JSON form: a Run read back equals the one
// written, whatever the monotonic clock reading, zone or empty collections
// of the one written.
func TestEqual_ThroughTheStoredForm(t *testing.T) {
	t.Parallel()
	now := time.Now() // carries a monotonic reading and the local zone
	later := now.Add(1500 * time.Millisecond)
	run := filled[apis.Run]()
	run.Metadata.CreationTimestamp = &now
	run.Status.StartTime = &later
	run.Spec.Args = []string{}
	run.Status.Ports = []int32{}
	run.Metadata.Annotations = map[string]string{}

	var back apis.Run
	require.NoError(t, json.Unmarshal(jsonOf(t, run), &back))
	assert.Nil(t, back.Spec.Args, "an empty slice comes back absent")
	assert.True(t, run.Equal(&back), "a Run equals its stored form")
	assert.True(t, back.Equal(run))
	assert.Equal(t, now.Nanosecond(), back.Metadata.CreationTimestamp.Nanosecond(), "nanoseconds survive")

	utc := back.DeepCopy()
	*utc.Metadata.CreationTimestamp = utc.Metadata.CreationTimestamp.UTC()
	_, offset := now.Zone()
	assert.Equal(t, offset == 0, back.Equal(utc), "the same instant in another offset is another stored form")

	assert.True(t, apis.TimeEqual(now, now.Round(0)), "the monotonic reading does not count")
	assert.False(t, (*apis.Run)(nil).Equal(run))
	assert.True(t, (*apis.Run)(nil).Equal(nil))
}
