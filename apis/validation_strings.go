package apis

import (
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validateStrings reports every string of v that is not valid UTF-8. JSON
// cannot carry such strings (encoding replaces the bad bytes), so a Run
// holding one would change on its way through the store; Runs decoded from
// JSON or YAML never do, Runs built in Go might.
func validateStrings(path string, v reflect.Value) ErrorList {
	if stringsValid(v) {
		// Every write validates its object on the API server and on
		// every replica; the walk below builds a field path for every
		// field it passes, which most of the time names nothing.
		return nil
	}
	return stringErrors(path, v)
}

// stringsValid reports whether every string v holds, map keys included, is
// valid UTF-8, without building paths. It looks at what stringErrors looks
// at (exported fields), so true means stringErrors would find nothing.
func stringsValid(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return utf8.ValidString(v.String())
	case reflect.Pointer:
		return v.IsNil() || stringsValid(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			// Unexported fields (a time.Time's Location) are not the
			// object's: CanInterface is false for them alone.
			if f := v.Field(i); f.CanInterface() && !stringsValid(f) {
				return false
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if !stringsValid(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		if v.Len() == 0 {
			return true
		}
		if m, ok := v.Interface().(map[string]string); ok {
			for k, s := range m { // labels, annotations, env: no reflection
				if !utf8.ValidString(k) || !utf8.ValidString(s) {
					return false
				}
			}
			return true
		}
		for it := v.MapRange(); it.Next(); {
			if !stringsValid(it.Key()) || !stringsValid(it.Value()) {
				return false
			}
		}
	}
	return true
}

// stringErrors is validateStrings' walk, with the path of each problem.
func stringErrors(path string, v reflect.Value) ErrorList {
	var errs ErrorList
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			errs = append(errs, fieldErr(path, "must be valid UTF-8"))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			errs = append(errs, stringErrors(path, v.Elem())...)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			p := path
			if !f.Anonymous {
				p = joinPath(path, name)
			}
			errs = append(errs, stringErrors(p, v.Field(i))...)
		}
	case reflect.Slice:
		items := itemErrors{path: path}
		for i := 0; i < v.Len(); i++ {
			items.add(stringErrors(path+"["+strconv.Itoa(i)+"]", v.Index(i))...)
		}
		errs = append(errs, items.list()...)
	case reflect.Map:
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = k.String()
		}
		items := itemErrors{path: path}
		for _, k := range sortedKeys(setOf(names)) {
			p := path + "[" + k + "]"
			if !utf8.ValidString(k) {
				items.add(fieldErr(p, "key must be valid UTF-8"))
			}
			items.add(stringErrors(p, v.MapIndex(reflect.ValueOf(k)))...)
		}
		errs = append(errs, items.list()...)
	}
	return errs
}

func setOf(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
