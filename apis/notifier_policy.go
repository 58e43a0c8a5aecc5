package apis

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strings"
)

// DefaultNotifierDenyCIDRs is --notifier-deny-cidrs's default: the addresses a
// webhook or SMTP server of a Notifier may not have. Loopback and
// "this host" (0.0.0.0/8, which Linux connects to the host itself) reach
// services on the leader; link-local holds the cloud metadata service
// (169.254.169.254) and IPv6 neighbours; multicast is never a server.
const DefaultNotifierDenyCIDRs = "127.0.0.0/8,::1/128,0.0.0.0/8,::/128,169.254.0.0/16,fe80::/10,224.0.0.0/4,ff00::/8"

// ParseNotifierDenyCIDRs parses --notifier-deny-cidrs: comma-separated CIDR
// prefixes (192.168.0.0/16, fd00::/8) or single addresses. "" denies
// nothing and gives a non-nil empty list.
func ParseNotifierDenyCIDRs(s string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(entry, "/") {
			p, err = netip.ParsePrefix(entry)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(entry); err == nil && a.Zone() != "" {
				return nil, fmt.Errorf("%q has a zone: give the address alone", entry)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix (like 10.0.0.0/8) or an IP address", entry)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ParseNotifierSecretDir parses --notifier-secret-dir: "" (no directory:
// Notifiers may name no secret file) or an absolute path without a ".."
// element, returned clean.
func ParseNotifierSecretDir(s string) (string, error) {
	switch {
	case s == "":
		return "", nil
	case !strings.HasPrefix(s, "/"):
		return "", fmt.Errorf("%q is not an absolute path", s)
	case hasDotDot(s):
		return "", fmt.Errorf("%q has a \"..\" element: name the directory itself", s)
	case strings.ContainsRune(s, 0):
		return "", fmt.Errorf("%q contains a NUL byte", s)
	}
	return path.Clean(s), nil
}

// SecretDirRel returns file's name relative to dir when file is below dir,
// compared element by element (/etc/sprint admits /etc/sprint/x and
// /etc/sprint/team/x, not /etc/sprint2/x nor /etc/sprint itself). Both
// must be absolute and clean, without a ".." element; ok is false
// otherwise, and always when dir is "". The name is what delivery opens
// inside an os.Root of dir.
func SecretDirRel(dir, file string) (rel string, ok bool) {
	if dir == "" || !strings.HasPrefix(dir, "/") || path.Clean(dir) != dir ||
		!strings.HasPrefix(file, "/") || path.Clean(file) != file || hasDotDot(file) {
		return "", false
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	rel, ok = strings.CutPrefix(file, prefix)
	if !ok || rel == "" {
		return "", false
	}
	return rel, true
}

// notifierSecretFile is one secret file a Notifier names: the field path
// and the file's path on the server.
type notifierSecretFile struct{ field, path string }

// secretFiles lists the secret files the spec at path names, in field
// order; unset fields are left out.
func (s *NotifierSpec) secretFiles(path string) []notifierSecretFile {
	var out []notifierSecretFile
	add := func(field, v string) {
		if v != "" {
			out = append(out, notifierSecretFile{field: path + field, path: v})
		}
	}
	if w := s.Webhook; w != nil {
		add(".webhook.secretFile", w.SecretFile)
	}
	if e := s.Email; e != nil {
		add(".email.usernameFile", e.UsernameFile)
		add(".email.passwordFile", e.PasswordFile)
	}
	return out
}

// DeniedBy returns the prefix of deny that holds a, judging an IPv4-mapped
// IPv6 address (::ffff:127.0.0.1) as the IPv4 address it maps and
// ignoring a zone. Admission and delivery judge addresses with it.
func DeniedBy(deny []netip.Prefix, a netip.Addr) (netip.Prefix, bool) {
	a = a.Unmap().WithZone("")
	for _, p := range deny {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// notifierDestination is one server a Notifier sends to: the field path
// and the host as written (a name or an IP address).
type notifierDestination struct{ field, host string }

// destinations lists the servers the spec at path names, in field order;
// fields that do not parse are left to validation.
func (s *NotifierSpec) destinations(path string) []notifierDestination {
	var out []notifierDestination
	if w := s.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err == nil && u.Hostname() != "" {
			out = append(out, notifierDestination{field: path + ".webhook.url", host: u.Hostname()})
		}
	}
	if e := s.Email; e != nil {
		if host, _, err := net.SplitHostPort(e.SMTP); err == nil && host != "" {
			out = append(out, notifierDestination{field: path + ".email.smtp", host: host})
		}
	}
	return out
}

// loopback is what a localhost name resolves to (RFC 6761): such a name is
// judged as this address.
var loopback = netip.MustParseAddr("127.0.0.1")

// literalAddr returns the address a destination host stands for without a
// name lookup: an IP address written out, or loopback for localhost and
// its subdomains.
func literalAddr(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return loopback, true
	}
	return netip.Addr{}, false
}

// AdmitNotifier checks a Notifier about to be created or updated against
// the policy: every secret file it names must be in NotifierSecretDir,
// and no server it names may be an address NotifierDenyCIDRs holds.
// Without that rule, anyone who may write a Notifier could make the leader
// read any file sprint's user can (the Raft TLS key, the API token file)
// and send it to a server of theirs as a PagerDuty routing key or SMTP
// credentials. It returns nil or a *ForbiddenError (matching
// ErrForbidden) with every violation's field path. Call it after
// validation. Delivery checks the directory again, through an os.Root, so
// that what was admitted cannot lead out of it later.
func (p Policy) AdmitNotifier(n *Notifier) error {
	if errs := p.AdmitNotifierSpec(&n.Spec, "spec"); len(errs) > 0 {
		return &ForbiddenError{Kind: KindNotifier, Name: n.Metadata.Name, Errors: capCauses(errs)}
	}
	return nil
}

// AdmitNotifierSpec returns every violation of the policy by the Notifier
// spec at path, each naming the flag that would allow it. Pure and safe on
// any spec.
func (p Policy) AdmitNotifierSpec(s *NotifierSpec, path string) ErrorList {
	var errs ErrorList
	for _, f := range s.secretFiles(path) {
		if _, ok := SecretDirRel(p.NotifierSecretDir, f.path); ok {
			continue
		}
		if p.NotifierSecretDir == "" {
			errs = append(errs, fieldErr(f.field, "%s: this server reads no secret files for Notifiers; start sprint with %s=DIR and put the file in DIR to allow it",
				quoteValue(f.path), FlagNotifierSecretDir))
			continue
		}
		errs = append(errs, fieldErr(f.field, "%s is not in the notifier secret directory %s; put the file there, or start sprint with %s naming the directory that holds it",
			quoteValue(f.path), p.NotifierSecretDir, FlagNotifierSecretDir))
	}
	for _, d := range s.destinations(path) {
		a, ok := literalAddr(d.host)
		if !ok {
			continue // a name: delivery judges what it resolves to
		}
		if prefix, denied := DeniedBy(p.NotifierDenyCIDRs, a); denied {
			errs = append(errs, fieldErr(d.field, "%s: notifications are never delivered to %s, which %s denies (%s)",
				quoteValue(d.host), a.Unmap().WithZone(""), FlagNotifierDenyCIDRs, prefix))
		}
	}
	return errs
}
