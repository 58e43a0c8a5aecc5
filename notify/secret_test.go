package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// raftKey stands for the node's Raft TLS private key, the file an attacker
// would name as a PagerDuty routing key to have the leader send it away.
const raftKey = "-----BEGIN EC PRIVATE KEY-----\nraft-node-key\n-----END EC PRIVATE KEY-----\n"

// The PagerDuty exfiltration attempt and its kin: a Notifier naming a
// secret file outside --notifier-secret-dir — directly, through "..", or
// through a symlink or a directory swapped in after it was admitted — or
// one the directory holds with loose permissions, fails for good with the
// reason in its status and metrics, and nothing at all is sent, so the
// file's content never leaves. Files in the directory are used as before.
func TestDelivery_SecretFiles(t *testing.T) {
	tests := []struct {
		name   string
		dir    string // Config.SecretDir
		file   string // spec.webhook.secretFile; OUT is the outside directory
		setup  func(t *testing.T, secrets, outside string)
		errMsg string // "" delivered
	}{
		{name: "in the directory", dir: testSecretDir, file: "/etc/sprint/hook.secret"},
		{name: "in a subdirectory", dir: testSecretDir, file: "/etc/sprint/team/pd.key"},
		{name: "symlink inside the directory", dir: testSecretDir, file: "/etc/sprint/alias",
			setup: func(t *testing.T, secrets, _ string) { symlink(t, "hook.secret", filepath.Join(secrets, "alias")) }},
		{name: "no secret directory", dir: "", file: "/etc/sprint/hook.secret",
			errMsg: "secretFile /etc/sprint/hook.secret: this server reads no Notifier secret files; start sprint with --notifier-secret-dir=DIR"},
		{name: "raft key outside the directory", dir: testSecretDir, file: "OUT/certs/n1.key",
			errMsg: "/certs/n1.key is not in the notifier secret directory /etc/sprint (--notifier-secret-dir)"},
		{name: "dot-dot", dir: testSecretDir, file: "/etc/sprint/../sprint/hook.secret",
			errMsg: "is not in the notifier secret directory"},
		{name: "symlink out made after admission", dir: testSecretDir, file: "/etc/sprint/pd.key",
			setup: func(t *testing.T, secrets, outside string) {
				symlink(t, filepath.Join(outside, "certs/n1.key"), filepath.Join(secrets, "pd.key"))
			},
			errMsg: "read secretFile /etc/sprint/pd.key: path escapes from parent"},
		{name: "relative symlink out", dir: testSecretDir, file: "/etc/sprint/pd.key",
			setup: func(t *testing.T, secrets, outside string) {
				symlink(t, "../"+filepath.Base(outside)+"/certs/n1.key", filepath.Join(secrets, "pd.key"))
			},
			errMsg: "path escapes from parent"},
		{name: "directory swapped for a symlink", dir: testSecretDir, file: "/etc/sprint/team/n1.key",
			setup: func(t *testing.T, secrets, outside string) {
				require.NoError(t, os.RemoveAll(filepath.Join(secrets, "team")))
				symlink(t, filepath.Join(outside, "certs"), filepath.Join(secrets, "team"))
			},
			errMsg: "path escapes from parent"},
		{name: "readable by others", dir: testSecretDir, file: "/etc/sprint/hook.secret",
			setup: func(t *testing.T, secrets, _ string) {
				require.NoError(t, os.Chmod(filepath.Join(secrets, "hook.secret"), 0o644))
			},
			errMsg: "/etc/sprint/hook.secret: permissions 0644 are too open"},
		{name: "missing", dir: testSecretDir, file: "/etc/sprint/gone", errMsg: "read secretFile /etc/sprint/gone: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outside := writeSecrets(t, map[string]string{"certs/n1.key": raftKey})
			secrets := writeSecrets(t, map[string]string{"hook.secret": "s3cret\n", "team/pd.key": "team-routing-key"})
			if tc.setup != nil {
				tc.setup(t, secrets, outside)
			}
			synctest.Test(t, func(t *testing.T) {
				h := &flaky{}
				store := newFakeStore()
				n := webhookNotifier("pd", "https://events.pagerduty.test/v2/enqueue", apis.FormatPagerDuty)
				n.Spec.Webhook.SecretFile = strings.Replace(tc.file, "OUT", outside, 1)
				store.add(n, apis.NotifyFailed, failedRun("extract"), time.Now())
				reg := prometheus.NewRegistry()
				s, err := New(Config{Transport: handlerTransport{h}, SecretDir: tc.dir}, store, nil, nil, reg)
				require.NoError(t, err)
				useSecretDir(t, s, secrets)
				stop := runService(t, s, store)
				defer stop()
				res := <-store.done
				synctest.Wait() // the loop counts the commit
				for _, r := range h.requests() {
					assert.NotContains(t, string(r.body), "raft-node-key", "the key never leaves")
				}
				st := store.notifier("pd").Status
				if tc.errMsg == "" {
					assert.True(t, res.Delivered, res.Error)
					require.Len(t, h.requests(), 1)
					return
				}
				assert.False(t, res.Delivered)
				assert.Empty(t, h.requests(), "nothing is sent without its secret")
				assert.Contains(t, st.LastError, tc.errMsg)
				assert.NotContains(t, st.LastError, "raft-node-key")
				assert.Equal(t, int64(1), st.Failed)
				assert.Equal(t, 1.0, metricValue(t, reg, "sprint_notifications_failed_total", "pd"))
				assert.Equal(t, 0.0, metricValue(t, reg, "sprint_notification_retries_total", "pd"), "not retried")
			})
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	require.NoError(t, os.Symlink(target, link))
}
