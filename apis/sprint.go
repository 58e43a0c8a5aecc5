package apis

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sprint's defaults for a ContainerRunDefinition that leaves out resources.
const (
	SprintDefaultCpus = 0.1
	SprintDefaultMem  = 100
)

// KindContainerRunDefinition names a Sprint definition in errors.
const KindContainerRunDefinition = "ContainerRunDefinition"

// TaskNameLabel is the label whose value, when set, becomes the Mesos task
// name (Sprint's rule); otherwise the Run name is used. See TaskName.
const TaskNameLabel = "name"

// Marathon 1.5 network modes used by Sprint definitions.
const (
	SprintNetworkHost      = "host"
	SprintNetworkBridge    = "container/bridge"
	SprintNetworkContainer = "container"
)

// ContainerRunDefinition is the body of Sprint's POST /v1/runs, kept
// field-for-field so Sprint clients work unchanged. Networking follows
// Marathon 1.5.
type ContainerRunDefinition struct {
	// Cmd is run by a shell; at most one of Cmd and Args.
	Cmd  string   `json:"cmd,omitempty"`
	Args []string `json:"args,omitempty"`
	// Container is required by Sprint.
	Container *SprintContainer `json:"container,omitempty"`
	// Cpus defaults to 0.1.
	Cpus float64 `json:"cpus,omitempty"`
	// Mem is in MiB and defaults to 100.
	Mem    float64           `json:"mem,omitempty"`
	Env    map[string]string `json:"env,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Constraints are [field, LIKE|UNLIKE, regex] (sprint also accepts
	// the other operators of a Run).
	Constraints [][]string `json:"constraints,omitempty"`
}

// SprintContainer is the container of a ContainerRunDefinition.
type SprintContainer struct {
	// Type is DOCKER or MESOS.
	Type   string      `json:"type"`
	Docker *DockerInfo `json:"docker"`
	// Networks absent means BRIDGE, which is what Sprint always used for
	// its Docker tasks.
	Networks     []SprintNetwork     `json:"networks,omitempty"`
	PortMappings []SprintPortMapping `json:"portMappings,omitempty"`
}

// SprintNetwork is a Marathon 1.5 network: mode "host", "container/bridge"
// or "container" with a Name.
type SprintNetwork struct {
	Name string `json:"name,omitempty"`
	Mode string `json:"mode,omitempty"`
}

// SprintPortMapping is a Marathon 1.5 port mapping. ContainerPort 0 means
// the same as the host port; HostPort 0 a port from the offer.
type SprintPortMapping struct {
	ContainerPort int32  `json:"containerPort"`
	HostPort      int32  `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
	Name          string `json:"name,omitempty"`
}

// SprintRun is Sprint's response shape for GET /v1/runs/{id}.
type SprintRun struct {
	ID           string                 `json:"id"`
	LastModified time.Time              `json:"lastModified"`
	State        string                 `json:"state"`
	Definition   ContainerRunDefinition `json:"definition"`
	Network      *SprintRunNetwork      `json:"network,omitempty"`
}

// SprintRunNetwork is where a launched run can be reached.
type SprintRunNetwork struct {
	Host         string              `json:"host"`
	PortMappings []SprintPortMapping `json:"portMappings,omitempty"`
}

// SetDefaults fills in Sprint's resource defaults.
func (d *ContainerRunDefinition) SetDefaults() {
	if d.Cpus == 0 {
		d.Cpus = SprintDefaultCpus
	}
	if d.Mem == 0 {
		d.Mem = SprintDefaultMem
	}
}

// RunFromDefinition turns a Sprint definition into a defaulted, validated
// Run named name (the server picks the name, e.g. a UUID as Sprint's IDs).
// Errors are *InvalidError (ErrInvalid) with Sprint's field paths, e.g.
// "container.docker.image: required".
func RunFromDefinition(def ContainerRunDefinition, name string) (*Run, error) {
	def.SetDefaults()
	r := &Run{
		TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun},
		Metadata: ObjectMeta{Name: name, Labels: cloneMap(def.Labels)},
		Spec: RunSpec{
			Command:     def.Cmd,
			Args:        cloneSlice(def.Args),
			Env:         cloneMap(def.Env),
			Cpus:        def.Cpus,
			Mem:         def.Mem,
			Constraints: cloneConstraints(def.Constraints),
		},
	}
	var errs ErrorList
	if c := def.Container; c == nil {
		errs = append(errs, fieldErr("container", "required"))
	} else {
		rc := &Container{Type: c.Type, Network: NetworkBridge}
		if c.Docker != nil {
			d := *c.Docker
			d.Parameters = cloneSlice(d.Parameters)
			rc.Docker = &d
		}
		for i, n := range c.Networks {
			var mode string
			switch n.Mode {
			case "", SprintNetworkContainer:
				mode = NetworkUser
				rc.Networks = append(rc.Networks, Network{Name: n.Name})
			case SprintNetworkBridge:
				mode = NetworkBridge
			case SprintNetworkHost:
				mode = NetworkHost
			default:
				errs = append(errs, fieldErr("container.networks["+strconv.Itoa(i)+"].mode", "unsupported value %q: must be host, container/bridge or container", n.Mode))
			}
			if i > 0 && mode != rc.Network {
				errs = append(errs, fieldErr("container.networks["+strconv.Itoa(i)+"].mode", "all networks must have the same mode"))
			}
			rc.Network = mode
		}
		for _, pm := range c.PortMappings {
			rc.PortMappings = append(rc.PortMappings, PortMapping(pm))
		}
		r.Spec.Container = rc
	}
	SetDefaults(r)
	for _, e := range ValidateRun(r) {
		errs = append(errs, &FieldError{Field: sprintPath(e.Field), Message: strings.ReplaceAll(e.Message, "spec.command", "cmd")})
	}
	if len(errs) > 0 {
		return nil, &InvalidError{Kind: KindContainerRunDefinition, Name: name, Errors: errs}
	}
	return r, nil
}

// sprintPath maps a Run field path to the definition's.
func sprintPath(p string) string {
	for _, m := range [][2]string{
		{"metadata.labels", "labels"},
		{"spec.command", "cmd"},
		{"spec.container.networks", "container.networks"},
		{"spec.container.network", "container.networks"},
		{"spec.", ""},
	} {
		if rest, ok := strings.CutPrefix(p, m[0]); ok {
			return m[1] + rest
		}
	}
	return p
}

// AdmitDefinition checks a Run made by RunFromDefinition against the
// policy, as AdmitRun does, naming fields by the definition's paths
// ("container.docker.parameters[0]"). The error is a *ForbiddenError of
// kind ContainerRunDefinition without a name: the id is made up only when
// the run is stored.
func (p Policy) AdmitDefinition(r *Run) error {
	errs := p.AdmitRunSpec(&r.Spec, "spec")
	if len(errs) == 0 {
		return nil
	}
	out := make(ErrorList, len(errs))
	for i, e := range errs {
		out[i] = &FieldError{Field: sprintPath(e.Field), Message: strings.ReplaceAll(e.Message, "spec.container.", "container.")}
	}
	return &ForbiddenError{Kind: KindContainerRunDefinition, Errors: capCauses(out)}
}

// DefinitionFromRun renders a Run as a Sprint definition, for Sprint's GET
// endpoints. It is the inverse of RunFromDefinition for every Run that came
// from one; fields a definition cannot carry (user, disk, volumes, uris,
// deadlines, retries, annotations) are left out.
func DefinitionFromRun(r *Run) ContainerRunDefinition {
	s := &r.Spec
	d := ContainerRunDefinition{
		Cmd:         s.Command,
		Args:        cloneSlice(s.Args),
		Cpus:        s.Cpus,
		Mem:         s.Mem,
		Env:         cloneMap(s.Env),
		Labels:      cloneMap(r.Metadata.Labels),
		Constraints: cloneConstraints(s.Constraints),
	}
	if c := s.Container; c != nil {
		sc := &SprintContainer{Type: c.Type}
		if c.Docker != nil {
			dk := *c.Docker
			dk.Parameters = cloneSlice(dk.Parameters)
			sc.Docker = &dk
		}
		switch c.Network {
		case NetworkHost, "":
			sc.Networks = []SprintNetwork{{Mode: SprintNetworkHost}}
		case NetworkUser:
			for _, n := range c.Networks {
				sc.Networks = append(sc.Networks, SprintNetwork{Name: n.Name, Mode: SprintNetworkContainer})
			}
		}
		for _, pm := range c.PortMappings {
			spm := SprintPortMapping(pm)
			if spm.Protocol == DefaultProtocol {
				spm.Protocol = ""
			}
			sc.PortMappings = append(sc.PortMappings, spm)
		}
		d.Container = sc
	}
	return d
}

// TaskName is the Mesos task name of a Run: the "name" label when set (as
// Sprint does), else the Run's name. The mesos task builder calls it.
func TaskName(r *Run) string {
	if n := r.Metadata.Labels[TaskNameLabel]; n != "" {
		return n
	}
	return r.Metadata.Name
}

// SprintLabelSelector parses the labels filter of Sprint's GET /v1/runs,
// "k:v,k2:v2" (all must match), into a LabelSelector. Sprint allowed any
// strings, so keys and values are taken as given rather than validated.
func SprintLabelSelector(s string) (LabelSelector, error) {
	var sel LabelSelector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return LabelSelector{}, BadRequestf("labels %q: %q is not key:value", s, pair)
		}
		sel.Requirements = append(sel.Requirements, Requirement{Key: k, Operator: OpEquals, Values: []string{strings.TrimSpace(v)}})
	}
	return sel, nil
}

// Sprint's container run states.
const (
	SprintCreated          = "Created"
	SprintWaitingForOffers = "WaitingForOffers"
	SprintSubmitted        = "Submitted"
	SprintStaging          = "Staging"
	SprintStarting         = "Starting"
	SprintRunning          = "Running"
	SprintFinished         = "Finished"
	SprintFailed           = "Failed"
	SprintKilled           = "Killed"
	SprintLost             = "Lost"
	SprintError            = "Error"
)

// SprintState derives Sprint's state name from a Run's status: not yet
// seen by the controller is Created, waiting for an offer (also between
// retries) WaitingForOffers, launched but not yet reported Submitted, then
// the Mesos task state decides; a terminal Run that ended by loss (task
// lost, agent gone, unreachable too long) is Lost and a Mesos TASK_ERROR is
// Error.
func SprintState(r *Run) string {
	st := &r.Status
	switch st.Phase {
	case "":
		return SprintCreated
	case PhasePending:
		return SprintWaitingForOffers
	case PhaseStarting:
		switch st.MesosState {
		case "TASK_STAGING":
			return SprintStaging
		case "TASK_STARTING":
			return SprintStarting
		case "TASK_RUNNING":
			return SprintRunning
		}
		return SprintSubmitted
	case PhaseRunning:
		return SprintRunning
	case PhaseSucceeded:
		return SprintFinished
	case PhaseKilled:
		return SprintKilled
	case PhaseFailed:
		switch {
		case st.Reason == ReasonTaskError || st.MesosState == "TASK_ERROR":
			return SprintError
		case st.Reason == ReasonTaskLost || st.Reason == ReasonAgentGone || st.Reason == ReasonUnreachable || isLostState(st.MesosState):
			return SprintLost
		}
		return SprintFailed
	}
	return SprintError
}

func isLostState(s string) bool {
	switch s {
	case "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNREACHABLE", "TASK_UNKNOWN":
		return true
	}
	return false
}

// SprintRunFromRun renders a Run in Sprint's response shape. lastModified
// is the last status transition, else the creation time.
func SprintRunFromRun(r *Run) SprintRun {
	out := SprintRun{ID: r.Metadata.Name, State: SprintState(r), Definition: DefinitionFromRun(r)}
	switch {
	case r.Status.LastTransitionTime != nil:
		out.LastModified = *r.Status.LastTransitionTime
	case r.Metadata.CreationTimestamp != nil:
		out.LastModified = *r.Metadata.CreationTimestamp
	}
	if r.Status.Hostname != "" {
		out.Network = &SprintRunNetwork{Host: r.Status.Hostname}
		if c := r.Spec.Container; c != nil && len(r.Status.Ports) == len(c.PortMappings) {
			for i, pm := range c.PortMappings {
				spm := SprintPortMapping{ContainerPort: pm.ContainerPort, HostPort: r.Status.Ports[i], Protocol: pm.Protocol, Name: pm.Name}
				if spm.ContainerPort == 0 {
					spm.ContainerPort = spm.HostPort
				}
				out.Network.PortMappings = append(out.Network.PortMappings, spm)
			}
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string { return maps.Clone(m) }

func cloneSlice[T any](s []T) []T { return slices.Clone(s) }

func cloneConstraints(cs [][]string) [][]string {
	if cs == nil {
		return nil
	}
	out := make([][]string, len(cs))
	for i, c := range cs {
		out[i] = slices.Clone(c)
	}
	return out
}

// DecodeContainerRunDefinition decodes the JSON body of Sprint's POST
// /v1/runs with the checks manifests get: every unknown field and wrong
// type is named by its path ("cpus: expected number, got string"). Errors
// are *DecodeError (ErrBadRequest).
func DecodeContainerRunDefinition(data []byte) (ContainerRunDefinition, error) {
	var def ContainerRunDefinition
	if err := checkText(data); err != nil {
		return def, err
	}
	if off := loneSurrogate(data); off >= 0 {
		return def, surrogateError(data, off, 0)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &jsonReader{dec: dec}
	v, err := r.next()
	switch {
	case err == io.EOF:
		return def, &DecodeError{Problems: problems("invalid JSON: empty body")}
	case err != nil:
		return def, jsonError(data, err)
	}
	if dec.More() {
		return def, &DecodeError{Problems: problems("invalid JSON: unexpected data after the definition")}
	}
	if _, ok := v.(object); !ok {
		return def, &DecodeError{Problems: problems("expected an object (a ContainerRunDefinition), got " + jsonTypeName(v))}
	}
	d := &typedDecoder{}
	if err := d.decodeInto(&def, v); err != nil {
		return ContainerRunDefinition{}, err
	}
	return def, nil
}
