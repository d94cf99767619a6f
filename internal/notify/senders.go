package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/exportd/exportd/internal/config"
)

// Headers of a webhook request. The signature covers
// "<timestamp>.<body>", so a captured request cannot be replayed later
// with a fresh timestamp; receivers reject timestamps too far from now.
const (
	SignatureHeader = "X-Exportd-Signature"
	TimestampHeader = "X-Exportd-Timestamp"
	EventHeader     = "X-Exportd-Event"
)

// Sign returns the X-Exportd-Signature value of body sent at timestamp ts
// (Unix seconds, as in X-Exportd-Timestamp).
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook request's signature and that its timestamp is
// within maxAge of now: what a receiver does.
func Verify(secret []byte, sig, ts string, body []byte, now time.Time, maxAge time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s %q", TimestampHeader, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return fmt.Errorf("%s is %s away from now", TimestampHeader, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return errors.New("signature mismatch")
	}
	return nil
}

func newSender(n *config.Notifier, roots *x509.CertPool) (sender, error) {
	client := &http.Client{Timeout: defaultSendTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	switch n.Type {
	case "webhook":
		return &webhook{url: n.URL, secret: []byte(n.Secret.Reveal()), client: client}, nil
	case "slack":
		return &slack{url: n.WebhookURL.Reveal(), client: client}, nil
	case "email":
		if n.CAFile != "" {
			pool, err := withCAFile(roots, n.CAFile)
			if err != nil {
				return nil, err
			}
			roots = pool
		}
		return &email{n: n, roots: roots}, nil
	}
	return nil, fmt.Errorf("unknown notifier type %q", n.Type)
}

// withCAFile is roots (nil: the system's pool) plus the certificates of a
// PEM file.
func withCAFile(roots *x509.CertPool, file string) (*x509.CertPool, error) {
	var pool *x509.CertPool
	if roots != nil {
		pool = roots.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("ca_file %s: no PEM certificate", file)
	}
	return pool, nil
}

type webhook struct {
	url    string
	secret []byte
	client *http.Client
}

func (w *webhook) send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return permanentError{errors.New("cannot build the request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "exportd")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(EventHeader, e.Kind)
	req.Header.Set(SignatureHeader, Sign(w.secret, ts, body))
	return post(w.client, req)
}

type slack struct {
	url    string
	client *http.Client
}

func (s *slack) send(ctx context.Context, e Event) error {
	body, err := json.Marshal(map[string]string{"text": text(e)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		// The error of a bad URL quotes it; the URL is the secret.
		return permanentError{errors.New("the Slack webhook URL is not a valid URL")}
	}
	req.Header.Set("Content-Type", "application/json")
	return post(s.client, req)
}

// post sends req and maps the outcome to an error that names no URL.
func post(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL, which may be a secret
		}
		return fmt.Errorf("POST failed: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("receiver answered %s", resp.Status)
	if resp.StatusCode/100 == 4 && resp.StatusCode != 408 && resp.StatusCode != 429 {
		return permanentError{err}
	}
	return err
}

type email struct {
	n     *config.Notifier
	roots *x509.CertPool
}

func (m *email) send(ctx context.Context, e Event) error {
	host, _, _ := net.SplitHostPort(m.n.SMTP)
	var (
		c   *smtp.Client
		err error
	)
	if m.n.InsecureNoTLS {
		c, err = smtp.Dial(m.n.SMTP)
	} else {
		c, err = smtp.DialStartTLS(m.n.SMTP, &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: m.roots})
	}
	if err != nil {
		return fmt.Errorf("SMTP %s: %w", m.n.SMTP, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.CommandTimeout = time.Until(dl)
		c.SubmissionTimeout = time.Until(dl)
	}
	if m.n.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.n.Username, m.n.Password.Reveal())); err != nil {
			return fmt.Errorf("SMTP auth as %s: %w", m.n.Username, err)
		}
	}
	if err := c.SendMail(m.n.From, m.n.To, bytes.NewReader(message(m.n, e))); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code >= 500 {
			return permanentError{err}
		}
		return err
	}
	return c.Quit()
}

// message is the RFC 5322 message of e.
func message(n *config.Notifier, e Event) []byte {
	var b strings.Builder
	subject := "[exportd] " + e.Schedule + ": " + strings.ReplaceAll(e.Kind, "_", " ")
	fmt.Fprintf(&b, "From: %s\r\n", n.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(n.To, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", e.Time.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "X-Exportd-Event: %s\r\n", e.Kind)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(text(e), "\n", "\r\n"))
	b.WriteString("\r\n")
	return []byte(b.String())
}

// text is the human form of e, for Slack and email.
func text(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "exportd: %s — %s\n", e.Schedule, e.Summary)
	for _, kv := range [][2]string{{"event", e.Kind}, {"window", e.Window}, {"key", e.Key}, {"object", e.Object}, {"error", e.Error}, {"instance", e.Instance}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
		}
	}
	if e.Failures > 0 {
		fmt.Fprintf(&b, "consecutive failures: %d\n", e.Failures)
	}
	if e.Rows > 0 {
		fmt.Fprintf(&b, "rows: %d\n", e.Rows)
	}
	fmt.Fprintf(&b, "time: %s\n", e.Time.UTC().Format(time.RFC3339))
	return b.String()
}
