package mesos

import (
	"testing"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestOfferPorts_UnionOfAllPortsResources(t *testing.T) {
	o := testOffer()
	o.Resources = append(o.Resources,
		resources.Build().Name(resources.NamePorts).Role("eng").
			Ranges(mesosproto.Ranges{{Begin: 31011, End: 31020}, {Begin: 5000, End: 5000}}).Resource)
	assert.Equal(t, mesosproto.Ranges{{Begin: 5000, End: 5000}, {Begin: 31000, End: 31020}}, OfferPorts(o))
	assert.Empty(t, OfferPorts(&mesosproto.Offer{}))
}

func TestChoosePorts(t *testing.T) {
	free := mesosproto.Ranges{{Begin: 31000, End: 31002}, {Begin: 31010, End: 31010}}
	spec := func(m ...apis.PortMapping) *apis.RunSpec {
		return &apis.RunSpec{Container: &apis.Container{PortMappings: m}}
	}
	tests := map[string]struct {
		spec      *apis.RunSpec
		wantPorts []uint32
		wantRest  mesosproto.Ranges
		wantErr   error
	}{
		"no container": {
			spec: &apis.RunSpec{}, wantPorts: []uint32{}, wantRest: free,
		},
		"lowest free first": {
			spec:      spec(apis.PortMapping{ContainerPort: 80}, apis.PortMapping{}),
			wantPorts: []uint32{31000, 31001},
			wantRest:  mesosproto.Ranges{{Begin: 31002, End: 31002}, {Begin: 31010, End: 31010}},
		},
		"fixed port reserved before dynamic ones": {
			spec:      spec(apis.PortMapping{}, apis.PortMapping{HostPort: 31000}),
			wantPorts: []uint32{31001, 31000},
			wantRest:  mesosproto.Ranges{{Begin: 31002, End: 31002}, {Begin: 31010, End: 31010}},
		},
		"spans ranges": {
			spec:      spec(apis.PortMapping{}, apis.PortMapping{}, apis.PortMapping{}, apis.PortMapping{}),
			wantPorts: []uint32{31000, 31001, 31002, 31010},
		},
		"fixed port not offered": {
			spec: spec(apis.PortMapping{HostPort: 8080}), wantErr: ErrInsufficientResources,
		},
		"too many ports": {
			spec:    spec(apis.PortMapping{}, apis.PortMapping{}, apis.PortMapping{}, apis.PortMapping{}, apis.PortMapping{}),
			wantErr: ErrInsufficientResources,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ports, rest, err := ChoosePorts(free, tc.spec)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Equal(t, free, rest, "free ranges are returned untouched on error")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.wantPorts, ports)
			if tc.wantRest == nil {
				assert.Empty(t, rest)
			} else {
				assert.Equal(t, tc.wantRest, rest)
			}
		})
	}
	assert.Equal(t, mesosproto.Ranges{{Begin: 31000, End: 31002}, {Begin: 31010, End: 31010}}, free, "input not modified")
}

func TestChoosePorts_FeedsNewTaskInfo(t *testing.T) {
	run := testRun(func(r *apis.Run) {
		r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "a"},
			Network: apis.NetworkBridge, PortMappings: []apis.PortMapping{{ContainerPort: 80}, {ContainerPort: 443}}}
	})
	offer := testOffer()
	ports, _, err := ChoosePorts(OfferPorts(offer), &run.Spec)
	require.NoError(t, err)
	task, err := NewTaskInfo(run, "t-1", offer, ports, TaskOptions{})
	require.NoError(t, err)
	assert.Len(t, task.Container.Docker.PortMappings, 2)
}
