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
	Runs []Run
}

// DecodeRunDocuments decodes a stream as DecodeRuns does but keeps the
// Runs grouped by document. A stream holding no Run gives an empty slice.
func DecodeRunDocuments(data []byte) ([]RunDocument, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	multi := len(docs) > 1
	out := make([]RunDocument, 0, len(docs))
	for i, d := range docs {
		runs, err := decodeDocument(d.value)
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) && multi {
				de.Document = i + 1
			}
			return nil, err
		}
		rd := RunDocument{Line: d.line, Runs: runs}
		if multi {
			rd.Index = i + 1
		}
		out = append(out, rd)
	}
	return out, nil
}
