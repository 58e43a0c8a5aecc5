package apis

import _ "embed"

// notifierSchema is generated from the Go types by
// TestNotifierSchema_UpToDate and committed, like run.schema.json.
//
//go:embed notifier.schema.json
var notifierSchema []byte

// NotifierSchema returns the JSON Schema of a Notifier, as served at
// /schemas/notifier.json. The caller must not modify the returned slice.
func NotifierSchema() []byte { return notifierSchema }
