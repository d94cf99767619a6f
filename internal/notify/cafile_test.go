package notify_test

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/notify"
)

// TestEmailTrustsTheCAFile: an email notifier with ca_file delivers over
// STARTTLS to a server whose certificate only that file vouches for; the
// same notifier without it refuses the server (unknown authority) and
// sends nothing.
func TestEmailTrustsTheCAFile(t *testing.T) {
	cert, _ := testCert(t)
	sink, addr := startSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}})
	caFile := filepath.Join(t.TempDir(), "mail-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	owner := func(ca string) *config.Notifier {
		return &config.Notifier{Type: "email", SMTP: addr, From: "exportd@example.com", To: []string{"owner@example.com"},
			Username: "exportd", Password: config.NewSecret("${SMTP_PASSWORD}", "mail-pass"), CAFile: ca}
	}

	// Without ca_file (the system's roots only): refused, nothing sent.
	reg := prometheus.NewRegistry()
	d, err := notify.New(cfgWith(map[string]*config.Notifier{"owner": owner("")}, map[string][]string{"s": {"owner"}}),
		reg, nil, notify.Options{Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d.Notify(notify.Event{Kind: notify.KindRunFailed, Schedule: "s"})
	waitCount(t, reg, "exportd_notify_dropped_total", map[string]string{"reason": "gave_up"}, 1)
	d.Close()
	sink.mu.Lock()
	n := len(sink.msgs)
	sink.mu.Unlock()
	if n != 0 {
		t.Fatal("mail sent to a server whose certificate nothing vouches for")
	}

	// With ca_file: delivered over TLS.
	d, err = notify.New(cfgWith(map[string]*config.Notifier{"owner": owner(caFile)}, map[string][]string{"s": {"owner"}}),
		nil, nil, notify.Options{Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Notify(notify.Event{Kind: notify.KindRunFailed, Schedule: "s", Summary: "export failed after 3 attempts"})
	wait(t, sink.got)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if m := sink.msgs[0]; !m.tls || m.user != "exportd" || !strings.Contains(m.data, "export failed after 3 attempts") {
		t.Errorf("mail = %+v", m)
	}

	// A file without a certificate is refused when the notifier is built.
	bad := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.New(cfgWith(map[string]*config.Notifier{"owner": owner(bad)}, nil), nil, nil, notify.Options{}); err == nil ||
		!strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("ca_file without a certificate: %v", err)
	}
}
