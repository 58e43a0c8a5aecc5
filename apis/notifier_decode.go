package apis

import (
	"errors"
	"fmt"
)

// Manifest is what a manifest stream holds, by kind: its Runs grouped by
// document (as DecodeRunDocuments gives them) and its Notifiers, in order.
type Manifest struct {
	Runs      []RunDocument
	Notifiers []NotifierDocument
}

// NotifierDocument is the Notifiers of one document of a manifest stream.
type NotifierDocument struct {
	// Index is the 1-based document number; 0 when the stream held a
	// single document.
	Index int
	// Line is the 1-based line the document starts at.
	Line      int
	Notifiers []Notifier
}

// DecodeNotifiers decodes JSON or YAML holding only Notifiers (a single
// Notifier, a NotifierList, a multi-document stream) as strictly as
// DecodeRuns decodes Runs. Errors are *DecodeError (ErrBadRequest).
func DecodeNotifiers(data []byte) ([]Notifier, error) {
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, err
	}
	if len(m.Runs) > 0 {
		return nil, &DecodeError{Document: m.Runs[0].Index, Problems: ErrorList{{Field: "kind", Message: fmt.Sprintf("unsupported value %q: must be %s or %s", m.Runs[0].Kind, KindNotifier, KindNotifierList)}}}
	}
	out := []Notifier{}
	for _, d := range m.Notifiers {
		out = append(out, d.Notifiers...)
	}
	return out, nil
}

// DecodeManifest decodes a stream that may mix Runs, Schedules and
// Notifiers: each document is a Run, RunList, Schedule, ScheduleList or
// List of Runs or Schedules (decoded as DecodeDocuments does; they are in
// Manifest.Runs), or a Notifier or NotifierList.
func DecodeManifest(data []byte) (*Manifest, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	bom := 0
	if len(data) >= len(utf8BOM) && string(data[:len(utf8BOM)]) == string(utf8BOM) {
		bom = len(utf8BOM)
	}
	docs, err := splitDocuments(data[bom:], bom)
	if err != nil {
		return nil, err
	}
	multi := len(docs) > 1
	m := &Manifest{}
	d := &typedDecoder{schedules: true}
	for i, doc := range docs {
		index := 0
		if multi {
			index = i + 1
		}
		if err := decodeManifestDocument(d, doc, index, m); err != nil {
			var de *DecodeError
			if errors.As(err, &de) && multi {
				de.Document = i + 1
			}
			return nil, err
		}
	}
	return m, nil
}

func decodeManifestDocument(d *typedDecoder, doc document, index int, m *Manifest) error {
	obj, ok := doc.value.(object)
	if ok {
		kind, _ := obj.get("kind")
		switch kind {
		case KindNotifier, KindNotifierList:
			return decodeNotifierDocument(d, obj, doc, index, kind.(string), m)
		}
	}
	kind, runs, scheds, err := d.document(doc)
	if err != nil {
		return err
	}
	m.Runs = append(m.Runs, RunDocument{Index: index, Line: doc.line, Kind: kind, Runs: runs, Schedules: scheds})
	return nil
}

func decodeNotifierDocument(d *typedDecoder, obj object, doc document, index int, kind string, m *Manifest) error {
	var errs ErrorList
	if v, _ := obj.get("apiVersion"); v != APIVersion {
		if v == nil || v == "" {
			errs = append(errs, &FieldError{Field: "apiVersion", Message: fmt.Sprintf("Object 'apiVersion' is missing in '%s'", doc.excerpt())})
		} else {
			errs = append(errs, &FieldError{Field: "apiVersion", Message: fmt.Sprintf("unsupported value %q: must be %s", clipName(fmt.Sprint(v)), APIVersion)})
		}
	}
	if kind == KindNotifierList {
		v, _ := obj.get("items")
		items, _ := v.([]any)
		for i, item := range items {
			it, ok := item.(object)
			if !ok {
				continue
			}
			if k, ok := it.get("kind"); ok && k != KindNotifier {
				errs = append(errs, &FieldError{Field: fmt.Sprintf("items[%d].kind", i), Message: fmt.Sprintf("unsupported value %q: must be %s", clipName(fmt.Sprint(k)), KindNotifier)})
			}
			if v, ok := it.get("apiVersion"); ok && v != APIVersion {
				errs = append(errs, &FieldError{Field: fmt.Sprintf("items[%d].apiVersion", i), Message: fmt.Sprintf("unsupported value %q: must be %s", clipName(fmt.Sprint(v)), APIVersion)})
			}
		}
	}
	if len(errs) > 0 {
		return &DecodeError{Problems: errs}
	}
	nd := NotifierDocument{Index: index, Line: doc.line}
	if kind == KindNotifier {
		var n Notifier
		if err := d.decodeInto(&n, obj); err != nil {
			return err
		}
		nd.Notifiers = []Notifier{n}
	} else {
		var l NotifierList
		if err := d.decodeInto(&l, obj); err != nil {
			return err
		}
		nd.Notifiers = l.Items
	}
	m.Notifiers = append(m.Notifiers, nd)
	return nil
}
