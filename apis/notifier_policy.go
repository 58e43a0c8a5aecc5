package apis

import (
	"fmt"
	"path"
	"strings"
)

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

// AdmitNotifier checks a Notifier about to be created or updated against
// the policy: every secret file it names must be in NotifierSecretDir.
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
	return errs
}
