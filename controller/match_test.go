package controller

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestFit_ResourcesPortsAndConstraints(t *testing.T) {
	offer := makeOffer("o1", "a1", 4, 1024, textAttr("rack", "r1"), textAttr("zone", "eu-west"))
	offer.Resources = append(offer.Resources, mesos.Resource{Name: "gpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1}})
	ports := func(pm ...apis.PortMapping) *apis.Container {
		return &apis.Container{Type: apis.ContainerDocker, PortMappings: pm}
	}
	tests := map[string]struct {
		spec   apis.RunSpec
		placed placements
		unfit  string
		ports  []uint32
	}{
		"fits":                {spec: apis.RunSpec{Cpus: 4, Mem: 1024, Disk: 1000, Gpus: 1}},
		"cpus":                {spec: apis.RunSpec{Cpus: 5, Mem: 1}, unfit: "cpus"},
		"mem":                 {spec: apis.RunSpec{Cpus: 1, Mem: 2048}, unfit: "mem"},
		"disk":                {spec: apis.RunSpec{Cpus: 1, Mem: 1, Disk: 1001}, unfit: "disk"},
		"gpus":                {spec: apis.RunSpec{Cpus: 1, Mem: 1, Gpus: 2}, unfit: "gpus"},
		"any ports":           {spec: apis.RunSpec{Cpus: 1, Mem: 1, Container: ports(apis.PortMapping{ContainerPort: 80}, apis.PortMapping{ContainerPort: 81})}, ports: []uint32{31000, 31001}},
		"fixed port":          {spec: apis.RunSpec{Cpus: 1, Mem: 1, Container: ports(apis.PortMapping{ContainerPort: 80}, apis.PortMapping{ContainerPort: 81, HostPort: 31000})}, ports: []uint32{31001, 31000}},
		"fixed port missing":  {spec: apis.RunSpec{Cpus: 1, Mem: 1, Container: ports(apis.PortMapping{ContainerPort: 80, HostPort: 8080})}, unfit: "ports"},
		"too many ports":      {spec: apis.RunSpec{Cpus: 1, Mem: 1, Container: ports(make([]apis.PortMapping, 11)...)}, unfit: "ports"},
		"hostname like":       {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"hostname", "LIKE", "a[0-9].example"}}}},
		"hostname like fails": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"hostname", "LIKE", "a1"}}}, unfit: "constraint hostname LIKE a1"},
		"attr like":           {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "LIKE", "r[12]"}}}},
		"attr unlike":         {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"zone", "UNLIKE", "eu-.*"}}}, unfit: "constraint zone UNLIKE eu-.*"},
		"unlike missing attr": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"gpu-model", "UNLIKE", "k80"}}}},
		"like missing attr":   {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"gpu-model", "LIKE", "k80"}}}, unfit: "constraint gpu-model LIKE k80"},
		"unique free":         {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"hostname", "UNIQUE"}}}},
		"unique taken": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"hostname", "UNIQUE"}}},
			placed: placements{constraintKey([]string{"hostname", "UNIQUE"}): {"a1.example": 1}}, unfit: "constraint hostname UNIQUE"},
		"cluster value":      {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "CLUSTER", "r1"}}}},
		"cluster value miss": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "CLUSTER", "r2"}}}, unfit: "constraint rack CLUSTER r2"},
		"cluster follows first": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "CLUSTER"}}},
			placed: placements{constraintKey([]string{"rack", "CLUSTER"}): {"r2": 1}}, unfit: "constraint rack CLUSTER"},
		"max per under": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "MAX_PER", "2"}}},
			placed: placements{constraintKey([]string{"rack", "MAX_PER", "2"}): {"r1": 1}}},
		"max per reached": {spec: apis.RunSpec{Cpus: 1, Mem: 1, Constraints: [][]string{{"rack", "MAX_PER", "2"}}},
			placed: placements{constraintKey([]string{"rack", "MAX_PER", "2"}): {"r1": 2}}, unfit: "constraint rack MAX_PER 2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newOfferSpace(offer)
			run := &apis.Run{Spec: tc.spec}
			var re regexCache
			placed := tc.placed
			if placed == nil {
				placed = placements{}
			}
			got, u := s.fit(run, placed, &re)
			if tc.unfit != "" {
				require.NotNil(t, u)
				assert.Equal(t, tc.unfit, u.what)
				return
			}
			require.Nil(t, u, "unfit: %+v", u)
			if tc.ports != nil {
				assert.Equal(t, tc.ports, got)
			}
		})
	}
}

func TestFit_ConsumePacksUntilFull(t *testing.T) {
	s := newOfferSpace(makeOffer("o1", "a1", 2.5, 1024))
	run := &apis.Run{Spec: apis.RunSpec{Cpus: 1, Mem: 256, Container: &apis.Container{PortMappings: []apis.PortMapping{{ContainerPort: 1}}}}}
	var re regexCache
	var got [][]uint32
	for {
		ports, u := s.fit(run, placements{}, &re)
		if u != nil {
			assert.Equal(t, "cpus", u.what)
			break
		}
		s.consume(run, ports)
		got = append(got, ports)
	}
	assert.Equal(t, [][]uint32{{31000}, {31001}}, got)
}

func TestUnschedulableMessage_SummarisesReasons(t *testing.T) {
	msg := unschedulableMessage(3, []*unfit{
		{what: "cpus", need: 8, max: 4, resource: true},
		{what: "cpus", need: 8, max: 2, resource: true},
		{what: "constraint hostname UNIQUE"},
	})
	assert.Equal(t, "0/3 agents satisfy: cpus (need 8, max 4 offered); constraint hostname UNIQUE", msg)
}

func TestTaskRunName(t *testing.T) {
	name, ok := taskRunName("nightly-etl.3.9f2c01")
	assert.True(t, ok)
	assert.Equal(t, "nightly-etl", name)
	_, ok = taskRunName("no-dots")
	assert.False(t, ok)
}
