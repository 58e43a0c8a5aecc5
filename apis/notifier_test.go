package apis

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/hostile"
)

func validNotifier() *Notifier {
	n := &Notifier{
		Metadata: ObjectMeta{Name: "etl-failures"},
		Spec: NotifierSpec{
			Selector: "pipeline=etl",
			On:       []string{NotifyFailed, NotifyDependencyFailed},
			Webhook:  &Webhook{URL: "https://hooks.example.com/sprint", SecretFile: "/etc/sprint/hook.secret"},
		},
	}
	SetNotifierDefaults(n)
	return n
}

func TestValidateNotifier(t *testing.T) {
	email := func() *EmailTarget {
		return &EmailTarget{SMTP: "smtp.example.com:587", From: "sprint@example.com", To: []string{"{owner}", "Ops <ops@example.com>"}}
	}
	tests := []struct {
		name   string
		mutate func(n *Notifier)
		want   []string // field paths, in order
	}{
		{"valid webhook", func(*Notifier) {}, nil},
		{"valid email", func(n *Notifier) { n.Spec.Webhook, n.Spec.Email = nil, email() }, nil},
		{"no target", func(n *Notifier) { n.Spec.Webhook = nil }, []string{"spec"}},
		{"two targets", func(n *Notifier) { n.Spec.Email = email() }, []string{"spec"}},
		{"no name", func(n *Notifier) { n.Metadata.Name = "" }, []string{"metadata.name"}},
		{"bad selector", func(n *Notifier) { n.Spec.Selector = "a in (" }, []string{"spec.selector"}},
		{"no events", func(n *Notifier) { n.Spec.On = nil }, []string{"spec.on"}},
		{"unknown event", func(n *Notifier) { n.Spec.On = []string{"Exploded"} }, []string{"spec.on[0]"}},
		{"duplicate event", func(n *Notifier) { n.Spec.On = []string{"Failed", "Failed"} }, []string{"spec.on[1]"}},
		{"undelivered event", func(n *Notifier) { n.Spec.On = []string{"Missed"} }, []string{"spec.on[0]"}},
		{"unschedulableAfter", func(n *Notifier) { n.Spec.UnschedulableAfter = "5m" }, []string{"spec.unschedulableAfter"}},
		{"url scheme", func(n *Notifier) { n.Spec.Webhook.URL = "ftp://x/y" }, []string{"spec.webhook.url"}},
		{"url no host", func(n *Notifier) { n.Spec.Webhook.URL = "http:///x" }, []string{"spec.webhook.url"}},
		{"url credentials", func(n *Notifier) { n.Spec.Webhook.URL = "https://u:p@x/y" }, []string{"spec.webhook.url"}},
		{"url missing", func(n *Notifier) { n.Spec.Webhook.URL = "" }, []string{"spec.webhook.url"}},
		{"format", func(n *Notifier) { n.Spec.Webhook.Format = "xml" }, []string{"spec.webhook.format"}},
		{"relative secret", func(n *Notifier) { n.Spec.Webhook.SecretFile = "hook.secret" }, []string{"spec.webhook.secretFile"}},
		{"unclean secret", func(n *Notifier) { n.Spec.Webhook.SecretFile = "/etc/../etc/x" }, []string{"spec.webhook.secretFile"}},
		{"pagerduty needs a key", func(n *Notifier) { n.Spec.Webhook.Format, n.Spec.Webhook.SecretFile = FormatPagerDuty, "" }, []string{"spec.webhook.secretFile"}},
		{"reserved header", func(n *Notifier) { n.Spec.Webhook.Headers = map[string]string{"x-sprint-signature": "forged"} }, []string{"spec.webhook.headers[x-sprint-signature]"}},
		{"header name", func(n *Notifier) { n.Spec.Webhook.Headers = map[string]string{"a b": "c"} }, []string{"spec.webhook.headers[a b]"}},
		{"header value", func(n *Notifier) { n.Spec.Webhook.Headers = map[string]string{"X-A": "a\r\nB: c"} }, []string{"spec.webhook.headers[X-A]"}},
		{"smtp without port", func(n *Notifier) { n.Spec.Webhook, n.Spec.Email = nil, email(); n.Spec.Email.SMTP = "smtp.example.com" }, []string{"spec.email.smtp"}},
		{"smtp port", func(n *Notifier) { n.Spec.Webhook, n.Spec.Email = nil, email(); n.Spec.Email.SMTP = "smtp:99999" }, []string{"spec.email.smtp"}},
		{"from", func(n *Notifier) { n.Spec.Webhook, n.Spec.Email = nil, email(); n.Spec.Email.From = "not an address" }, []string{"spec.email.from"}},
		{"to", func(n *Notifier) {
			n.Spec.Webhook, n.Spec.Email = nil, email()
			n.Spec.Email.To = []string{"ok@example.com", "{team}"}
		}, []string{"spec.email.to[1]"}},
		{"no to", func(n *Notifier) { n.Spec.Webhook, n.Spec.Email = nil, email(); n.Spec.Email.To = nil }, []string{"spec.email.to"}},
		{"username without password", func(n *Notifier) {
			n.Spec.Webhook, n.Spec.Email = nil, email()
			n.Spec.Email.UsernameFile = "/etc/sprint/smtp.user"
		}, []string{"spec.email"}},
		{"relative password file", func(n *Notifier) {
			n.Spec.Webhook, n.Spec.Email = nil, email()
			n.Spec.Email.UsernameFile, n.Spec.Email.PasswordFile = "/etc/u", "p"
		}, []string{"spec.email.passwordFile"}},
		{"wrong kind", func(n *Notifier) { n.Kind = KindRun }, []string{"kind"}},
		{"invalid UTF-8", func(n *Notifier) { n.Spec.Webhook.Headers = map[string]string{"X-A": "\xff"} }, []string{"spec.webhook.headers[X-A]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := validNotifier()
			tt.mutate(n)
			var got []string
			for _, e := range ValidateNotifier(n) {
				got = append(got, e.Field)
			}
			assert.Equal(t, tt.want, got, "%v", ValidateNotifier(n))
		})
	}
}

func TestNotifierEvent(t *testing.T) {
	tests := []struct {
		old, next RunStatus
		want      string
	}{
		{RunStatus{Phase: PhaseRunning}, RunStatus{Phase: PhaseSucceeded}, NotifySucceeded},
		{RunStatus{Phase: PhaseRunning}, RunStatus{Phase: PhaseFailed, Reason: ReasonTaskFailed}, NotifyFailed},
		{RunStatus{Phase: PhasePending}, RunStatus{Phase: PhaseFailed, Reason: ReasonDependencyFailed}, NotifyDependencyFailed},
		{RunStatus{Phase: PhaseRunning}, RunStatus{Phase: PhaseKilled}, NotifyKilled},
		{RunStatus{Phase: PhaseFailed}, RunStatus{Phase: PhaseFailed, Message: "again"}, ""},
		{RunStatus{Phase: PhasePending}, RunStatus{Phase: PhaseRunning}, ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, NotifierEvent(&tt.old, &tt.next), "%s → %s", tt.old.Phase, tt.next.Phase)
	}
	assert.True(t, OptedOut(map[string]string{LabelNotify: "false"}))
	assert.False(t, OptedOut(map[string]string{LabelNotify: "true"}))
	assert.False(t, OptedOut(nil))
}

func TestDecodeManifest_MixesRunsAndNotifiers(t *testing.T) {
	data := []byte(`apiVersion: sprint/v1
kind: Run
metadata: {name: extract}
spec: {command: "true", cpus: 0.1, mem: 16}
---
apiVersion: sprint/v1
kind: Notifier
metadata: {name: etl-failures}
spec:
  selector: pipeline=etl
  on: [Failed]
  webhook: {url: "https://hooks.example.com/x"}
`)
	m, err := DecodeManifest(data)
	require.NoError(t, err)
	require.Len(t, m.Runs, 1)
	require.Len(t, m.Notifiers, 1)
	assert.Equal(t, 2, m.Notifiers[0].Index)
	assert.Equal(t, "etl-failures", m.Notifiers[0].Notifiers[0].Metadata.Name)

	_, err = DecodeNotifiers([]byte(`{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Failed"],"webhook":{"uri":"http://x"}}}`))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Contains(t, err.Error(), "spec.webhook.uri: unknown field")

	_, err = DecodeNotifiers([]byte(`{"apiVersion":"sprint/v2","kind":"Notifier","metadata":{"name":"x"}}`))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Contains(t, err.Error(), "apiVersion")

	_, err = DecodeNotifiers([]byte(`{"apiVersion":"sprint/v1","kind":"NotifierList","items":[{"kind":"Run","metadata":{"name":"x"}}]}`))
	require.ErrorIs(t, err, ErrBadRequest)
	assert.Contains(t, err.Error(), "items[0].kind")
}

func generateNotifierSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{ExpandedStruct: true}
	require.NoError(t, r.AddGoComments("github.com/sprint-project/sprint/apis", "."))
	s := r.Reflect(&Notifier{})
	s.ID = "https://sprint-project.github.io/schemas/sprint/v1/notifier.json"
	s.Title = "Notifier (sprint/v1)"
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(s))
	return b.Bytes()
}

func TestNotifierSchema_UpToDate(t *testing.T) {
	got := generateNotifierSchema(t)
	if *update {
		require.NoError(t, os.WriteFile("notifier.schema.json", got, 0o644))
	}
	if !bytes.Equal(got, NotifierSchema()) {
		t.Fatalf("apis/notifier.schema.json is out of date with the Go types; regenerate it with\n\tgo test ./apis -run TestNotifierSchema_UpToDate -update")
	}
	assert.True(t, strings.Contains(string(got), `"secretFile"`))
}

// FuzzDecodeNotifiers: any body decodes, or fails with a 400, within the
// decoding budget; a Notifier validation accepts survives the store's
// JSON round trip unchanged.
func FuzzDecodeNotifiers(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"a"},"spec":{"on":["Failed"],"webhook":{"url":"https://h/x","headers":{"A":"b"}}}}`,
		"apiVersion: sprint/v1\nkind: Notifier\nmetadata: {name: m}\nspec:\n  on: [Failed]\n  email: {smtp: \"h:25\", from: a@b.c, to: [\"{owner}\"]}\n",
		`{"apiVersion":"sprint/v1","kind":"NotifierList","items":[{"metadata":{"name":"a"}}]}`,
		"apiVersion: sprint/v1\nkind: Notifier\nspec:\n  on: [", "---\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 1<<20 {
			return
		}
		var ns []Notifier
		var err error
		c := hostile.Measure(decodeHeapBudget, func() { ns, err = DecodeNotifiers(body) })
		if c.PeakHeap > decodeHeapBudget || c.Wall > decodeWallLimit {
			t.Fatalf("decoding %d bytes cost %d MiB of heap, %v", len(body), c.PeakHeap>>20, c.Wall)
		}
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%T %v: want a 400", err, err)
			}
			return
		}
		for i := range ns {
			n := &ns[i]
			SetNotifierDefaults(n)
			if len(ValidateNotifier(n)) > 0 {
				continue
			}
			b, err := json.Marshal(n)
			require.NoError(t, err)
			back, err := DecodeNotifiers(b)
			require.NoError(t, err, "%s", b)
			require.Len(t, back, 1)
			SetNotifierDefaults(&back[0])
			require.True(t, n.Equal(&back[0]), "round trip changed the Notifier:\n%s", b)
		}
	})
}
