package apis

import (
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf16"
)

// inputError is a problem at a place in the input: a field given twice,
// nesting too deep, a bad escape.
type inputError struct {
	field  string // path of the value, "" at the top level
	msg    string
	offset int64 // input offset just after the problem was seen
}

func (e *inputError) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

// jsonReader reads JSON values from dec (which must UseNumber) into
// objects, slices, strings, json.Numbers, bools and nils, as dec.Decode(&v)
// with v an `any` would (but for objects), with three differences:
//   - an object that names a field twice is refused: encoding/json silently
//     keeps the last, so a manifest giving `cpus` twice would run with
//     whichever came last; a strict decoder names the field instead, as
//     Kubernetes' strict field validation does;
//   - nesting deeper than MaxDepth is refused, naming the path;
//   - it keeps the path of the value it reads as a stack, rendered only for
//     an error, so that reading costs O(size) whatever the shape.
type jsonReader struct {
	dec   *json.Decoder
	path  fieldPath
	depth int
}

// next reads the next value. It returns io.EOF only when the input ends
// before a value starts.
func (r *jsonReader) next() (any, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, err
	}
	return r.rest(tok)
}

// token is dec.Token inside a value, where the input ending is an error.
func (r *jsonReader) token() (json.Token, error) {
	tok, err := r.dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return tok, err
}

// enter counts one more level of nesting, refusing one too many.
func (r *jsonReader) enter() error {
	r.depth++
	if r.depth > MaxDepth {
		return &inputError{field: r.path.String(), msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth), offset: r.dec.InputOffset()}
	}
	return nil
}

// rest reads the value that tok begins.
func (r *jsonReader) rest(tok json.Token) (any, error) {
	switch tok {
	case json.Delim('{'):
		if err := r.enter(); err != nil {
			return nil, err
		}
		obj := object{}
		var seen map[string]struct{} // for objects too large to search
		for r.dec.More() {
			tok, err := r.token()
			if err != nil {
				return nil, err
			}
			name, _ := tok.(string) // the decoder yields only string keys
			r.path.field(name)
			if dup := r.seen(obj, &seen, name); dup {
				return nil, &inputError{field: r.path.String(), msg: "duplicate field", offset: r.dec.InputOffset()}
			}
			if tok, err = r.token(); err != nil {
				return nil, err
			}
			v, err := r.rest(tok)
			if err != nil {
				return nil, err
			}
			obj = append(obj, member{key: name, value: v})
			r.path.pop()
		}
		if _, err := r.token(); err != nil { // '}'
			return nil, err
		}
		r.depth--
		return obj, nil
	case json.Delim('['):
		if err := r.enter(); err != nil {
			return nil, err
		}
		arr := []any{}
		for i := 0; r.dec.More(); i++ {
			tok, err := r.token()
			if err != nil {
				return nil, err
			}
			r.path.index(i)
			v, err := r.rest(tok)
			if err != nil {
				return nil, err
			}
			r.path.pop()
			arr = append(arr, v)
		}
		if _, err := r.token(); err != nil { // ']'
			return nil, err
		}
		r.depth--
		return arr, nil
	}
	return tok, nil
}

// seenSearchLimit is the size up to which an object is searched for a
// repeated name; a larger one keeps a set of its names while it is read.
const seenSearchLimit = 16

// seen reports whether obj already has a member name, keeping *set for
// large objects.
func (r *jsonReader) seen(obj object, set *map[string]struct{}, name string) bool {
	if len(obj) < seenSearchLimit {
		_, ok := obj.get(name)
		return ok
	}
	if *set == nil {
		*set = make(map[string]struct{}, 2*len(obj))
		for _, m := range obj {
			(*set)[m.key] = struct{}{}
		}
	}
	if _, ok := (*set)[name]; ok {
		return true
	}
	(*set)[name] = struct{}{}
	return false
}

// loneSurrogate returns the offset of the first \u escape in a JSON string
// that names half of a UTF-16 surrogate pair without the other half, or
// -1. encoding/json turns such an escape into U+FFFD without a word, so
// the Run stored would not be the one sent. The scan is exact for valid
// JSON; on invalid JSON the syntax error is found either way.
func loneSurrogate(data []byte) int {
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if r, ok := unicodeEscape(data, i); ok && utf16.IsSurrogate(r) {
				if r < 0xdc00 { // a high half: a low half must follow
					if lo, ok := unicodeEscape(data, i+6); ok && lo >= 0xdc00 && lo <= 0xdfff {
						i += 11
						continue
					}
				}
				return i
			}
			i++ // the escaped character
		}
	}
	return -1
}

// unicodeEscape decodes a \uXXXX escape at data[i:].
func unicodeEscape(data []byte, i int) (rune, bool) {
	if i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range data[i+2 : i+6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
