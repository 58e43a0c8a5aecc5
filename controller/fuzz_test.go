package controller

import (
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
)

// FuzzExitCode: any executor message or status data parses without panic.
func FuzzExitCode(f *testing.F) {
	f.Add("Command exited with status 3", []byte(nil))
	f.Add("", []byte(`{"exitCode": 7}`))
	f.Add("exited with code 99999999999999999999", []byte(`{"exit_code": -1}`))
	f.Fuzz(func(t *testing.T, msg string, data []byte) {
		ts := &mesos.TaskStatus{Message: &msg, Data: data}
		_ = exitCode(ts)
	})
}

// FuzzFit: any constraint, as validation might let through, is evaluated
// without panic, and a Run that fits leaves no negative resources.
func FuzzFit(f *testing.F) {
	f.Add("hostname", "LIKE", "a[0-9", 1.0, uint16(0))
	f.Add("rack", "MAX_PER", "x", 0.5, uint16(31000))
	f.Add("rack", "CLUSTER", "", 4.0, uint16(1))
	f.Fuzz(func(t *testing.T, field, op, value string, cpus float64, port uint16) {
		offer := makeOffer("o1", "a1", 4, 1024, textAttr("rack", "r1"))
		s := newOfferSpace(offer)
		run := &apis.Run{Spec: apis.RunSpec{Cpus: cpus, Mem: 1,
			Constraints: [][]string{{field, strings.ToUpper(op), value}},
			Container:   &apis.Container{PortMappings: []apis.PortMapping{{HostPort: int32(port)}}}}}
		var re regexCache
		placed := placements{}
		ports, u := s.fit(run, placed, &re)
		if u != nil {
			return
		}
		s.consume(run, ports)
		placed.add(run, s.field)
		if s.cpus < -1e-9 || s.mem < -1e-9 {
			t.Fatalf("negative resources after fit: cpus %v mem %v", s.cpus, s.mem)
		}
	})
}
