package notify_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/notify"
)

const hookSecret = "s3cr3t-hmac-key-never-shown"

// receiver is a webhook endpoint that verifies each request as a
// receiver should and keeps the verified events.
type receiver struct {
	mu     sync.Mutex
	events []notify.Event
	bad    []string
	fail   int // answer 503 to this many requests first
	got    chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	err := notify.Verify([]byte(hookSecret), req.Header.Get(notify.SignatureHeader), req.Header.Get(notify.TimestampHeader), body, time.Now(), 5*time.Minute)
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var e notify.Event
	if err := json.Unmarshal(body, &e); err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if bytes.Contains(body, []byte(hookSecret)) {
		r.bad = append(r.bad, "secret in payload")
	}
	r.events = append(r.events, e)
	r.got <- struct{}{}
}

func wait(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("no notification arrived")
	}
}

func cfgWith(n map[string]*config.Notifier, schedules map[string][]string) *config.Config {
	cfg := &config.Config{Notify: n}
	for name, ns := range schedules {
		cfg.Schedules = append(cfg.Schedules, &config.Schedule{Name: name, Notify: ns})
	}
	return cfg
}

func TestWebhookSignedRetriedAndRateLimited(t *testing.T) {
	rc := &receiver{fail: 2, got: make(chan struct{}, 10)}
	srv := httptest.NewServer(rc) // binds 127.0.0.1
	defer srv.Close()
	core, logs := observer.New(zap.DebugLevel)
	reg := prometheus.NewRegistry()
	d, err := notify.New(cfgWith(map[string]*config.Notifier{
		"ops": {Type: "webhook", URL: srv.URL + "/hook", Secret: config.NewSecret("${HOOK}", hookSecret)},
	}, map[string][]string{"daily-logins": {"ops"}}), reg, zap.New(core), notify.Options{Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	d.Notify(notify.Event{Kind: notify.KindRunFailed, Schedule: "daily-logins", Key: "2026-11-03", Summary: "run failed after 3 attempts", Error: "source unreachable"})
	wait(t, rc.got)
	// The same cause again is rate-limited; another cause is not; a
	// schedule without notifiers sends nothing.
	d.Notify(notify.Event{Kind: notify.KindRunFailed, Schedule: "daily-logins", Key: "2026-11-03", Summary: "again"})
	d.Notify(notify.Event{Kind: notify.KindPaused, Schedule: "daily-logins", Failures: 10, Summary: "paused"})
	d.Notify(notify.Event{Kind: notify.KindPaused, Schedule: "other", Summary: "paused"})
	wait(t, rc.got)
	waitCount(t, reg, "exportd_notify_delivered_total", map[string]string{"notifier": "ops", "kind": notify.KindPaused}, 1)
	d.Close()

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("receiver refused: %v", rc.bad)
	}
	if len(rc.events) != 2 || rc.events[0].Kind != notify.KindRunFailed || rc.events[0].Error != "source unreachable" ||
		rc.events[1].Kind != notify.KindPaused || rc.events[1].Failures != 10 {
		t.Fatalf("events = %+v", rc.events)
	}
	if got := testutil.ToFloat64(counter(t, reg, "exportd_notify_attempts_total", map[string]string{"notifier": "ops", "kind": notify.KindRunFailed, "result": "error"})); got != 2 {
		t.Errorf("failed attempts = %v, want 2 (two 503s)", got)
	}
	if got := testutil.ToFloat64(counter(t, reg, "exportd_notify_attempts_total", map[string]string{"notifier": "ops", "kind": notify.KindRunFailed, "result": "ok"})); got != 1 {
		t.Errorf("ok attempts = %v, want 1", got)
	}
	if got := testutil.ToFloat64(counter(t, reg, "exportd_notify_rate_limited_total", map[string]string{"notifier": "ops", "kind": notify.KindRunFailed})); got != 1 {
		t.Errorf("rate limited = %v, want 1", got)
	}
	for _, e := range logs.All() {
		b, _ := json.Marshal(e.ContextMap())
		if strings.Contains(e.Message+string(b), hookSecret) || strings.Contains(string(b), "/hook") {
			t.Errorf("log line shows the secret or the URL: %s %s", e.Message, b)
		}
	}
	if logs.FilterMessage("notification attempt failed").Len() != 2 {
		t.Errorf("want one log line per failed attempt, got %v", logs.All())
	}
}

func TestWebhookBadSignatureRefused(t *testing.T) {
	body := []byte(`{"kind":"run_failed"}`)
	ts := "1700000000"
	sig := notify.Sign([]byte(hookSecret), ts, body)
	now := time.Unix(1700000000, 0)
	if err := notify.Verify([]byte(hookSecret), sig, ts, body, now, time.Minute); err != nil {
		t.Fatalf("good signature refused: %v", err)
	}
	if err := notify.Verify([]byte("other"), sig, ts, body, now, time.Minute); err == nil {
		t.Error("a signature with another secret passed")
	}
	if err := notify.Verify([]byte(hookSecret), sig, "1700000001", body, now, time.Minute); err == nil {
		t.Error("a signature replayed with another timestamp passed")
	}
	if err := notify.Verify([]byte(hookSecret), sig, ts, body, now.Add(time.Hour), time.Minute); err == nil {
		t.Error("an old request passed")
	}
}

func TestQueueFullDropsWithoutBlocking(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	reg := prometheus.NewRegistry()
	d, err := notify.New(cfgWith(map[string]*config.Notifier{
		"ops": {Type: "webhook", URL: srv.URL, Secret: config.NewSecret("${HOOK}", hookSecret)},
	}, map[string][]string{"s": {"ops"}}), reg, nil, notify.Options{Queue: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// One event is in flight (blocked), two fill the queue, the rest drop.
	for i := range 10 {
		d.Notify(notify.Event{Kind: notify.KindWindowLost, Schedule: "s", Key: string(rune('a' + i))})
	}
	got := testutil.ToFloat64(counter(t, reg, "exportd_notify_dropped_total", map[string]string{"reason": "queue_full"}))
	if got < 7 || got > 8 {
		t.Errorf("dropped = %v, want 7 or 8 of 10 with a queue of 2", got)
	}
}

// mailSink is an SMTP server that requires STARTTLS and PLAIN auth.
type mailSink struct {
	mu   sync.Mutex
	msgs []mail
	got  chan struct{}
}

type mail struct {
	from, user string
	to         []string
	data       string
	tls        bool
}

type session struct {
	sink *mailSink
	conn *smtp.Conn
	m    mail
}

func (s *mailSink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{sink: s, conn: c}, nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != "exportd" || pass != "mail-pass" {
			return errors.New("bad credentials")
		}
		s.m.user = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.m.user == "" {
		return &smtp.SMTPError{Code: 530, Message: "authentication required"}
	}
	_, s.m.tls = s.conn.TLSConnectionState()
	s.m.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error { s.m.to = append(s.m.to, to); return nil }
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.m)
	s.sink.mu.Unlock()
	s.sink.got <- struct{}{}
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// testCert makes a self-signed certificate for 127.0.0.1.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func startSMTP(t *testing.T, tlsCfg *tls.Config) (*mailSink, string) {
	t.Helper()
	sink := &mailSink{got: make(chan struct{}, 10)}
	s := smtp.NewServer(sink)
	s.Domain = "127.0.0.1"
	s.TLSConfig = tlsCfg
	s.AllowInsecureAuth = tlsCfg == nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return sink, ln.Addr().String()
}

func TestEmailOverSTARTTLS(t *testing.T) {
	cert, pool := testCert(t)
	sink, addr := startSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	d, err := notify.New(cfgWith(map[string]*config.Notifier{
		"owner": {Type: "email", SMTP: addr, From: "exportd@example.com", To: []string{"owner@example.com"},
			Username: "exportd", Password: config.NewSecret("${SMTP_PASSWORD}", "mail-pass")},
	}, map[string][]string{"daily-logins": {"owner"}}), nil, nil, notify.Options{RootCAs: pool, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Notify(notify.Event{Kind: notify.KindPaused, Schedule: "daily-logins", Failures: 10,
		Summary: "paused after 10 consecutive failed runs; resume it once fixed"})
	wait(t, sink.got)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	m := sink.msgs[0]
	if !m.tls || m.user != "exportd" || m.from != "exportd@example.com" || len(m.to) != 1 || m.to[0] != "owner@example.com" {
		t.Fatalf("mail = %+v", m)
	}
	for _, want := range []string{"Subject: [exportd] daily-logins: schedule paused", "To: owner@example.com",
		"paused after 10 consecutive failed runs", "consecutive failures: 10"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.data)
		}
	}
	if strings.Contains(m.data, "mail-pass") {
		t.Error("message shows the SMTP password")
	}
}

func TestEmailRefusesServerWithoutSTARTTLS(t *testing.T) {
	sink, addr := startSMTP(t, nil) // no TLS offered
	reg := prometheus.NewRegistry()
	d, err := notify.New(cfgWith(map[string]*config.Notifier{
		"owner": {Type: "email", SMTP: addr, From: "exportd@example.com", To: []string{"owner@example.com"},
			Username: "exportd", Password: config.NewSecret("${SMTP_PASSWORD}", "mail-pass")},
	}, map[string][]string{"s": {"owner"}}), reg, nil, notify.Options{Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(notify.Event{Kind: notify.KindRunFailed, Schedule: "s"})
	waitCount(t, reg, "exportd_notify_dropped_total", map[string]string{"reason": "gave_up"}, 1)
	d.Close()
	if len(sink.msgs) != 0 {
		t.Fatal("mail sent without STARTTLS")
	}
	if got := testutil.ToFloat64(counter(t, reg, "exportd_notify_attempts_total", map[string]string{"notifier": "owner", "kind": notify.KindRunFailed, "result": "error"})); got != 2 {
		t.Errorf("attempts = %v, want 2", got)
	}
}

// counter finds the child of a registered counter vec by its labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
			c.Add(m.GetCounter().GetValue())
			return c
		}
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
	return c
}

// waitCount waits until a counter reaches want.
func waitCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(counter(t, reg, name, labels)) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v never reached %v", name, labels, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
