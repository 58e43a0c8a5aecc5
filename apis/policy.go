package apis

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Flags of the sprint server that widen the admission policy. Refusals name
// them, so that a message tells the operator how to allow what it refused;
// cmd/sprint declares its flags with these names.
const (
	FlagAllowHostPaths  = "--allow-host-paths"
	FlagAllowPrivileged = "--allow-privileged"
	FlagAllowURISchemes = "--allow-uri-schemes"
	// FlagNotifierSecretDir names the directory Notifiers' secret files
	// must be in (apis.Policy.NotifierSecretDir).
	FlagNotifierSecretDir = "--notifier-secret-dir"
	// FlagNotifierDenyCIDRs lists the addresses the leader does not
	// deliver notifications to (package notify enforces it).
	FlagNotifierDenyCIDRs = "--notifier-deny-cidrs"
)

// DefaultAllowedURISchemes is --allow-uri-schemes's default: the schemes
// the Mesos fetcher fetches from another machine. file (and bare paths,
// which the fetcher reads as local files) would copy any file of the agent
// into the sandbox.
const DefaultAllowedURISchemes = "http,https,hdfs,s3,ftp"

// Policy is the admission policy for Run specs, modelled on the Kubernetes
// Pod Security Standards "baseline" profile: it refuses what gives a task
// the agent (host paths, privileged or host-namespace containers, extra
// capabilities and devices, local files fetched as URIs) unless the
// operator allowed it with a server flag. It is pure: AdmitRunSpec looks at
// the spec alone, so every path that creates a Run (the native API, the
// Sprint API, and objects that create Runs later, when they are applied and
// when they fire) calls the same check.
//
// The zero Policy refuses every host path, everything privileged and every
// URI; DefaultPolicy is what sprint starts with.
type Policy struct {
	// AllowedHostPaths are the host path prefixes a volume may mount, each
	// matched component by component (/srv/data allows /srv/data/x, not
	// /srv/data2); empty refuses every hostPath volume.
	AllowedHostPaths []AllowedHostPath `json:"allowedHostPaths"`
	// AllowPrivileged admits the Docker parameters that give a container
	// the agent (privileged, host namespaces, capabilities beyond Docker's
	// default set, devices, security options, mounts that bypass the host
	// path rule, …) and command tasks run as root.
	AllowPrivileged bool `json:"allowPrivileged"`
	// AllowedURISchemes are the lower-case schemes spec.uris may use;
	// "file" also admits bare paths.
	AllowedURISchemes []string `json:"allowedURISchemes"`
	// NotifierSecretDir is the directory whose files Notifiers may name as
	// secret files (spec.webhook.secretFile, spec.email.usernameFile and
	// passwordFile); empty refuses every secret file. See AdmitNotifier.
	NotifierSecretDir string `json:"notifierSecretDir"`
	// NotifierDenyCIDRs are the addresses notifications are never
	// delivered to (--notifier-deny-cidrs). Delivery judges the address
	// it connects to; admission refuses a Notifier whose webhook URL or
	// SMTP server is such an address written out (or localhost), so that
	// it fails when it is written rather than at its first delivery.
	// Empty denies nothing.
	NotifierDenyCIDRs []netip.Prefix `json:"notifierDenyCIDRs"`
}

// KindAdmissionPolicy is the kind of GET /api/v1/policy's answer.
const KindAdmissionPolicy = "AdmissionPolicy"

// AdmissionPolicy is the body of GET /api/v1/policy: the policy of the node
// that answered. Policy comes from each node's flags, and writes are served
// by the leader, so the leader's policy is the one in force.
type AdmissionPolicy struct {
	TypeMeta `json:",inline"`
	// NodeID is the node whose policy this is.
	NodeID string `json:"nodeID"`
	// Leader tells whether that node led when it answered.
	Leader bool `json:"leader"`
	Policy `json:",inline"`
}

// AllowedHostPath is one allowed host path prefix, as Kubernetes's
// PodSecurityPolicy had them.
type AllowedHostPath struct {
	// PathPrefix is a clean absolute path.
	PathPrefix string `json:"pathPrefix"`
	// ReadOnly admits only volumes with mode RO under the prefix.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// String renders the prefix as --allow-host-paths takes it: /srv/data:ro.
func (a AllowedHostPath) String() string {
	if a.ReadOnly {
		return a.PathPrefix + ":ro"
	}
	return a.PathPrefix
}

// DefaultPolicy is the policy of a sprint server started without policy
// flags: no host paths, nothing privileged, URIs fetched over http, https,
// hdfs, s3 or ftp, Notifiers without secret files and never sending to
// the addresses of DefaultNotifierDenyCIDRs.
func DefaultPolicy() Policy {
	schemes, _ := ParseURISchemes(DefaultAllowedURISchemes)
	deny, _ := ParseNotifierDenyCIDRs(DefaultNotifierDenyCIDRs)
	return Policy{AllowedURISchemes: schemes, NotifierDenyCIDRs: deny}
}

// ParseAllowedHostPaths parses --allow-host-paths: comma-separated absolute
// paths, each optionally followed by ":ro" (only read-only volumes below
// it) or ":rw". Paths are cleaned ("/srv/data/" is "/srv/data"); a path
// with a ".." element is refused, as a relative one. Empty entries are
// skipped, so "" allows nothing.
func ParseAllowedHostPaths(s string) ([]AllowedHostPath, error) {
	var out []AllowedHostPath
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		a := AllowedHostPath{PathPrefix: entry}
		if p, ok := strings.CutSuffix(entry, ":ro"); ok {
			a = AllowedHostPath{PathPrefix: p, ReadOnly: true}
		} else if p, ok := strings.CutSuffix(entry, ":rw"); ok {
			a.PathPrefix = p
		}
		switch {
		case !strings.HasPrefix(a.PathPrefix, "/"):
			return nil, fmt.Errorf("%q is not an absolute path", entry)
		case hasDotDot(a.PathPrefix):
			return nil, fmt.Errorf("%q has a \"..\" element: name the directory itself", entry)
		case strings.ContainsRune(a.PathPrefix, 0):
			return nil, fmt.Errorf("%q contains a NUL byte", entry)
		}
		a.PathPrefix = path.Clean(a.PathPrefix)
		if i := slices.IndexFunc(out, func(o AllowedHostPath) bool { return o.PathPrefix == a.PathPrefix }); i >= 0 {
			// Listed twice: the wider grant wins.
			out[i].ReadOnly = out[i].ReadOnly && a.ReadOnly
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseURISchemes parses --allow-uri-schemes: comma-separated schemes,
// compared case-insensitively, each one validation accepts (http, https,
// ftp, ftps, hdfs, s3, s3a, s3n, file). The result is lower-case, in the
// given order, without duplicates; "" allows no URI at all.
func ParseURISchemes(s string) ([]string, error) {
	var out []string
	for _, entry := range strings.Split(s, ",") {
		scheme := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(entry), "://")))
		if scheme == "" {
			continue
		}
		if !slices.Contains(uriSchemes, scheme) {
			return nil, fmt.Errorf("unknown scheme %q: sprint fetches %s", entry, strings.Join(uriSchemes, ", "))
		}
		if !slices.Contains(out, scheme) {
			out = append(out, scheme)
		}
	}
	return out, nil
}

// MaxForbiddenCauses bounds the violations a refusal lists; the rest are
// counted in one last cause. Each cause quotes the value and names a flag,
// so without a bound a 1 MiB body of 45,000 volume parameters would get a
// 10 MB answer; no spec written by hand comes near.
const MaxForbiddenCauses = 100

// AdmitRun checks a Run about to be created against the policy. It returns
// nil or a *ForbiddenError (matching ErrForbidden) listing every violation
// with its field path (up to MaxForbiddenCauses, then a count). Call it
// after validation: it judges valid specs.
func (p Policy) AdmitRun(r *Run) error {
	if errs := p.AdmitRunSpec(&r.Spec, "spec"); len(errs) > 0 {
		return &ForbiddenError{Kind: KindRun, Name: r.Metadata.Name, Errors: capCauses(errs)}
	}
	return nil
}

// capCauses keeps the first MaxForbiddenCauses violations and counts the
// rest in a last, fieldless one.
func capCauses(errs ErrorList) ErrorList {
	if len(errs) <= MaxForbiddenCauses {
		return errs
	}
	out := slices.Clone(errs[:MaxForbiddenCauses])
	return append(out, &FieldError{Message: fmt.Sprintf("and %d more violations of the admission policy", len(errs)-MaxForbiddenCauses)})
}

// AdmitRunSpec returns every violation of the policy by the spec found at
// path (e.g. "spec", or "spec.runTemplate.spec" for an object that creates
// Runs), each with its field path and a message naming the server flag
// that would allow it. It is pure and safe on any spec, valid or not.
func (p Policy) AdmitRunSpec(s *RunSpec, path string) ErrorList {
	var errs ErrorList
	// Docker drops root's dangerous capabilities; a command task runs on
	// the agent itself, and the Mesos containerizer keeps every capability
	// unless the agent runs its linux/capabilities isolator.
	if s.User == "root" && (s.Container == nil || s.Container.Type != ContainerDocker) && !p.AllowPrivileged {
		errs = append(errs, fieldErr(path+".user", "%q runs the task as root on the agent outside Docker's confinement (a command task, or the Mesos containerizer); start sprint with %s to allow it", s.User, FlagAllowPrivileged))
	}
	if c := s.Container; c != nil {
		if c.Docker != nil && !p.AllowPrivileged {
			for i, prm := range c.Docker.Parameters {
				if why := privilegedParameter(prm); why != "" {
					errs = append(errs, fieldErr(fmt.Sprintf("%s.container.docker.parameters[%d]", path, i),
						"%s %s; start sprint with %s to allow it", quoteValue(prm.Key+"="+prm.Value), why, FlagAllowPrivileged))
				}
			}
		}
		for i, v := range c.Volumes {
			if e := p.admitHostPath(fmt.Sprintf("%s.container.volumes[%d].hostPath", path, i), v); e != nil {
				errs = append(errs, e)
			}
		}
	}
	for i, u := range s.URIs {
		if e := p.admitURI(path+".uris["+strconv.Itoa(i)+"].value", u.Value); e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}

// admitHostPath checks one volume. The path must be absolute and free of
// ".." elements whatever the policy: the agent resolves the path, and a
// prefix check on a path that climbs is a check of nothing. Relative host
// paths (which the Mesos containerizer would resolve in the sandbox) are
// refused too; validation already rejects them.
func (p Policy) admitHostPath(field string, v Volume) *FieldError {
	raw := v.HostPath
	switch {
	case !strings.HasPrefix(raw, "/"):
		return fieldErr(field, "%s is not an absolute path: relative host paths are never admitted", quoteValue(raw))
	case hasDotDot(raw):
		return fieldErr(field, "%s has a \"..\" element: host paths that climb are never admitted; name the directory itself", quoteValue(raw))
	}
	clean := path.Clean(raw)
	readOnly := strings.EqualFold(v.Mode, VolumeRO)
	var roMatch string
	for _, a := range p.AllowedHostPaths {
		if !pathWithin(clean, a.PathPrefix) {
			continue
		}
		if readOnly || !a.ReadOnly {
			return nil
		}
		roMatch = a.PathPrefix
	}
	if roMatch != "" {
		return fieldErr(field, "%s is under %s, which is allowed read-only: set mode RO, or start sprint with %s=%s (without :ro) to allow read-write", quoteValue(raw), roMatch, FlagAllowHostPaths, roMatch)
	}
	return fieldErr(field, "%s is not under an allowed host path (allowed: %s); start sprint with %s=%s to allow it",
		quoteValue(raw), p.hostPathList(), FlagAllowHostPaths, quoteFlagValue(clean))
}

func (p Policy) hostPathList() string {
	if len(p.AllowedHostPaths) == 0 {
		return "none"
	}
	parts := make([]string, len(p.AllowedHostPaths))
	for i, a := range p.AllowedHostPaths {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

// admitURI checks one URI's scheme. A bare path is a file on the agent to
// the Mesos fetcher, so it needs "file". Schemes compare case-insensitively
// (curl, which fetches for Mesos, reads FILE:// as file://).
func (p Policy) admitURI(field, v string) *FieldError {
	var scheme string
	if strings.HasPrefix(v, "/") {
		if slices.Contains(p.AllowedURISchemes, "file") {
			return nil
		}
		return fieldErr(field, "%s is a path on the agent, which the Mesos fetcher copies into the sandbox; start sprint with %s=%s to allow it",
			quoteValue(v), FlagAllowURISchemes, p.schemesWith("file"))
	}
	if u, err := url.Parse(v); err == nil {
		scheme = strings.ToLower(u.Scheme)
	}
	if scheme == "" {
		// Not a URI (validation says so too): to the fetcher, a local path.
		return fieldErr(field, "%s is neither an absolute path nor a URI with an allowed scheme (allowed: %s)", quoteValue(v), p.schemeList())
	}
	if slices.Contains(p.AllowedURISchemes, scheme) {
		return nil
	}
	return fieldErr(field, "scheme %q is not allowed (allowed: %s); start sprint with %s=%s to allow it",
		clipValue(scheme), p.schemeList(), FlagAllowURISchemes, p.schemesWith(scheme))
}

func (p Policy) schemeList() string {
	if len(p.AllowedURISchemes) == 0 {
		return "none"
	}
	return strings.Join(p.AllowedURISchemes, ", ")
}

// schemesWith is the --allow-uri-schemes value that adds scheme to the
// policy's.
func (p Policy) schemesWith(scheme string) string {
	return strings.Join(append(slices.Clone(p.AllowedURISchemes), clipValue(scheme)), ",")
}

// pathWithin reports whether the clean absolute path p is prefix or below
// it, comparing whole path elements.
func pathWithin(p, prefix string) bool {
	if prefix == "/" || p == prefix {
		return true
	}
	return strings.HasPrefix(p, prefix+"/")
}

// hasDotDot reports whether p has a ".." element. Only whole elements
// count: "/srv/a..b" is a plain name.
func hasDotDot(p string) bool {
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return true
		}
	}
	return false
}

// maxQuoted bounds how much of a user-supplied value a policy message
// repeats: enough to recognise it, not enough to turn a huge field into a
// huge answer.
const maxQuoted = 256

func clipValue(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func quoteValue(s string) string { return strconv.Quote(clipValue(s)) }

// quoteFlagValue renders a path for a flag suggestion: as is when a shell
// would read it as one word, else quoted.
func quoteFlagValue(s string) string {
	s = clipValue(s)
	if strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~,") {
		return strconv.Quote(s)
	}
	return s
}
