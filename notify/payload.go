package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// PayloadAPIVersion is the version of the json format's payload
// (docs/notifications.md). A change that removes or changes a field gets a
// new version.
const PayloadAPIVersion = "sprint.notify/v1"

// Payload is the body of a json-format webhook.
type Payload struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"` // "Notification"
	// Event is Succeeded, Failed, Killed or DependencyFailed.
	Event string `json:"event"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
	// IdempotencyKey is the same on every delivery of this notification.
	IdempotencyKey string `json:"idempotencyKey"`
	// Notifier is the Notifier's name.
	Notifier string `json:"notifier"`
	// Object is the Run as the status change left it; ObjectTrimmed when
	// it was too large to keep whole (env, args, container and URIs left
	// out, command clipped).
	Object        apis.Run `json:"object"`
	ObjectTrimmed bool     `json:"objectTrimmed,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	// Message is the Run's status message.
	Message  string `json:"message,omitempty"`
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Owner is the Run's sprint/owner annotation.
	Owner string `json:"owner,omitempty"`
	// StderrTail is the end of the task's stderr (at most 4 KiB), when it
	// could be read; StderrError says why not otherwise.
	StderrTail  string `json:"stderrTail,omitempty"`
	StderrError string `json:"stderrError,omitempty"`
	// Blocked is the downstream subtree: the Runs whose spec.dependsOn
	// names this Run, transitively, with their phases (failure events
	// only; at most 100, BlockedTruncated set when there were more).
	Blocked          []BlockedRun `json:"blocked,omitempty"`
	BlockedTruncated bool         `json:"blockedTruncated,omitempty"`
}

// BlockedRun is one Run of a payload's downstream subtree.
type BlockedRun struct {
	Name string `json:"name"`
	// DependsOn is the upstream Run through which it is blocked.
	DependsOn string        `json:"dependsOn"`
	Phase     apis.RunPhase `json:"phase,omitempty"`
	Reason    string        `json:"reason,omitempty"`
}

// facts gathers what every format tells of a record.
func (s *Service) facts(ctx context.Context, rec *apis.Notification) *Payload {
	run := rec.Run
	p := &Payload{
		APIVersion: PayloadAPIVersion, Kind: "Notification", Event: rec.Event, Time: rec.Time,
		IdempotencyKey: rec.IdempotencyKey, Notifier: rec.Notifier, Object: run, ObjectTrimmed: rec.RunTrimmed,
		Reason: run.Status.Reason, Message: run.Status.Message, ExitCode: run.Status.ExitCode,
		Owner: run.Metadata.Annotations[apis.AnnotationOwner],
	}
	p.Object.APIVersion, p.Object.Kind = apis.APIVersion, apis.KindRun
	if rec.Event == apis.NotifySucceeded {
		return p
	}
	if s.logs != nil && run.Status.TaskID != "" {
		tail := &tailWriter{max: s.cfg.StderrBytes}
		lctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout/2)
		err := s.logs.Stderr(lctx, &run, s.cfg.StderrLines, tail)
		cancel()
		p.StderrTail = strings.ToValidUTF8(string(tail.bytes()), "?")
		if err != nil && p.StderrTail == "" {
			p.StderrError = oneLine([]byte(err.Error()))
		}
	}
	p.Blocked, p.BlockedTruncated = s.blocked(ctx, run.Metadata.Name)
	return p
}

// blocked computes the Runs downstream of name from the store: those
// whose spec.dependsOn names it, then theirs, breadth first, at most
// cfg.MaxBlocked; the store's dependents index makes it cost the size of
// the subtree.
func (s *Service) blocked(ctx context.Context, name string) ([]BlockedRun, bool) {
	var out []BlockedRun
	seen := map[string]bool{name: true}
	queue := []string{name}
	for len(queue) > 0 {
		up := queue[0]
		queue = queue[1:]
		kids, err := s.store.Dependents(ctx, up)
		if err != nil {
			return out, false
		}
		sort.Strings(kids)
		for _, k := range kids {
			if seen[k] {
				continue
			}
			seen[k] = true
			if len(out) == s.cfg.MaxBlocked {
				return out, true
			}
			r, err := s.store.GetRun(ctx, k)
			if err != nil {
				continue // deleted since
			}
			out = append(out, BlockedRun{Name: k, DependsOn: up, Phase: r.Status.Phase, Reason: r.Status.Reason})
			queue = append(queue, k)
		}
	}
	return out, false
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= w.max {
		w.buf = append(w.buf[:0], p[len(p)-w.max:]...)
		return n, nil
	}
	if over := len(w.buf) + len(p) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

func (w *tailWriter) bytes() []byte { return w.buf }

func jsonBody(p *Payload) ([]byte, error) { return json.Marshal(p) }

// summary is the one line every human-facing format starts with.
func summary(p *Payload) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s %s", p.Object.Metadata.Name, verb(p.Event))
	if p.Reason != "" && p.Reason != apis.ReasonCompleted {
		fmt.Fprintf(&b, " (%s)", p.Reason)
	}
	if p.ExitCode != nil {
		fmt.Fprintf(&b, ", exit code %d", *p.ExitCode)
	}
	return b.String()
}

func verb(event string) string {
	switch event {
	case apis.NotifySucceeded:
		return "succeeded"
	case apis.NotifyKilled:
		return "was killed"
	case apis.NotifyDependencyFailed:
		return "failed: a dependency failed"
	}
	return "failed"
}

// details is the plain-text body of the human-facing formats.
func details(p *Payload) string {
	var b strings.Builder
	b.WriteString(summary(p) + "\n")
	if p.Message != "" {
		fmt.Fprintf(&b, "Message: %s\n", p.Message)
	}
	if p.Owner != "" {
		fmt.Fprintf(&b, "Owner: %s\n", p.Owner)
	}
	fmt.Fprintf(&b, "Time: %s\n", p.Time.UTC().Format(time.RFC3339))
	if len(p.Blocked) > 0 {
		names := make([]string, len(p.Blocked))
		for i, r := range p.Blocked {
			names[i] = r.Name
		}
		more := ""
		if p.BlockedTruncated {
			more = ", …"
		}
		fmt.Fprintf(&b, "Blocked: %s%s (waiting for this Run)\n", strings.Join(names, ", "), more)
	}
	if p.StderrTail != "" {
		fmt.Fprintf(&b, "Last lines of stderr:\n%s\n", strings.TrimRight(p.StderrTail, "\n"))
	}
	fmt.Fprintf(&b, "Idempotency key: %s\n", p.IdempotencyKey)
	return b.String()
}

// slackBody is Slack's incoming-webhook shape: text (the notification's
// fallback) and blocks.
func slackBody(p *Payload) ([]byte, error) {
	text := summary(p)
	fields := []map[string]any{}
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + k + "*\n" + slackEscape(v)})
		}
	}
	add("Reason", p.Reason)
	add("Owner", p.Owner)
	if p.ExitCode != nil {
		add("Exit code", fmt.Sprint(*p.ExitCode))
	}
	if len(p.Blocked) > 0 {
		names := make([]string, len(p.Blocked))
		for i, r := range p.Blocked {
			names[i] = r.Name
		}
		add("Blocked", strings.Join(names, ", "))
	}
	blocks := []map[string]any{
		{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(text) + "*"}},
	}
	if p.Message != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "plain_text", "text": clipText(p.Message, 2900)}})
	}
	if len(fields) > 0 {
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	if p.StderrTail != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
			"text": "```" + clipText(strings.ReplaceAll(p.StderrTail, "```", "'''"), 2900) + "```"}})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []map[string]any{
		{"type": "mrkdwn", "text": slackEscape(fmt.Sprintf("sprint · %s · %s", p.Notifier, p.IdempotencyKey))},
	}})
	return json.Marshal(map[string]any{"text": text, "blocks": blocks})
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// pagerDutyBody is an Events API v2 event: trigger on a failure, resolve
// on a success, deduplicated per Schedule (or per Run name).
func pagerDutyBody(p *Payload, routingKey string) ([]byte, error) {
	ev := map[string]any{
		"routing_key":  routingKey,
		"dedup_key":    "sprint/" + apis.PagerDutyDedupKey(&p.Object),
		"event_action": "trigger",
	}
	if p.Event == apis.NotifySucceeded {
		ev["event_action"] = "resolve"
		return json.Marshal(ev)
	}
	custom := map[string]any{
		"event": p.Event, "reason": p.Reason, "message": p.Message, "idempotencyKey": p.IdempotencyKey,
	}
	if p.ExitCode != nil {
		custom["exitCode"] = *p.ExitCode
	}
	if p.Owner != "" {
		custom["owner"] = p.Owner
	}
	if p.StderrTail != "" {
		custom["stderrTail"] = p.StderrTail
	}
	if len(p.Blocked) > 0 {
		custom["blocked"] = p.Blocked
	}
	severity := "error"
	if p.Event == apis.NotifyKilled {
		severity = "warning"
	}
	payload := map[string]any{
		"summary":        clipText(summary(p), 1024),
		"source":         "sprint",
		"severity":       severity,
		"timestamp":      p.Time.UTC().Format(time.RFC3339),
		"component":      p.Object.Metadata.Name,
		"class":          p.Event,
		"custom_details": custom,
	}
	if s := p.Object.Metadata.Labels[apis.LabelSchedule]; s != "" {
		payload["group"] = s
	}
	ev["payload"] = payload
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(ev)
	return bytes.TrimRight(b.Bytes(), "\n"), err
}
