package apis

import (
	"errors"
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
