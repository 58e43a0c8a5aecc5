package sim

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// The realms of Mesos' HTTP authenticators (master/constants.hpp and
// slave/constants.hpp): they name, in the WWW-Authenticate challenge of a
// 401, which group of endpoints asked.
const (
	realmScheduler       = "mesos-master-scheduler"
	realmMasterReadOnly  = "mesos-master-readonly"
	realmMasterReadWrite = "mesos-master-readwrite"
	realmAgentReadOnly   = "mesos-agent-readonly"
)

// unauthorizedBody is libprocess' body of a 401 (http::Unauthorized).
const unauthorizedBody = "401 Unauthorized."

// credentialSet holds SHA-256 digests of the accepted secrets by principal.
// Comparing fixed-length digests in constant time leaks neither a secret's
// bytes nor its length; the plain secrets are not kept.
type credentialSet map[string][sha256.Size]byte

func newCredentialSet(creds map[string]string) credentialSet {
	if len(creds) == 0 {
		return nil
	}
	set := make(credentialSet, len(creds))
	for p, s := range creds {
		set[p] = sha256.Sum256([]byte(s))
	}
	return set
}

// check reports whether r carries HTTP Basic credentials of a known
// principal with its secret, and returns that principal.
func (c credentialSet) check(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	want, known := c[user]
	got := sha256.Sum256([]byte(pass))
	// The digest is compared even for an unknown principal, so that the
	// answer takes as long either way.
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	if !known || !match {
		return "", false
	}
	return user, true
}

// unauthorized answers 401 as libprocess' Basic authenticator does: the
// challenge for realm, a text/plain "401 Unauthorized." body.
func unauthorized(w http.ResponseWriter, realm string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	plainError(w, http.StatusUnauthorized, unauthorizedBody)
}

// authenticateFramework checks a scheduler request when framework
// authentication is on; it returns the authenticated principal ("" when
// authentication is off).
func (m *Master) authenticateFramework(r *http.Request) (string, bool) {
	if !m.cfg.AuthenticateFrameworks {
		return "", true
	}
	return m.creds.check(r)
}

// guard wraps an HTTP endpoint that requires credentials when on is true.
func (m *Master) guard(on bool, realm string, h http.HandlerFunc) http.HandlerFunc {
	if !on {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := m.creds.check(r); !ok {
			unauthorized(w, realm)
			return
		}
		h(w, r)
	}
}

// checkAuthentication validates the authentication settings: Mesos refuses
// to start an authenticator without credentials.
func (c *Config) checkAuthentication() error {
	on := c.AuthenticateFrameworks || c.AuthenticateHTTPReadOnly || c.AuthenticateHTTPReadWrite
	if on && len(c.Credentials) == 0 {
		return errors.New("authentication is on but no credentials were given")
	}
	for p, s := range c.Credentials {
		if err := checkCredential(p, s); err != nil {
			return err
		}
	}
	return nil
}

func checkCredential(principal, secret string) error {
	switch {
	case principal == "":
		return errors.New("a credential has an empty principal")
	case strings.ContainsAny(principal, ":\x00\r\n"):
		// HTTP Basic cannot carry a user name with a colon.
		return fmt.Errorf("principal %q: must not contain ':' or control characters", principal)
	case secret == "":
		return fmt.Errorf("principal %q: empty secret", principal)
	case strings.ContainsAny(secret, "\x00\r\n"):
		return fmt.Errorf("principal %q: the secret must not contain control characters", principal)
	}
	return nil
}

// ParseCredentials reads the content of a Mesos --credentials file: the
// JSON format of Mesos' Credentials message,
//
//	{"credentials": [{"principal": "sprint", "secret": "…"}]}
//
// or, when the content does not start with '{', the text format Mesos 1.10
// still reads (deprecated since Mesos 1.0, removed in 1.11): one
// "principal secret" pair per line. It returns principal → secret; a
// principal listed twice, an empty secret or a malformed line is an error
// (naming the line or entry, never the secret).
func ParseCredentials(data []byte) (map[string]string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return map[string]string{}, nil
	}
	out := map[string]string{}
	add := func(where, principal, secret string) error {
		if err := checkCredential(principal, secret); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if _, dup := out[principal]; dup {
			return fmt.Errorf("%s: principal %q is listed twice", where, principal)
		}
		out[principal] = secret
		return nil
	}
	if trimmed[0] == '{' {
		var doc struct {
			Credentials []struct {
				Principal *string `json:"principal"`
				Secret    *string `json:"secret"`
			} `json:"credentials"`
		}
		// Unknown members are ignored, as Mesos' JSON-to-protobuf parser does.
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("invalid JSON credentials (want {\"credentials\":[{\"principal\":…,\"secret\":…}]}): %w", err)
		}
		if dec.More() {
			return nil, errors.New("invalid JSON credentials: data after the object")
		}
		for i, c := range doc.Credentials {
			where := fmt.Sprintf("credentials[%d]", i)
			if c.Principal == nil {
				return nil, fmt.Errorf("%s: missing principal", where)
			}
			secret := ""
			if c.Secret != nil {
				secret = *c.Secret
			}
			if err := add(where, *c.Principal, secret); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for i, line := range strings.Split(string(trimmed), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		where := fmt.Sprintf("line %d", i+1)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s: want \"principal secret\"", where)
		}
		if err := add(where, fields[0], fields[1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// principals lists the configured principals, for logs (never secrets).
func principals(creds map[string]string) []string {
	out := make([]string, 0, len(creds))
	for p := range creds {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
