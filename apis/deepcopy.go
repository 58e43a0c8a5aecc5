package apis

import (
	"maps"
	"slices"
	"time"
)

// DeepCopy and Equal are the one way every package copies and compares API
// objects: the store (an unchanged write is a no-op, objects handed out are
// the caller's own), the controller (an unchanged status is not written)
// and the server (an unchanged manifest is "unchanged").
//
// Equal is equality of the stored JSON form, which is what clients see:
//   - an absent (nil) and an empty map or slice are equal, as omitempty
//     encodes neither;
//   - times are equal when they name the same instant with the same UTC
//     offset (RFC 3339 keeps nanoseconds and the offset, not the monotonic
//     reading or the zone's name), so a time read back from the store
//     equals the one written;
//   - pointers are equal when both are nil or both point at equal values.
//
// They are written by hand; deepcopy_test.go fills every field of every
// type by reflection and fails when a field is added and not handled here.

// DeepCopy returns a copy of r that shares no memory with it.
func (r *Run) DeepCopy() *Run {
	if r == nil {
		return nil
	}
	out := new(Run)
	r.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies r into out, sharing no memory with r.
func (r *Run) DeepCopyInto(out *Run) {
	*out = *r
	r.Metadata.DeepCopyInto(&out.Metadata)
	r.Spec.DeepCopyInto(&out.Spec)
	r.Status.DeepCopyInto(&out.Status)
}

// Equal reports whether r and o have the same stored form.
func (r *Run) Equal(o *Run) bool {
	if r == nil || o == nil {
		return r == o
	}
	return r.TypeMeta == o.TypeMeta && r.Metadata.Equal(&o.Metadata) && r.Spec.Equal(&o.Spec) && r.Status.Equal(&o.Status)
}

// DeepCopy returns a copy of l that shares no memory with it.
func (l *RunList) DeepCopy() *RunList {
	if l == nil {
		return nil
	}
	out := *l
	out.Metadata.RemainingItemCount = copyPtr(l.Metadata.RemainingItemCount)
	if l.Items != nil {
		out.Items = make([]Run, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return &out
}

// DeepCopyInto copies m into out, sharing no memory with m.
func (m *ObjectMeta) DeepCopyInto(out *ObjectMeta) {
	*out = *m
	out.Labels = maps.Clone(m.Labels)
	out.Annotations = maps.Clone(m.Annotations)
	out.CreationTimestamp = copyPtr(m.CreationTimestamp)
	out.DeletionTimestamp = copyPtr(m.DeletionTimestamp)
	out.OwnerReferences = slices.Clone(m.OwnerReferences)
}

// Equal reports whether m and o have the same stored form.
func (m *ObjectMeta) Equal(o *ObjectMeta) bool {
	return m.Name == o.Name && m.GenerateName == o.GenerateName &&
		maps.Equal(m.Labels, o.Labels) && maps.Equal(m.Annotations, o.Annotations) &&
		m.UID == o.UID && m.ResourceVersion == o.ResourceVersion && m.Generation == o.Generation &&
		timePtrEqual(m.CreationTimestamp, o.CreationTimestamp) && timePtrEqual(m.DeletionTimestamp, o.DeletionTimestamp) &&
		slices.Equal(m.OwnerReferences, o.OwnerReferences)
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *RunSpec) DeepCopy() *RunSpec {
	if s == nil {
		return nil
	}
	out := new(RunSpec)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *RunSpec) DeepCopyInto(out *RunSpec) {
	*out = *s
	out.Args = slices.Clone(s.Args)
	out.Env = maps.Clone(s.Env)
	if s.Container != nil {
		out.Container = s.Container.deepCopy()
	}
	if s.URIs != nil {
		out.URIs = make([]URI, len(s.URIs))
		for i, u := range s.URIs {
			out.URIs[i] = u
			out.URIs[i].Extract = copyPtr(u.Extract)
		}
	}
	if s.Constraints != nil {
		out.Constraints = make([][]string, len(s.Constraints))
		for i, c := range s.Constraints {
			out.Constraints[i] = slices.Clone(c)
		}
	}
	out.TTLSecondsAfterFinished = copyPtr(s.TTLSecondsAfterFinished)
	out.DependsOn = slices.Clone(s.DependsOn)
}

// Equal reports whether s and o have the same stored form.
func (s *RunSpec) Equal(o *RunSpec) bool {
	return s.Command == o.Command && slices.Equal(s.Args, o.Args) && maps.Equal(s.Env, o.Env) && s.User == o.User &&
		s.Cpus == o.Cpus && s.Mem == o.Mem && s.Disk == o.Disk && s.Gpus == o.Gpus &&
		s.Container.equal(o.Container) &&
		slices.EqualFunc(s.URIs, o.URIs, func(a, b URI) bool {
			return a.Value == b.Value && ptrEqual(a.Extract, b.Extract) && a.Executable == b.Executable && a.Cache == b.Cache
		}) &&
		slices.EqualFunc(s.Constraints, o.Constraints, slices.Equal[[]string]) &&
		s.ActiveDeadlineSeconds == o.ActiveDeadlineSeconds && s.BackoffLimit == o.BackoffLimit &&
		ptrEqual(s.TTLSecondsAfterFinished, o.TTLSecondsAfterFinished) && s.Cancel == o.Cancel &&
		slices.Equal(s.DependsOn, o.DependsOn)
}

func (c *Container) deepCopy() *Container {
	out := *c
	if c.Docker != nil {
		d := *c.Docker
		d.Parameters = slices.Clone(c.Docker.Parameters)
		out.Docker = &d
	}
	out.Networks = slices.Clone(c.Networks)
	out.PortMappings = slices.Clone(c.PortMappings)
	out.Volumes = slices.Clone(c.Volumes)
	return &out
}

func (c *Container) equal(o *Container) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Type == o.Type && c.Docker.equal(o.Docker) && c.Network == o.Network &&
		slices.Equal(c.Networks, o.Networks) && slices.Equal(c.PortMappings, o.PortMappings) && slices.Equal(c.Volumes, o.Volumes)
}

func (d *DockerInfo) equal(o *DockerInfo) bool {
	if d == nil || o == nil {
		return d == o
	}
	return d.Image == o.Image && d.ForcePullImage == o.ForcePullImage && slices.Equal(d.Parameters, o.Parameters)
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *RunStatus) DeepCopy() *RunStatus {
	if s == nil {
		return nil
	}
	out := new(RunStatus)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *RunStatus) DeepCopyInto(out *RunStatus) {
	*out = *s
	out.Ports = slices.Clone(s.Ports)
	out.ExitCode = copyPtr(s.ExitCode)
	out.StartTime = copyPtr(s.StartTime)
	out.CompletionTime = copyPtr(s.CompletionTime)
	out.LastTransitionTime = copyPtr(s.LastTransitionTime)
}

// Equal reports whether s and o have the same stored form.
func (s *RunStatus) Equal(o *RunStatus) bool {
	return s.Phase == o.Phase && s.Reason == o.Reason && s.Message == o.Message && s.Attempts == o.Attempts &&
		s.TaskID == o.TaskID && s.AgentID == o.AgentID && s.Hostname == o.Hostname && slices.Equal(s.Ports, o.Ports) &&
		ptrEqual(s.ExitCode, o.ExitCode) && s.MesosState == o.MesosState &&
		timePtrEqual(s.StartTime, o.StartTime) && timePtrEqual(s.CompletionTime, o.CompletionTime) &&
		timePtrEqual(s.LastTransitionTime, o.LastTransitionTime) && s.ObservedGeneration == o.ObservedGeneration
}

// TimeEqual reports whether a and b have the same RFC 3339 form: the same
// instant (to the nanosecond) and the same UTC offset. The monotonic
// reading, which JSON drops, does not count.
func TimeEqual(a, b time.Time) bool {
	if !a.Equal(b) {
		return false
	}
	_, oa := a.Zone()
	_, ob := b.Zone()
	return oa == ob
}

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return TimeEqual(*a, *b)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
