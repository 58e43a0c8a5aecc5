package mesos

import (
	"errors"
	"testing"

	"github.com/mesos/mesos-go/api/v1/lib/resources"

	"github.com/sprint-project/sprint/apis"
)

// FuzzNewTaskInfo builds tasks from arbitrary specs: NewTaskInfo returns an
// error or a TaskInfo with every required field set, and never panics.
func FuzzNewTaskInfo(f *testing.F) {
	f.Add("echo hi", "", 0.5, 256.0, 0.0, int32(0), "", "", "", int32(0), int32(0), "", "team", "data", uint32(0))
	f.Add("", "/bin/true", 1.0, 32.0, 10.0, int32(1), "DOCKER", "alpine", "BRIDGE", int32(80), int32(0), "tcp,udp", "name", "x", uint32(31000))
	f.Add("", "", 0.1, 32.0, 0.0, int32(0), "MESOS", "alpine", "USER", int32(0), int32(31005), "udp", "a.b/c", "", uint32(31005))
	f.Fuzz(func(t *testing.T, command, arg string, cpus, mem, disk float64, gpus int32, ctype, image, network string,
		containerPort, hostPort int32, protocol, labelKey, labelValue string, port uint32) {
		run := &apis.Run{
			Metadata: apis.ObjectMeta{Name: "r", Labels: map[string]string{labelKey: labelValue}},
			Spec:     apis.RunSpec{Command: command, Cpus: cpus, Mem: mem, Disk: disk, Gpus: gpus},
		}
		if arg != "" {
			run.Spec.Args = []string{arg, arg}
		}
		var ports []uint32
		if ctype != "" || image != "" || containerPort != 0 {
			run.Spec.Container = &apis.Container{Type: ctype, Network: network,
				Docker:       &apis.DockerInfo{Image: image},
				Networks:     []apis.Network{{Name: network}},
				PortMappings: []apis.PortMapping{{ContainerPort: containerPort, HostPort: hostPort, Protocol: protocol, Name: labelKey}},
			}
			ports = []uint32{port}
		}
		task, err := NewTaskInfo(run, "task-1", testOffer(), ports, TaskOptions{})
		if err != nil {
			if !errors.Is(err, apis.ErrInvalid) && !errors.Is(err, ErrInsufficientResources) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// What the task asks for must really be in the offer (no overflow
		// making any amount fit).
		if !resources.ContainsAll(testOffer().Resources, task.Resources) {
			t.Fatalf("task resources %v exceed the offer", task.Resources)
		}
		if c, _ := resources.CPUs(task.Resources...); c > 4 {
			t.Fatalf("cpus %v from a 4-cpu offer", c)
		}
		if m, _ := resources.Memory(task.Resources...); m > 8192 {
			t.Fatalf("mem %v from an 8192 MB offer", m)
		}
		b, err := task.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back = task
		if err := back.Unmarshal(b); err != nil {
			t.Fatalf("required field missing: %v", err)
		}
	})
}
