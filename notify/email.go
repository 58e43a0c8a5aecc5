package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// sendEmail sends a plain-text mail through the Notifier's SMTP server
// (net/smtp: the protocol subset a relay needs, STARTTLS and PLAIN auth,
// with no dependency). Every step shares the attempt's deadline.
func (s *Service) sendEmail(ctx context.Context, n *apis.Notifier, rec *apis.Notification) error {
	e := n.Spec.Email
	to := recipients(e.To, rec.Run.Metadata.Annotations[apis.AnnotationOwner])
	if len(to) == 0 {
		return permanent("no recipient: %s names only %s and Run %q has no usable %s annotation",
			"spec.email.to", apis.OwnerPlaceholder, rec.Run.Metadata.Name, apis.AnnotationOwner)
	}
	var user, pass string
	if e.UsernameFile != "" {
		u, err := s.readSecret("usernameFile", e.UsernameFile)
		if err != nil {
			return err
		}
		p, err := s.readSecret("passwordFile", e.PasswordFile)
		if err != nil {
			return err
		}
		user, pass = string(u), string(p)
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return permanent("spec.email.from: %w", err)
	}
	msg := emailMessage(s.facts(ctx, rec), e.From, to)

	host, _, _ := net.SplitHostPort(e.SMTP)
	conn, err := s.cfg.DialSMTP(ctx, e.SMTP)
	if err != nil {
		err = fmt.Errorf("smtp %s: %w", e.SMTP, err)
		if errors.Is(err, ErrDestinationDenied) {
			return &PermanentError{Err: err}
		}
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("smtp %s: %w", e.SMTP, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return smtpError(e.SMTP, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello("sprint"); err != nil {
		return smtpError(e.SMTP, "EHLO", err)
	}
	if e.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent("smtp %s: startTLS is set but the server does not offer STARTTLS", e.SMTP)
		}
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return smtpError(e.SMTP, "STARTTLS", err)
		}
	}
	if user != "" {
		// PlainAuth refuses to send the password over a connection that
		// is neither TLS nor to localhost.
		if err := c.Auth(smtp.PlainAuth("", user, pass, host)); err != nil {
			return smtpError(e.SMTP, "AUTH", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return smtpError(e.SMTP, "MAIL FROM", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return smtpError(e.SMTP, "RCPT TO "+a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(e.SMTP, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError(e.SMTP, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError(e.SMTP, "DATA", err)
	}
	_ = c.Quit()
	return nil
}

// smtpError classifies an SMTP failure: a 5xx reply is permanent, a 4xx
// or a connection failure is retried.
func smtpError(server, step string, err error) error {
	err = fmt.Errorf("smtp %s: %s: %w", server, step, err)
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &PermanentError{Err: err}
	}
	if strings.Contains(err.Error(), "unencrypted connection") {
		return &PermanentError{Err: err}
	}
	return err
}

// recipients is to with {owner} replaced by the owner annotation (left
// out when it is absent or not an address), bare addresses, deduplicated.
func recipients(to []string, owner string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range to {
		if t == apis.OwnerPlaceholder {
			t = owner
		}
		a, err := mail.ParseAddress(strings.TrimSpace(t))
		if err != nil || strings.ContainsAny(a.Address, "\r\n") {
			continue
		}
		if !seen[strings.ToLower(a.Address)] {
			seen[strings.ToLower(a.Address)] = true
			out = append(out, a.Address)
		}
	}
	return out
}

// emailMessage is an RFC 5322 plain-text message with the same facts as
// the other formats.
func emailMessage(p *Payload, from string, to []string) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", "[sprint] "+summary(p)))
	h("Date", p.Time.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+strings.NewReplacer("/", ".", "@", ".").Replace(p.IdempotencyKey)+"@sprint>")
	h("MIME-Version", "1.0")
	h("Content-Type", `text/plain; charset="utf-8"`)
	h("Content-Transfer-Encoding", "8bit")
	h("X-Sprint-Idempotency-Key", p.IdempotencyKey)
	b.WriteString("\r\n")
	body := details(p)
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	return b.Bytes()
}
