package apis

import (
	"bytes"
	"errors"
)

// RunDocument is the Runs of one document of a manifest stream, with the
// document's place in it, so that a tool applying them can say which
// document a server-side error is about.
type RunDocument struct {
	// Index is the 1-based document number; 0 when the stream held a
	// single document.
	Index int
	// Line is the 1-based line the document starts at.
	Line int
	// Kind is the document's kind: Run, RunList or List.
	Kind string
	Runs []Run
}

// DecodeRunDocuments decodes a stream as DecodeRuns does but keeps the
// Runs grouped by document. A stream holding no Run gives an empty slice.
func DecodeRunDocuments(data []byte) ([]RunDocument, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	// Offsets in errors count from the start of data, byte order mark
	// included; lines are not changed by it.
	bom := 0
	if bytes.HasPrefix(data, utf8BOM) {
		bom = len(utf8BOM)
	}
	docs, err := splitDocuments(data[bom:], bom)
	if err != nil {
		return nil, err
	}
	multi := len(docs) > 1
	out := make([]RunDocument, 0, len(docs))
	d := &typedDecoder{}
	for i, doc := range docs {
		kind, runs, err := d.document(doc)
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				if multi {
					de.Document = i + 1
				}
			}
			return nil, err
		}
		rd := RunDocument{Line: doc.line, Kind: kind, Runs: runs}
		if multi {
			rd.Index = i + 1
		}
		out = append(out, rd)
	}
	return out, nil
}
