package apis

import (
	"strings"
	"time"
)

// DefaultProtocol is the protocol of a port mapping that names none.
const DefaultProtocol = "tcp"

// SetDefaults fills in what a user may leave out, in place, so that stored
// Runs are explicit and comparable. It is idempotent and never touches
// resources: cpus and mem of a Run are required, not defaulted (Sprint's
// 0.1/100 defaults apply only to the Sprint-compatible API, see
// RunFromDefinition).
//
// Empty maps and lists become nil: on the wire (omitempty) they are the same
// thing, and normalizing keeps a decode-encode-decode round trip exact.
func SetDefaults(r *Run) {
	if r == nil {
		return
	}
	if r.APIVersion == "" {
		r.APIVersion = APIVersion
	}
	if r.Kind == "" {
		r.Kind = KindRun
	}
	m := &r.Metadata
	// Timestamps are stored in UTC, as the server writes them, so that a
	// Run reads back identical from the store whatever offset it came in.
	for _, t := range []**time.Time{&m.CreationTimestamp, &m.DeletionTimestamp,
		&r.Status.StartTime, &r.Status.CompletionTime, &r.Status.LastTransitionTime} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	m.Labels = nilIfEmptyMap(m.Labels)
	m.Annotations = nilIfEmptyMap(m.Annotations)

	s := &r.Spec
	s.Env = nilIfEmptyMap(s.Env)
	if len(s.Args) == 0 {
		s.Args = nil
	}
	if len(s.URIs) == 0 {
		s.URIs = nil
	}
	if len(s.Constraints) == 0 {
		s.Constraints = nil
	}
	for i := range s.URIs {
		if s.URIs[i].Extract == nil {
			t := true
			s.URIs[i].Extract = &t
		}
	}
	if len(s.DependsOn) == 0 {
		s.DependsOn = nil
	}
	for i := range s.DependsOn {
		if s.DependsOn[i].Condition == "" {
			s.DependsOn[i].Condition = ConditionSucceeded
		}
	}
	if c := s.Container; c != nil {
		setContainerDefaults(c)
	}
	if len(r.Status.Ports) == 0 {
		r.Status.Ports = nil
	}
}

func setContainerDefaults(c *Container) {
	// Upper-case enum values so "docker"/"host" from hand-written YAML
	// work; Marathon accepts only upper case, sprint is lenient here and
	// stores the canonical form.
	c.Type = strings.ToUpper(c.Type)
	c.Network = strings.ToUpper(c.Network)
	if c.Network == "" {
		c.Network = NetworkHost
	}
	if c.Docker != nil && len(c.Docker.Parameters) == 0 {
		c.Docker.Parameters = nil
	}
	if len(c.Networks) == 0 {
		c.Networks = nil
	}
	if len(c.PortMappings) == 0 {
		c.PortMappings = nil
	}
	for i := range c.PortMappings {
		pm := &c.PortMappings[i]
		pm.Protocol = strings.ToLower(pm.Protocol)
		if pm.Protocol == "" {
			pm.Protocol = DefaultProtocol
		}
	}
	if len(c.Volumes) == 0 {
		c.Volumes = nil
	}
	for i := range c.Volumes {
		v := &c.Volumes[i]
		v.Mode = strings.ToUpper(v.Mode)
		if v.Mode == "" {
			v.Mode = VolumeRW
		}
	}
}

func nilIfEmptyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
