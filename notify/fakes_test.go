package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// fakeStore is an in-memory Store: an outbox, Notifiers and Runs, and a
// leadership channel the test drives.
type fakeStore struct {
	mu        sync.Mutex
	notifiers map[string]*apis.Notifier
	outbox    map[string]apis.Notification
	runs      []apis.Run
	leading   chan bool
	// done receives every committed result.
	done chan apis.NotificationResult
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		notifiers: map[string]*apis.Notifier{},
		outbox:    map[string]apis.Notification{},
		leading:   make(chan bool, 1),
		done:      make(chan apis.NotificationResult, 100),
	}
}

func (f *fakeStore) LeadershipChanges() <-chan bool { return f.leading }

func (f *fakeStore) lead(v bool) {
	select {
	case <-f.leading:
	default:
	}
	f.leading <- v
}

func (f *fakeStore) OutboxIDs(_ context.Context, after string, limit int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.outbox {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}

func (f *fakeStore) OutboxRecord(_ context.Context, id string) (*apis.Notification, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.outbox[id]
	if !ok {
		return nil, apis.ErrNotFound
	}
	return &rec, nil
}

func (f *fakeStore) CompleteNotifications(_ context.Context, results []apis.NotificationResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range results {
		rec, ok := f.outbox[r.ID]
		if !ok {
			continue
		}
		delete(f.outbox, r.ID)
		n := f.notifiers[rec.Notifier]
		n.Status.Pending--
		if r.Delivered {
			n.Status.Delivered++
		} else {
			n.Status.Failed++
			n.Status.LastError = r.Error
			t := r.Time
			n.Status.LastErrorTime = &t
		}
		f.done <- r
	}
	return nil
}

func (f *fakeStore) GetNotifier(_ context.Context, name string) (*apis.Notifier, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.notifiers[name]
	if !ok {
		return nil, apis.ErrNotFound
	}
	return n.DeepCopy(), nil
}

func (f *fakeStore) Dependents(_ context.Context, name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.runs {
		for _, d := range r.Spec.DependsOn {
			if d.Name == name {
				out = append(out, r.Metadata.Name)
			}
		}
	}
	return out, nil
}

func (f *fakeStore) GetRun(_ context.Context, name string) (*apis.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.runs {
		if r.Metadata.Name == name {
			return r.DeepCopy(), nil
		}
	}
	return nil, apis.ErrNotFound
}

func (f *fakeStore) notifier(name string) apis.Notifier {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.notifiers[name].DeepCopy()
}

// addNotifier stores n and one record for it about run.
func (f *fakeStore) add(n *apis.Notifier, event string, run apis.Run, at time.Time) apis.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.Metadata.UID == "" {
		n.Metadata.UID = "nuid-" + n.Metadata.Name
	}
	if _, ok := f.notifiers[n.Metadata.Name]; !ok {
		f.notifiers[n.Metadata.Name] = n.DeepCopy()
	}
	rec := apis.Notification{
		ID:             n.Metadata.Name + "/" + run.Metadata.Name + "/" + event,
		Notifier:       n.Metadata.Name,
		NotifierUID:    n.Metadata.UID,
		Event:          event,
		Run:            run,
		Time:           at,
		IdempotencyKey: run.Metadata.UID + "/1/" + event + "/" + n.Metadata.UID,
	}
	f.outbox[rec.ID] = rec
	f.notifiers[n.Metadata.Name].Status.Pending++
	return rec
}

// handlerTransport serves requests with an http.Handler in memory: no
// sockets, so a testing/synctest bubble controls all of its time.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func failedRun(name string) apis.Run {
	code := int32(3)
	return apis.Run{
		Metadata: apis.ObjectMeta{Name: name, UID: "uid-" + name, Labels: map[string]string{"pipeline": "etl"},
			Annotations: map[string]string{apis.AnnotationOwner: "data-team@example.com"}},
		Spec:   apis.RunSpec{Command: "extract.sh", Cpus: 0.1, Mem: 32},
		Status: apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Message: "exited with status 3", ExitCode: &code, Attempts: 1, TaskID: name + ".1.abc"},
	}
}

func webhookNotifier(name, url, format string) *apis.Notifier {
	n := &apis.Notifier{
		Metadata: apis.ObjectMeta{Name: name},
		Spec: apis.NotifierSpec{On: []string{apis.NotifyFailed},
			Webhook: &apis.Webhook{URL: url, Format: format, SecretFile: "/etc/sprint/hook.secret", Headers: map[string]string{"X-Team": "data"}}},
	}
	apis.SetNotifierDefaults(n)
	return n
}

// testSecretDir is the secret directory the test Notifiers name
// (--notifier-secret-dir); newTestService maps it to a temporary
// directory holding testSecrets.
const testSecretDir = "/etc/sprint"

// testSecrets are the files of the test secret directory (mode 0600).
var testSecrets = map[string]string{"hook.secret": "s3cret\n", "smtp.user": "bot\n", "smtp.pass": "pw"}

// newTestService makes a Service whose secret directory is testSecretDir,
// read from a temporary copy of testSecrets (see useSecretDir); a test
// that sets cfg.SecretDir itself keeps its own.
func newTestService(t *testing.T, store Store, cfg Config) *Service {
	t.Helper()
	own := cfg.SecretDir != ""
	if !own {
		cfg.SecretDir = testSecretDir
	}
	s, err := New(cfg, store, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !own {
		useSecretDir(t, s, writeSecrets(t, testSecrets))
	}
	return s
}

// writeSecrets writes files (name: content, mode 0600) into a new
// temporary directory and returns it.
func writeSecrets(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// useSecretDir makes s open dir where its configuration names
// testSecretDir, as a bind mount would.
func useSecretDir(t *testing.T, s *Service, dir string) {
	t.Helper()
	s.openRoot = func(name string) (*os.Root, error) {
		if name != testSecretDir {
			return nil, fmt.Errorf("test opens only %s, not %s", testSecretDir, name)
		}
		return os.OpenRoot(dir)
	}
}
