package config

import (
	"crypto/x509"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strconv"
)

// Notifier is one named destination of notifications (notify: in the
// daemon config). Schedules name notifiers in their notify: list (or
// inherit defaults.notify); exportd sends them failed runs, schedules
// paused after failures, lost windows, windows missing past their lag and
// data alerts.
type Notifier struct {
	// Type is webhook (a signed JSON POST), slack (an incoming webhook) or
	// email (SMTP).
	Type string `yaml:"type" json:"type"`
	// URL is where a webhook POSTs its JSON body (https, or http to a
	// loopback address).
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Secret signs a webhook's body: X-Exportd-Signature is
	// sha256=<hex HMAC-SHA256 of "<X-Exportd-Timestamp>.<body>">.
	Secret Secret `yaml:"secret,omitempty" json:"secret,omitempty"`
	// WebhookURL is a Slack incoming webhook URL; it is a secret
	// (${ENV} or file:), since whoever knows it can post to the channel.
	WebhookURL Secret `yaml:"webhook_url,omitempty" json:"webhook_url,omitempty"`
	// SMTP is the mail server of an email notifier, host:port.
	SMTP string `yaml:"smtp,omitempty" json:"smtp,omitempty"`
	// From and To are the envelope and header addresses of an email.
	From string   `yaml:"from,omitempty" json:"from,omitempty"`
	To   []string `yaml:"to,omitempty" json:"to,omitempty"`
	// Username and Password authenticate to the SMTP server (PLAIN, only
	// over TLS).
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	Password Secret `yaml:"password,omitempty" json:"password,omitempty"`
	// InsecureNoTLS sends mail without STARTTLS; allowed only to a
	// loopback SMTP server (a local relay).
	InsecureNoTLS bool `yaml:"insecure_no_tls,omitempty" json:"insecure_no_tls,omitempty"`
	// CAFile is a PEM file of CA certificates trusted, besides the
	// system's, for the SMTP server's STARTTLS certificate (a company's own
	// CA); relative to the config file's folder.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// RateLimit is the least time between two notifications of the same
	// cause (schedule, event, window or condition); default 1h.
	RateLimit Duration `yaml:"rate_limit,omitempty" json:"rate_limit,omitempty"`
}

// DataAlert is a condition over an export's output rows, a Sigma Logical
// formula over the element's output columns, e.g. [Failure] > 100. When a
// row of an archived object meets it, the schedule's notifiers are told.
type DataAlert struct {
	// Name names the alert in notifications; default the condition.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// When is the condition.
	When string `yaml:"when" json:"when"`
}

var notifierNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// checkNotifiers checks every notifier of the daemon config.
func (l *loader) checkNotifiers(f *fileState, cfg *Config) {
	for _, name := range sortedKeys(cfg.Notify) {
		n, p := cfg.Notify[name], "notify."+name
		if !notifierNameRE.MatchString(name) {
			l.errorf(f, p, "%s is not a valid notifier name: use lowercase letters, digits, - and _", quoteShort(name))
		}
		if n == nil {
			l.errorf(f, p, "empty notifier; set type: webhook, slack or email")
			continue
		}
		if n.RateLimit < 0 {
			l.errorf(f, p+".rate_limit", "must not be negative (0 means the default, 1h)")
		}
		if n.CAFile != "" && n.Type != "email" {
			l.errorf(f, p+".ca_file", "only an email notifier takes ca_file (the CA of its SMTP server)")
		}
		switch n.Type {
		case "webhook":
			u, err := url.Parse(n.URL)
			switch {
			case n.URL == "":
				l.errorf(f, p+".url", "missing; set the URL the webhook POSTs to, e.g. url: https://hooks.example.com/exportd")
			case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
				l.errorf(f, p+".url", "%s is not an http(s) URL", quoteShort(n.URL))
			case u.Scheme == "http" && !loopbackHost(u.Hostname()):
				l.errorf(f, p+".url", "plain http is only allowed to a loopback address; use https")
			case u.User != nil:
				l.errorf(f, p+".url", "must not carry credentials; the body is signed with secret instead")
			}
			if n.Secret.IsZero() && !f.isBad(p+".secret") {
				l.errorf(f, p+".secret", "missing; a webhook body is always signed: set secret: ${EXPORTD_WEBHOOK_SECRET} (or file:/path)")
			}
		case "slack":
			if n.WebhookURL.IsZero() && !f.isBad(p+".webhook_url") {
				l.errorf(f, p+".webhook_url", "missing; set webhook_url: ${SLACK_WEBHOOK_URL} (the URL is a secret)")
			}
		case "email":
			host, port, err := net.SplitHostPort(n.SMTP)
			if pn, perr := strconv.Atoi(port); n.SMTP == "" || err != nil || perr != nil || pn <= 0 || pn > 65535 || host == "" {
				l.errorf(f, p+".smtp", "%s is not host:port; write e.g. smtp: mail.example.com:587", quoteShort(n.SMTP))
			} else if n.InsecureNoTLS && !loopbackHost(host) {
				l.errorf(f, p+".insecure_no_tls", "only allowed for a loopback SMTP server; %s needs STARTTLS", quoteShort(host))
			}
			if _, err := mail.ParseAddress(n.From); err != nil {
				l.errorf(f, p+".from", "%s is not a mail address", quoteShort(n.From))
			}
			if len(n.To) == 0 {
				l.errorf(f, p+".to", "missing; list at least one recipient")
			}
			for i, to := range n.To {
				if _, err := mail.ParseAddress(to); err != nil {
					l.errorf(f, p+".to."+strconv.Itoa(i), "%s is not a mail address", quoteShort(to))
				}
			}
			if n.CAFile != "" {
				n.CAFile = resolvePath(cfg.Dir, n.CAFile)
				switch data, err := os.ReadFile(n.CAFile); {
				case n.InsecureNoTLS:
					l.errorf(f, p+".ca_file", "is for STARTTLS, and insecure_no_tls is set; drop one of them")
				case err != nil:
					l.errorf(f, p+".ca_file", "cannot read %s: %s", n.CAFile, pathErrReason(err))
				case !x509.NewCertPool().AppendCertsFromPEM(data):
					l.errorf(f, p+".ca_file", "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", n.CAFile)
				}
			}
			if !n.Password.IsZero() && n.Username == "" {
				l.errorf(f, p+".username", "missing; password is set, so set the SMTP user name too")
			}
		case "":
			l.errorf(f, p+".type", "missing; use webhook, slack or email")
		default:
			l.errorf(f, p+".type", "unknown notifier type %s; use webhook, slack or email", quoteShort(n.Type))
		}
	}
}

// checkNotifyRefs checks that a notify: list names configured notifiers.
func (l *loader) checkNotifyRefs(f *fileState, cfg *Config, path string, names []string) {
	for i, name := range names {
		if _, ok := cfg.Notify[name]; !ok {
			l.errorf(f, path+"["+strconv.Itoa(i)+"]", "unknown notifier %s; define it under notify: in the daemon config (have %s)",
				quoteShort(name), orList(sortedKeys(cfg.Notify)))
		}
	}
}

func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
