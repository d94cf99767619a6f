package config

import (
	"strings"
	"testing"
	"time"
)

// TestSnowflakeAuthenticators: the authenticator follows from the one
// credential set (token means a programmatic access token unless
// authenticator says oauth); a mismatch, two credentials or an unknown
// authenticator is an error at its line; statement_timeout defaults to 1h.
func TestSnowflakeAuthenticators(t *testing.T) {
	cases := []struct {
		name, repl, auth, err string
		timeout               time.Duration
	}{
		{name: "password", repl: "password: ${SNOWFLAKE_PASSWORD}", auth: SnowflakeAuthPassword, timeout: time.Hour},
		{name: "pat", repl: "token: ${SNOWFLAKE_PASSWORD}", auth: SnowflakeAuthPAT, timeout: time.Hour},
		{name: "oauth token", repl: "token: ${SNOWFLAKE_PASSWORD}\n    authenticator: oauth\n    statement_timeout: 10m", auth: SnowflakeAuthOAuth, timeout: 10 * time.Minute},
		{name: "oauth file", repl: "oauth_token_file: /run/secrets/oauth", auth: SnowflakeAuthOAuth, timeout: time.Hour},
		{name: "mismatch", repl: "password: ${SNOWFLAKE_PASSWORD}\n    authenticator: key_pair", err: "sources.warehouse.authenticator: key_pair does not go with password"},
		{name: "unknown", repl: "password: ${SNOWFLAKE_PASSWORD}\n    authenticator: okta", err: `sources.warehouse.authenticator: unknown authenticator "okta"`},
		{name: "two", repl: "password: ${SNOWFLAKE_PASSWORD}\n    token: ${SNOWFLAKE_PASSWORD}", err: "sources.warehouse.token: set only one of password, private_key, token and oauth_token_file (password is set too)"},
		{name: "negative timeout", repl: "password: ${SNOWFLAKE_PASSWORD}\n    statement_timeout: -1s", err: "sources.warehouse.statement_timeout: must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTree(t)
			tr.cfg("password: ${SNOWFLAKE_PASSWORD}", c.repl)
			cfg, errs := loadTree(t, tr.write(), LoadOptions{})
			if c.err != "" {
				if !strings.Contains(strings.Join(errs, "\n"), c.err) {
					t.Fatalf("errors:\n%s\nwant %q", strings.Join(errs, "\n"), c.err)
				}
				return
			}
			if errs != nil {
				t.Fatalf("Load:\n%s", strings.Join(errs, "\n"))
			}
			sf := cfg.Sources["warehouse"].Snowflake
			if sf.Authenticator != c.auth || sf.StatementTimeout.Std() != c.timeout {
				t.Errorf("authenticator %q, statement_timeout %v; want %q, %v", sf.Authenticator, sf.StatementTimeout.Std(), c.auth, c.timeout)
			}
		})
	}
}
