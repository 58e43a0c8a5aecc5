package apis

import _ "embed"

//go:generate go test -run ^TestRunSchema_UpToDate$|^TestScheduleSchema_UpToDate$ -update .

// runSchema is generated from the Go types by TestRunSchema_UpToDate
// (invopop/jsonschema) and committed, so the server serves it without
// reflecting at start-up and reviewers see schema changes in diffs.
//
//go:embed run.schema.json
var runSchema []byte

// RunSchema returns the JSON Schema of a Run, as served at
// /schemas/run.json. The caller must not modify the returned slice.
func RunSchema() []byte { return runSchema }

//go:embed schedule.schema.json
var scheduleSchema []byte

// ScheduleSchema returns the JSON Schema of a Schedule, as served at
// /schemas/schedule.json. The caller must not modify the returned slice.
func ScheduleSchema() []byte { return scheduleSchema }
