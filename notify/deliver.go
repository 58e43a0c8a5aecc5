package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/secretfile"
)

// PermanentError is a delivery failure that retrying cannot mend (a 4xx
// answer other than 408 and 429, a secret file that cannot be read, an
// email with no recipient): the notification is recorded as failed at
// once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func permanent(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}

// Headers of a webhook delivery.
const (
	// HeaderSignature is "sha256=<hex HMAC-SHA256 of the body with the
	// secret>", when the Notifier has a secretFile.
	HeaderSignature = "X-Sprint-Signature"
	// HeaderIdempotencyKey is the record's idempotency key: the same on
	// every delivery of one notification.
	HeaderIdempotencyKey = "X-Sprint-Idempotency-Key"
	// HeaderEvent names the event (Failed, Succeeded, …).
	HeaderEvent = "X-Sprint-Event"
)

// Sign returns the X-Sprint-Signature value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// maxSecretBytes bounds a secret file.
const maxSecretBytes = 64 << 10

// readSecret reads a Notifier's secret file on this server, trimmed of
// surrounding white space. The file must be below Config.SecretDir
// (--notifier-secret-dir) and is opened through an os.Root of it, so that a
// path admitted under another node's flags, or a symlink or directory
// swapped in since, cannot make the leader read (and send) a file outside
// it; internal/secretfile's checks apply (no access for group or others).
// A file that cannot be read is a permanent failure of the notification:
// the operator has to fix the file.
func (s *Service) readSecret(what, path string) ([]byte, error) {
	dir := s.cfg.SecretDir
	rel, ok := apis.SecretDirRel(dir, path)
	switch {
	case dir == "":
		return nil, permanent("%s %s: this server reads no Notifier secret files; start sprint with %s=DIR and put the file in DIR", what, path, apis.FlagNotifierSecretDir)
	case !ok:
		return nil, permanent("%s %s is not in the notifier secret directory %s (%s)", what, path, dir, apis.FlagNotifierSecretDir)
	}
	root, err := s.openRoot(dir)
	if err != nil {
		return nil, permanent("read %s %s: %s: %w", what, path, apis.FlagNotifierSecretDir, err)
	}
	defer root.Close()
	b, err := secretfile.ReadIn(root, rel, path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // it names the file inside the root; the message names path
		}
		return nil, permanent("read %s %s: %w", what, path, err)
	}
	if len(b) > maxSecretBytes {
		return nil, permanent("%s %s is larger than %d bytes", what, path, maxSecretBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, permanent("%s %s is empty", what, path)
	}
	return b, nil
}

// attempt makes one delivery attempt of rec, bounded by cfg.Timeout.
func (s *Service) attempt(ctx context.Context, rec *apis.Notification) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	n, err := s.store.GetNotifier(ctx, rec.Notifier)
	if err != nil || n.Metadata.UID != rec.NotifierUID {
		// Deleted (or re-created): its records went with it.
		return permanent("notifier %q with uid %s is gone", rec.Notifier, rec.NotifierUID)
	}
	switch {
	case n.Spec.Webhook != nil:
		return s.sendWebhook(ctx, n, rec)
	case n.Spec.Email != nil:
		return s.sendEmail(ctx, n, rec)
	}
	return permanent("notifier %q has no target", n.Metadata.Name)
}

// maxErrorBody bounds what an error message quotes of a response.
const maxErrorBody = 512

func (s *Service) sendWebhook(ctx context.Context, n *apis.Notifier, rec *apis.Notification) error {
	w := n.Spec.Webhook
	var secret []byte
	if w.SecretFile != "" {
		var err error
		if secret, err = s.readSecret("secretFile", w.SecretFile); err != nil {
			return err
		}
	}
	facts := s.facts(ctx, rec)
	var body []byte
	var err error
	switch w.Format {
	case apis.FormatSlack:
		body, err = slackBody(facts)
	case apis.FormatPagerDuty:
		body, err = pagerDutyBody(facts, string(secret))
	default:
		body, err = jsonBody(facts)
	}
	if err != nil {
		return permanent("encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return permanent("request: %w", err)
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sprint-notify/1")
	req.Header.Set(HeaderIdempotencyKey, rec.IdempotencyKey)
	req.Header.Set(HeaderEvent, rec.Event)
	if secret != nil {
		req.Header.Set(HeaderSignature, Sign(secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the method and the whole URL, query included
		}
		err = fmt.Errorf("POST %s: %w", redactURL(w.URL), err)
		if errors.Is(err, ErrDestinationDenied) {
			return &PermanentError{Err: err}
		}
		return err
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("POST %s: HTTP %d: %s", redactURL(w.URL), code, oneLine(head))
	}
	return permanent("POST %s: HTTP %d: %s", redactURL(w.URL), code, oneLine(head))
}

// redactURL keeps the scheme, host and path of a URL for messages: a
// query may hold a token (Slack's URLs hold one in the path, which is
// cut to its first segment).
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if strings.Contains(raw, "hooks.slack.com") {
		if i := strings.Index(raw, "/services/"); i >= 0 {
			return raw[:i] + "/services/…"
		}
	}
	return raw
}

func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if s == "" {
		return "(no body)"
	}
	return s
}
