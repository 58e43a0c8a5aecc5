package apis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func validSchedule() *apis.Schedule {
	s := &apis.Schedule{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule},
		Metadata: apis.ObjectMeta{Name: "nightly-etl"},
		Spec: apis.ScheduleSpec{
			Schedule:    "30 2 * * *",
			TimeZone:    "Europe/Berlin",
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "etl", Cpus: 1, Mem: 512}},
		},
	}
	apis.SetScheduleDefaults(s)
	return s
}

func TestSetScheduleDefaults(t *testing.T) {
	s := &apis.Schedule{Metadata: apis.ObjectMeta{Name: "a"}, Spec: apis.ScheduleSpec{Interval: "60s", RunTemplate: apis.RunTemplate{
		Metadata: apis.TemplateMeta{Labels: map[string]string{}},
		Spec: apis.RunSpec{Command: "x", Cpus: 1, Mem: 1, URIs: []apis.URI{{Value: "http://x"}},
			Container: &apis.Container{Type: "docker", Docker: &apis.DockerInfo{Image: "a"}}},
	}}}
	apis.SetScheduleDefaults(s)
	assert.Equal(t, apis.KindSchedule, s.Kind)
	assert.Equal(t, int32(1), s.Spec.Parallelism)
	assert.Equal(t, apis.ConcurrencyAllow, s.Spec.ConcurrencyPolicy)
	assert.Equal(t, int32(3), *s.Spec.SuccessfulRunsHistoryLimit)
	assert.Equal(t, int32(1), *s.Spec.FailedRunsHistoryLimit)
	assert.Nil(t, s.Spec.RunTemplate.Metadata.Labels)
	assert.Equal(t, "DOCKER", s.Spec.RunTemplate.Spec.Container.Type, "template defaults are a Run's")
	assert.Equal(t, apis.NetworkHost, s.Spec.RunTemplate.Spec.Container.Network)
	require.NotNil(t, s.Spec.RunTemplate.Spec.URIs[0].Extract)
	c := s.DeepCopy()
	apis.SetScheduleDefaults(c)
	assert.True(t, c.Equal(s), "idempotent")
	assert.Empty(t, apis.ValidateSchedule(s))
}

func TestValidateSchedule_FieldPaths(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	tests := map[string]struct {
		edit func(*apis.Schedule)
		want []string // "field: message fragment"
	}{
		"valid":    {edit: func(*apis.Schedule) {}},
		"interval": {edit: func(s *apis.Schedule) { s.Spec.Schedule, s.Spec.TimeZone, s.Spec.Interval = "", "", "90s" }},
		"dependsOn": {edit: func(s *apis.Schedule) {
			s.Spec.Schedule, s.Spec.TimeZone, s.Spec.DependsOn = "", "", []apis.ScheduleDependency{{Schedule: "extract"}}
		}},
		"@every":             {edit: func(s *apis.Schedule) { s.Spec.Schedule = "@every 90s" }},
		"none of the three":  {edit: func(s *apis.Schedule) { s.Spec.Schedule, s.Spec.TimeZone = "", "" }, want: []string{"spec.schedule: exactly one of spec.schedule, spec.interval and spec.dependsOn is required: none is set"}},
		"schedule+interval":  {edit: func(s *apis.Schedule) { s.Spec.Interval = "60s" }, want: []string{"spec.schedule: exactly one of", "more than one is set"}},
		"bad cron":           {edit: func(s *apis.Schedule) { s.Spec.Schedule = "61 * * * *" }, want: []string{"spec.schedule: invalid cron expression"}},
		"six fields":         {edit: func(s *apis.Schedule) { s.Spec.Schedule = "0 30 2 * * *" }, want: []string{"spec.schedule: invalid cron expression"}},
		"never fires":        {edit: func(s *apis.Schedule) { s.Spec.Schedule = "0 0 30 2 *" }, want: []string{"spec.schedule: invalid cron expression: it never fires"}},
		"TZ prefix":          {edit: func(s *apis.Schedule) { s.Spec.Schedule = "TZ=UTC 0 * * * *" }, want: []string{"spec.schedule: a time zone prefix is not allowed"}},
		"every under 1s":     {edit: func(s *apis.Schedule) { s.Spec.Schedule = "@every 500ms" }, want: []string{"spec.schedule: @every period must be at least 1s"}},
		"bad time zone":      {edit: func(s *apis.Schedule) { s.Spec.TimeZone = "Mars/Olympus" }, want: []string{`spec.timeZone: unknown time zone "Mars/Olympus"`}},
		"Local":              {edit: func(s *apis.Schedule) { s.Spec.TimeZone = "Local" }, want: []string{`spec.timeZone: "Local" is not allowed`}},
		"timeZone w/o cron":  {edit: func(s *apis.Schedule) { s.Spec.Schedule, s.Spec.Interval = "", "1m" }, want: []string{"spec.timeZone: may only be set with spec.schedule"}},
		"interval not a dur": {edit: func(s *apis.Schedule) { s.Spec.Schedule, s.Spec.TimeZone, s.Spec.Interval = "", "", "60" }, want: []string{`spec.interval: invalid duration "60"`}},
		"interval too short": {edit: func(s *apis.Schedule) { s.Spec.Schedule, s.Spec.TimeZone, s.Spec.Interval = "", "", "500ms" }, want: []string{"spec.interval: must be at least 1s"}},
		"parallelism":        {edit: func(s *apis.Schedule) { s.Spec.Parallelism = 1001 }, want: []string{"spec.parallelism: must be between 1 and 1000"}},
		"negative parallel":  {edit: func(s *apis.Schedule) { s.Spec.Parallelism = -1 }, want: []string{"spec.parallelism: must be between 1 and 1000"}},
		"policy":             {edit: func(s *apis.Schedule) { s.Spec.ConcurrencyPolicy = "forbid" }, want: []string{`spec.concurrencyPolicy: unsupported value "forbid": must be one of Allow, Forbid, Replace`}},
		"deadline":           {edit: func(s *apis.Schedule) { s.Spec.StartingDeadlineSeconds = i64(-1) }, want: []string{"spec.startingDeadlineSeconds: must be greater than or equal to 0"}},
		"history":            {edit: func(s *apis.Schedule) { s.Spec.FailedRunsHistoryLimit = i32(-1) }, want: []string{"spec.failedRunsHistoryLimit: must be between 0 and 1000"}},
		"template spec":      {edit: func(s *apis.Schedule) { s.Spec.RunTemplate.Spec.Cpus = 0 }, want: []string{"spec.runTemplate.spec.cpus: must be greater than 0"}},
		"template command":   {edit: func(s *apis.Schedule) { s.Spec.RunTemplate.Spec.Command = "" }, want: []string{"spec.runTemplate.spec.command: one of command or args is required"}},
		"template cancel":    {edit: func(s *apis.Schedule) { s.Spec.RunTemplate.Spec.Cancel = true }, want: []string{"spec.runTemplate.spec.cancel: must be false"}},
		"template label":     {edit: func(s *apis.Schedule) { s.Spec.RunTemplate.Metadata.Labels = map[string]string{"bad key!": "v"} }, want: []string{"spec.runTemplate.metadata.labels[bad key!]: name part must consist of"}},
		"reserved label": {edit: func(s *apis.Schedule) {
			s.Spec.RunTemplate.Metadata.Labels = map[string]string{apis.LabelSchedule: "x"}
		}, want: []string{"spec.runTemplate.metadata.labels[sprint/schedule]: reserved"}},
		// The store applies ValidateSchedule to entries already in its
		// log: what it took before ValidateScheduleWrite it still takes.
		"template annotations at the Runs' limit": {edit: func(s *apis.Schedule) {
			s.Spec.RunTemplate.Metadata.Annotations = map[string]string{"a": strings.Repeat("v", apis.MaxAnnotationsBytes-1)}
		}},
		"template sets the cancel reason": {edit: func(s *apis.Schedule) {
			s.Spec.RunTemplate.Metadata.Annotations = map[string]string{apis.AnnotationCancelReason: apis.ReasonReplaced}
		}},
		"template annotations over the limit": {edit: func(s *apis.Schedule) {
			s.Spec.RunTemplate.Metadata.Annotations = map[string]string{"a": strings.Repeat("v", apis.MaxAnnotationsBytes)}
		}, want: []string{"spec.runTemplate.metadata.annotations: may not be larger than 262144 bytes in total (keys and values), got 262145"}},
		"metadata label": {edit: func(s *apis.Schedule) { s.Metadata.Labels = map[string]string{"k": "bad value!"} }, want: []string{"metadata.labels[k]: invalid value"}},
		"dependsOn self-dup": {edit: func(s *apis.Schedule) {
			s.Spec.Schedule, s.Spec.TimeZone, s.Spec.DependsOn = "", "", []apis.ScheduleDependency{{Schedule: "a"}, {Schedule: "a"}}
		}, want: []string{`spec.dependsOn[1].schedule: duplicate value "a"`}},
		"dependsOn bad name": {edit: func(s *apis.Schedule) {
			s.Spec.Schedule, s.Spec.TimeZone, s.Spec.DependsOn = "", "", []apis.ScheduleDependency{{Schedule: "Bad_Name"}}
		}, want: []string{`spec.dependsOn[0].schedule: invalid value "Bad_Name"`}},
		"name too long":       {edit: func(s *apis.Schedule) { s.Metadata.Name = strings.Repeat("a", apis.MaxScheduleNameLength+1) }, want: []string{"metadata.name: must be no more than 46 characters"}},
		"name at the maximum": {edit: func(s *apis.Schedule) { s.Metadata.Name = strings.Repeat("a", apis.MaxScheduleNameLength) }},
		"owner references":    {edit: func(s *apis.Schedule) { s.Metadata.OwnerReferences = []apis.OwnerReference{{Name: "x"}} }, want: []string{"metadata.ownerReferences: must be empty"}},
		"wrong kind":          {edit: func(s *apis.Schedule) { s.Kind = apis.KindRun }, want: []string{`kind: unsupported value "Run": must be Schedule`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := validSchedule()
			tt.edit(s)
			errs := apis.ValidateSchedule(s)
			if len(tt.want) == 0 {
				assert.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs)
			got := errs.Error()
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
		})
	}
}

func TestValidateScheduleWrite(t *testing.T) {
	ann := func(n int) map[string]string { return map[string]string{"a": strings.Repeat("v", n-1)} }
	tests := map[string]struct {
		annotations map[string]string
		want        []string
	}{
		"none":           {},
		"small":          {annotations: map[string]string{"team": "data"}},
		"at the room":    {annotations: ann(apis.MaxTemplateAnnotationsBytes)},
		"into the room":  {annotations: ann(apis.MaxTemplateAnnotationsBytes + 1), want: []string{"spec.runTemplate.metadata.annotations: may not be larger than 262116 bytes in total (keys and values), got 262117: a Replace firing adds sprint/cancel-reason: Replaced"}},
		"at the limit":   {annotations: ann(apis.MaxAnnotationsBytes), want: []string{"got 262144"}},
		"over the limit": {annotations: ann(apis.MaxAnnotationsBytes + 1)}, // ValidateSchedule's to report
		"reserved":       {annotations: map[string]string{apis.AnnotationCancelReason: "Cancelled"}, want: []string{"spec.runTemplate.metadata.annotations[sprint/cancel-reason]: reserved"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := validSchedule()
			s.Spec.RunTemplate.Metadata.Annotations = tt.annotations
			errs := apis.ValidateScheduleWrite(s)
			if len(tt.want) == 0 {
				assert.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs)
			for _, w := range tt.want {
				assert.Contains(t, errs.Error(), w)
			}
		})
	}
}

// A Run fired from the largest template annotations a Schedule takes is
// still a valid Run once a Replace firing has marked it cancelled
// (apis.AnnotationCancelReason): its owner can read it and write it back.
func TestScheduleTemplateAnnotationsLeaveRoomForReplaced(t *testing.T) {
	accepted := 0
	for size := apis.MaxAnnotationsBytes - 64; size <= apis.MaxAnnotationsBytes; size++ {
		s := validSchedule()
		s.Metadata.UID = "u"
		s.Spec.RunTemplate.Metadata.Annotations = map[string]string{"a": strings.Repeat("v", size-1)}
		if len(apis.ValidateSchedule(s)) > 0 || len(apis.ValidateScheduleWrite(s)) > 0 {
			continue
		}
		accepted++
		r := apis.RunFromTemplate(s, apis.FiredRunName(s.Metadata.Name, time.Unix(1_800_000_000, 0), 0))
		r.Metadata.Annotations[apis.AnnotationCancelReason] = apis.ReasonReplaced
		assert.Empty(t, apis.ValidateRun(&r), "template annotations of %d bytes, marked Replaced", size)
	}
	assert.Positive(t, accepted, "some of the sizes tried are accepted")
}

// The longest valid name still makes valid Run names, fired or manual.
func TestScheduleRunNamesStayValid(t *testing.T) {
	s := validSchedule()
	s.Metadata.Name = strings.Repeat("a", apis.MaxScheduleNameLength)
	s.Metadata.UID = "u"
	far := time.Date(5000, 1, 1, 0, 0, 0, 0, time.UTC) // 11 digits of seconds
	for _, name := range []string{apis.FiredRunName(s.Metadata.Name, far, 999), apis.ManualRunName(s.Metadata.Name, apis.NewManualFiringID(time.Date(4400, 1, 1, 0, 0, 0, 0, time.UTC)), 999)} {
		r := apis.RunFromTemplate(s, name)
		assert.Empty(t, apis.ValidateRun(&r), name)
		assert.LessOrEqual(t, len(name), apis.MaxNameLength)
		assert.Equal(t, s.Metadata.Name, r.Metadata.Labels[apis.LabelSchedule])
		assert.Equal(t, &apis.OwnerReference{APIVersion: apis.APIVersion, Kind: apis.KindSchedule, Name: s.Metadata.Name, UID: "u", Controller: true}, apis.ControllerOf(&r.Metadata))
	}
	assert.Equal(t, "x-1800000000-2", apis.FiredRunName("x", time.Unix(1_800_000_000, 0), 2))
	at := time.Unix(1_800_000_000, 0)
	id := apis.NewManualFiringID(at)
	assert.Len(t, id, 11)
	assert.Equal(t, "0tro8w0", id[:7], "the seconds in base 36, zero-padded: names sort by time")
	assert.Regexp(t, "^x-m0tro8w0[bcdfghjklmnpqrstvwxz2456789]{4}-2$", apis.ManualRunName("x", id, 2))
	seen := map[string]bool{}
	for range 1000 {
		seen[apis.NewManualFiringID(at)] = true
	}
	assert.Greater(t, len(seen), 990, "manual firings in the same second get distinct ids")
}

func TestValidateScheduleUpdate_SpecIsMutable(t *testing.T) {
	old := validSchedule()
	upd := old.DeepCopy()
	upd.Spec.Schedule, upd.Spec.Parallelism, upd.Spec.RunTemplate.Spec.Cpus = "@hourly", 5, 4
	assert.Empty(t, apis.ValidateScheduleUpdate(upd, old))
	upd.Metadata.Name = "other"
	assert.Contains(t, apis.ValidateScheduleUpdate(upd, old).Error(), "metadata.name: field is immutable")
}

func TestPolicy_AdmitSchedule(t *testing.T) {
	s := validSchedule()
	s.Spec.RunTemplate.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "a"},
		Volumes: []apis.Volume{{ContainerPath: "/data", HostPath: "/etc", Mode: apis.VolumeRO}}}
	err := apis.DefaultPolicy().AdmitSchedule(s)
	var fe *apis.ForbiddenError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "spec.runTemplate.spec.container.volumes[0].hostPath", fe.Errors[0].Field)
	assert.NoError(t, apis.DefaultPolicy().AdmitSchedule(validSchedule()))
}

const mixedManifest = `apiVersion: sprint/v1
kind: Run
metadata: {name: once}
spec: {command: "true", cpus: 0.1, mem: 16}
---
apiVersion: sprint/v1
kind: Schedule
metadata: {name: nightly}
spec:
  schedule: "30 2 * * *"
  timeZone: Europe/Berlin
  runTemplate: {spec: {command: etl, cpus: 1, mem: 512}}
---
apiVersion: v1
kind: List
items:
- {apiVersion: sprint/v1, kind: Schedule, metadata: {name: every}, spec: {interval: 60s, parallelism: 2, runTemplate: {spec: {command: x, cpus: 1, mem: 1}}}}
- {apiVersion: sprint/v1, kind: Run, metadata: {name: r2}, spec: {command: x, cpus: 1, mem: 1}}
---
apiVersion: sprint/v1
kind: ScheduleList
items:
- {metadata: {name: typed}, spec: {schedule: "@daily", runTemplate: {spec: {command: x, cpus: 1, mem: 1}}}}
`

func TestDecodeDocuments_MixedRunsAndSchedules(t *testing.T) {
	docs, err := apis.DecodeDocuments([]byte(mixedManifest))
	require.NoError(t, err)
	require.Len(t, docs, 4)
	assert.Equal(t, "once", docs[0].Runs[0].Metadata.Name)
	assert.Equal(t, "Europe/Berlin", docs[1].Schedules[0].Spec.TimeZone)
	assert.Equal(t, "every", docs[2].Schedules[0].Metadata.Name)
	assert.Equal(t, int32(2), docs[2].Schedules[0].Spec.Parallelism)
	assert.Equal(t, "r2", docs[2].Runs[0].Metadata.Name)
	assert.Equal(t, "typed", docs[3].Schedules[0].Metadata.Name)

	_, err = apis.DecodeRunDocuments([]byte(mixedManifest))
	require.Error(t, err, "the Run-only decoder keeps refusing Schedules")
	assert.Contains(t, err.Error(), `document 2: kind: unsupported value "Schedule": must be Run or RunList`)
}

func TestDecodeDocuments_StrictWithFieldPaths(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"unknown field":      {"apiVersion: sprint/v1\nkind: Schedule\nmetadata: {name: a}\nspec: {schedul: x}\n", "spec.schedul: unknown field"},
		"template field":     {"apiVersion: sprint/v1\nkind: Schedule\nmetadata: {name: a}\nspec: {runTemplate: {spec: {cpu: 1}}}\n", "spec.runTemplate.spec.cpu: unknown field"},
		"wrong type":         {"apiVersion: sprint/v1\nkind: Schedule\nmetadata: {name: a}\nspec: {parallelism: two}\n", "spec.parallelism"},
		"missing kind":       {"apiVersion: sprint/v1\nmetadata: {name: a}\n", "kind: Object 'Kind' is missing"},
		"unknown kind":       {"apiVersion: sprint/v1\nkind: CronJob\n", `kind: unsupported value "CronJob": must be Run, RunList, Schedule, ScheduleList or List`},
		"List item kind":     {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: sprint/v1, kind: Pod}\n", `items[0].kind: unsupported value "Pod": must be Run or Schedule`},
		"mixed List item":    {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: sprint/v1, kind: Schedule, spec: {bogus: 1}}\n", "items[0].spec.bogus: unknown field"},
		"ScheduleList item":  {"apiVersion: sprint/v1\nkind: ScheduleList\nitems:\n- {kind: Run}\n", `items[0].kind: unsupported value "Run": must be Schedule`},
		"bad apiVersion":     {"apiVersion: sprint/v2\nkind: Schedule\n", `apiVersion: unsupported value "sprint/v2": must be sprint/v1`},
		"status is decoded ": {"apiVersion: sprint/v1\nkind: Schedule\nstatus: {missed: 1}\n", "status.missed: unknown field"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := apis.DecodeDocuments([]byte(tt.in))
			var de *apis.DecodeError
			require.ErrorAs(t, err, &de)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDecodeSchedule(t *testing.T) {
	s, err := apis.DecodeSchedule([]byte(`{"apiVersion":"sprint/v1","kind":"Schedule","metadata":{"name":"a"},"spec":{"interval":"1m","runTemplate":{"spec":{"command":"x","cpus":1,"mem":1}}}}`))
	require.NoError(t, err)
	assert.Equal(t, "1m", s.Spec.Interval)
	_, err = apis.DecodeSchedule([]byte("apiVersion: sprint/v1\nkind: Run\nmetadata: {name: a}\n"))
	assert.ErrorContains(t, err, `kind: unsupported value "Run": must be Schedule`)
	_, err = apis.DecodeSchedule([]byte("apiVersion: sprint/v1\nkind: Schedule\n---\napiVersion: sprint/v1\nkind: Schedule\n"))
	assert.ErrorContains(t, err, "expected one Schedule, got 2 documents")
}
