package mesos

import (
	"math"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// testOffer is an agent with 4 cpus, 8 GiB, 10 GB disk, 2 gpus and ports
// 31000-31010, all unreserved.
func testOffer() *mesosproto.Offer {
	return &mesosproto.Offer{
		ID:          mesosproto.OfferID{Value: "offer-1"},
		FrameworkID: mesosproto.FrameworkID{Value: "fw-1"},
		AgentID:     mesosproto.AgentID{Value: "agent-1"},
		Hostname:    "agent-1.example",
		Resources: []mesosproto.Resource{
			resources.NewCPUs(4).Role("*").Resource,
			resources.NewMemory(8192).Role("*").Resource,
			resources.NewDisk(10000).Role("*").Resource,
			resources.NewGPUs(2).Role("*").Resource,
			resources.Build().Name(resources.NamePorts).Role("*").
				Ranges(mesosproto.Ranges{{Begin: 31000, End: 31010}}).Resource,
		},
	}
}

// multiRoleOffer is testOffer allocated to role "batch", as Mesos sends
// offers to MULTI_ROLE frameworks.
func multiRoleOffer() *mesosproto.Offer {
	o := testOffer()
	role := "batch"
	o.AllocationInfo = &mesosproto.Resource_AllocationInfo{Role: &role}
	o.Resources = mesosproto.Resources(o.Resources).Allocate(role)
	return o
}

func testRun(mutate func(*apis.Run)) *apis.Run {
	r := &apis.Run{
		Metadata: apis.ObjectMeta{Name: "etl", Labels: map[string]string{"team": "data"}},
		Spec:     apis.RunSpec{Command: "echo hi", Cpus: 0.5, Mem: 256},
	}
	if mutate != nil {
		mutate(r)
	}
	return r
}

func envOf(t *testing.T, task mesosproto.TaskInfo) map[string]string {
	t.Helper()
	require.NotNil(t, task.Command)
	require.NotNil(t, task.Command.Environment)
	env := map[string]string{}
	for _, v := range task.Command.Environment.Variables {
		env[v.Name] = v.GetValue()
	}
	return env
}

func scalar(task mesosproto.TaskInfo, name string) float64 {
	r, ok := resources.Name(name).Sum(task.Resources...)
	if !ok {
		return 0
	}
	return r.GetScalar().GetValue()
}

func TestNewTaskInfo(t *testing.T) {
	tests := map[string]struct {
		run     *apis.Run
		offer   *mesosproto.Offer
		ports   []uint32
		opts    TaskOptions
		wantErr error
		check   func(t *testing.T, task mesosproto.TaskInfo)
	}{
		"shell command": {
			run: testRun(nil),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.True(t, task.Command.GetShell())
				assert.Equal(t, "echo hi", task.Command.GetValue())
				assert.Empty(t, task.Command.Arguments)
				assert.Nil(t, task.Container)
				assert.Equal(t, "etl", task.Name)
				assert.Equal(t, "task-1", task.TaskID.Value)
				assert.Equal(t, "agent-1", task.AgentID.Value)
				assert.InDelta(t, 0.5, scalar(task, "cpus"), 1e-9)
				assert.InDelta(t, 256, scalar(task, "mem"), 1e-9)
				assert.Zero(t, scalar(task, "disk"))
				assert.Zero(t, scalar(task, "gpus"))
				assert.Nil(t, task.KillPolicy)
				assert.Nil(t, task.Command.User)
			},
		},
		"args exec form": {
			run: testRun(func(r *apis.Run) { r.Spec.Command, r.Spec.Args = "", []string{"/usr/bin/env", "-i"} }),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.False(t, task.Command.GetShell())
				assert.Equal(t, "/usr/bin/env", task.Command.GetValue())
				assert.Equal(t, []string{"/usr/bin/env", "-i"}, task.Command.Arguments)
			},
		},
		"docker args replace CMD without value": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Command, r.Spec.Args = "", []string{"sleep", "10"}
				r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "alpine:3.20"}}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.False(t, task.Command.GetShell())
				assert.Nil(t, task.Command.Value)
				assert.Equal(t, []string{"sleep", "10"}, task.Command.Arguments)
			},
		},
		"image without type is docker": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{Docker: &apis.DockerInfo{Image: "alpine"}}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				require.NotNil(t, task.Container)
				assert.Equal(t, mesosproto.ContainerInfo_DOCKER, task.Container.GetType())
				assert.Equal(t, "alpine", task.Container.Docker.Image)
			},
		},
		"lower-case type": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{Type: "mesos", Docker: &apis.DockerInfo{Image: "alpine"}}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.Equal(t, mesosproto.ContainerInfo_MESOS, task.Container.GetType())
			},
		},
		"image entrypoint when no command": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Command = ""
				r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "hello-world"}}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.False(t, task.Command.GetShell())
				assert.Nil(t, task.Command.Value)
				assert.Empty(t, task.Command.Arguments)
			},
		},
		"neither command nor image": {
			run:     testRun(func(r *apis.Run) { r.Spec.Command = "" }),
			wantErr: apis.ErrInvalid,
		},
		"both command and args": {
			run:     testRun(func(r *apis.Run) { r.Spec.Args = []string{"x"} }),
			wantErr: apis.ErrInvalid,
		},
		"user and kill grace": {
			run:  testRun(func(r *apis.Run) { r.Spec.User = "nobody" }),
			opts: TaskOptions{KillGracePeriod: 30 * time.Second},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.Equal(t, "nobody", task.Command.GetUser())
				require.NotNil(t, task.KillPolicy)
				assert.Equal(t, (30 * time.Second).Nanoseconds(), task.KillPolicy.GracePeriod.Nanoseconds)
			},
		},
		"task name from label name": {
			run: testRun(func(r *apis.Run) { r.Metadata.Labels["name"] = "testing" }),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.Equal(t, "testing", task.Name)
			},
		},
		"environment": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Env = map[string]string{"DAY": "2026-11-21", "PORT0": "overridden", "HOST": "x"}
				r.Metadata.Labels["app.kubernetes.io/name"] = "etl"
				r.Spec.Container = &apis.Container{PortMappings: []apis.PortMapping{
					{ContainerPort: 8080, Name: "http-api"},
					{ContainerPort: 0},
				}}
			}),
			ports: []uint32{31000, 31001},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				env := envOf(t, task)
				assert.Equal(t, map[string]string{
					"DAY":                                 "2026-11-21",
					"HOST":                                "agent-1.example",
					"PORT0":                               "31000",
					"PORT1":                               "31001",
					"PORT":                                "31000",
					"PORTS":                               "31000,31001",
					"PORT_8080":                           "31000",
					"PORT_31001":                          "31001",
					"PORT_HTTP_API":                       "31000",
					"SPRINT_RUN_NAME":                     "etl",
					"SPRINT_LABEL_TEAM":                   "data",
					"SPRINT_LABEL_APP_KUBERNETES_IO_NAME": "etl",
					"MESOS_TASK_ID":                       "task-1",
				}, env)
				assert.Nil(t, task.Container, "a container without type only requests ports")
				ports, ok := resources.Ports(task.Resources...)
				require.True(t, ok)
				assert.Equal(t, mesosproto.Ranges{{Begin: 31000, End: 31001}}, ports.Sort().Squash())
				// The environment is sorted, so equal Runs give equal tasks.
				vars := task.Command.Environment.Variables
				for i := 1; i < len(vars); i++ {
					assert.Less(t, vars[i-1].Name, vars[i].Name)
				}
			},
		},
		"disk gpus and ports resources": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Disk, r.Spec.Gpus = 100, 1
				r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "a"},
					Network: apis.NetworkHost, PortMappings: []apis.PortMapping{{ContainerPort: 80}}}
			}),
			ports: []uint32{31005},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.InDelta(t, 100, scalar(task, "disk"), 1e-9)
				assert.InDelta(t, 1, scalar(task, "gpus"), 1e-9)
				ports, _ := resources.Ports(task.Resources...)
				assert.Equal(t, mesosproto.Ranges{{Begin: 31005, End: 31005}}, ports)
				for _, r := range task.Resources {
					assert.Equal(t, "*", r.GetRole(), r.Name)
					assert.Nil(t, r.AllocationInfo, r.Name)
				}
				assert.Empty(t, task.Container.Docker.PortMappings, "docker refuses port mappings on the host network")
				assert.Equal(t, mesosproto.ContainerInfo_DockerInfo_HOST, task.Container.Docker.GetNetwork())
			},
		},
		"multi-role offer keeps allocation_info": {
			run:   testRun(nil),
			offer: multiRoleOffer(),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				require.NotEmpty(t, task.Resources)
				for _, r := range task.Resources {
					assert.Equal(t, "batch", r.GetAllocationInfo().GetRole(), r.Name)
				}
				off := multiRoleOffer()
				assert.True(t, resources.ContainsAll(off.Resources, task.Resources))
			},
		},
		"reserved resources keep their role": {
			run: testRun(nil),
			offer: func() *mesosproto.Offer {
				o := testOffer()
				o.Resources = []mesosproto.Resource{
					resources.NewCPUs(1).Role("eng").Resource,
					resources.NewMemory(512).Role("eng").Resource,
				}
				return o
			}(),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				for _, r := range task.Resources {
					assert.Equal(t, "eng", r.GetRole(), r.Name)
				}
			},
		},
		"zero cpus": {
			run:     testRun(func(r *apis.Run) { r.Spec.Cpus = 0 }),
			wantErr: apis.ErrInvalid,
		},
		"NaN mem": {
			run:     testRun(func(r *apis.Run) { r.Spec.Mem = math.NaN() }),
			wantErr: apis.ErrInvalid,
		},
		"overflowing cpus": {
			run:     testRun(func(r *apis.Run) { r.Spec.Cpus = 1e308 }),
			wantErr: apis.ErrInvalid,
		},
		"infinite disk": {
			run:     testRun(func(r *apis.Run) { r.Spec.Disk = math.Inf(1) }),
			wantErr: apis.ErrInvalid,
		},
		"negative disk": {
			run:     testRun(func(r *apis.Run) { r.Spec.Disk = -1 }),
			wantErr: apis.ErrInvalid,
		},
		"negative gpus": {
			run:     testRun(func(r *apis.Run) { r.Spec.Gpus = -1 }),
			wantErr: apis.ErrInvalid,
		},
		"too few cpus": {
			run:     testRun(func(r *apis.Run) { r.Spec.Cpus = 5 }),
			wantErr: ErrInsufficientResources,
		},
		"too much mem": {
			run:     testRun(func(r *apis.Run) { r.Spec.Mem = 9000 }),
			wantErr: ErrInsufficientResources,
		},
		"port outside the offer": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{PortMappings: []apis.PortMapping{{ContainerPort: 80}}}
			}),
			ports:   []uint32{40000},
			wantErr: ErrInsufficientResources,
		},
		"port count mismatch": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{PortMappings: []apis.PortMapping{{ContainerPort: 80}}}
			}),
			wantErr: apis.ErrInvalid,
		},
		"fixed host port mismatch": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{PortMappings: []apis.PortMapping{{ContainerPort: 80, HostPort: 31003}}}
			}),
			ports:   []uint32{31004},
			wantErr: apis.ErrInvalid,
		},
		"docker bridge": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{
					Type: apis.ContainerDocker,
					Docker: &apis.DockerInfo{Image: "nginx", ForcePullImage: true,
						Parameters: []apis.Parameter{{Key: "memory-swap", Value: "-1"}}},
					Network:      "bridge",
					PortMappings: []apis.PortMapping{{ContainerPort: 80, Protocol: "tcp,udp"}, {ContainerPort: 0}},
					Volumes: []apis.Volume{
						{ContainerPath: "/data", HostPath: "/srv/data", Mode: "RO"},
						{ContainerPath: "/tmp", HostPath: "/var/tmp"},
					},
				}
			}),
			ports: []uint32{31000, 31002},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				c := task.Container
				require.NotNil(t, c)
				assert.Equal(t, mesosproto.ContainerInfo_DOCKER, c.GetType())
				d := c.Docker
				require.NotNil(t, d)
				assert.Equal(t, "nginx", d.Image)
				assert.True(t, d.GetForcePullImage())
				assert.Equal(t, mesosproto.ContainerInfo_DockerInfo_BRIDGE, d.GetNetwork())
				assert.Equal(t, []mesosproto.Parameter{{Key: "memory-swap", Value: "-1"}}, d.Parameters)
				assert.Equal(t, []mesosproto.ContainerInfo_DockerInfo_PortMapping{
					{HostPort: 31000, ContainerPort: 80, Protocol: ptr("tcp")},
					{HostPort: 31000, ContainerPort: 80, Protocol: ptr("udp")},
					{HostPort: 31002, ContainerPort: 31002, Protocol: ptr("tcp")},
				}, d.PortMappings)
				require.Len(t, c.Volumes, 2)
				assert.Equal(t, mesosproto.RO, c.Volumes[0].GetMode())
				assert.Equal(t, "/srv/data", c.Volumes[0].GetHostPath())
				assert.Equal(t, "/data", c.Volumes[0].ContainerPath)
				assert.Equal(t, mesosproto.RW, c.Volumes[1].GetMode())
				assert.Empty(t, c.NetworkInfos)
			},
		},
		"docker user network": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{Type: apis.ContainerDocker, Docker: &apis.DockerInfo{Image: "a"},
					Network: apis.NetworkUser, Networks: []apis.Network{{Name: "overlay"}},
					PortMappings: []apis.PortMapping{{ContainerPort: 9000}}}
			}),
			ports: []uint32{31001},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				c := task.Container
				assert.Equal(t, mesosproto.ContainerInfo_DockerInfo_USER, c.Docker.GetNetwork())
				require.Len(t, c.NetworkInfos, 1)
				assert.Equal(t, "overlay", c.NetworkInfos[0].GetName())
				assert.Len(t, c.Docker.PortMappings, 1)
			},
		},
		"mesos containerizer with docker image": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{Type: apis.ContainerMesos,
					Docker:  &apis.DockerInfo{Image: "alpine:3.20", ForcePullImage: true},
					Network: apis.NetworkBridge, PortMappings: []apis.PortMapping{{ContainerPort: 8080, Name: "web"}}}
			}),
			ports: []uint32{31004},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				c := task.Container
				assert.Equal(t, mesosproto.ContainerInfo_MESOS, c.GetType())
				assert.Nil(t, c.Docker)
				require.NotNil(t, c.Mesos.GetImage())
				assert.Equal(t, mesosproto.Image_DOCKER, c.Mesos.Image.GetType())
				assert.Equal(t, "alpine:3.20", c.Mesos.Image.Docker.Name)
				assert.False(t, c.Mesos.Image.GetCached(), "force pull means not cached")
				require.Len(t, c.NetworkInfos, 1)
				assert.Equal(t, "mesos-bridge", c.NetworkInfos[0].GetName())
				assert.Equal(t, []mesosproto.NetworkInfo_PortMapping{{HostPort: 31004, ContainerPort: 8080, Protocol: ptr("tcp")}},
					c.NetworkInfos[0].PortMappings)
				assert.Equal(t, "31004", envOf(t, task)["PORT_WEB"])
			},
		},
		"mesos containerizer host network": {
			run: testRun(func(r *apis.Run) {
				r.Spec.Container = &apis.Container{Type: apis.ContainerMesos, Docker: &apis.DockerInfo{Image: "alpine"}}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.Empty(t, task.Container.NetworkInfos)
				assert.True(t, task.Container.Mesos.Image.GetCached())
			},
		},
		"uris": {
			run: testRun(func(r *apis.Run) {
				no := false
				r.Spec.URIs = []apis.URI{
					{Value: "https://example.org/etl.tgz"},
					{Value: "https://example.org/run.sh", Extract: &no, Executable: true, Cache: true},
				}
			}),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				u := task.Command.URIs
				require.Len(t, u, 2)
				assert.Equal(t, "https://example.org/etl.tgz", u[0].Value)
				assert.True(t, u[0].GetExtract(), "extract defaults to true")
				assert.False(t, u[0].GetExecutable())
				assert.False(t, u[0].GetCache())
				assert.False(t, u[1].GetExtract())
				assert.True(t, u[1].GetExecutable())
				assert.True(t, u[1].GetCache())
			},
		},
		"labels": {
			run:  testRun(func(r *apis.Run) { r.Metadata.Labels["tier"] = "batch" }),
			opts: TaskOptions{Labels: map[string]string{"sprint.run-uid": "u-1", "tier": "override"}},
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				require.NotNil(t, task.Labels)
				assert.Equal(t, []mesosproto.Label{
					{Key: "sprint.run-uid", Value: ptr("u-1")},
					{Key: "team", Value: ptr("data")},
					{Key: "tier", Value: ptr("override")},
				}, task.Labels.Labels)
			},
		},
		"no labels": {
			run: testRun(func(r *apis.Run) { r.Metadata.Labels = nil }),
			check: func(t *testing.T, task mesosproto.TaskInfo) {
				assert.Nil(t, task.Labels)
				assert.Equal(t, "etl", envOf(t, task)[EnvRunName])
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			offer := tc.offer
			if offer == nil {
				offer = testOffer()
			}
			task, err := NewTaskInfo(tc.run, "task-1", offer, tc.ports, tc.opts)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			// Every proto2 required field is set: Mesos would refuse the
			// task otherwise.
			b, err := task.Marshal()
			require.NoError(t, err)
			var back mesosproto.TaskInfo
			require.NoError(t, back.Unmarshal(b))
			assert.True(t, resources.ContainsAll(offer.Resources, task.Resources), "task resources come from the offer")
			tc.check(t, task)
		})
	}
}

func TestNewTaskInfo_IsPure(t *testing.T) {
	run := testRun(func(r *apis.Run) {
		r.Spec.Env = map[string]string{"A": "1", "B": "2", "C": "3"}
		r.Metadata.Labels = map[string]string{"x": "1", "y": "2", "z": "3"}
	})
	first, err := NewTaskInfo(run, "t", testOffer(), nil, TaskOptions{})
	require.NoError(t, err)
	for range 20 {
		again, err := NewTaskInfo(run, "t", testOffer(), nil, TaskOptions{})
		require.NoError(t, err)
		require.True(t, first.Equal(&again))
	}
	assert.Equal(t, map[string]string{"A": "1", "B": "2", "C": "3"}, run.Spec.Env, "the Run is not modified")
}

func TestNewTaskInfo_RequiresArguments(t *testing.T) {
	_, err := NewTaskInfo(nil, "t", testOffer(), nil, TaskOptions{})
	require.ErrorIs(t, err, apis.ErrInvalid)
	_, err = NewTaskInfo(testRun(nil), "", testOffer(), nil, TaskOptions{})
	require.ErrorIs(t, err, apis.ErrInvalid)
	_, err = NewTaskInfo(testRun(nil), "t", nil, nil, TaskOptions{})
	require.ErrorIs(t, err, apis.ErrInvalid)
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"team":                   "TEAM",
		"app.kubernetes.io/name": "APP_KUBERNETES_IO_NAME",
		"http-api":               "HTTP_API",
		"a_b9":                   "A_B9",
		"ünï":                    "_N_",
	} {
		assert.Equal(t, want, EnvName(in), in)
	}
}

// findPlain gives what resources.Find gives, on every offer it accepts,
// and declines the offers it cannot treat (reservations, several
// resources of one name, disk sources), which then go to Find.
func TestFindPlain_SameAsFind(t *testing.T) {
	ports := func(rs ...mesosproto.Value_Range) mesosproto.Resource {
		return resources.Build().Name(resources.NamePorts).Role("*").Ranges(rs).Resource
	}
	portWant := func(p uint64) mesosproto.Resource {
		return resources.Build().Name(resources.NamePorts).Ranges(mesosproto.Ranges{{Begin: p, End: p}}).Resource
	}
	noRole := testOffer()
	for i := range noRole.Resources {
		noRole.Resources[i].Role = nil
	}
	twoRanges := testOffer()
	twoRanges.Resources[4] = ports(mesosproto.Value_Range{Begin: 31000, End: 31001}, mesosproto.Value_Range{Begin: 32000, End: 32010})
	reserved := testOffer()
	reserved.Resources[0] = resources.NewCPUs(4).Role("batch").Resource
	duplicate := testOffer()
	duplicate.Resources = append(duplicate.Resources, resources.NewCPUs(1).Role("*").Resource)
	mounted := testOffer()
	mounted.Resources[2].Disk = &mesosproto.Resource_DiskInfo{Source: &mesosproto.Resource_DiskInfo_Source{Type: mesosproto.Resource_DiskInfo_Source_MOUNT}}

	cpuMem := mesosproto.Resources{resources.NewCPUs(0.5).Resource, resources.NewMemory(256).Resource}
	full := append(cpuMem.Clone(), resources.NewDisk(100).Resource, resources.NewGPUs(1).Resource, portWant(31001), portWant(31000), portWant(31005))
	tooMuch := mesosproto.Resources{resources.NewCPUs(64).Resource, resources.NewMemory(256).Resource}
	farPorts := append(cpuMem.Clone(), portWant(31001), portWant(32003))
	missingPort := append(cpuMem.Clone(), portWant(40000))
	zero := mesosproto.Resources{resources.NewCPUs(0).Resource, resources.NewMemory(256).Resource}

	for _, tc := range []struct {
		name  string
		want  mesosproto.Resources
		offer *mesosproto.Offer
		plain bool
	}{
		{"cpus and mem", cpuMem, testOffer(), true},
		{"everything", full, testOffer(), true},
		{"multi-role", full.Clone().Allocate("batch"), multiRoleOffer(), true},
		{"allocated want, plain offer", cpuMem.Clone().Allocate("batch"), testOffer(), false},
		{"role unset", full, noRole, true},
		{"ports from two ranges", farPorts, twoRanges, true},
		{"not enough cpus", tooMuch, testOffer(), false},
		{"port not offered", missingPort, testOffer(), false},
		{"zero cpus", zero, testOffer(), false},
		{"reserved cpus", cpuMem, reserved, false},
		{"two cpus resources", cpuMem, duplicate, false},
		{"mount disk", cpuMem, mounted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := findPlain(tc.want, tc.offer.Resources)
			require.Equal(t, tc.plain, ok)
			if !ok {
				return
			}
			want := resources.Find(tc.want, tc.offer.Resources...)
			require.NotEmpty(t, want)
			assert.Equal(t, want, got)
		})
	}
}
