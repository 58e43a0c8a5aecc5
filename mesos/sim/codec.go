package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Media types of the scheduler API.
const (
	mediaProtobuf = "application/x-protobuf"
	mediaJSON     = "application/json"
)

// callError is a synchronous rejection of a call: an HTTP status and the
// plain-text message Mesos sends.
type callError struct {
	status int
	msg    string
}

func (e *callError) Error() string { return strconv.Itoa(e.status) + " " + e.msg }

// decodeCall parses a request body in the given media type. Errors carry
// Mesos' messages; proto2 required fields are enforced for both codecs.
func decodeCall(mediaType string, body []byte) (*scheduler.Call, error) {
	var c scheduler.Call
	switch mediaType {
	case mediaProtobuf:
		if err := c.Unmarshal(body); err != nil {
			return nil, &callError{400, "Failed to parse body into Call protobuf"}
		}
		if !hasProtoField(body, 2) {
			return nil, &callError{400, "Failed to validate scheduler::Call: Expecting 'type' to be present"}
		}
	case mediaJSON:
		var raw any
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, &callError{400, "Failed to parse body into JSON: " + err.Error()}
		}
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, &callError{400, "Failed to convert JSON into Call protobuf: Expecting a JSON object"}
		}
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, &callError{400, "Failed to convert JSON into Call protobuf: " + err.Error()}
		}
		if err := checkRequired(obj, reflect.TypeOf(c), ""); err != nil {
			return nil, &callError{400, "Failed to convert JSON into Call protobuf: " + err.Error()}
		}
		if t, ok := obj["type"]; !ok || t == nil {
			return nil, &callError{400, "Failed to validate scheduler::Call: Expecting 'type' to be present"}
		}
	default:
		return nil, &callError{415, "Expecting 'Content-Type' of application/json or application/x-protobuf"}
	}
	return &c, nil
}

// hasProtoField reports whether a top-level field number is present in a
// serialized message (the body already parsed, so it is well-formed).
func hasProtoField(b []byte, num uint64) bool {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		if tag>>3 == num {
			return true
		}
		switch tag & 7 {
		case 0:
			_, n = binary.Uvarint(b)
		case 1:
			n = 8
		case 2:
			l, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < l {
				return false
			}
			n = k + int(l)
		case 5:
			n = 4
		default:
			return false
		}
		if n <= 0 || n > len(b) {
			return false
		}
		b = b[n:]
	}
	return false
}

// checkRequired walks a decoded JSON object beside the generated Go type and
// reports the first proto2 required field that is missing (mesos-go's JSON
// decoder does not check them; Mesos does).
func checkRequired(obj map[string]any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("protobuf")
		if tag == "" {
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		v, present := obj[name]
		if present && v == nil {
			present = false
		}
		if !present {
			if strings.Contains(tag, ",req,") {
				return wireErrf("Missing required fields: %s%s", path, name)
			}
			continue
		}
		if err := checkRequiredValue(v, f.Type, path+name); err != nil {
			return err
		}
	}
	return nil
}

func checkRequiredValue(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		o, ok := v.(map[string]any)
		if !ok {
			return wireErrf("%s: expecting an object", path)
		}
		return checkRequired(o, t, path+".")
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		arr, ok := v.([]any)
		if !ok {
			return wireErrf("%s: expecting an array", path)
		}
		for i, x := range arr {
			if err := checkRequiredValue(x, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		o, ok := v.(map[string]any)
		if !ok {
			return wireErrf("%s: expecting an object", path)
		}
		for k, x := range o {
			if err := checkRequiredValue(x, t.Elem(), path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// encodeEvent serializes one event in the stream's media type.
func encodeEvent(mediaType string, e *scheduler.Event) ([]byte, error) {
	if mediaType == mediaJSON {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		return setFieldsOnly(b)
	}
	return e.Marshal()
}

// setFieldsOnly re-encodes JSON from encoding/json without the members
// whose value is null or an empty array, keeping the order of the rest.
// mesos-go's types marshal every unset repeated or message field as null
// ("attributes":null in each offer), while Mesos writes only the fields
// that are set: a client written against Mesos may loop over
// offer["attributes"] when present and must not meet a null.
func setFieldsOnly(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if err := writeSetFields(dec, tok, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeSetFields writes the value tok begins, pruned as setFieldsOnly says.
func writeSetFields(dec *json.Decoder, tok json.Token, out *bytes.Buffer) error {
	switch tok {
	case json.Delim('{'):
		out.WriteByte('{')
		n := 0
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return err
			}
			val, err := dec.Token()
			if err != nil {
				return err
			}
			if val == nil {
				continue
			}
			if val == json.Delim('[') && !dec.More() {
				if _, err := dec.Token(); err != nil { // ']'
					return err
				}
				continue
			}
			if n++; n > 1 {
				out.WriteByte(',')
			}
			k, _ := json.Marshal(key)
			out.Write(k)
			out.WriteByte(':')
			if err := writeSetFields(dec, val, out); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		_, err := dec.Token() // '}'
		return err
	case json.Delim('['):
		out.WriteByte('[')
		for n := 0; dec.More(); n++ {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			if n > 0 {
				out.WriteByte(',')
			}
			if err := writeSetFields(dec, t, out); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		_, err := dec.Token() // ']'
		return err
	case nil:
		out.WriteString("null")
		return nil
	}
	if n, ok := tok.(json.Number); ok {
		out.WriteString(n.String())
		return nil
	}
	v, err := json.Marshal(tok)
	out.Write(v)
	return err
}

// acceptable reports whether the Accept header values admit mediaType, with
// libprocess' rules: case-insensitive, comma-separated, exact type/subtype
// before type/* before */*, q=0 meaning "not acceptable"; no header accepts all.
func acceptable(values []string, mediaType string) bool {
	if len(values) == 0 {
		return true
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	best := -1
	bestQ := 0.0
	for _, v := range values {
		for _, entry := range strings.Split(v, ",") {
			parts := strings.Split(entry, ";")
			mr := strings.ToLower(strings.TrimSpace(parts[0]))
			if mr == "" {
				continue
			}
			q := 1.0
			for _, p := range parts[1:] {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			rank := -1
			switch mr {
			case strings.ToLower(mediaType):
				rank = 2
			case typ + "/*":
				rank = 1
			case "*/*":
				rank = 0
			}
			if rank > best {
				best, bestQ = rank, q
			}
		}
	}
	return best >= 0 && bestQ > 0
}

var errNoEncoding = wireErr("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")

// responseMediaType picks JSON if acceptable, else protobuf (Mesos' order).
func responseMediaType(accept []string) (string, error) {
	switch {
	case acceptable(accept, mediaJSON):
		return mediaJSON, nil
	case acceptable(accept, mediaProtobuf):
		return mediaProtobuf, nil
	}
	return "", errNoEncoding
}

// wireErr and wireErrf build errors whose text goes on the wire verbatim:
// Mesos' own messages (capitalized, with punctuation), which schedulers and
// the conformance tests match exactly.
func wireErr(msg string) error { return errors.New(msg) }

func wireErrf(format string, a ...any) error { return fmt.Errorf(format, a...) }
