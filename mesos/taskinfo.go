package mesos

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/resources"

	"github.com/sprint-project/sprint/apis"
)

// TaskOptions carries what NewTaskInfo needs beyond the Run.
type TaskOptions struct {
	// KillGracePeriod is the time between SIGTERM and SIGKILL when the task
	// is killed; 0 leaves Mesos' default (3 s).
	KillGracePeriod time.Duration
	// Labels are added to the Run's labels on the Mesos task (e.g. the
	// Run's UID and attempt), winning on conflict.
	Labels map[string]string
}

// Environment variables NewTaskInfo sets; they win over the Run's env.
const (
	EnvHost         = "HOST"
	EnvPorts        = "PORTS"
	EnvPort         = "PORT"
	EnvRunName      = "SPRINT_RUN_NAME"
	EnvLabelPrefix  = "SPRINT_LABEL_"
	EnvMesosTaskID  = "MESOS_TASK_ID"
	taskNameLabel   = "name"
	defaultProtocol = "tcp"
	// mesosBridgeNetwork is the CNI network Mesos' containerizer uses for
	// bridge mode, as Marathon names it.
	mesosBridgeNetwork = "mesos-bridge"
)

// NewTaskInfo builds the TaskInfo that runs run as taskID on offer's
// agent. ports are the host ports chosen for the Run's port mappings, in
// order (see ChoosePorts). It is a pure function: the same arguments give
// the same TaskInfo.
//
//   - Command runs under a shell; Args run without one (value Args[0],
//     arguments Args, as Mesos' exec form wants). For the Docker
//     containerizer Args replace the image's CMD (no value, Marathon's
//     way); with neither, the image's entrypoint runs.
//   - Environment: the Run's env, then HOST (offer hostname), PORT0…,
//     PORT, PORTS, PORT_<containerPort> (the host port when containerPort
//     is 0), PORT_<NAME>, SPRINT_RUN_NAME, SPRINT_LABEL_<KEY> and
//     MESOS_TASK_ID, names upper-cased with non-alphanumerics as "_".
//   - Resources cpus, mem, disk, gpus and the ports, taken from the
//     offer's resources with their role, reservation and allocation_info.
//   - The task name is the Run's label "name" when set (as Sprint does),
//     else the Run's name.
//
// It returns apis.ErrInvalid for a Run it cannot express and
// ErrInsufficientResources when the offer cannot hold it.
func NewTaskInfo(run *apis.Run, taskID string, offer *mesosproto.Offer, ports []uint32, opts TaskOptions) (mesosproto.TaskInfo, error) {
	if run == nil || offer == nil || taskID == "" {
		return mesosproto.TaskInfo{}, fmt.Errorf("new task info: run, task id and offer are required: %w", apis.ErrInvalid)
	}
	spec := &run.Spec
	if err := checkScalars(spec); err != nil {
		return mesosproto.TaskInfo{}, fmt.Errorf("task %s: %w", taskID, err)
	}
	mappings := portMappings(spec)
	if len(ports) != len(mappings) {
		return mesosproto.TaskInfo{}, fmt.Errorf("task %s: %d ports for %d port mappings: %w",
			taskID, len(ports), len(mappings), apis.ErrInvalid)
	}
	for i, m := range mappings {
		if m.HostPort > 0 && uint32(m.HostPort) != ports[i] {
			return mesosproto.TaskInfo{}, fmt.Errorf("task %s: port mapping %d wants host port %d, got %d: %w",
				taskID, i, m.HostPort, ports[i], apis.ErrInvalid)
		}
	}
	cmd, err := commandInfo(run, taskID, offer, ports)
	if err != nil {
		return mesosproto.TaskInfo{}, err
	}
	res, err := taskResources(spec, offer, ports)
	if err != nil {
		return mesosproto.TaskInfo{}, fmt.Errorf("task %s on offer %s: %w", taskID, offer.ID.Value, err)
	}
	task := mesosproto.TaskInfo{
		Name:      taskName(run),
		TaskID:    mesosproto.TaskID{Value: taskID},
		AgentID:   offer.AgentID,
		Resources: res,
		Command:   cmd,
		Container: containerInfo(spec.Container, ports),
		Labels:    taskLabels(run.Metadata.Labels, opts.Labels),
	}
	if opts.KillGracePeriod > 0 {
		task.KillPolicy = &mesosproto.KillPolicy{
			GracePeriod: &mesosproto.DurationInfo{Nanoseconds: opts.KillGracePeriod.Nanoseconds()},
		}
	}
	return task, nil
}

// maxScalar bounds resource amounts: Mesos and mesos-go keep scalars as
// fixed-point thousandths in an int64, so larger values (and NaN, ±Inf)
// would overflow and compare as fitting any offer.
const maxScalar = 1e12

// checkScalars rejects resource amounts Mesos cannot represent: cpus and
// mem must be at least 0.001 (Mesos' precision), disk 0 or at least that.
func checkScalars(spec *apis.RunSpec) error {
	for _, r := range []struct {
		name     string
		v        float64
		optional bool
	}{{"cpus", spec.Cpus, false}, {"mem", spec.Mem, false}, {"disk", spec.Disk, true}} {
		if r.optional && r.v == 0 {
			continue
		}
		// Written so that NaN fails too.
		if !(r.v >= 0.001 && r.v <= maxScalar) {
			return fmt.Errorf("%s %v: want a number from 0.001 to %g: %w", r.name, r.v, float64(maxScalar), apis.ErrInvalid)
		}
	}
	if spec.Gpus < 0 {
		return fmt.Errorf("gpus %d: want ≥ 0: %w", spec.Gpus, apis.ErrInvalid)
	}
	return nil
}

// portMappings returns the Run's port requests; a Run without container
// has none.
func portMappings(spec *apis.RunSpec) []apis.PortMapping {
	if spec.Container == nil {
		return nil
	}
	return spec.Container.PortMappings
}

func taskName(run *apis.Run) string {
	if n := run.Metadata.Labels[taskNameLabel]; n != "" {
		return n
	}
	return run.Metadata.Name
}

func commandInfo(run *apis.Run, taskID string, offer *mesosproto.Offer, ports []uint32) (*mesosproto.CommandInfo, error) {
	spec := &run.Spec
	hasImage := spec.Container != nil && spec.Container.Docker != nil && spec.Container.Docker.Image != ""
	docker := containerType(spec.Container) == apis.ContainerDocker
	cmd := &mesosproto.CommandInfo{
		Environment: &mesosproto.Environment{Variables: taskEnv(run, taskID, offer, ports)},
	}
	switch {
	case spec.Command != "" && len(spec.Args) > 0:
		return nil, fmt.Errorf("task %s: both command and args: %w", taskID, apis.ErrInvalid)
	case spec.Command != "":
		cmd.Shell = ptr(true)
		cmd.Value = ptr(spec.Command)
	case len(spec.Args) > 0:
		cmd.Shell = ptr(false)
		cmd.Arguments = slices.Clone(spec.Args)
		if !docker {
			cmd.Value = ptr(spec.Args[0])
		}
	case hasImage:
		cmd.Shell = ptr(false)
	default:
		return nil, fmt.Errorf("task %s: no command, args or container image: %w", taskID, apis.ErrInvalid)
	}
	if spec.User != "" {
		cmd.User = ptr(spec.User)
	}
	for _, u := range spec.URIs {
		cmd.URIs = append(cmd.URIs, mesosproto.CommandInfo_URI{
			Value:      u.Value,
			Extract:    ptr(u.Extract == nil || *u.Extract),
			Executable: ptr(u.Executable),
			Cache:      ptr(u.Cache),
		})
	}
	return cmd, nil
}

// taskEnv returns the task's environment sorted by name, so that equal
// Runs give equal TaskInfos.
func taskEnv(run *apis.Run, taskID string, offer *mesosproto.Offer, ports []uint32) []mesosproto.Environment_Variable {
	env := maps.Clone(run.Spec.Env)
	if env == nil {
		env = map[string]string{}
	}
	env[EnvHost] = offer.Hostname
	if len(ports) > 0 {
		all := make([]string, len(ports))
		for i, p := range ports {
			all[i] = strconv.FormatUint(uint64(p), 10)
			env["PORT"+strconv.Itoa(i)] = all[i]
		}
		env[EnvPort] = all[0]
		env[EnvPorts] = strings.Join(all, ",")
		for i, m := range portMappings(&run.Spec) {
			declared := uint32(m.ContainerPort)
			if declared == 0 {
				declared = ports[i]
			}
			env["PORT_"+strconv.FormatUint(uint64(declared), 10)] = all[i]
			if m.Name != "" {
				env["PORT_"+EnvName(m.Name)] = all[i]
			}
		}
	}
	env[EnvRunName] = run.Metadata.Name
	for k, v := range run.Metadata.Labels {
		env[EnvLabelPrefix+EnvName(k)] = v
	}
	env[EnvMesosTaskID] = taskID
	vars := make([]mesosproto.Environment_Variable, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		vars = append(vars, mesosproto.Environment_Variable{Name: k, Value: ptr(env[k])})
	}
	return vars
}

// EnvName turns s into an environment variable name part: ASCII letters
// upper-cased, every character other than A-Z, 0-9 and _ replaced by "_".
func EnvName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
		case (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// taskResources takes the Run's resources out of the offer, keeping the
// offer's roles, reservations and allocation_info (MULTI_ROLE).
func taskResources(spec *apis.RunSpec, offer *mesosproto.Offer, ports []uint32) ([]mesosproto.Resource, error) {
	want := mesosproto.Resources{resources.NewCPUs(spec.Cpus).Resource, resources.NewMemory(spec.Mem).Resource}
	if spec.Disk > 0 {
		want = append(want, resources.NewDisk(spec.Disk).Resource)
	}
	if spec.Gpus > 0 {
		want = append(want, resources.NewGPUs(uint(spec.Gpus)).Resource)
	}
	for _, p := range ports {
		// One resource per port: the ports may come from differently
		// reserved ranges of the offer.
		want = append(want, resources.Build().Name(resources.NamePorts).
			Ranges(mesosproto.Ranges{{Begin: uint64(p), End: uint64(p)}}).Resource)
	}
	if role := allocationRole(offer); role != "" {
		want = want.Allocate(role)
	}
	if found, ok := findPlain(want, offer.Resources); ok {
		return found, nil
	}
	if found := resources.Find(want, offer.Resources...); len(found) > 0 {
		return found, nil
	}
	// Name the first resource the offer cannot give.
	for i := range want {
		if len(resources.Find(want[i:i+1], offer.Resources...)) == 0 {
			return nil, fmt.Errorf("%s %s: %w", want[i].Name, resourceValue(want[i]), ErrInsufficientResources)
		}
	}
	return nil, fmt.Errorf("%s: %w", want, ErrInsufficientResources)
}

// findPlain is resources.Find(want, offered...) for the common offer whose
// resources are all plain: unreserved, one per name, no disk source,
// revocable, shared or provider. It reports false when the offer is not
// plain or a want is not simply contained in its resource; the caller
// then uses resources.Find. It gives the same result as Find
// (TestFindPlain_SameAsFind) without Find's cost, which clones every
// offered resource once per wanted one: most of a launch's CPU on the
// leader.
func findPlain(want mesosproto.Resources, offered []mesosproto.Resource) (mesosproto.Resources, bool) {
	byName := make(map[string]*mesosproto.Resource, len(offered))
	for i := range offered {
		r := &offered[i]
		if r.Reservation != nil || len(r.Reservations) > 0 || (r.Role != nil && *r.Role != "*") ||
			r.Disk != nil || r.Revocable != nil || r.Shared != nil || r.ProviderID != nil {
			return nil, false
		}
		if _, dup := byName[r.Name]; dup {
			return nil, false
		}
		byName[r.Name] = r
	}
	var found mesosproto.Resources
	for _, w := range want {
		r, ok := byName[w.Name]
		if !ok || w.IsEmpty() || w.Validate() != nil || w.IsReserved("") {
			return nil, false
		}
		wu, ru := w, *r // shallow copies, as Find's ToUnreserved makes
		wu.Role, wu.Reservation, wu.Reservations = nil, nil, nil
		ru.Role = nil
		if !resources.ContainsAll(mesosproto.Resources{ru}, mesosproto.Resources{wu}) {
			return nil, false
		}
		wu.Role = r.Role
		found.Add1(wu)
	}
	return found, len(found) > 0
}

// allocationRole is the role the offer is allocated to when the framework
// is MULTI_ROLE, "" otherwise.
func allocationRole(offer *mesosproto.Offer) string {
	if r := offer.GetAllocationInfo().GetRole(); r != "" {
		return r
	}
	for i := range offer.Resources {
		if r := offer.Resources[i].GetAllocationInfo().GetRole(); r != "" {
			return r
		}
	}
	return ""
}

func resourceValue(r mesosproto.Resource) string {
	if r.Scalar != nil {
		return strconv.FormatFloat(r.Scalar.Value, 'f', -1, 64)
	}
	return r.Ranges.String()
}

func taskLabels(run, extra map[string]string) *mesosproto.Labels {
	all := maps.Clone(run)
	if all == nil {
		all = map[string]string{}
	}
	maps.Copy(all, extra)
	if len(all) == 0 {
		return nil
	}
	labels := &mesosproto.Labels{}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		labels.Labels = append(labels.Labels, mesosproto.Label{Key: k, Value: ptr(all[k])})
	}
	return labels
}

// containerInfo maps the Run's container; nil for a plain command task or
// a container with neither type nor image (ports only).
func containerInfo(c *apis.Container, ports []uint32) *mesosproto.ContainerInfo {
	typ := containerType(c)
	if typ != apis.ContainerDocker && typ != apis.ContainerMesos {
		return nil
	}
	ci := &mesosproto.ContainerInfo{}
	for _, v := range c.Volumes {
		mode := mesosproto.RW
		if strings.EqualFold(v.Mode, apis.VolumeRO) {
			mode = mesosproto.RO
		}
		ci.Volumes = append(ci.Volumes, mesosproto.Volume{
			ContainerPath: v.ContainerPath,
			HostPath:      ptr(v.HostPath),
			Mode:          &mode,
		})
	}
	network := strings.ToUpper(c.Network)
	if network == "" {
		network = apis.NetworkHost
	}
	var image string
	var forcePull bool
	var params []mesosproto.Parameter
	if c.Docker != nil {
		image, forcePull = c.Docker.Image, c.Docker.ForcePullImage
		for _, p := range c.Docker.Parameters {
			params = append(params, mesosproto.Parameter{Key: p.Key, Value: p.Value})
		}
	}
	if typ == apis.ContainerDocker {
		ci.Type = mesosproto.ContainerInfo_DOCKER.Enum()
		di := &mesosproto.ContainerInfo_DockerInfo{
			Image:          image,
			Network:        dockerNetwork(network).Enum(),
			Parameters:     params,
			ForcePullImage: ptr(forcePull),
		}
		// Docker refuses port mappings on the host network.
		if network != apis.NetworkHost {
			for i, m := range c.PortMappings {
				for _, proto := range protocols(m.Protocol) {
					di.PortMappings = append(di.PortMappings, mesosproto.ContainerInfo_DockerInfo_PortMapping{
						HostPort:      ports[i],
						ContainerPort: containerPort(m, ports[i]),
						Protocol:      ptr(proto),
					})
				}
			}
		}
		ci.Docker = di
		if network == apis.NetworkUser {
			for _, n := range c.Networks {
				ci.NetworkInfos = append(ci.NetworkInfos, mesosproto.NetworkInfo{Name: ptr(n.Name)})
			}
		}
		return ci
	}
	ci.Type = mesosproto.ContainerInfo_MESOS.Enum()
	if image != "" {
		ci.Mesos = &mesosproto.ContainerInfo_MesosInfo{Image: &mesosproto.Image{
			Type:   mesosproto.Image_DOCKER.Enum(),
			Docker: &mesosproto.Image_Docker{Name: image},
			Cached: ptr(!forcePull),
		}}
	}
	var names []string
	switch network {
	case apis.NetworkBridge:
		names = []string{mesosBridgeNetwork}
	case apis.NetworkUser:
		for _, n := range c.Networks {
			names = append(names, n.Name)
		}
	}
	for j, name := range names {
		ni := mesosproto.NetworkInfo{Name: ptr(name)}
		// Port mappings belong to the first network only, as Marathon does.
		for i, m := range c.PortMappings {
			if j > 0 {
				break
			}
			for _, proto := range protocols(m.Protocol) {
				ni.PortMappings = append(ni.PortMappings, mesosproto.NetworkInfo_PortMapping{
					HostPort:      ports[i],
					ContainerPort: containerPort(m, ports[i]),
					Protocol:      ptr(proto),
				})
			}
		}
		ci.NetworkInfos = append(ci.NetworkInfos, ni)
	}
	return ci
}

// containerType is the container's type, upper-cased; an image without a
// type means DOCKER (as Marathon and Sprint default), no image and no type
// means none.
func containerType(c *apis.Container) string {
	if c == nil {
		return ""
	}
	if t := strings.ToUpper(c.Type); t != "" {
		return t
	}
	if c.Docker != nil && c.Docker.Image != "" {
		return apis.ContainerDocker
	}
	return ""
}

func dockerNetwork(n string) mesosproto.ContainerInfo_DockerInfo_Network {
	switch n {
	case apis.NetworkBridge:
		return mesosproto.ContainerInfo_DockerInfo_BRIDGE
	case apis.NetworkUser:
		return mesosproto.ContainerInfo_DockerInfo_USER
	}
	return mesosproto.ContainerInfo_DockerInfo_HOST
}

// containerPort is the mapping's container port; 0 means the host port,
// as in Marathon.
func containerPort(m apis.PortMapping, host uint32) uint32 {
	if m.ContainerPort > 0 {
		return uint32(m.ContainerPort)
	}
	return host
}

// protocols splits Marathon's "tcp,udp" into one entry per protocol.
func protocols(p string) []string {
	if p == "" {
		return []string{defaultProtocol}
	}
	var out []string
	for _, s := range strings.Split(strings.ToLower(p), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{defaultProtocol}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
