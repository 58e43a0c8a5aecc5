package apis

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Notifier's secret files must be in --notifier-secret-dir; without one
// it may name none. The refusal names each field and the flag.
func TestPolicy_AdmitNotifier(t *testing.T) {
	webhook := func(file string) func(*Notifier) {
		return func(n *Notifier) { n.Spec.Webhook.SecretFile = file }
	}
	email := func(user, pass string) func(*Notifier) {
		return func(n *Notifier) {
			n.Spec.Webhook = nil
			n.Spec.Email = &EmailTarget{SMTP: "smtp.example.com:587", From: "sprint@example.com", To: []string{"ops@example.com"},
				UsernameFile: user, PasswordFile: pass}
		}
	}
	tests := []struct {
		name   string
		dir    string
		mutate func(*Notifier)
		fields []string // refused field paths; nil: admitted
		msg    string
	}{
		{"in the directory", "/etc/sprint/notify", webhook("/etc/sprint/notify/hook.secret"), nil, ""},
		{"below the directory", "/etc/sprint/notify", webhook("/etc/sprint/notify/team/pd.key"), nil, ""},
		{"no secret file", "", webhook(""), nil, ""},
		{"directory /", "/", webhook("/etc/sprint/hook.secret"), nil, ""},
		{"no directory set", "", webhook("/etc/sprint/hook.secret"), []string{"spec.webhook.secretFile"},
			`"/etc/sprint/hook.secret": this server reads no secret files for Notifiers; start sprint with --notifier-secret-dir=DIR`},
		{"raft key outside", "/etc/sprint/notify", webhook("/var/lib/sprint/certs/n1.key"), []string{"spec.webhook.secretFile"},
			`"/var/lib/sprint/certs/n1.key" is not in the notifier secret directory /etc/sprint/notify; put the file there, or start sprint with --notifier-secret-dir`},
		{"sibling with the same prefix", "/etc/sprint/notify", webhook("/etc/sprint/notify2/x"), []string{"spec.webhook.secretFile"}, "is not in the notifier secret directory"},
		{"the directory itself", "/etc/sprint/notify", webhook("/etc/sprint/notify"), []string{"spec.webhook.secretFile"}, "is not in"},
		{"dot-dot out", "/etc/sprint/notify", webhook("/etc/sprint/notify/../../sprint-tokens"), []string{"spec.webhook.secretFile"}, "is not in"},
		{"relative", "/etc/sprint/notify", webhook("hook.secret"), []string{"spec.webhook.secretFile"}, "is not in"},
		{"email both inside", "/etc/sprint/notify", email("/etc/sprint/notify/smtp.user", "/etc/sprint/notify/smtp.pass"), nil, ""},
		{"email both outside", "/etc/sprint/notify", email("/etc/passwd", "/var/lib/sprint/tokens"),
			[]string{"spec.email.usernameFile", "spec.email.passwordFile"}, "is not in"},
		{"email without credentials", "", email("", ""), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := validNotifier()
			tc.mutate(n)
			p := DefaultPolicy()
			p.NotifierSecretDir = tc.dir
			err := p.AdmitNotifier(n)
			if tc.fields == nil {
				assert.NoError(t, err)
				return
			}
			var fe *ForbiddenError
			require.ErrorAs(t, err, &fe)
			assert.True(t, errors.Is(err, ErrForbidden))
			assert.Equal(t, KindNotifier, fe.Kind)
			assert.Equal(t, n.Metadata.Name, fe.Name)
			var fields []string
			for _, e := range fe.Errors {
				fields = append(fields, e.Field)
				assert.Contains(t, e.Message, tc.msg)
				assert.Contains(t, e.Message, FlagNotifierSecretDir)
			}
			assert.Equal(t, tc.fields, fields)
		})
	}
}

func TestParseNotifierDenyCIDRs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "", want: []string{}},
		{in: " , ", want: []string{}},
		{in: "10.0.0.0/8, 192.168.1.7/16,fd00::/8", want: []string{"10.0.0.0/8", "192.168.0.0/16", "fd00::/8"}},
		{in: "203.0.113.9,2001:db8::1", want: []string{"203.0.113.9/32", "2001:db8::1/128"}},
		{in: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR prefix`},
		{in: "example.com", err: "is not a CIDR prefix"},
		{in: "fe80::1%eth0", err: "has a zone"},
	}
	for _, tc := range tests {
		got, err := ParseNotifierDenyCIDRs(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.NotNil(t, got, "an empty list is not nil")
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		assert.Equal(t, tc.want, append([]string{}, s...), tc.in)
	}
	def, err := ParseNotifierDenyCIDRs(DefaultNotifierDenyCIDRs)
	require.NoError(t, err)
	assert.Len(t, def, 8)
}

func TestParseNotifierSecretDir(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"", "", ""},
		{"/etc/sprint/notify/", "/etc/sprint/notify", ""},
		{"/etc//sprint/./notify", "/etc/sprint/notify", ""},
		{"/", "/", ""},
		{"etc/sprint", "", "not an absolute path"},
		{"/etc/sprint/../x", "", `".." element`},
		{"/etc/\x00", "", "NUL"},
	}
	for _, tc := range tests {
		got, err := ParseNotifierSecretDir(tc.in)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestSecretDirRel(t *testing.T) {
	tests := []struct {
		dir, file, rel string
		ok             bool
	}{
		{"/s", "/s/a", "a", true},
		{"/s", "/s/t/a", "t/a", true},
		{"/", "/etc/x", "etc/x", true},
		{"/s", "/s", "", false},
		{"/s", "/s2/a", "", false},
		{"/s", "/s/../a", "", false},
		{"/s", "/s/./a", "", false},
		{"/s", "s/a", "", false},
		{"", "/s/a", "", false},
		{"/s/", "/s/a", "", false},
	}
	for _, tc := range tests {
		rel, ok := SecretDirRel(tc.dir, tc.file)
		assert.Equal(t, tc.ok, ok, "%s in %s", tc.file, tc.dir)
		assert.Equal(t, tc.rel, rel, "%s in %s", tc.file, tc.dir)
	}
}

// A Notifier whose webhook URL or SMTP server is a denied address written
// out (or localhost) is refused when it is written, naming the field, the
// flag and the prefix; names are left to delivery, which judges what they
// resolve to.
func TestPolicy_AdmitNotifierDestinations(t *testing.T) {
	deny := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fe80::/10")}
	webhook := func(url string) func(*Notifier) {
		return func(n *Notifier) { n.Spec.Webhook.URL = url; n.Spec.Webhook.SecretFile = "" }
	}
	smtp := func(addr string) func(*Notifier) {
		return func(n *Notifier) {
			n.Spec.Webhook = nil
			n.Spec.Email = &EmailTarget{SMTP: addr, From: "sprint@example.com", To: []string{"ops@example.com"}}
		}
	}
	tests := []struct {
		name   string
		deny   []netip.Prefix
		mutate func(*Notifier)
		field  string // refused field; "": admitted
		msg    string
	}{
		{"a name", deny, webhook("https://hooks.example.com/x"), "", ""},
		{"a public address", deny, webhook("https://203.0.113.7/x"), "", ""},
		{"loopback", deny, webhook("http://127.0.0.1:8080/x"), "spec.webhook.url", `"127.0.0.1": notifications are never delivered to 127.0.0.1, which --notifier-deny-cidrs denies (127.0.0.0/8)`},
		{"cloud metadata", deny, webhook("http://169.254.169.254/latest/meta-data/"), "spec.webhook.url", "(169.254.0.0/16)"},
		{"IPv6 loopback", deny, webhook("http://[::1]:9/x"), "spec.webhook.url", "denies (::1/128)"},
		{"IPv4-mapped loopback", deny, webhook("http://[::ffff:127.0.0.2]/x"), "spec.webhook.url", "delivered to 127.0.0.2"},
		{"link-local with a zone", deny, webhook("http://[fe80::1%25eth0]/x"), "spec.webhook.url", "delivered to fe80::1,"},
		{"localhost", deny, webhook("http://LocalHost./x"), "spec.webhook.url", "delivered to 127.0.0.1"},
		{"a localhost subdomain", deny, webhook("http://api.localhost:3000/x"), "spec.webhook.url", "denies (127.0.0.0/8)"},
		{"SMTP on loopback", deny, smtp("127.0.0.1:25"), "spec.email.smtp", "denies (127.0.0.0/8)"},
		{"SMTP by name", deny, smtp("smtp.example.com:587"), "", ""},
		{"nothing denied", nil, webhook("http://127.0.0.1:8080/x"), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := validNotifier()
			tc.mutate(n)
			require.Empty(t, ValidateNotifier(n), "the Notifier itself is valid")
			p := DefaultPolicy()
			p.NotifierDenyCIDRs = tc.deny
			err := p.AdmitNotifier(n)
			if tc.field == "" {
				assert.NoError(t, err)
				return
			}
			var fe *ForbiddenError
			require.ErrorAs(t, err, &fe)
			require.Len(t, fe.Errors, 1)
			assert.Equal(t, tc.field, fe.Errors[0].Field)
			assert.Contains(t, fe.Errors[0].Message, tc.msg)
			assert.Contains(t, fe.Errors[0].Message, FlagNotifierDenyCIDRs)
		})
	}
}
