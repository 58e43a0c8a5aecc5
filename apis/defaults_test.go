package apis

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func boolPtr(b bool) *bool { return &b }

func TestSetDefaults(t *testing.T) {
	tests := map[string]struct {
		in, want Run
	}{
		"type meta and nothing else for a native run": {
			in:   Run{Spec: RunSpec{Command: "x"}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun}, Spec: RunSpec{Command: "x"}},
		},
		"keeps explicit type meta": {
			in:   Run{TypeMeta: TypeMeta{APIVersion: "v9", Kind: "Pod"}},
			want: Run{TypeMeta: TypeMeta{APIVersion: "v9", Kind: "Pod"}},
		},
		"container network, protocol, volume mode": {
			in: Run{Spec: RunSpec{Container: &Container{Type: "docker", Docker: &DockerInfo{Image: "a"},
				PortMappings: []PortMapping{{ContainerPort: 80}, {ContainerPort: 53, Protocol: "UDP"}},
				Volumes:      []Volume{{ContainerPath: "/a", HostPath: "/b"}, {ContainerPath: "/c", HostPath: "/d", Mode: "ro"}}}}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun}, Spec: RunSpec{Container: &Container{Type: ContainerDocker, Docker: &DockerInfo{Image: "a"},
				Network:      NetworkHost,
				PortMappings: []PortMapping{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 53, Protocol: "udp"}},
				Volumes:      []Volume{{ContainerPath: "/a", HostPath: "/b", Mode: VolumeRW}, {ContainerPath: "/c", HostPath: "/d", Mode: VolumeRO}}}}},
		},
		"keeps bridge": {
			in:   Run{Spec: RunSpec{Container: &Container{Type: ContainerMesos, Network: "bridge"}}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun}, Spec: RunSpec{Container: &Container{Type: ContainerMesos, Network: NetworkBridge}}},
		},
		"uri extract nil means true, false kept": {
			in:   Run{Spec: RunSpec{URIs: []URI{{Value: "/a"}, {Value: "/b", Extract: boolPtr(false)}}}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun}, Spec: RunSpec{URIs: []URI{{Value: "/a", Extract: boolPtr(true)}, {Value: "/b", Extract: boolPtr(false)}}}},
		},
		"empty collections become nil": {
			in: Run{Metadata: ObjectMeta{Labels: map[string]string{}, Annotations: map[string]string{}},
				Spec:   RunSpec{Env: map[string]string{}, Args: []string{}, URIs: []URI{}, Constraints: [][]string{}, Container: &Container{Type: ContainerDocker, Docker: &DockerInfo{Image: "a", Parameters: []Parameter{}}, Network: NetworkHost, Networks: []Network{}, PortMappings: []PortMapping{}, Volumes: []Volume{}}},
				Status: RunStatus{Ports: []int32{}}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun},
				Spec: RunSpec{Container: &Container{Type: ContainerDocker, Docker: &DockerInfo{Image: "a"}, Network: NetworkHost}}},
		},
		"never defaults resources": {
			in:   Run{Spec: RunSpec{Cpus: 0, Mem: 0}},
			want: Run{TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.in
			SetDefaults(&got)
			assert.Equal(t, tc.want, got)
			SetDefaults(&got)
			assert.Equal(t, tc.want, got, "idempotent")
		})
	}
	SetDefaults(nil) // must not panic
}

func TestSetDefaults_TimesInUTC(t *testing.T) {
	local := time.Date(2026, 11, 21, 11, 30, 0, 0, time.FixedZone("CET", 3600))
	r := Run{Metadata: ObjectMeta{CreationTimestamp: &local}, Status: RunStatus{StartTime: &local}}
	SetDefaults(&r)
	want := time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC)
	assert.Equal(t, want, *r.Metadata.CreationTimestamp)
	assert.Equal(t, want, *r.Status.StartTime)
	assert.Equal(t, "CET", local.Location().String(), "the caller's time is not modified")
}
