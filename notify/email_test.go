package notify

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// mailMsg is one message the test SMTP server accepted.
type mailMsg struct {
	from string
	to   []string
	auth string
	data string
}

// smtpServer is the least SMTP a relay speaks (RFC 5321: EHLO, AUTH
// PLAIN, MAIL, RCPT, DATA, QUIT) on a loopback port, answering 550 to
// RCPT of reject@….
func smtpServer(t *testing.T) (addr string, got <-chan mailMsg) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	ch := make(chan mailMsg, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSMTP(conn, ch)
		}
	}()
	return ln.Addr().String(), ch
}

func serveSMTP(conn net.Conn, out chan<- mailMsg) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	say := func(s string) { fmt.Fprintf(conn, "%s\r\n", s) }
	say("220 test ESMTP")
	var m mailMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-test")
			say("250 AUTH PLAIN")
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			b, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line[len("AUTH PLAIN"):]))
			m.auth = string(b)
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m.from = strings.Trim(line[len("MAIL FROM:"):], "<> ")
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			to := strings.Trim(line[len("RCPT TO:"):], "<> ")
			if strings.HasPrefix(to, "reject@") {
				say("550 no such user")
				continue
			}
			m.to = append(m.to, to)
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			out <- m
			m = mailMsg{}
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

func emailNotifier(addr string, to ...string) *apis.Notifier {
	n := &apis.Notifier{
		Metadata: apis.ObjectMeta{Name: "mail"},
		Spec: apis.NotifierSpec{On: []string{apis.NotifyFailed}, Email: &apis.EmailTarget{
			SMTP: addr, From: "Sprint <sprint@example.com>", To: to,
			UsernameFile: "/etc/sprint/smtp.user", PasswordFile: "/etc/sprint/smtp.pass",
		}},
	}
	apis.SetNotifierDefaults(n)
	return n
}

func TestEmail_ToOwnerWithAuth(t *testing.T) {
	addr, got := smtpServer(t)
	store := newFakeStore()
	rec := store.add(emailNotifier(addr, "{owner}", "oncall@example.com"), apis.NotifyFailed, failedRun("extract"), time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	store.runs = []apis.Run{{Metadata: apis.ObjectMeta{Name: "transform"}, Spec: apis.RunSpec{DependsOn: []apis.RunDependency{{Name: "extract"}}}}}
	s := newTestService(t, store, Config{DenyCIDRs: allowAll})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	store.lead(true)

	m := <-got
	assert.Equal(t, "sprint@example.com", m.from)
	assert.Equal(t, []string{"data-team@example.com", "oncall@example.com"}, m.to, "{owner} is the sprint/owner annotation")
	assert.Equal(t, "\x00bot\x00pw", m.auth, "PLAIN auth from the files (allowed in clear to localhost only)")
	for _, want := range []string{
		"Subject: [sprint] Run extract failed (TaskFailed), exit code 3",
		"X-Sprint-Idempotency-Key: " + rec.IdempotencyKey,
		"Message: exited with status 3",
		"Owner: data-team@example.com",
		"Blocked: transform (waiting for this Run)",
	} {
		assert.Contains(t, m.data, want)
	}
	res := <-store.done
	assert.True(t, res.Delivered)
}

func TestEmail_RejectedRecipientIsPermanent(t *testing.T) {
	addr, _ := smtpServer(t)
	store := newFakeStore()
	n := emailNotifier(addr, "reject@example.com")
	n.Spec.Email.UsernameFile, n.Spec.Email.PasswordFile = "", ""
	store.add(n, apis.NotifyFailed, failedRun("extract"), time.Now())
	s := newTestService(t, store, Config{DenyCIDRs: allowAll})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	store.lead(true)
	res := <-store.done
	assert.False(t, res.Delivered)
	assert.Contains(t, res.Error, `550 "no such user"`)
}

func TestRecipients(t *testing.T) {
	assert.Equal(t, []string{"a@example.com"}, recipients([]string{"{owner}", "a@example.com", "A@example.com"}, ""),
		"no owner annotation: {owner} is skipped; duplicates go")
	assert.Equal(t, []string{"team@example.com"}, recipients([]string{"{owner}"}, "Data Team <team@example.com>"))
	assert.Empty(t, recipients([]string{"{owner}"}, "data-team"), "an owner that is a team name, not an address, is skipped")
}
