package apis

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// duplicateFieldError is an object that names a field twice.
type duplicateFieldError struct {
	path   string
	offset int64 // input offset just after the repeated name
}

func (e *duplicateFieldError) Error() string {
	return fmt.Sprintf("%s: duplicate field", e.path)
}

// readJSONValue reads the next JSON value from dec (which must UseNumber)
// into maps, slices, strings, json.Numbers, bools and nils, as
// dec.Decode(&v) with v an `any` would, but refuses an object that names a
// field twice. encoding/json silently keeps the last of them, so a
// manifest giving `cpus` twice would run with whichever came last; a
// strict decoder names the field instead, as Kubernetes' strict field
// validation does. path is where the value sits, for the error.
// It returns io.EOF only when the input ends before a value starts.
func readJSONValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return readJSONRest(dec, tok, path)
}

// nextToken is dec.Token inside a value, where the input ending is an
// error.
func nextToken(dec *json.Decoder) (json.Token, error) {
	tok, err := dec.Token()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return tok, err
}

// readJSONRest reads the value that tok begins.
func readJSONRest(dec *json.Decoder, tok json.Token, path string) (any, error) {
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			tok, err := nextToken(dec)
			if err != nil {
				return nil, err
			}
			name, _ := tok.(string) // the decoder yields only string keys
			field := joinPath(path, name)
			if _, dup := obj[name]; dup {
				return nil, &duplicateFieldError{path: field, offset: dec.InputOffset()}
			}
			if tok, err = nextToken(dec); err != nil {
				return nil, err
			}
			if obj[name], err = readJSONRest(dec, tok, field); err != nil {
				return nil, err
			}
		}
		if _, err := nextToken(dec); err != nil { // '}'
			return nil, err
		}
		return obj, nil
	case json.Delim('['):
		arr := []any{}
		for i := 0; dec.More(); i++ {
			tok, err := nextToken(dec)
			if err != nil {
				return nil, err
			}
			v, err := readJSONRest(dec, tok, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := nextToken(dec); err != nil { // ']'
			return nil, err
		}
		return arr, nil
	}
	return tok, nil
}
