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
	var errs ErrorList
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			errs = append(errs, fieldErr(path, "must be valid UTF-8"))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			errs = append(errs, validateStrings(path, v.Elem())...)
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
			errs = append(errs, validateStrings(p, v.Field(i))...)
		}
	case reflect.Slice:
		items := itemErrors{path: path}
		for i := 0; i < v.Len(); i++ {
			items.add(validateStrings(path+"["+strconv.Itoa(i)+"]", v.Index(i))...)
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
			items.add(validateStrings(p, v.MapIndex(reflect.ValueOf(k)))...)
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
