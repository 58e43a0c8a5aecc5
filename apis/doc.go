// Package apis is sprint's domain package: the Run object (API version
// sprint/v1) with its spec, status, list and watch-event types, the API error
// Status, and everything that is pure logic over them:
//
//   - defaults.go: SetDefaults, the stored form of a Run.
//   - deepcopy.go: DeepCopy and Equal, the one way every package copies
//     and compares Runs (equality of the stored JSON form).
//   - store.go: the values and sentinels the replicated store shares with
//     its consumers (RunRef, StatusUpdate, EventRecord, ErrNotLeader, …).
//   - validation*.go: ValidateRun and ValidateRunUpdate, returning every
//     problem with its field path ("spec.cpus: must be greater than 0").
//   - statuserror.go: StatusFromError, the one mapping from errors to HTTP
//     Status objects (404, 409, 410, 422 and 403 with causes, 400, 500).
//   - policy*.go: Policy, the admission policy for Run specs (host paths,
//     privileged Docker parameters, URI schemes), pure so that every path
//     that creates Runs applies the same check.
//   - decode*.go, encode.go: strict JSON/YAML decoding of single Runs,
//     RunLists and multi-document streams (DecodeRuns), and encoding.
//     decode_json.go reads JSON token by token (duplicate fields, depth),
//     decode_yaml.go walks go-yaml's nodes (depth, alias expansion),
//     decode_check.go decodes the result into the Go types with every
//     problem's path, decode_path.go keeps that path as a stack. Decoding
//     costs time and memory linear in the input whatever its shape: nesting
//     is capped at MaxDepth, paths are rendered only for errors, and YAML
//     aliases may not expand a document beyond its size plus 64 KiB.
//   - selector.go, fieldselector.go: Kubernetes label selectors and field
//     selectors (metadata.name, status.phase).
//   - sprint.go: the Sprint-compatible ContainerRunDefinition, its mapping to
//     and from a Run, Sprint's state names and TaskName.
//   - schema.go: the JSON Schemas of a Run and a Schedule (run.schema.json,
//     schedule.schema.json), generated from these types by a test and
//     embedded.
//   - schedule_types.go, schedule.go: the Schedule kind — its defaults
//     (SetScheduleDefaults), validation (ValidateSchedule, with cron
//     expressions and time zones parsed by internal/cron, the parser the
//     controller fires with), DeepCopy/Equal, the admission of its
//     template (Policy.AdmitSchedule), the names, label and owner
//     reference of the Runs it fires (FiredRunName, RunFromTemplate).
//     decode_documents.go decodes manifests mixing Runs and Schedules
//     (DecodeDocuments, DecodeSchedule).
//   - schema.go: the JSON Schema of a Run (run.schema.json), generated from
//     these types by a test and embedded.
//   - notifier*.go, notification.go: the Notifier kind (defaults,
//     validation, DeepCopy/Equal, decoding of manifests that mix Runs and
//     Notifiers, notifier.schema.json) and the outbox record
//     (Notification) the store derives from a Run's status change.
//
// It depends on the standard library and small encoding helpers
// (go.yaml.in/yaml/v2, sigs.k8s.io/yaml; invopop/jsonschema in tests
// only) and internal/cron (robfig/cron/v3 with embedded time zones);
// every other sprint package imports it and it imports none of them. docs/api.md lists the
// validation rules and the decisions behind them.
package apis
