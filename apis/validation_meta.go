package apis

import (
	"fmt"
	"sort"
	"strings"
)

// Limits on object metadata, as Kubernetes defines them.
const (
	// MaxNameLength is the longest Run name: a DNS-1123 label.
	MaxNameLength = 63
	// GenerateNameSuffixLength is how many random characters the server
	// appends to metadata.generateName.
	GenerateNameSuffixLength = 5
	// MaxGenerateNameLength keeps generateName plus its suffix a valid name.
	MaxGenerateNameLength = MaxNameLength - GenerateNameSuffixLength
	// MaxLabelValueLength is the longest label value and label-key name part.
	MaxLabelValueLength = 63
	// MaxDNS1123SubdomainLength is the longest label-key prefix.
	MaxDNS1123SubdomainLength = 253
	// MaxAnnotationsBytes is the total size of all annotation keys and values.
	MaxAnnotationsBytes = 256 * 1024
	// MaxTemplateAnnotationsBytes bounds a Schedule's
	// spec.runTemplate.metadata.annotations: MaxAnnotationsBytes less room
	// for the AnnotationCancelReason a Replace firing adds to the Runs it
	// cancels, so that a fired Run stays within the limit its owner's
	// writes are validated against (ValidateScheduleWrite).
	MaxTemplateAnnotationsBytes = MaxAnnotationsBytes - len(AnnotationCancelReason) - len(ReasonReplaced)
)

// The name rules, as Kubernetes words them in regular expressions
// (validation_names_test.go checks each against its expression):
//
//	DNS-1123 label      [a-z0-9]([-a-z0-9]*[a-z0-9])?
//	DNS-1123 subdomain  labels joined by '.'
//	qualified name      ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
//	label value         empty or a qualified name
//	environment name    [A-Za-z_][A-Za-z0-9_]*
//
// Every write is validated on each node (the API's decision, the leader's
// proposal check, each FSM), and the regular expressions were most of the
// validation's cost; these loops take a fraction of it.

func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || c >= 'A' && c <= 'Z' }

// isDNS1123Label reports whether s is a DNS-1123 label (length aside).
func isDNS1123Label(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isDNS1123Subdomain reports whether s is a DNS-1123 subdomain (length
// aside).
func isDNS1123Subdomain(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if !isDNS1123Label(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isQualifiedName reports whether s is the name part of a label key
// (length aside).
func isQualifiedName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isLabelValue reports whether s is a label value (length aside).
func isLabelValue(s string) bool { return s == "" || isQualifiedName(s) }

// isEnvName reports whether s is an environment variable's name:
// [A-Za-z_][A-Za-z0-9_]*.
func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// User-facing explanations of the name rules, shared by every message.
const (
	dns1123LabelMsg     = `must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. "nightly-etl")`
	dns1123SubdomainMsg = `must be a DNS-1123 subdomain: lower case letters, digits, '-' or '.', starting and ending with a letter or digit (e.g. "example.com")`
	qualifiedNameMsg    = `must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyName", "my.name" or "123-abc")`
	labelValueMsg       = `must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyValue" or "1.0")`
)

func fieldErr(path, format string, args ...any) *FieldError {
	return &FieldError{Field: path, Message: fmt.Sprintf(format, args...)}
}

// maxItemErrors bounds the problems the items of one list or map report:
// a manifest with 300,000 bad items needs fixing at the first few, and
// reporting every one would cost far more memory than the manifest.
const maxItemErrors = 20

// itemErrors collects the problems of a list's or map's items at path,
// keeping the first maxItemErrors and counting the rest.
type itemErrors struct {
	path string
	errs ErrorList
	more int
}

func (e *itemErrors) add(errs ...*FieldError) {
	for _, err := range errs {
		if len(e.errs) < maxItemErrors {
			e.errs = append(e.errs, err)
		} else {
			e.more++
		}
	}
}

// list returns the kept problems, with a count of the rest.
func (e *itemErrors) list() ErrorList {
	if e.more > 0 {
		return append(e.errs, fieldErr(e.path, "and %d more problems in its items", e.more))
	}
	return e.errs
}

func tooLong(max int) string { return fmt.Sprintf("must be no more than %d characters", max) }

// validateDNS1123Label checks a name such as metadata.name or a port name.
func validateDNS1123Label(path, v string) ErrorList {
	var errs ErrorList
	if len(v) > MaxNameLength {
		errs = append(errs, fieldErr(path, "%s", tooLong(MaxNameLength)))
	}
	if !isDNS1123Label(v) {
		errs = append(errs, fieldErr(path, "invalid value %q: %s", v, dns1123LabelMsg))
	}
	return errs
}

func validateObjectMeta(m *ObjectMeta) ErrorList {
	var errs ErrorList
	switch {
	case m.Name != "":
		errs = append(errs, validateDNS1123Label("metadata.name", m.Name)...)
	case m.GenerateName != "":
		// The server appends a random suffix, so a trailing '-' is fine:
		// check the prefix as if the suffix were already there.
		if len(m.GenerateName) > MaxGenerateNameLength {
			errs = append(errs, fieldErr("metadata.generateName", "%s (the server appends %d random characters)", tooLong(MaxGenerateNameLength), GenerateNameSuffixLength))
		}
		if !isDNS1123Label(m.GenerateName + "x") {
			errs = append(errs, fieldErr("metadata.generateName", "invalid value %q: %s", m.GenerateName, dns1123LabelMsg))
		}
	default:
		errs = append(errs, fieldErr("metadata.name", "required (or set metadata.generateName)"))
	}
	errs = append(errs, validateLabels("metadata.labels", m.Labels)...)
	errs = append(errs, validateAnnotations("metadata.annotations", m.Annotations)...)
	return errs
}

// validateQualifiedName checks a label or annotation key: an optional
// DNS-1123 subdomain prefix and '/', then a name of at most 63 characters.
func validateQualifiedName(path, key string) ErrorList {
	var errs ErrorList
	name := key
	prefix, rest, hasPrefix := strings.Cut(key, "/")
	switch {
	case !hasPrefix:
	case !strings.Contains(rest, "/"):
		name = rest
		switch {
		case prefix == "":
			errs = append(errs, fieldErr(path, "prefix part must be non-empty"))
		case len(prefix) > MaxDNS1123SubdomainLength:
			errs = append(errs, fieldErr(path, "prefix part %s", tooLong(MaxDNS1123SubdomainLength)))
		case !isDNS1123Subdomain(prefix):
			errs = append(errs, fieldErr(path, "prefix part %s", dns1123SubdomainMsg))
		}
	default:
		return append(errs, fieldErr(path, "a key %s, with an optional DNS subdomain prefix and '/' (e.g. \"example.com/MyName\")", qualifiedNameMsg))
	}
	switch {
	case name == "":
		errs = append(errs, fieldErr(path, "name part must be non-empty"))
	case len(name) > MaxLabelValueLength:
		errs = append(errs, fieldErr(path, "name part %s", tooLong(MaxLabelValueLength)))
	case !isQualifiedName(name):
		errs = append(errs, fieldErr(path, "name part %s", qualifiedNameMsg))
	}
	return errs
}

// validateLabelValue checks a label value as Kubernetes does.
func validateLabelValue(path, v string) ErrorList {
	var errs ErrorList
	if len(v) > MaxLabelValueLength {
		errs = append(errs, fieldErr(path, "%s", tooLong(MaxLabelValueLength)))
	}
	if !isLabelValue(v) {
		errs = append(errs, fieldErr(path, "invalid value %q: %s", v, labelValueMsg))
	}
	return errs
}

func validateLabels(path string, labels map[string]string) ErrorList {
	if labelsValid(labels) {
		return nil // the common case: no item paths, no sorted keys
	}
	return labelErrors(path, labels)
}

// labelErrors is every problem of labels, in key order.
func labelErrors(path string, labels map[string]string) ErrorList {
	errs := itemErrors{path: path}
	for _, k := range sortedKeys(labels) {
		p := path + "[" + k + "]"
		errs.add(validateQualifiedName(p, k)...)
		errs.add(validateLabelValue(p, labels[k])...)
	}
	return errs.list()
}

func validateAnnotations(path string, ann map[string]string) ErrorList {
	if annotationsValid(ann) {
		return nil // the common case: no item paths, no sorted keys
	}
	return annotationErrors(path, ann)
}

// annotationErrors is every problem of ann, in key order.
func annotationErrors(path string, ann map[string]string) ErrorList {
	items := itemErrors{path: path}
	total := 0
	for _, k := range sortedKeys(ann) {
		total += len(k) + len(ann[k])
		items.add(validateQualifiedName(path+"["+k+"]", k)...)
	}
	errs := items.list()
	if total > MaxAnnotationsBytes {
		errs = append(errs, fieldErr(path, "may not be larger than %d bytes in total (keys and values), got %d", MaxAnnotationsBytes, total))
	}
	return errs
}

// labelsValid reports whether validateLabels finds nothing wrong with
// labels, without building what only its messages need. Every write is
// validated on each node, and valid labels are the rule.
func labelsValid(labels map[string]string) bool {
	for k, v := range labels {
		if validateQualifiedName("", k) != nil || validateLabelValue("", v) != nil {
			return false
		}
	}
	return true
}

// annotationsValid reports whether validateAnnotations finds nothing wrong
// with ann, as labelsValid does for labels.
func annotationsValid(ann map[string]string) bool {
	total := 0
	for k, v := range ann {
		total += len(k) + len(v)
		if validateQualifiedName("", k) != nil {
			return false
		}
	}
	return total <= MaxAnnotationsBytes
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
