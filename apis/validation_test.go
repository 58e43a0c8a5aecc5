package apis

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validRun() *Run {
	return &Run{
		TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun},
		Metadata: ObjectMeta{Name: "nightly-etl", Labels: map[string]string{"team": "data"}},
		Spec:     RunSpec{Command: "echo hello", Cpus: 0.5, Mem: 256},
	}
}

func dockerRun() *Run {
	r := validRun()
	r.Spec.Command = ""
	r.Spec.Container = &Container{Type: ContainerDocker, Docker: &DockerInfo{Image: "alpine:3.20"}, Network: NetworkHost}
	return r
}

func messages(errs ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func i64(v int64) *int64 { return &v }

func TestValidateRun(t *testing.T) {
	tests := map[string]struct {
		run  func() *Run
		edit func(r *Run)
		want []string
	}{
		"valid shell command":   {edit: func(r *Run) {}},
		"valid exec args":       {edit: func(r *Run) { r.Spec.Command = ""; r.Spec.Args = []string{"/usr/bin/env"} }},
		"valid docker no cmd":   {run: dockerRun, edit: func(r *Run) {}},
		"valid generateName":    {edit: func(r *Run) { r.Metadata.Name = ""; r.Metadata.GenerateName = "etl-" }},
		"empty apiVersion ok":   {edit: func(r *Run) { r.APIVersion, r.Kind = "", "" }},
		"apiVersion mismatch":   {edit: func(r *Run) { r.APIVersion = "v1" }, want: []string{`apiVersion: unsupported value "v1": must be sprint/v1`}},
		"kind mismatch":         {edit: func(r *Run) { r.Kind = "Pod" }, want: []string{`kind: unsupported value "Pod": must be Run`}},
		"name required":         {edit: func(r *Run) { r.Metadata.Name = "" }, want: []string{"metadata.name: required (or set metadata.generateName)"}},
		"name upper case":       {edit: func(r *Run) { r.Metadata.Name = "Nightly" }, want: []string{`metadata.name: invalid value "Nightly": must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. "nightly-etl")`}},
		"name trailing dash":    {edit: func(r *Run) { r.Metadata.Name = "etl-" }, want: []string{`metadata.name: invalid value "etl-": must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. "nightly-etl")`}},
		"name 63 ok":            {edit: func(r *Run) { r.Metadata.Name = strings.Repeat("a", 63) }},
		"name too long":         {edit: func(r *Run) { r.Metadata.Name = strings.Repeat("a", 64) }, want: []string{"metadata.name: must be no more than 63 characters"}},
		"generateName bad":      {edit: func(r *Run) { r.Metadata.Name = ""; r.Metadata.GenerateName = "-etl" }, want: []string{`metadata.generateName: invalid value "-etl": must consist of lower case letters, digits or '-', and start and end with a letter or digit (e.g. "nightly-etl")`}},
		"generateName too long": {edit: func(r *Run) { r.Metadata.Name = ""; r.Metadata.GenerateName = strings.Repeat("a", 59) }, want: []string{"metadata.generateName: must be no more than 58 characters (the server appends 5 random characters)"}},
		"label key prefixed ok": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"example.com/My_key.1": "", "a": "B-1.x_y"} }},
		"label key bad name": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"-a": "x"} }, want: []string{
			`metadata.labels[-a]: name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyName", "my.name" or "123-abc")`}},
		"label key empty prefix": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"/a": "x"} }, want: []string{"metadata.labels[/a]: prefix part must be non-empty"}},
		"label key bad prefix": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"Example.com/a": "x"} }, want: []string{
			`metadata.labels[Example.com/a]: prefix part must be a DNS-1123 subdomain: lower case letters, digits, '-' or '.', starting and ending with a letter or digit (e.g. "example.com")`}},
		"label key long prefix": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{strings.Repeat("a", 254) + "/a": "x"} }, want: []string{
			"metadata.labels[" + strings.Repeat("a", 254) + "/a]: prefix part must be no more than 253 characters"}},
		"label key empty name": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"a.com/": "x"} }, want: []string{"metadata.labels[a.com/]: name part must be non-empty"}},
		"label key long name":  {edit: func(r *Run) { r.Metadata.Labels = map[string]string{strings.Repeat("a", 64): "x"} }, want: []string{"metadata.labels[" + strings.Repeat("a", 64) + "]: name part must be no more than 63 characters"}},
		"label key two slashes": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"a/b/c": "x"} }, want: []string{
			`metadata.labels[a/b/c]: a key must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyName", "my.name" or "123-abc"), with an optional DNS subdomain prefix and '/' (e.g. "example.com/MyName")`}},
		"label value bad": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"a": "has space"} }, want: []string{
			`metadata.labels[a]: invalid value "has space": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyValue" or "1.0")`}},
		"label value long": {edit: func(r *Run) { r.Metadata.Labels = map[string]string{"a": strings.Repeat("v", 64)} }, want: []string{"metadata.labels[a]: must be no more than 63 characters"}},
		"annotation key bad": {edit: func(r *Run) { r.Metadata.Annotations = map[string]string{"a b": "any value at all"} }, want: []string{
			`metadata.annotations[a b]: name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "MyName", "my.name" or "123-abc")`}},
		"annotations too big": {edit: func(r *Run) { r.Metadata.Annotations = map[string]string{"a": strings.Repeat("x", 256*1024)} }, want: []string{
			"metadata.annotations: may not be larger than 262144 bytes in total (keys and values), got 262145"}},
		"cpus zero":                  {edit: func(r *Run) { r.Spec.Cpus = 0 }, want: []string{"spec.cpus: must be greater than 0"}},
		"cpus negative":              {edit: func(r *Run) { r.Spec.Cpus = -1 }, want: []string{"spec.cpus: must be greater than 0"}},
		"cpus below Mesos precision": {edit: func(r *Run) { r.Spec.Cpus = 0.0001 }, want: []string{"spec.cpus: must be 0.001 or more: Mesos keeps resource amounts to three decimal places, so 0.0001 would be 0"}},
		"cpus at Mesos precision":    {edit: func(r *Run) { r.Spec.Cpus = 0.001 }},
		"disk below Mesos precision": {edit: func(r *Run) { r.Spec.Disk = 1e-9 }, want: []string{"spec.disk: must be 0.001 or more: Mesos keeps resource amounts to three decimal places, so 1e-09 would be 0"}},
		"cpus NaN":                   {edit: func(r *Run) { r.Spec.Cpus = math.NaN() }, want: []string{"spec.cpus: must be a finite number"}},
		"cpus Inf":                   {edit: func(r *Run) { r.Spec.Cpus = math.Inf(1) }, want: []string{"spec.cpus: must be a finite number"}},
		"cpus max":                   {edit: func(r *Run) { r.Spec.Cpus = 1024.5 }, want: []string{"spec.cpus: must be no more than 1024"}},
		"mem zero":                   {edit: func(r *Run) { r.Spec.Mem = 0 }, want: []string{"spec.mem: must be greater than 0"}},
		"mem max":                    {edit: func(r *Run) { r.Spec.Mem = 1 << 40 }, want: []string{"spec.mem: must be no more than 16777216 (16 TiB in MiB)"}},
		"mem -Inf":                   {edit: func(r *Run) { r.Spec.Mem = math.Inf(-1) }, want: []string{"spec.mem: must be a finite number"}},
		"disk negative":              {edit: func(r *Run) { r.Spec.Disk = -1 }, want: []string{"spec.disk: must be greater than or equal to 0"}},
		"disk max":                   {edit: func(r *Run) { r.Spec.Disk = 1 << 31 }, want: []string{"spec.disk: must be no more than 1073741824 (1 PiB in MiB)"}},
		"disk NaN":                   {edit: func(r *Run) { r.Spec.Disk = math.NaN() }, want: []string{"spec.disk: must be a finite number"}},
		"gpus negative":              {edit: func(r *Run) { r.Spec.Gpus = -1 }, want: []string{"spec.gpus: must be greater than or equal to 0"}},
		"gpus max":                   {edit: func(r *Run) { r.Spec.Gpus = 65 }, want: []string{"spec.gpus: must be no more than 64"}},
		"command and args":           {edit: func(r *Run) { r.Spec.Args = []string{"ls"} }, want: []string{"spec.args: may not be set together with spec.command: set exactly one"}},
		"docker command and args":    {run: dockerRun, edit: func(r *Run) { r.Spec.Command = "x"; r.Spec.Args = []string{"y"} }, want: []string{"spec.args: may not be set together with spec.command: set exactly one"}},
		"neither command nor args":   {edit: func(r *Run) { r.Spec.Command = "" }, want: []string{"spec.command: one of command or args is required (unless a container image supplies the entrypoint)"}},
		"blank command":              {edit: func(r *Run) { r.Spec.Command = "  \t" }, want: []string{"spec.command: must not be blank"}},
		"empty program":              {edit: func(r *Run) { r.Spec.Command = ""; r.Spec.Args = []string{"", "x"} }, want: []string{"spec.args[0]: the program to run must not be empty"}},
		"env ok":                     {edit: func(r *Run) { r.Spec.Env = map[string]string{"DAY": "1", "_x9": ""} }},
		"env bad name":               {edit: func(r *Run) { r.Spec.Env = map[string]string{"1BAD": "x"} }, want: []string{`spec.env[1BAD]: invalid name: must consist of letters, digits or '_', and not start with a digit (e.g. "MY_VAR")`}},
		"env NUL value":              {edit: func(r *Run) { r.Spec.Env = map[string]string{"A": "a\x00b"} }, want: []string{"spec.env[A]: value must not contain a NUL byte"}},
		"env reserved": {edit: func(r *Run) {
			r.Spec.Env = map[string]string{"PORT0": "", "PORT_HTTP": "", "HOST": "", "MESOS_TASK_ID": "", "SPRINT_RUN_NAME": "", "SPRINT_LABEL_TEAM": "", "PORTS": "", "PORT": "", "PORTAL": ""}
		}, want: []string{
			"spec.env[HOST]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[MESOS_TASK_ID]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[PORT]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[PORT0]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[PORTS]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[PORT_HTTP]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[SPRINT_LABEL_TEAM]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
			"spec.env[SPRINT_RUN_NAME]: reserved: sprint sets HOST, PORT, PORTS, PORT<n>, PORT_*, MESOS_TASK_ID, SPRINT_RUN_NAME and SPRINT_LABEL_* for every task",
		}},
		"user ok":                 {edit: func(r *Run) { r.Spec.User = "nobody" }},
		"user bad":                {edit: func(r *Run) { r.Spec.User = "-root" }, want: []string{`spec.user: invalid value "-root": must be a POSIX user name: at most 32 letters, digits, '.', '_' or '-', not starting with '-', '.' or a digit`}},
		"user too long":           {edit: func(r *Run) { r.Spec.User = strings.Repeat("u", 33) }, want: []string{`spec.user: invalid value "` + strings.Repeat("u", 33) + `": must be a POSIX user name: at most 32 letters, digits, '.', '_' or '-', not starting with '-', '.' or a digit`}},
		"activeDeadline negative": {edit: func(r *Run) { r.Spec.ActiveDeadlineSeconds = -1 }, want: []string{"spec.activeDeadlineSeconds: must be greater than or equal to 0"}},
		"activeDeadline max":      {edit: func(r *Run) { r.Spec.ActiveDeadlineSeconds = MaxSeconds + 1 }, want: []string{"spec.activeDeadlineSeconds: must be no more than 315360000 (ten years)"}},
		"backoff negative":        {edit: func(r *Run) { r.Spec.BackoffLimit = -1 }, want: []string{"spec.backoffLimit: must be greater than or equal to 0"}},
		"backoff max":             {edit: func(r *Run) { r.Spec.BackoffLimit = 101 }, want: []string{"spec.backoffLimit: must be no more than 100"}},
		"backoff 100 ok":          {edit: func(r *Run) { r.Spec.BackoffLimit = 100 }},
		"ttl negative":            {edit: func(r *Run) { r.Spec.TTLSecondsAfterFinished = i64(-5) }, want: []string{"spec.ttlSecondsAfterFinished: must be greater than or equal to 0"}},
		"ttl zero ok":             {edit: func(r *Run) { r.Spec.TTLSecondsAfterFinished = i64(0) }},
		"command not utf8":        {edit: func(r *Run) { r.Spec.Command = "echo \xff" }, want: []string{"spec.command: must be valid UTF-8"}},
		"command NUL":             {edit: func(r *Run) { r.Spec.Command = "echo a\x00b" }, want: []string{"spec.command: must not contain a NUL byte"}},
		"args NUL":                {edit: func(r *Run) { r.Spec.Command = ""; r.Spec.Args = []string{"/bin/echo", "\x00"} }, want: []string{"spec.args[1]: must not contain a NUL byte"}},
		"annotation not utf8":     {edit: func(r *Run) { r.Metadata.Annotations = map[string]string{"a": "\xc3("} }, want: []string{"metadata.annotations[a]: must be valid UTF-8"}},
		"env key not utf8":        {edit: func(r *Run) { r.Spec.Env = map[string]string{"A": "\xff"} }, want: []string{"spec.env[A]: must be valid UTF-8"}},
		"status not utf8":         {edit: func(r *Run) { r.Status.Message = "\xff" }, want: []string{"status.message: must be valid UTF-8"}},
		"time out of range": {edit: func(r *Run) {
			early := time.Date(0, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))
			r.Status.StartTime = &early
		}, want: []string{"status.startTime: must be between 0000-01-01 and 9999-12-31 UTC"}},
		"every problem reported": {edit: func(r *Run) { r.Metadata.Name = ""; r.Spec.Cpus = 0; r.Spec.Mem = -1 }, want: []string{
			"metadata.name: required (or set metadata.generateName)", "spec.cpus: must be greater than 0", "spec.mem: must be greater than 0"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mk := validRun
			if tc.run != nil {
				mk = tc.run
			}
			r := mk()
			tc.edit(r)
			assert.Equal(t, tc.want, messagesOrNil(ValidateRun(r)))
		})
	}
}

func messagesOrNil(errs ErrorList) []string {
	if len(errs) == 0 {
		return nil
	}
	return messages(errs)
}

func TestIsReservedEnv(t *testing.T) {
	for name, want := range map[string]bool{
		"PORT0": true, "PORT12": true, "PORT_8080": true, "PORT": true, "PORTS": true, "HOST": true,
		"SPRINT_LABEL_X": true, "SPRINT_RUN_NAME": true, "MESOS_TASK_ID": true,
		"PORTAL": false, "HOSTNAME": false, "SPRINT_OTHER": false, "port0": false, "MESOS_SANDBOX": false,
	} {
		assert.Equal(t, want, IsReservedEnv(name), name)
	}
}

func TestValidateRun_ZeroValueDoesNotPanic(t *testing.T) {
	require.NotEmpty(t, ValidateRun(&Run{}))
}

// TestValidateRun_ItemProblemsAreCapped: each list or map reports its
// first maxItemErrors problems and counts the rest, so that a manifest of
// 100,000 bad items costs a short answer rather than 100,000 causes.
func TestValidateRun_ItemProblemsAreCapped(t *testing.T) {
	r := validRun()
	const n = 100_000
	r.Spec.Constraints = make([][]string, n)
	r.Metadata.Labels = map[string]string{}
	for i := range 50 {
		r.Metadata.Labels[fmt.Sprintf("bad key %d", i)] = "v"
	}
	errs := ValidateRun(r)
	got := messages(errs)
	require.Len(t, got, 2*(maxItemErrors+1), "%v", got)
	assert.True(t, strings.HasPrefix(got[0], "metadata.labels[bad key 0]: name part must consist of"), got[0])
	assert.Equal(t, "metadata.labels: and 30 more problems in its items", got[maxItemErrors])
	assert.Equal(t, "spec.constraints[0]: must be [field, OPERATOR] or [field, OPERATOR, value], got 0 elements", got[maxItemErrors+1])
	assert.Equal(t, fmt.Sprintf("spec.constraints: and %d more problems in its items", n-maxItemErrors), got[len(got)-1])
}

// benchRun is the ~1 KiB Run of scripts/bench-api.sh, defaulted as the API
// server stores it.
func benchRun() *Run {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	r := &Run{
		TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun},
		Metadata: ObjectMeta{
			Name: "bench-m1-1", UID: "5f1c9a4e-6d0b-4a43-9d58-0c6c6f3b2a11", CreationTimestamp: &now,
			Labels: map[string]string{"bench": "bench"}, Annotations: map[string]string{"pad": strings.Repeat("x", 900)},
		},
		Spec:   RunSpec{Command: "true", Cpus: 0.01, Mem: 1},
		Status: RunStatus{Phase: PhasePending, Message: "waiting for an offer", LastTransitionTime: &now},
	}
	SetDefaults(r)
	return r
}

// BenchmarkValidateRun validates the Run of a PUT, as the API server and
// every replica's FSM do for each write.
func BenchmarkValidateRun(b *testing.B) {
	r := benchRun()
	b.ReportAllocs()
	for b.Loop() {
		if errs := ValidateRun(r); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

// TestValidateStrings_FastPathAgrees: the walk that skips building paths
// when every string is valid UTF-8 finds a problem exactly where the walk
// that names them does, wherever the bad string sits.
func TestValidateStrings_FastPathAgrees(t *testing.T) {
	const bad = "x\xff"
	tests := map[string]func(r *Run){
		"all valid":   func(r *Run) {},
		"label value": func(r *Run) { r.Metadata.Labels["a"] = bad },
		"label key":   func(r *Run) { r.Metadata.Labels[bad] = "a" },
		"annotation":  func(r *Run) { r.Metadata.Annotations["pad"] = bad },
		"env value":   func(r *Run) { r.Spec.Env = map[string]string{"A": bad} },
		"arg":         func(r *Run) { r.Spec.Args = []string{"a", bad} },
		"constraint":  func(r *Run) { r.Spec.Constraints = [][]string{{"host", "LIKE", bad}} },
		"uri":         func(r *Run) { r.Spec.URIs = []URI{{Value: bad}} },
		"docker parameter": func(r *Run) {
			r.Spec.Container = &Container{Docker: &DockerInfo{Parameters: []Parameter{{Key: "k", Value: bad}}}}
		},
		"volume":         func(r *Run) { r.Spec.Container = &Container{Volumes: []Volume{{HostPath: bad}}} },
		"status message": func(r *Run) { r.Status.Message = bad },
		"generateName":   func(r *Run) { r.Metadata.GenerateName = bad },
		"only in a location": func(r *Run) {
			ts := r.Metadata.CreationTimestamp.In(time.FixedZone(bad, 3600))
			r.Metadata.CreationTimestamp = &ts
		},
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			r := benchRun()
			edit(r)
			for path, v := range map[string]any{"metadata": r.Metadata, "spec": r.Spec, "status": r.Status} {
				slow := stringErrors(path, reflect.ValueOf(v))
				assert.Equal(t, slow, validateStrings(path, reflect.ValueOf(v)), path)
				assert.Equal(t, len(slow) == 0, stringsValid(reflect.ValueOf(v)), path)
			}
		})
	}
}

// TestValidateRun_ValidRunAllocatesLittle: validating a valid Run (every
// write does it on the API server and on each replica) builds no field
// paths for the strings it checks nor for the spec fields it passes; it
// used to allocate 63 times.
func TestValidateRun_ValidRunAllocatesLittle(t *testing.T) {
	r := benchRun()
	allocs := testing.AllocsPerRun(100, func() {
		if errs := ValidateRun(r); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
	assert.LessOrEqual(t, allocs, 8.0)
}
