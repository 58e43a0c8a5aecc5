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
)

const notifierJSON = `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"etl","labels":{"team":"data"}},
 "spec":{"selector":"pipeline=etl","on":["Failed"],"webhook":{"url":"https://hooks.example.com/x","secretFile":"/etc/sprint/hook.secret"}}}`

func TestNotifiers_API(t *testing.T) {
	t.Parallel()
	_, url := startRaftNode(t)
	c, err := client.New(url, "")
	require.NoError(t, err)
	ctx := t.Context()
	do := func(method, path, body string, hdr ...string) (int, http.Header, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, resp.Header, m
	}

	// Refusals name the field.
	tests := []struct {
		name, body string
		code       int
		field      string
	}{
		{"no target", `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Failed"]}}`, 422, "spec"},
		{"bad url", `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Failed"],"webhook":{"url":"file:///etc/passwd"}}}`, 422, "spec.webhook.url"},
		{"bad event", `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Boom"],"webhook":{"url":"http://x"}}}`, 422, "spec.on[0]"},
		{"relative secret", `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Failed"],"webhook":{"url":"http://x","secretFile":"s"}}}`, 422, "spec.webhook.secretFile"},
		{"unknown field", `{"apiVersion":"sprint/v1","kind":"Notifier","metadata":{"name":"x"},"spec":{"on":["Failed"],"webhook":{"url":"http://x","secret":"s"}}}`, 400, "spec.webhook.secret"},
		{"a Run", `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"x"},"spec":{"command":"true","cpus":1,"mem":1}}`, 400, ""},
	}
	for _, tt := range tests {
		code, _, st := do("POST", "/api/v1/notifiers", tt.body)
		assert.Equal(t, tt.code, code, tt.name)
		if tt.field != "" {
			causes := st["details"].(map[string]any)["causes"].([]any)
			assert.Equal(t, tt.field, causes[0].(map[string]any)["field"], tt.name)
		}
	}

	code, _, _ := do("POST", "/api/v1/notifiers?dryRun=true", notifierJSON)
	assert.Equal(t, 201, code)
	_, err = c.GetNotifier(ctx, "etl")
	assert.True(t, client.IsNotFound(err), "a dry run stores nothing")

	code, hdr, obj := do("PUT", "/api/v1/notifiers/etl", notifierJSON)
	require.Equal(t, 201, code)
	assert.Equal(t, "created", hdr.Get("Sprint-Apply-Result"))
	rv := obj["metadata"].(map[string]any)["resourceVersion"].(string)
	code, hdr, _ = do("PUT", "/api/v1/notifiers/etl", notifierJSON)
	assert.Equal(t, 200, code)
	assert.Equal(t, "unchanged", hdr.Get("Sprint-Apply-Result"))
	changed := strings.Replace(notifierJSON, `"on":["Failed"]`, `"on":["Failed","Killed"]`, 1)
	withRV := strings.Replace(changed, `"name":"etl"`, `"name":"etl","resourceVersion":"1"`, 1)
	code, _, _ = do("PUT", "/api/v1/notifiers/etl", withRV)
	assert.Equal(t, 409, code, "a stale resourceVersion precondition")
	code, hdr, obj = do("PUT", "/api/v1/notifiers/etl", changed)
	assert.Equal(t, 200, code)
	assert.Equal(t, "configured", hdr.Get("Sprint-Apply-Result"))
	assert.Equal(t, float64(2), obj["metadata"].(map[string]any)["generation"])
	assert.NotEqual(t, rv, obj["metadata"].(map[string]any)["resourceVersion"])

	list, err := c.ListNotifiers(ctx, client.ListOptions{LabelSelector: "team=data"})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	assert.Equal(t, apis.KindNotifierList, list.Kind)
	assert.Equal(t, []string{"Failed", "Killed"}, list.Items[0].Spec.On)
	list, err = c.ListNotifiers(ctx, client.ListOptions{LabelSelector: "team=web"})
	require.NoError(t, err)
	assert.Empty(t, list.Items)

	code, _, _ = do("GET", "/schemas/notifier.json", "")
	assert.Equal(t, 200, code)

	yaml := "apiVersion: sprint/v1\nkind: Notifier\nmetadata: {name: mail}\nspec:\n  on: [Failed]\n  email: {smtp: \"smtp.example.com:587\", from: sprint@example.com, to: [\"{owner}\"], startTLS: true}\n"
	code, _, _ = do("POST", "/api/v1/notifiers", yaml, "Content-Type", "application/yaml")
	assert.Equal(t, 201, code)

	_, err = c.DeleteNotifier(ctx, "etl", "1")
	assert.True(t, client.IsConflict(err), "delete with a stale precondition: %v", err)
	deleted, err := c.DeleteNotifier(ctx, "etl", "")
	require.NoError(t, err)
	assert.Equal(t, "etl", deleted.Metadata.Name)
	_, err = c.DeleteNotifier(ctx, "etl", "")
	assert.True(t, client.IsNotFound(err))

	code, _, _ = do("GET", "/api/v1/notifiers?watch=true", "")
	assert.Equal(t, 400, code, "watching Notifiers is not served")
}
