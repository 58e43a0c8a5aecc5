package apis

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sprint-project/sprint/internal/cron"
)

// Schedule defaults and limits.
const (
	// DefaultParallelism is the number of Runs a firing creates when
	// spec.parallelism is unset.
	DefaultParallelism = 1
	// MaxParallelism bounds the Runs of one firing: they are committed in
	// one Raft entry.
	MaxParallelism = 1000
	// DefaultSuccessfulRunsHistoryLimit and DefaultFailedRunsHistoryLimit
	// are Kubernetes CronJob's defaults.
	DefaultSuccessfulRunsHistoryLimit = 3
	DefaultFailedRunsHistoryLimit     = 1
	// MaxRunsHistoryLimit bounds both history limits.
	MaxRunsHistoryLimit = 1000
	// MinInterval is the shortest spec.interval.
	MinInterval = time.Second
	// MaxScheduleDependencies bounds spec.dependsOn.
	MaxScheduleDependencies = 64
	// MaxFiringBytes bounds the Runs of one firing as JSON: they are
	// committed in one Raft entry, which every node holds in memory while
	// it replicates and applies it.
	MaxFiringBytes = 4 << 20
	// MaxScheduleNameLength keeps every Run name a Schedule makes a valid
	// Run name (at most 63 characters): "<name>-<unix seconds>-<i>" for a
	// firing and "<name>-m<id>-<i>" for a manual one, with up to 11
	// digits of seconds (the year 5138), an 11-character id
	// (NewManualFiringID, until the year 4453) and 3 digits of index
	// (parallelism 1000).
	MaxScheduleNameLength = MaxNameLength - len("-m") - 11 - len("-") - 3
)

// firedRunOverhead is what a fired Run adds to its template as JSON: name,
// uid, label, owner reference, timestamps.
const firedRunOverhead = 512

// FiredRunName is the name of the i-th Run (from 0) of a Schedule's firing
// at t: deterministic, so that a firing committed twice (by two leaders)
// collides instead of running twice.
func FiredRunName(schedule string, t time.Time, i int) string {
	return schedule + "-" + strconv.FormatInt(t.Unix(), 10) + "-" + strconv.Itoa(i)
}

// ManualRunName is the name of the i-th Run of a firing a user asked for
// outside the schedule (sprintctl create run --from schedule/NAME), id
// being that firing's NewManualFiringID: "<schedule>-m<id>-<i>". Unlike a
// scheduled firing's, the name carries randomness, so two manual firings
// in the same second do not collide (as kubectl's generateName).
func ManualRunName(schedule, id string, i int) string {
	return schedule + "-m" + id + "-" + strconv.Itoa(i)
}

// manualIDAlphabet is Kubernetes' generateName alphabet (no vowels, no
// look-alikes).
const manualIDAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// NewManualFiringID names a manual firing at t: its Unix seconds in base
// 36, zero-padded to 7 characters (so names sort by time until the year
// 4453), then 4 random characters. 11 characters in all: a
// MaxScheduleNameLength name plus "-m", the id, "-" and a 3-digit index
// stays a valid Run name.
func NewManualFiringID(t time.Time) string {
	secs := strconv.FormatInt(max(t.Unix(), 0), 36)
	if len(secs) < 7 {
		secs = strings.Repeat("0", 7-len(secs)) + secs
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = manualIDAlphabet[int(b[i])%len(manualIDAlphabet)]
	}
	return secs + string(b)
}

// ScheduleOwnerReference is the owner reference a Run fired by s carries.
func ScheduleOwnerReference(s *Schedule) OwnerReference {
	return OwnerReference{APIVersion: APIVersion, Kind: KindSchedule, Name: s.Metadata.Name, UID: s.Metadata.UID, Controller: true}
}

// RunFromTemplate makes the Run named name that s fires: the template's
// labels (plus sprint/schedule=<schedule name>), annotations and spec, and
// an owner reference to s. The result has SetDefaults applied.
func RunFromTemplate(s *Schedule, name string) Run {
	t := s.Spec.RunTemplate.DeepCopy()
	labels := t.Metadata.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelSchedule] = s.Metadata.Name
	r := Run{
		TypeMeta: TypeMeta{APIVersion: APIVersion, Kind: KindRun},
		Metadata: ObjectMeta{
			Name:            name,
			Labels:          labels,
			Annotations:     t.Metadata.Annotations,
			OwnerReferences: []OwnerReference{ScheduleOwnerReference(s)},
		},
		Spec: t.Spec,
	}
	SetDefaults(&r)
	return r
}

// ControllerOf returns the owner reference of a Run's controller (the
// Schedule that fired it), or nil.
func ControllerOf(m *ObjectMeta) *OwnerReference {
	for i := range m.OwnerReferences {
		if m.OwnerReferences[i].Controller {
			return &m.OwnerReferences[i]
		}
	}
	return nil
}

// SetScheduleDefaults fills in what a user may leave out of a Schedule, in
// place: parallelism 1, concurrencyPolicy Allow, the history limits 3 and
// 1, and the template spec's defaults as for a Run. Idempotent.
func SetScheduleDefaults(s *Schedule) {
	if s == nil {
		return
	}
	if s.APIVersion == "" {
		s.APIVersion = APIVersion
	}
	if s.Kind == "" {
		s.Kind = KindSchedule
	}
	m := &s.Metadata
	for _, t := range []**time.Time{&m.CreationTimestamp, &m.DeletionTimestamp,
		&s.Status.LastScheduleTime, &s.Status.LastSuccessfulTime, &s.Status.NextScheduleTime} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	m.Labels = nilIfEmptyMap(m.Labels)
	m.Annotations = nilIfEmptyMap(m.Annotations)
	sp := &s.Spec
	if sp.Parallelism == 0 {
		sp.Parallelism = DefaultParallelism
	}
	if sp.ConcurrencyPolicy == "" {
		sp.ConcurrencyPolicy = ConcurrencyAllow
	}
	if sp.SuccessfulRunsHistoryLimit == nil {
		v := int32(DefaultSuccessfulRunsHistoryLimit)
		sp.SuccessfulRunsHistoryLimit = &v
	}
	if sp.FailedRunsHistoryLimit == nil {
		v := int32(DefaultFailedRunsHistoryLimit)
		sp.FailedRunsHistoryLimit = &v
	}
	if len(sp.DependsOn) == 0 {
		sp.DependsOn = nil
	}
	t := &sp.RunTemplate
	t.Metadata.Labels = nilIfEmptyMap(t.Metadata.Labels)
	t.Metadata.Annotations = nilIfEmptyMap(t.Metadata.Annotations)
	// The template spec gets a Run's defaults: a Run wrapper applies them.
	r := Run{Spec: t.Spec}
	SetDefaults(&r)
	t.Spec = r.Spec
	if len(s.Status.Active) == 0 {
		s.Status.Active = nil
	}
}

// ValidateSchedule returns every problem of a Schedule, each with its field
// path. Call SetScheduleDefaults first. Cron expressions and time zones are
// checked with internal/cron, the parser the controller fires with, so
// what is accepted here is what fires.
func ValidateSchedule(s *Schedule) ErrorList {
	var errs ErrorList
	if s.APIVersion != "" && s.APIVersion != APIVersion {
		errs = append(errs, fieldErr("apiVersion", "unsupported value %q: must be %s", s.APIVersion, APIVersion))
	}
	if s.Kind != "" && s.Kind != KindSchedule {
		errs = append(errs, fieldErr("kind", "unsupported value %q: must be %s", s.Kind, KindSchedule))
	}
	m := &s.Metadata
	errs = append(errs, validateObjectMeta(m)...)
	switch {
	case m.Name != "" && len(m.Name) > MaxScheduleNameLength:
		errs = append(errs, fieldErr("metadata.name", "must be no more than %d characters: the names of the Runs it fires (\"<name>-<unix seconds>-<i>\") must stay within %d", MaxScheduleNameLength, MaxNameLength))
	case m.Name == "" && len(m.GenerateName) > MaxScheduleNameLength-GenerateNameSuffixLength:
		errs = append(errs, fieldErr("metadata.generateName", "must be no more than %d characters: the names of the Runs it fires must stay within %d", MaxScheduleNameLength-GenerateNameSuffixLength, MaxNameLength))
	}
	if len(m.OwnerReferences) > 0 {
		errs = append(errs, fieldErr("metadata.ownerReferences", "must be empty: a Schedule has no owner"))
	}
	errs = append(errs, validateScheduleSpec(&s.Spec, "spec")...)
	errs = append(errs, validateScheduleStatus(&s.Status)...)
	for _, ts := range []struct {
		path string
		t    *time.Time
	}{
		{"metadata.creationTimestamp", m.CreationTimestamp},
		{"metadata.deletionTimestamp", m.DeletionTimestamp},
	} {
		if ts.t != nil && (ts.t.UTC().Year() < 0 || ts.t.UTC().Year() > 9999) {
			errs = append(errs, fieldErr(ts.path, "must be between 0000-01-01 and 9999-12-31 UTC"))
		}
	}
	errs = append(errs, validateStrings("metadata", reflect.ValueOf(*m))...)
	return errs
}

func validateScheduleSpec(sp *ScheduleSpec, path string) ErrorList {
	var errs ErrorList
	set := 0
	for _, b := range []bool{sp.Schedule != "", sp.Interval != "", len(sp.DependsOn) > 0} {
		if b {
			set++
		}
	}
	if set != 1 {
		what := "none is set"
		if set > 1 {
			what = "more than one is set"
		}
		errs = append(errs, fieldErr(path+".schedule", "exactly one of %[1]s.schedule, %[1]s.interval and %[1]s.dependsOn is required: %[2]s", path, what))
	}
	if sp.Schedule != "" {
		if _, err := cron.LoadLocation(sp.TimeZone); err != nil {
			errs = append(errs, fieldErr(path+".timeZone", "%s", err.Error()))
		} else if _, err := cron.Parse(sp.Schedule, sp.TimeZone); err != nil {
			errs = append(errs, fieldErr(path+".schedule", "%s", err.Error()))
		}
	} else if sp.TimeZone != "" {
		errs = append(errs, fieldErr(path+".timeZone", "may only be set with %s.schedule", path))
	}
	if sp.Interval != "" {
		if _, err := ParseInterval(sp.Interval); err != nil {
			errs = append(errs, fieldErr(path+".interval", "%s", err.Error()))
		}
	}
	deps := itemErrors{path: path + ".dependsOn"}
	seen := map[string]bool{}
	if len(sp.DependsOn) > MaxScheduleDependencies {
		errs = append(errs, fieldErr(path+".dependsOn", "must have at most %d items", MaxScheduleDependencies))
	}
	for i, d := range sp.DependsOn {
		p := path + ".dependsOn[" + strconv.Itoa(i) + "].schedule"
		switch {
		case d.Schedule == "":
			deps.add(fieldErr(p, "required"))
		case seen[d.Schedule]:
			deps.add(fieldErr(p, "duplicate value %q", d.Schedule))
		default:
			deps.add(validateDNS1123Label(p, d.Schedule)...)
		}
		seen[d.Schedule] = true
	}
	errs = append(errs, deps.list()...)
	if sp.Parallelism < 1 || sp.Parallelism > MaxParallelism {
		errs = append(errs, fieldErr(path+".parallelism", "must be between 1 and %d", MaxParallelism))
	} else if b, err := json.Marshal(&sp.RunTemplate); err == nil && int64(len(b)+firedRunOverhead)*int64(sp.Parallelism) > MaxFiringBytes {
		errs = append(errs, fieldErr(path+".parallelism", "a firing of %d Runs of this %d-byte template would be %d bytes, more than %d in one Raft entry: lower the parallelism or shrink the template",
			sp.Parallelism, len(b), int64(len(b)+firedRunOverhead)*int64(sp.Parallelism), MaxFiringBytes))
	}
	switch sp.ConcurrencyPolicy {
	case ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace:
	default:
		errs = append(errs, fieldErr(path+".concurrencyPolicy", "unsupported value %q: must be one of Allow, Forbid, Replace", sp.ConcurrencyPolicy))
	}
	if sp.StartingDeadlineSeconds != nil {
		errs = append(errs, validateSeconds(path+".startingDeadlineSeconds", *sp.StartingDeadlineSeconds)...)
	}
	for _, l := range []struct {
		path string
		v    *int32
	}{
		{path + ".successfulRunsHistoryLimit", sp.SuccessfulRunsHistoryLimit},
		{path + ".failedRunsHistoryLimit", sp.FailedRunsHistoryLimit},
	} {
		if l.v != nil && (*l.v < 0 || *l.v > MaxRunsHistoryLimit) {
			errs = append(errs, fieldErr(l.path, "must be between 0 and %d", MaxRunsHistoryLimit))
		}
	}
	t := &sp.RunTemplate
	tp := path + ".runTemplate"
	errs = append(errs, validateLabels(tp+".metadata.labels", t.Metadata.Labels)...)
	if _, ok := t.Metadata.Labels[LabelSchedule]; ok {
		errs = append(errs, fieldErr(tp+".metadata.labels["+LabelSchedule+"]", "reserved: the server sets it to the Schedule's name on every Run it fires"))
	}
	errs = append(errs, validateAnnotations(tp+".metadata.annotations", t.Metadata.Annotations)...)
	errs = append(errs, ValidateRunSpec(&t.Spec, tp+".spec")...)
	if t.Spec.Cancel {
		errs = append(errs, fieldErr(tp+".spec.cancel", "must be false: a fired Run would be cancelled before it started"))
	}
	errs = append(errs, validateStrings(tp+".metadata", reflect.ValueOf(t.Metadata))...)
	return errs
}

func validateScheduleStatus(st *ScheduleStatus) ErrorList {
	var errs ErrorList
	for _, ts := range []struct {
		path string
		t    *time.Time
	}{
		{"status.lastScheduleTime", st.LastScheduleTime},
		{"status.lastSuccessfulTime", st.LastSuccessfulTime},
		{"status.nextScheduleTime", st.NextScheduleTime},
	} {
		if ts.t != nil && (ts.t.UTC().Year() < 0 || ts.t.UTC().Year() > 9999) {
			errs = append(errs, fieldErr(ts.path, "must be between 0000-01-01 and 9999-12-31 UTC"))
		}
	}
	if st.MissedFirings < 0 {
		errs = append(errs, fieldErr("status.missedFirings", "must be greater than or equal to 0"))
	}
	errs = append(errs, validateStrings("status", reflect.ValueOf(*st))...)
	return errs
}

// ParseInterval parses spec.interval: a Go duration of at least one second
// and at most ten years.
func ParseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Go duration such as \"60s\" or \"1h30m\"", clipValue(s))
	}
	if d < MinInterval {
		return 0, fmt.Errorf("must be at least %s", MinInterval)
	}
	if d > MaxSeconds*time.Second {
		return 0, fmt.Errorf("must be no more than %d seconds (ten years)", MaxSeconds)
	}
	return d, nil
}

// ValidateScheduleUpdate validates an update of old to s. As for a
// Kubernetes CronJob the whole spec may change (the next firing uses it);
// the name may not. Status is not written through the main resource: the
// server keeps the stored status whatever the body says.
func ValidateScheduleUpdate(s, old *Schedule) ErrorList {
	errs := ValidateSchedule(s)
	if s.Metadata.Name != old.Metadata.Name {
		errs = append(errs, fieldErr("metadata.name", "field is immutable"))
	}
	return errs
}

// ValidateScheduleWrite holds the rules the API server adds to
// ValidateSchedule for a Schedule template a user writes. The store's
// state machine applies ValidateSchedule alone, as it did to the entries
// already in its log (raftstore/DESIGN.md: a stricter rule goes to the
// API server, so that replaying the log gives every node the same state).
//
// The template may not set AnnotationCancelReason (it would make a user's
// cancel of any fired Run read as Replaced), and its annotations leave
// room for the one a Replace firing adds to the Runs it cancels
// (MaxTemplateAnnotationsBytes): a marked Run stays within the limit its
// owner's writes are validated against.
func ValidateScheduleWrite(s *Schedule) ErrorList {
	var errs ErrorList
	path := "spec.runTemplate.metadata.annotations"
	ann := s.Spec.RunTemplate.Metadata.Annotations
	if _, ok := ann[AnnotationCancelReason]; ok {
		errs = append(errs, fieldErr(path+"["+AnnotationCancelReason+"]", "reserved: the server sets it on the Runs a Replace firing cancels"))
	}
	total := 0
	for k, v := range ann {
		total += len(k) + len(v)
	}
	// Beyond MaxAnnotationsBytes ValidateSchedule says so already.
	if total > MaxTemplateAnnotationsBytes && total <= MaxAnnotationsBytes {
		errs = append(errs, fieldErr(path, "may not be larger than %d bytes in total (keys and values), got %d: a Replace firing adds %s: %s to the Runs it cancels",
			MaxTemplateAnnotationsBytes, total, AnnotationCancelReason, ReasonReplaced))
	}
	return errs
}

// AdmitSchedule applies the admission policy for Runs to a Schedule's
// template at apply time, so that a Schedule cannot fire Runs the policy
// would refuse. Refusals are a *ForbiddenError with field causes under
// spec.runTemplate.spec.
func (p Policy) AdmitSchedule(s *Schedule) error {
	errs := p.AdmitRunSpec(&s.Spec.RunTemplate.Spec, "spec.runTemplate.spec")
	if len(errs) == 0 {
		return nil
	}
	return &ForbiddenError{Kind: KindSchedule, Name: s.Metadata.Name, Errors: capCauses(errs)}
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *Schedule) DeepCopy() *Schedule {
	if s == nil {
		return nil
	}
	out := new(Schedule)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *Schedule) DeepCopyInto(out *Schedule) {
	*out = *s
	s.Metadata.DeepCopyInto(&out.Metadata)
	s.Spec.DeepCopyInto(&out.Spec)
	s.Status.DeepCopyInto(&out.Status)
}

// Equal reports whether s and o have the same stored form.
func (s *Schedule) Equal(o *Schedule) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.TypeMeta == o.TypeMeta && s.Metadata.Equal(&o.Metadata) && s.Spec.Equal(&o.Spec) && s.Status.Equal(&o.Status)
}

// DeepCopy returns a copy of l that shares no memory with it.
func (l *ScheduleList) DeepCopy() *ScheduleList {
	if l == nil {
		return nil
	}
	out := *l
	out.Metadata.RemainingItemCount = copyPtr(l.Metadata.RemainingItemCount)
	if l.Items != nil {
		out.Items = make([]Schedule, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return &out
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *ScheduleSpec) DeepCopy() *ScheduleSpec {
	if s == nil {
		return nil
	}
	out := new(ScheduleSpec)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *ScheduleSpec) DeepCopyInto(out *ScheduleSpec) {
	*out = *s
	out.StartingDeadlineSeconds = copyPtr(s.StartingDeadlineSeconds)
	out.SuccessfulRunsHistoryLimit = copyPtr(s.SuccessfulRunsHistoryLimit)
	out.FailedRunsHistoryLimit = copyPtr(s.FailedRunsHistoryLimit)
	out.DependsOn = slices.Clone(s.DependsOn)
	s.RunTemplate.DeepCopyInto(&out.RunTemplate)
}

// Equal reports whether s and o have the same stored form.
func (s *ScheduleSpec) Equal(o *ScheduleSpec) bool {
	return s.Schedule == o.Schedule && s.Interval == o.Interval && s.TimeZone == o.TimeZone &&
		s.Parallelism == o.Parallelism && s.ConcurrencyPolicy == o.ConcurrencyPolicy &&
		ptrEqual(s.StartingDeadlineSeconds, o.StartingDeadlineSeconds) && s.Suspend == o.Suspend &&
		ptrEqual(s.SuccessfulRunsHistoryLimit, o.SuccessfulRunsHistoryLimit) &&
		ptrEqual(s.FailedRunsHistoryLimit, o.FailedRunsHistoryLimit) &&
		slices.Equal(s.DependsOn, o.DependsOn) && s.RunTemplate.Equal(&o.RunTemplate)
}

// DeepCopy returns a copy of t that shares no memory with it.
func (t *RunTemplate) DeepCopy() *RunTemplate {
	if t == nil {
		return nil
	}
	out := new(RunTemplate)
	t.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies t into out, sharing no memory with t.
func (t *RunTemplate) DeepCopyInto(out *RunTemplate) {
	*out = *t
	out.Metadata.Labels = maps.Clone(t.Metadata.Labels)
	out.Metadata.Annotations = maps.Clone(t.Metadata.Annotations)
	t.Spec.DeepCopyInto(&out.Spec)
}

// Equal reports whether t and o have the same stored form.
func (t *RunTemplate) Equal(o *RunTemplate) bool {
	return maps.Equal(t.Metadata.Labels, o.Metadata.Labels) && maps.Equal(t.Metadata.Annotations, o.Metadata.Annotations) &&
		t.Spec.Equal(&o.Spec)
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *ScheduleStatus) DeepCopy() *ScheduleStatus {
	if s == nil {
		return nil
	}
	out := new(ScheduleStatus)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *ScheduleStatus) DeepCopyInto(out *ScheduleStatus) {
	*out = *s
	out.LastScheduleTime = copyPtr(s.LastScheduleTime)
	out.LastSuccessfulTime = copyPtr(s.LastSuccessfulTime)
	out.NextScheduleTime = copyPtr(s.NextScheduleTime)
	out.Active = slices.Clone(s.Active)
}

// Equal reports whether s and o have the same stored form.
func (s *ScheduleStatus) Equal(o *ScheduleStatus) bool {
	return timePtrEqual(s.LastScheduleTime, o.LastScheduleTime) && timePtrEqual(s.LastSuccessfulTime, o.LastSuccessfulTime) &&
		timePtrEqual(s.NextScheduleTime, o.NextScheduleTime) && slices.Equal(s.Active, o.Active) &&
		s.MissedFirings == o.MissedFirings && s.Message == o.Message
}

// Event reasons of a Schedule's event history.
const (
	ReasonFired   = "Fired"
	ReasonSkipped = "Skipped"
	ReasonMissed  = "Missed"
)

// ScheduleEventRecord is one event of one Schedule (Fired, Skipped,
// Replaced, Missed), as the controller appends them to the Schedule's
// bounded history. Its JSON form is part of raftstore's log format.
type ScheduleEventRecord struct {
	Schedule string   `json:"schedule"`
	Event    RunEvent `json:"event"`
}

// ValidateCancelReasonWrite checks a user's write of a Run (cur: the
// stored Run, nil for a create) against AnnotationCancelReason. Only the
// store sets it, in the entry of a Replace firing, on the Runs that firing
// cancels, and the controller reports the kill of a Run that carries it as
// Replaced rather than Cancelled: a user who set it would make a cancel
// read as a Schedule's. A Run read and applied again, carrying the stored
// value unchanged, passes.
func ValidateCancelReasonWrite(run, cur *Run) ErrorList {
	v, set := run.Metadata.Annotations[AnnotationCancelReason]
	if !set {
		return nil
	}
	if cur != nil {
		if stored, ok := cur.Metadata.Annotations[AnnotationCancelReason]; ok && stored == v {
			return nil
		}
	}
	return ErrorList{fieldErr("metadata.annotations["+AnnotationCancelReason+"]", "reserved: the server sets it on the Runs a Replace firing cancels")}
}
