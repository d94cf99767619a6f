package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotifyConfig: notifiers load with their secrets resolved, schedules
// inherit defaults.notify or set their own, and each bad input is an error
// at its line and column.
func TestNotifyConfig(t *testing.T) {
	good := `notify:
  ops:
    type: webhook
    url: https://hooks.example.com/exportd
    secret: ${HOOK_SECRET}
  chat:
    type: slack
    webhook_url: ${SLACK_URL}
    rate_limit: 30m
  owner:
    type: email
    smtp: mail.example.com:587
    from: exportd@example.com
    to: [owner@example.com]
    username: exportd
    password: ${SMTP_PASSWORD}
server:`
	caDir := t.TempDir()
	caPEM, notPEM := filepath.Join(caDir, "ca.pem"), filepath.Join(caDir, "not.pem")
	if err := os.WriteFile(caPEM, []byte(testCAPEM), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := lookupIn(map[string]string{"HOOK_SECRET": "h", "SLACK_URL": "https://hooks.slack.com/services/T/B/X",
		"SMTP_PASSWORD": "p", "SNOWFLAKE_PASSWORD": testEnv["SNOWFLAKE_PASSWORD"], "EXT_ID": testEnv["EXT_ID"], "EXPORTD_TOKEN": testEnv["EXPORTD_TOKEN"]})
	cases := []struct {
		name   string
		cfg    string // replaces "server:"
		sched  string // inserted before "source:" in the schedule
		want   []string
		verify func(t *testing.T, cfg *Config)
	}{
		{name: "good, inherited", cfg: strings.Replace(good, "server:", "defaults: {notify: [ops, owner]}\nserver:", 1), verify: func(t *testing.T, cfg *Config) {
			if n := cfg.Notify["chat"]; n.WebhookURL.Reveal() != "https://hooks.slack.com/services/T/B/X" || n.RateLimit.String() != "30m" {
				t.Errorf("chat = %+v", n)
			}
			if got := cfg.Schedule("logins").Notify; strings.Join(got, ",") != "ops,owner" {
				t.Errorf("schedule notify = %v", got)
			}
		}},
		{name: "good, own list", cfg: good, sched: "notify: [chat]\n", verify: func(t *testing.T, cfg *Config) {
			if got := cfg.Schedule("logins").Notify; strings.Join(got, ",") != "chat" {
				t.Errorf("schedule notify = %v", got)
			}
		}},
		{name: "unknown notifier", cfg: good, sched: "notify: [pager]\n",
			want: []string{`:2:10: export "logins": notify[0]: unknown notifier "pager"; define it under notify: in the daemon config (have chat, ops or owner)`}},
		{name: "webhook literal secret and http", cfg: "notify:\n  ops: {type: webhook, url: \"http://hooks.example.com/x\", secret: hunter2}\nserver:",
			want: []string{`exportd.yaml:`, `notify.ops.secret:`, `notify.ops.url: plain http is only allowed to a loopback address; use https`}},
		{name: "slack without url", cfg: "notify:\n  chat: {type: slack}\nserver:",
			want: []string{`notify.chat.webhook_url: missing; set webhook_url: ${SLACK_WEBHOOK_URL} (the URL is a secret)`}},
		{name: "email without TLS to a remote server", cfg: "notify:\n  owner: {type: email, smtp: \"mail.example.com:25\", insecure_no_tls: true, from: bad, to: []}\nserver:",
			want: []string{`notify.owner.insecure_no_tls: only allowed for a loopback SMTP server; "mail.example.com" needs STARTTLS`,
				`notify.owner.from: "bad" is not a mail address`, `notify.owner.to: missing; list at least one recipient`}},
		{name: "email trusting a CA file", cfg: "notify:\n  owner: {type: email, smtp: \"mail.example.com:587\", from: a@example.com, to: [o@example.com], ca_file: " + caPEM + "}\nserver:",
			verify: func(t *testing.T, cfg *Config) {
				if got := cfg.Notify["owner"].CAFile; got != caPEM {
					t.Errorf("ca_file = %q", got)
				}
			}},
		{name: "CA file missing, not PEM, or not for email", cfg: "notify:\n  a: {type: email, smtp: \"mail.example.com:587\", from: a@example.com, to: [o@example.com], ca_file: no-such.pem}\n" +
			"  b: {type: email, smtp: \"mail.example.com:587\", from: a@example.com, to: [o@example.com], ca_file: " + notPEM + "}\n" +
			"  c: {type: webhook, url: \"https://hooks.example.com/x\", secret: \"${HOOK_SECRET}\", ca_file: " + caPEM + "}\nserver:",
			want: []string{`notify.a.ca_file: cannot read `, `no-such.pem`, `notify.b.ca_file: ` + notPEM + ` holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
				`notify.c.ca_file: only an email notifier takes ca_file (the CA of its SMTP server)`}},
		{name: "unknown type", cfg: "notify:\n  x: {type: pager}\nserver:",
			want: []string{`notify.x.type: unknown notifier type "pager"; use webhook, slack or email`}},
		{name: "alert without condition", cfg: good, sched: "alerts: [{name: spike}]\n",
			want: []string{`export "logins": alerts[0].when: missing; write a condition over the output columns, e.g. when: [Failure] > 100`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t)
			tr.cfg("server:", c.cfg)
			if c.sched != "" {
				tr.schedule("source:", c.sched+"source:")
			}
			cfg, errs := loadTree(t, tr.write(), LoadOptions{LookupEnv: env})
			got := strings.Join(errs, "\n")
			if c.want == nil {
				if errs != nil {
					t.Fatalf("errors: %s", got)
				}
				c.verify(t, cfg)
				return
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("errors lack %q:\n%s", w, got)
				}
			}
			if strings.Contains(got, "hunter2") {
				t.Error("an error shows the literal secret")
			}
		})
	}
}

// testCAPEM is a CA certificate (its key thrown away) for ca_file checks.
const testCAPEM = `-----BEGIN CERTIFICATE-----
MIIBZTCCAQugAwIBAgIBATAKBggqhkjOPQQDAjAaMRgwFgYDVQQDEw9leHBvcnRk
IHRlc3QgQ0EwHhcNMjYwMTAxMDAwMDAwWhcNMzYwMTAxMDAwMDAwWjAaMRgwFgYD
VQQDEw9leHBvcnRkIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQo
Mfby/+T0G6PmLOwZkB/uvHAVVTmF38QQ+d7H4YUFTnkC0yWSzGhNXrReSMtBL7kD
gJm3AE9Mn5rd2Uri/x4Go0IwQDAOBgNVHQ8BAf8EBAMCAgQwDwYDVR0TAQH/BAUw
AwEB/zAdBgNVHQ4EFgQUZrkD5HrSYBt5IcJ+O0eO2rg6UrIwCgYIKoZIzj0EAwID
SAAwRQIgOAaeSgyCReZrHDIZDoMi8M6wprv5NWF5tfrq+z/wrkoCIQCWArypV5n6
1vW8PqNLEkFdVfUcc7+GX1HquYeLagQr7w==
-----END CERTIFICATE-----
`
