package apis

import (
	"bytes"
	"errors"
	"strconv"
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
	// Kind is the document's kind: Run, RunList or List, and with
	// DecodeDocuments also Schedule or ScheduleList.
	Kind string
	Runs []Run
	// Schedules are the document's Schedules (DecodeDocuments only).
	Schedules []Schedule
}

// DecodeRunDocuments decodes a stream as DecodeRuns does but keeps the
// Runs grouped by document. A stream holding no Run gives an empty slice.
func DecodeRunDocuments(data []byte) ([]RunDocument, error) {
	return decodeDocuments(data, false)
}

// DecodeDocuments decodes a manifest stream of Runs and Schedules, mixed
// as the user likes: single objects, RunLists, ScheduleLists, Lists of
// either kind. It is DecodeRunDocuments' strictness (every object names
// its apiVersion and kind; unknown fields are errors with their path).
func DecodeDocuments(data []byte) ([]RunDocument, error) {
	return decodeDocuments(data, true)
}

// DecodeSchedule decodes one Schedule (JSON or YAML), as the API's
// Schedule endpoints take it. Anything else — another kind, several
// documents — is a *DecodeError.
func DecodeSchedule(data []byte) (*Schedule, error) {
	docs, err := DecodeDocuments(data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 || docs[0].Kind != KindSchedule {
		if len(docs) == 1 {
			return nil, &DecodeError{Problems: ErrorList{{Field: "kind", Message: "unsupported value \"" + docs[0].Kind + "\": must be Schedule"}}}
		}
		return nil, &DecodeError{Problems: problems("expected one Schedule, got " + strconv.Itoa(len(docs)) + " documents")}
	}
	return &docs[0].Schedules[0], nil
}

func decodeDocuments(data []byte, schedules bool) ([]RunDocument, error) {
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
	d := &typedDecoder{schedules: schedules}
	for i, doc := range docs {
		kind, runs, scheds, err := d.document(doc)
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				if multi {
					de.Document = i + 1
				}
			}
			return nil, err
		}
		rd := RunDocument{Line: doc.line, Kind: kind, Runs: runs, Schedules: scheds}
		if multi {
			rd.Index = i + 1
		}
		out = append(out, rd)
	}
	return out, nil
}
