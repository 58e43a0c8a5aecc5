package apis

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addExampleSeeds(f *testing.F) {
	files, _ := filepath.Glob("../manifests/examples/*")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "---\n---\n", "[]", "null", "{}", `{"kind":"RunList","items":[{}]}`,
		"metadata: {name: a}\nspec: {command: x, cpus: 1, mem: 1}\n",
		"spec: {cpu: 1}\n", "a: b: c\n", "spec: {cpus: .nan}\n", "--- {metadata: {name: a}}\n",
		"metadata: {name: a, labels: {}}\nspec: {args: [x], cpus: 1, mem: 1, env: {}}\n",
	} {
		f.Add([]byte(s))
	}
}

// checkRoundTrip asserts the property every stored Run relies on: a Run
// that validation accepts encodes to JSON and decodes to the same Run.
func checkRoundTrip(t *testing.T, r *Run) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("valid run does not encode: %v\n%#v", err, r)
	}
	back, err := DecodeRuns(b)
	if err != nil {
		t.Fatalf("valid run does not decode again: %v\n%s", err, b)
	}
	if len(back) != 1 {
		t.Fatalf("decoded %d runs from one: %s", len(back), b)
	}
	SetDefaults(&back[0])
	if !reflect.DeepEqual(*r, back[0]) {
		t.Fatalf("round trip changed the run:\nbefore %#v\nafter  %#v\njson %s", *r, back[0], b)
	}
	if errs := ValidateRun(&back[0]); len(errs) > 0 {
		t.Fatalf("round trip made a valid run invalid: %v", errs)
	}
	if errs := ValidateRunUpdate(&back[0], r); len(errs) > 0 {
		t.Fatalf("a run differs from its own round trip: %v", errs)
	}
}

func FuzzDecodeRuns(f *testing.F) {
	addExampleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		runs, err := DecodeRuns(data)
		if err != nil {
			if StatusFromError(err).Code != 400 {
				t.Fatalf("decode error is not a 400: %v", err)
			}
			return
		}
		for i := range runs {
			SetDefaults(&runs[i])
			if len(ValidateRun(&runs[i])) == 0 {
				checkRoundTrip(t, &runs[i])
			}
		}
	})
}

// FuzzValidateRun builds Runs field by field, so that the fuzzer reaches
// valid Runs far more often than through YAML bytes.
func FuzzValidateRun(f *testing.F) {
	f.Add("hello", "", "team", "data", "echo hi", "", "DAY", "1", "", "", "tcp", "", "rack", "LIKE", "r[12]", 0.1, 32.0, 0.0, int32(0), int32(8080), int32(0), int32(0), int64(0), int64(-1), false)
	f.Add("web", "", "app", "web", "", "/bin/true", "A", "", "alpine:3.20", "BRIDGE", "udp", "https://example.org/x.tgz", "hostname", "UNIQUE", "", 1.0, 256.0, 10.0, int32(1), int32(0), int32(31000), int32(3), int64(60), int64(0), true)
	f.Add("", "gen-", "example.com/x", "", "", "", "", "", "busybox", "USER", "tcp,udp", "/srv/a", "rack", "MAX_PER", "2", 1024.0, 16777216.0, 1073741824.0, int32(64), int32(65535), int32(65535), int32(100), int64(315360000), int64(86400), true)
	f.Fuzz(func(t *testing.T, name, genName, labelKey, labelValue, command, arg0, envKey, envValue, image, network, protocol, uri, c0, c1, c2 string,
		cpus, mem, disk float64, gpus, containerPort, hostPort, backoff int32, deadline, ttl int64, withContainer bool) {
		r := &Run{
			Metadata: ObjectMeta{Name: name, GenerateName: genName, Labels: map[string]string{labelKey: labelValue}},
			Spec: RunSpec{
				Command: command, Env: map[string]string{envKey: envValue},
				Cpus: cpus, Mem: mem, Disk: disk, Gpus: gpus,
				BackoffLimit: backoff, ActiveDeadlineSeconds: deadline,
			},
		}
		if c0 != "" || c1 != "" {
			c := []string{c0, c1, c2}
			if c2 == "" {
				c = c[:2]
			}
			r.Spec.Constraints = [][]string{c}
		}
		if arg0 != "" {
			r.Spec.Args = []string{arg0}
		}
		if uri != "" {
			r.Spec.URIs = []URI{{Value: uri}}
		}
		if ttl >= 0 {
			r.Spec.TTLSecondsAfterFinished = &ttl
		}
		if withContainer {
			r.Spec.Container = &Container{
				Type: ContainerDocker, Docker: &DockerInfo{Image: image}, Network: network,
				PortMappings: []PortMapping{{ContainerPort: containerPort, HostPort: hostPort, Protocol: protocol}},
			}
			if network == NetworkUser {
				r.Spec.Container.Networks = []Network{{Name: labelValue}}
			}
		}
		SetDefaults(r)
		errs := ValidateRun(r)
		for _, e := range errs {
			if e.Field == "" || e.Message == "" {
				t.Fatalf("problem without path or message: %#v", e)
			}
		}
		if StatusFromError(&InvalidError{Kind: KindRun, Errors: errs}) == nil {
			t.Fatal("no status for a validation error")
		}
		if len(errs) > 0 {
			return
		}
		if math.IsNaN(r.Spec.Cpus) || r.Spec.Cpus <= 0 || r.Spec.Mem <= 0 {
			t.Fatalf("accepted bad resources: %v %v", r.Spec.Cpus, r.Spec.Mem)
		}
		checkRoundTrip(t, r)
	})
}

func FuzzParseLabelSelector(f *testing.F) {
	for _, s := range []string{"", "a=b", "a==b,c!=d", "env in (prod, staging)", "x notin (a,,b)", "!a", "a,b", "example.com/k=v", "a in (", "=", "a!", "a=b=c"} {
		f.Add(s, "k", "v")
	}
	f.Fuzz(func(t *testing.T, sel, key, value string) {
		s, err := ParseLabelSelector(sel)
		if err != nil {
			if StatusFromError(err).Code != 400 {
				t.Fatalf("selector error is not a 400: %v", err)
			}
			return
		}
		again, err := ParseLabelSelector(s.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", s.String(), sel, err)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("String() %q of %q parses differently: %#v vs %#v", s.String(), sel, s, again)
		}
		labels := map[string]string{key: value}
		if s.MatchesLabels(labels) != again.MatchesLabels(labels) {
			t.Fatal("canonical form matches differently")
		}
		if s.Empty() && !s.Matches(&Run{}) {
			t.Fatal("empty selector must match everything")
		}
	})
}

// FuzzDecodeDocuments decodes manifests mixing Runs and Schedules: an
// error is a 400, and every Schedule validation accepts survives a JSON
// round trip unchanged and still valid (what the store relies on).
func FuzzDecodeDocuments(f *testing.F) {
	addExampleSeeds(f)
	for _, s := range []string{
		"apiVersion: sprint/v1\nkind: Schedule\nmetadata: {name: a}\nspec: {schedule: '@daily', runTemplate: {spec: {command: x, cpus: 1, mem: 1}}}\n",
		`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"sprint/v1","kind":"Schedule","metadata":{"name":"a"},"spec":{"interval":"1m","runTemplate":{"spec":{"command":"x","cpus":1,"mem":1}}}},{"apiVersion":"sprint/v1","kind":"Run"}]}`,
		"apiVersion: sprint/v1\nkind: ScheduleList\nitems: [{metadata: {name: b}, spec: {dependsOn: [{schedule: a}], runTemplate: {spec: {args: [x], cpus: 1, mem: 1}}}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := DecodeDocuments(data)
		if err != nil {
			if StatusFromError(err).Code != 400 {
				t.Fatalf("decode error is not a 400: %v", err)
			}
			return
		}
		for _, d := range docs {
			for i := range d.Schedules {
				s := &d.Schedules[i]
				SetScheduleDefaults(s)
				if len(ValidateSchedule(s)) > 0 {
					continue
				}
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatalf("valid schedule does not encode: %v", err)
				}
				back, err := DecodeSchedule(b)
				if err != nil {
					t.Fatalf("valid schedule does not decode again: %v\n%s", err, b)
				}
				SetScheduleDefaults(back)
				if !back.Equal(s) {
					t.Fatalf("round trip changed the schedule:\n%s", b)
				}
				if errs := ValidateSchedule(back); len(errs) > 0 {
					t.Fatalf("round trip made a valid schedule invalid: %v", errs)
				}
			}
		}
	})
}
