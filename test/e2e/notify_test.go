package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/notify"
)

// hookReceiver is a webhook endpoint in the test process: it answers 503
// while down and otherwise records each signed delivery's idempotency key.
type hookReceiver struct {
	secret []byte
	down   atomic.Bool
	tries  atomic.Int64
	mu     sync.Mutex
	keys   map[string]int // idempotency key → deliveries accepted
	bad    []string       // problems with requests (unsigned, wrong event)
	// blocked is each accepted payload's blocked Runs, by Run name.
	blocked map[string][]string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.tries.Add(1)
	if h.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if got := r.Header.Get(notify.HeaderSignature); got != notify.Sign(h.secret, body) {
		h.bad = append(h.bad, "bad signature "+got)
	}
	h.keys[r.Header.Get(notify.HeaderIdempotencyKey)]++
	var p notify.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		h.bad = append(h.bad, "payload: "+err.Error())
		return
	}
	var names []string
	for _, b := range p.Blocked {
		names = append(names, b.Name+"<"+b.DependsOn)
	}
	h.blocked[p.Object.Metadata.Name] = names
}

// The leader is SIGKILLed while every notification of ten failed Runs is
// still in the outbox (the receiver is down): the next leader delivers
// each of them, signed; a notification that arrives twice carries the
// same idempotency key both times, and the Notifier's status counts ten
// delivered.
func TestNotify_LeaderKilledWithUndeliveredNotifications(t *testing.T) {
	const runs = 10
	// The secret is in the operator's secret directory, and the receiver
	// on loopback, which the default --notifier-deny-cidrs denies.
	secretDir := t.TempDir()
	c := startCluster(t, clusterOptions{extra: []string{"--notifier-secret-dir", secretDir, "--notifier-deny-cidrs="}})
	secretFile := filepath.Join(secretDir, "hook.secret")
	require.NoError(t, os.WriteFile(secretFile, []byte("e2e-secret\n"), 0o600))
	recv := &hookReceiver{secret: []byte("e2e-secret"), keys: map[string]int{}, blocked: map[string][]string{}}
	recv.down.Store(true)
	srv := httptest.NewServer(recv)
	defer srv.Close()

	n := &apis.Notifier{
		Metadata: apis.ObjectMeta{Name: "e2e-failures"},
		Spec: apis.NotifierSpec{Selector: "suite=notify", On: []string{apis.NotifyFailed},
			Webhook: &apis.Webhook{URL: srv.URL + "/hook", SecretFile: secretFile}},
	}
	c.retry(func(ctx context.Context) error {
		_, _, err := c.leader().client.ApplyNotifier(ctx, n, false)
		return err
	})
	for _, name := range runNames("nf", runs) {
		run := simRun(name, "notify", 100*time.Millisecond)
		run.Spec.Env["SIM_EXIT_CODE"] = "1"
		c.retry(func(ctx context.Context) error {
			_, _, err := c.leader().client.Apply(ctx, run, client.ApplyOptions{})
			return err
		})
	}
	// Two Runs downstream of the first, which its notification names as
	// blocked (they end DependencyFailed; the Notifier is not on that).
	for i, name := range []string{"nf-down-1", "nf-down-2"} {
		run := simRun(name, "notify", 100*time.Millisecond)
		run.Spec.DependsOn = []apis.RunDependency{{Name: []string{"nf-00000", "nf-down-1"}[i]}}
		c.retry(func(ctx context.Context) error {
			_, _, err := c.leader().client.Apply(ctx, run, client.ApplyOptions{})
			return err
		})
	}
	all := c.waitAllPhase(t, nil, "suite=notify", runs+2, apis.PhaseFailed, 2*time.Minute)
	var failed []apis.Run
	for _, r := range all {
		if r.Status.Reason != apis.ReasonDependencyFailed {
			failed = append(failed, r)
		}
	}
	require.Len(t, failed, runs)
	var notifier *apis.Notifier
	c.retry(func(ctx context.Context) error {
		var err error
		notifier, err = c.leader().client.GetNotifier(ctx, n.Metadata.Name)
		return err
	})
	want := map[string]bool{}
	for _, r := range failed {
		want[r.Metadata.UID+"/"+strconv.Itoa(int(r.Status.Attempts))+"/Failed/"+notifier.Metadata.UID] = true
	}
	require.Eventually(t, func() bool { return recv.tries.Load() > 0 }, time.Minute, 50*time.Millisecond, "the leader tries to deliver")

	old := c.leader()
	c.kill9(old)
	recv.down.Store(false)
	leader := c.leader()
	require.NotSame(t, old, leader)
	var st apis.NotifierStatus
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := leader.client.GetNotifier(ctx, n.Metadata.Name)
		if err != nil {
			return false
		}
		st = got.Status
		return st.Delivered == runs
	}, 2*time.Minute, 200*time.Millisecond, "the new leader delivers every notification")
	assert.Equal(t, apis.NotifierStatus{Delivered: runs}, st)

	recv.mu.Lock()
	defer recv.mu.Unlock()
	assert.Empty(t, recv.bad)
	assert.Equal(t, []string{"nf-down-1<nf-00000", "nf-down-2<nf-down-1"}, recv.blocked["nf-00000"], "the payload names the blocked subtree")
	assert.Len(t, recv.keys, runs, "every notification arrived")
	for k, times := range recv.keys {
		assert.True(t, want[k], "key %s is one of the failed Runs' (%d deliveries)", k, times)
	}
	c.restart(old)
}

// A token holder's attempt to have the leader send the node's Raft TLS
// private key to a server of theirs as a PagerDuty routing key, against
// real nodes with mutual TLS (the destination filter is off, so that only
// the secret directory stands in the way): naming the key is refused with
// a 403 and nothing is stored; naming a symlink in the secret directory
// that points at the key is admitted (admission compares paths), but the
// leader's read through the directory's os.Root refuses it, the delivery
// fails for good with the reason in the Notifier's status, and the
// receiver never hears from sprint. The key's content never leaves.
func TestNotify_SecretFileExfiltrationRefused(t *testing.T) {
	secretDir := t.TempDir()
	c := startCluster(t, clusterOptions{nodes: 1, secure: true,
		extra: []string{"--notifier-secret-dir", secretDir, "--notifier-deny-cidrs="}})
	raftKey := filepath.Join(c.sec.dir, "n1.key")
	key, err := os.ReadFile(raftKey)
	require.NoError(t, err)
	var requests atomic.Int64
	var leaked atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		requests.Add(1)
		if strings.Contains(string(body), "PRIVATE KEY") || strings.Contains(string(body), strings.TrimSpace(string(key))) {
			leaked.Store(true)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	pagerDuty := func(name, file string) *apis.Notifier {
		return &apis.Notifier{Metadata: apis.ObjectMeta{Name: name},
			Spec: apis.NotifierSpec{Selector: "suite=exfil", On: []string{apis.NotifyFailed},
				Webhook: &apis.Webhook{URL: srv.URL + "/v2/enqueue", Format: apis.FormatPagerDuty, SecretFile: file}}}
	}
	cl := c.leader().client

	for _, dryRun := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, err := cl.ApplyNotifier(ctx, pagerDuty("steal", raftKey), dryRun)
		cancel()
		require.Error(t, err, "dryRun=%v", dryRun)
		assert.True(t, client.IsForbidden(err), "dryRun=%v: %v", dryRun, err)
		assert.Contains(t, err.Error(), "spec.webhook.secretFile")
		assert.Contains(t, err.Error(), "--notifier-secret-dir")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = cl.GetNotifier(ctx, "steal")
	cancel()
	assert.True(t, client.IsNotFound(err), "nothing stored: %v", err)

	link := filepath.Join(secretDir, "pd.key")
	require.NoError(t, os.Symlink(raftKey, link))
	c.retry(func(ctx context.Context) error {
		_, _, err := cl.ApplyNotifier(ctx, pagerDuty("via-link", link), false)
		return err
	})
	run := simRun("exfil-1", "exfil", 50*time.Millisecond)
	run.Spec.Env["SIM_EXIT_CODE"] = "1"
	c.retry(func(ctx context.Context) error {
		_, _, err := cl.Apply(ctx, run, client.ApplyOptions{})
		return err
	})
	var st apis.NotifierStatus
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := cl.GetNotifier(ctx, "via-link")
		if err != nil {
			return false
		}
		st = n.Status
		return st.Failed+st.Delivered > 0
	}, 2*time.Minute, 100*time.Millisecond, "the notification is settled")
	assert.Equal(t, int64(0), st.Delivered)
	assert.Equal(t, int64(1), st.Failed)
	assert.Contains(t, st.LastError, "read secretFile "+link+": path escapes from parent")
	assert.Zero(t, requests.Load(), "nothing was sent")
	assert.False(t, leaked.Load())
}
