package apis

import (
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of a Notifier.
const (
	// MaxNotifierHeaders bounds spec.webhook.headers.
	MaxNotifierHeaders = 32
	// MaxNotifierHeaderBytes bounds one header value.
	MaxNotifierHeaderBytes = 4096
	// OwnerPlaceholder in spec.email.to stands for the notified object's
	// sprint/owner annotation.
	OwnerPlaceholder = "{owner}"
)

// notifyEvents are the values of spec.on this version delivers.
// NotifyMissed and NotifyUnschedulable are part of the contract but are
// not derived yet (DESIGN.md §6); validation says so rather than accept a
// Notifier that would never fire.
var notifyEvents = []string{NotifySucceeded, NotifyFailed, NotifyKilled, NotifyDependencyFailed}

// reservedHeaders are set by the delivery itself; a Notifier may not
// replace them (a forged signature header would defeat the signing).
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Host": true, "Transfer-Encoding": true,
	"Connection": true, "X-Sprint-Signature": true, "X-Sprint-Idempotency-Key": true,
}

// SetNotifierDefaults fills in what a user may leave out, in place: the
// apiVersion and kind, the webhook format (json), UTC timestamps; empty
// maps and lists become nil. Idempotent.
func SetNotifierDefaults(n *Notifier) {
	if n == nil {
		return
	}
	if n.APIVersion == "" {
		n.APIVersion = APIVersion
	}
	if n.Kind == "" {
		n.Kind = KindNotifier
	}
	m := &n.Metadata
	for _, t := range []**time.Time{&m.CreationTimestamp, &m.DeletionTimestamp, &n.Status.LastErrorTime} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	m.Labels = nilIfEmptyMap(m.Labels)
	m.Annotations = nilIfEmptyMap(m.Annotations)
	if len(n.Spec.On) == 0 {
		n.Spec.On = nil
	}
	if w := n.Spec.Webhook; w != nil {
		if w.Format == "" {
			w.Format = FormatJSON
		}
		w.Headers = nilIfEmptyMap(w.Headers)
	}
	if e := n.Spec.Email; e != nil && len(e.To) == 0 {
		e.To = nil
	}
}

// ValidateNotifier returns every problem of a Notifier, each with its
// field path. Call SetNotifierDefaults first.
func ValidateNotifier(n *Notifier) ErrorList {
	var errs ErrorList
	if n.APIVersion != "" && n.APIVersion != APIVersion {
		errs = append(errs, fieldErr("apiVersion", "unsupported value %q: must be %s", n.APIVersion, APIVersion))
	}
	if n.Kind != "" && n.Kind != KindNotifier {
		errs = append(errs, fieldErr("kind", "unsupported value %q: must be %s", n.Kind, KindNotifier))
	}
	errs = append(errs, validateObjectMeta(&n.Metadata)...)
	errs = append(errs, validateNotifierSpec(&n.Spec, "spec")...)
	if t := n.Status.LastErrorTime; t != nil && (t.UTC().Year() < 0 || t.UTC().Year() > 9999) {
		errs = append(errs, fieldErr("status.lastErrorTime", "must be between 0000-01-01 and 9999-12-31 UTC"))
	}
	errs = append(errs, validateStrings("metadata", reflect.ValueOf(n.Metadata))...)
	errs = append(errs, validateStrings("spec", reflect.ValueOf(n.Spec))...)
	errs = append(errs, validateStrings("status", reflect.ValueOf(n.Status))...)
	return errs
}

func validateNotifierSpec(s *NotifierSpec, path string) ErrorList {
	var errs ErrorList
	if len(s.Selector) > 1024 {
		errs = append(errs, fieldErr(path+".selector", "%s", tooLong(1024)))
	} else if _, err := ParseLabelSelector(s.Selector); err != nil {
		errs = append(errs, fieldErr(path+".selector", "%v", err))
	}
	switch {
	case len(s.On) == 0:
		errs = append(errs, fieldErr(path+".on", "required: list at least one of %s", strings.Join(notifyEvents, ", ")))
	case len(s.On) > len(notifyEvents)+2:
		errs = append(errs, fieldErr(path+".on", "must have at most %d items", len(notifyEvents)+2))
	default:
		seen := map[string]bool{}
		for i, ev := range s.On {
			p := fmt.Sprintf("%s.on[%d]", path, i)
			switch {
			case ev == NotifyMissed || ev == NotifyUnschedulable:
				errs = append(errs, fieldErr(p, "%q is not delivered by this version of sprint; supported values: %s", ev, strings.Join(notifyEvents, ", ")))
			case !slices.Contains(notifyEvents, ev):
				errs = append(errs, fieldErr(p, "unsupported value %q: must be one of %s", clipName(ev), strings.Join(notifyEvents, ", ")))
			case seen[ev]:
				errs = append(errs, fieldErr(p, "duplicate value %q", ev))
			}
			seen[ev] = true
		}
	}
	if s.UnschedulableAfter != "" {
		errs = append(errs, fieldErr(path+".unschedulableAfter", "only with the Unschedulable event, which this version of sprint does not deliver"))
	}
	switch {
	case s.Webhook == nil && s.Email == nil:
		errs = append(errs, fieldErr(path, "exactly one of webhook and email is required"))
	case s.Webhook != nil && s.Email != nil:
		errs = append(errs, fieldErr(path, "exactly one of webhook and email may be set, not both"))
	case s.Webhook != nil:
		errs = append(errs, validateWebhook(s.Webhook, path+".webhook")...)
	default:
		errs = append(errs, validateEmail(s.Email, path+".email")...)
	}
	return errs
}

func validateWebhook(w *Webhook, path string) ErrorList {
	var errs ErrorList
	switch {
	case w.URL == "":
		errs = append(errs, fieldErr(path+".url", "required"))
	case len(w.URL) > 2048:
		errs = append(errs, fieldErr(path+".url", "%s", tooLong(2048)))
	default:
		u, err := url.Parse(w.URL)
		switch {
		case err != nil:
			errs = append(errs, fieldErr(path+".url", "invalid URL: %v", err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fieldErr(path+".url", "scheme %q: must be http or https", clipName(u.Scheme)))
		case u.Host == "" || u.Hostname() == "":
			errs = append(errs, fieldErr(path+".url", "must name a host"))
		case u.User != nil:
			errs = append(errs, fieldErr(path+".url", "must not carry credentials; put a token in a header or use secretFile"))
		}
	}
	switch w.Format {
	case FormatJSON, FormatSlack, FormatPagerDuty:
	default:
		errs = append(errs, fieldErr(path+".format", "unsupported value %q: must be json, slack or pagerduty", clipName(w.Format)))
	}
	errs = append(errs, validateServerFile(path+".secretFile", w.SecretFile)...)
	if w.Format == FormatPagerDuty && w.SecretFile == "" {
		errs = append(errs, fieldErr(path+".secretFile", "required with format pagerduty: the file holds the Events API v2 routing key"))
	}
	if len(w.Headers) > MaxNotifierHeaders {
		errs = append(errs, fieldErr(path+".headers", "must have at most %d items", MaxNotifierHeaders))
	}
	items := itemErrors{path: path + ".headers"}
	for _, k := range sortedKeys(w.Headers) {
		p := path + ".headers[" + k + "]"
		switch {
		case !isHTTPToken(k):
			items.add(fieldErr(p, "invalid header name"))
		case reservedHeaders[canonicalHeader(k)]:
			items.add(fieldErr(p, "is set by sprint and may not be given"))
		}
		v := w.Headers[k]
		if len(v) > MaxNotifierHeaderBytes {
			items.add(fieldErr(p, "%s", tooLong(MaxNotifierHeaderBytes)))
		} else if strings.ContainsAny(v, "\r\n\x00") {
			items.add(fieldErr(p, "value may not contain CR, LF or NUL"))
		}
	}
	return append(errs, items.list()...)
}

func validateEmail(e *EmailTarget, path string) ErrorList {
	var errs ErrorList
	host, port, err := net.SplitHostPort(e.SMTP)
	switch {
	case e.SMTP == "":
		errs = append(errs, fieldErr(path+".smtp", "required: host:port of the SMTP server"))
	case len(e.SMTP) > 256:
		errs = append(errs, fieldErr(path+".smtp", "%s", tooLong(256)))
	case err != nil || host == "":
		errs = append(errs, fieldErr(path+".smtp", "invalid value %q: must be host:port", clipName(e.SMTP)))
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fieldErr(path+".smtp", "port %q: must be 1 to 65535", clipName(port)))
		}
	}
	if e.From == "" {
		errs = append(errs, fieldErr(path+".from", "required"))
	} else if !isAddress(e.From, 256) {
		errs = append(errs, fieldErr(path+".from", "invalid address %q", clipName(e.From)))
	}
	switch {
	case len(e.To) == 0:
		errs = append(errs, fieldErr(path+".to", "required: at least one address or %q", OwnerPlaceholder))
	case len(e.To) > 64:
		errs = append(errs, fieldErr(path+".to", "must have at most 64 items"))
	default:
		items := itemErrors{path: path + ".to"}
		for i, to := range e.To {
			if to != OwnerPlaceholder && !isAddress(to, 256) {
				items.add(fieldErr(fmt.Sprintf("%s.to[%d]", path, i), "invalid address %q: must be an email address or %q", clipName(to), OwnerPlaceholder))
			}
		}
		errs = append(errs, items.list()...)
	}
	errs = append(errs, validateServerFile(path+".usernameFile", e.UsernameFile)...)
	errs = append(errs, validateServerFile(path+".passwordFile", e.PasswordFile)...)
	if (e.UsernameFile == "") != (e.PasswordFile == "") {
		errs = append(errs, fieldErr(path, "usernameFile and passwordFile go together: set both or neither"))
	}
	return errs
}

// validateServerFile checks a path the server reads at delivery time: empty
// or absolute and clean.
func validateServerFile(path, v string) ErrorList {
	switch {
	case v == "":
		return nil
	case len(v) > 4096:
		return ErrorList{fieldErr(path, "%s", tooLong(4096))}
	case !filepath.IsAbs(v) || filepath.Clean(v) != v:
		return ErrorList{fieldErr(path, "invalid value %q: must be an absolute, clean path of a file on the sprint server", clipName(v))}
	}
	return nil
}

// isAddress reports whether s is one RFC 5322 address (a bare one or
// "Name <addr>") of at most max bytes.
func isAddress(s string, max int) bool {
	if len(s) > max || strings.ContainsAny(s, "\r\n") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address != ""
}

func isHTTPToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// canonicalHeader is the header's canonical MIME form (textproto's rule,
// without importing net/http here).
func canonicalHeader(s string) string {
	b := []byte(strings.ToLower(s))
	upper := true
	for i, c := range b {
		if upper && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}

// ValidateNotifierUpdate validates next, the Notifier an update makes of
// old: what ValidateNotifier checks; every spec field may change.
func ValidateNotifierUpdate(next, old *Notifier) ErrorList {
	_ = old
	return ValidateNotifier(next)
}

// NotifierEvent is the notification event a Run's new status causes, ""
// when none: the Run entered a terminal phase it was not in. A Failed Run
// whose reason is DependencyFailed is its own event, so a notifier on
// Failed hears about the Run that failed, not about each Run it held up.
func NotifierEvent(old, next *RunStatus) string {
	if !next.Phase.Terminal() || old.Phase == next.Phase {
		return ""
	}
	switch next.Phase {
	case PhaseSucceeded:
		return NotifySucceeded
	case PhaseKilled:
		return NotifyKilled
	}
	if next.Reason == ReasonDependencyFailed {
		return NotifyDependencyFailed
	}
	return NotifyFailed
}

// PagerDutyDedupKey is the dedup key of a Run's PagerDuty events: one
// incident per Schedule (label sprint/schedule), else per Run name, so the
// next success of the same Schedule resolves what a failure triggered.
func PagerDutyDedupKey(run *Run) string {
	if s := run.Metadata.Labels[LabelSchedule]; s != "" {
		return "schedule/" + s
	}
	return "run/" + run.Metadata.Name
}

// OptedOut reports whether an object with these labels is never notified
// about (label sprint/notify: "false").
func OptedOut(labels map[string]string) bool {
	v, ok := labels[LabelNotify]
	return ok && strings.EqualFold(v, "false")
}

// DeepCopy returns a copy of n that shares no memory with it.
func (n *Notifier) DeepCopy() *Notifier {
	if n == nil {
		return nil
	}
	out := new(Notifier)
	n.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies n into out, sharing no memory with n.
func (n *Notifier) DeepCopyInto(out *Notifier) {
	*out = *n
	n.Metadata.DeepCopyInto(&out.Metadata)
	n.Spec.DeepCopyInto(&out.Spec)
	out.Status.LastErrorTime = copyPtr(n.Status.LastErrorTime)
}

// Equal reports whether n and o have the same stored form.
func (n *Notifier) Equal(o *Notifier) bool {
	if n == nil || o == nil {
		return n == o
	}
	return n.TypeMeta == o.TypeMeta && n.Metadata.Equal(&o.Metadata) && n.Spec.Equal(&o.Spec) && n.Status.Equal(&o.Status)
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *NotifierSpec) DeepCopy() *NotifierSpec {
	if s == nil {
		return nil
	}
	out := new(NotifierSpec)
	s.DeepCopyInto(out)
	return out
}

// DeepCopyInto copies s into out, sharing no memory with s.
func (s *NotifierSpec) DeepCopyInto(out *NotifierSpec) {
	*out = *s
	out.On = slices.Clone(s.On)
	if s.Webhook != nil {
		w := *s.Webhook
		w.Headers = maps.Clone(s.Webhook.Headers)
		out.Webhook = &w
	}
	if s.Email != nil {
		e := *s.Email
		e.To = slices.Clone(s.Email.To)
		out.Email = &e
	}
}

// Equal reports whether s and o have the same stored form.
func (s *NotifierSpec) Equal(o *NotifierSpec) bool {
	if s == nil || o == nil {
		return s == o
	}
	if s.Selector != o.Selector || s.UnschedulableAfter != o.UnschedulableAfter || !slices.Equal(s.On, o.On) {
		return false
	}
	if (s.Webhook == nil) != (o.Webhook == nil) || (s.Email == nil) != (o.Email == nil) {
		return false
	}
	if w, v := s.Webhook, o.Webhook; w != nil {
		if w.URL != v.URL || w.Format != v.Format || w.SecretFile != v.SecretFile || !maps.Equal(w.Headers, v.Headers) {
			return false
		}
	}
	if e, f := s.Email, o.Email; e != nil {
		if e.SMTP != f.SMTP || e.From != f.From || e.StartTLS != f.StartTLS || e.UsernameFile != f.UsernameFile ||
			e.PasswordFile != f.PasswordFile || !slices.Equal(e.To, f.To) {
			return false
		}
	}
	return true
}

// DeepCopy returns a copy of s that shares no memory with it.
func (s *NotifierStatus) DeepCopy() *NotifierStatus {
	if s == nil {
		return nil
	}
	out := *s
	out.LastErrorTime = copyPtr(s.LastErrorTime)
	return &out
}

// Equal reports whether s and o have the same stored form.
func (s *NotifierStatus) Equal(o *NotifierStatus) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.Delivered == o.Delivered && s.Failed == o.Failed && s.Pending == o.Pending &&
		s.LastError == o.LastError && timePtrEqual(s.LastErrorTime, o.LastErrorTime)
}

// DeepCopy returns a copy of l that shares no memory with it.
func (l *NotifierList) DeepCopy() *NotifierList {
	if l == nil {
		return nil
	}
	out := *l
	out.Metadata.RemainingItemCount = copyPtr(l.Metadata.RemainingItemCount)
	if l.Items != nil {
		out.Items = make([]Notifier, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
	return &out
}
