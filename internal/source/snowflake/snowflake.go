// Package snowflake is the production source: Snowflake through the
// gosnowflake driver. Results stream as Arrow batches, one chunk at a time,
// into the render package's row encoder, which writes the same bytes as
// DuckDB's COPY for the same values.
//
// Every query carries QUERY_TAG 'exportd:<schedule>:<unit id>' (from
// source.WithQueryTag) and the session's STATEMENT_TIMEOUT_IN_SECONDS; its
// query ID comes back in source.Result and in errors, so that an auditor finds
// it in QUERY_HISTORY. An expired session is replaced and the query run again
// once, before any byte is written; authentication errors wrap
// source.ErrAuth and SQL errors source.ErrQuery, neither retried.
package snowflake

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	_ "github.com/exportd/exportd/internal/source/snowflake/nominicore" // before gosnowflake's init
	sf "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/source"
)

var _ source.Source = (*Source)(nil)

// Authenticators.
const (
	AuthPassword = "password"
	AuthKeyPair  = "key_pair"
	AuthOAuth    = "oauth"
	AuthPAT      = "programmatic_access_token"
)

// Options configure Open. Secrets arrive resolved; the Source keeps them
// only inside the driver's configuration and never prints them.
type Options struct {
	// Name identifies the source in logs and errors.
	Name string

	Account, User, Database, Schema, Warehouse, Role string
	// Host, Port and Protocol override the endpoint derived from Account.
	Host     string
	Port     int
	Protocol string

	// Authenticator is AuthPassword, AuthKeyPair, AuthOAuth or AuthPAT.
	Authenticator string
	Password      string
	// PrivateKey is a PEM PKCS#8 RSA key, encrypted ("ENCRYPTED PRIVATE
	// KEY", then PrivateKeyPassphrase decrypts it) or not.
	PrivateKey           string
	PrivateKeyPassphrase string
	// Token is an OAuth access token or a programmatic access token.
	Token string
	// TokenFile holds an OAuth access token, read at every login.
	TokenFile string

	// StatementTimeout bounds one query in Snowflake (default 1h).
	StatementTimeout time.Duration
	// MaxConns bounds the connection pool (runs.max_concurrent); 0 means 4.
	MaxConns int
	// Logger receives lifecycle logs; nil discards them.
	Logger *zap.Logger
}

// Source is a Snowflake account. It is safe for concurrent use.
type Source struct {
	name     string
	database string
	schema   string
	db       *sql.DB
	log      *zap.Logger
}

// Open checks the options and prepares the pool; it does not log in (the
// first query does, so that a daemon starts while Snowflake is away).
func Open(ctx context.Context, o Options) (*Source, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, fmt.Errorf("snowflake source %q: %w", o.Name, err)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *cfg))
	n := o.MaxConns
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	// Snowflake ends idle sessions after 4 hours; replace them well before.
	db.SetConnMaxIdleTime(30 * time.Minute)
	return &Source{name: o.Name, database: o.Database, schema: o.Schema, db: db, log: o.Logger}, nil
}

func (o *Options) config() (*sf.Config, error) {
	var errs []error
	if o.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	for _, f := range []struct{ name, v string }{{"account", o.Account}, {"user", o.User}, {"database", o.Database}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s: must not be empty", f.name))
		}
	}
	timeout := o.StatementTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	secs := strconv.FormatInt(int64((timeout+time.Second-1)/time.Second), 10)
	utc, arrowFormat := "UTC", "ARROW"
	cfg := &sf.Config{
		Account: o.Account, User: o.User, Database: o.Database, Schema: o.Schema,
		Warehouse: o.Warehouse, Role: o.Role, Host: o.Host, Port: o.Port, Protocol: o.Protocol,
		Application: "exportd",
		// The driver logs nothing: its log lines could carry query text.
		Tracing: "off",
		Params: map[string]*string{
			"STATEMENT_TIMEOUT_IN_SECONDS": &secs,
			// Only LTZ display would use it; exportd prints instants in UTC.
			"TIMEZONE": &utc,
			// Results in Arrow even where an account or user default says
			// JSON: the Arrow batches are what exportd reads.
			"GO_QUERY_RESULT_FORMAT": &arrowFormat,
		},
		LoginTimeout:   60 * time.Second,
		RequestTimeout: 0,
		MaxRetryCount:  3,
	}
	if o.Protocol == "http" {
		cfg.DisableOCSPChecks = true // no TLS to check
	}
	switch o.Authenticator {
	case AuthPassword, "":
		if o.Password == "" {
			errs = append(errs, errors.New("password: must not be empty"))
		}
		cfg.Authenticator, cfg.Password = sf.AuthTypeSnowflake, o.Password
	case AuthKeyPair:
		key, err := parsePrivateKey(o.PrivateKey, o.PrivateKeyPassphrase)
		if err != nil {
			errs = append(errs, fmt.Errorf("private_key: %w", err))
		}
		cfg.Authenticator, cfg.PrivateKey = sf.AuthTypeJwt, key
	case AuthOAuth:
		switch {
		case o.TokenFile != "":
			if _, err := os.Stat(o.TokenFile); err != nil {
				errs = append(errs, fmt.Errorf("oauth_token_file: cannot read %s", o.TokenFile))
			}
			cfg.TokenFilePath = o.TokenFile
		case o.Token != "":
			cfg.Token = o.Token
		default:
			errs = append(errs, errors.New("oauth: set token or oauth_token_file"))
		}
		cfg.Authenticator = sf.AuthTypeOAuth
	case AuthPAT:
		if o.Token == "" {
			errs = append(errs, errors.New("token: must not be empty"))
		}
		cfg.Authenticator, cfg.Token = sf.AuthTypePat, o.Token
	default:
		errs = append(errs, fmt.Errorf("authenticator %q: use %s, %s, %s or %s", o.Authenticator, AuthPassword, AuthKeyPair, AuthOAuth, AuthPAT))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parsePrivateKey reads a PEM PKCS#8 RSA key, decrypting it with
// passphrase when it is encrypted. Its errors never quote the key.
func parsePrivateKey(pemText, passphrase string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return nil, errors.New("not a PEM key; give a PKCS#8 key (-----BEGIN PRIVATE KEY----- or -----BEGIN ENCRYPTED PRIVATE KEY-----)")
	}
	der := block.Bytes
	switch block.Type {
	case "PRIVATE KEY":
		if passphrase != "" {
			return nil, errors.New("the key is not encrypted but private_key_passphrase is set; remove the passphrase")
		}
	case "ENCRYPTED PRIVATE KEY":
		if passphrase == "" {
			return nil, errors.New("the key is encrypted; set private_key_passphrase")
		}
		var err error
		if der, err = decryptPKCS8(der, []byte(passphrase)); err != nil {
			return nil, err
		}
	case "RSA PRIVATE KEY":
		return nil, errors.New("a PKCS#1 key; convert it to PKCS#8: openssl pkcs8 -topk8 -in key.pem -out key.p8")
	default:
		return nil, fmt.Errorf("a PEM %q block; give a PKCS#8 private key", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("not a valid PKCS#8 private key (or a wrong passphrase)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key; Snowflake key-pair authentication takes an RSA key", k)
	}
	return rk, nil
}

// Name is the source's name.
func (s *Source) Name() string { return s.name }

// Dialect is source.DialectSnowflake.
func (s *Source) Dialect() string { return source.DialectSnowflake }

// Close closes the pool (and so logs the sessions out).
func (s *Source) Close() error { return s.db.Close() }

// Error is a failed Snowflake call: the source's name, what exportd was
// doing, and Snowflake's code, SQLSTATE, message and query ID.
type Error struct {
	Source  string
	Op      string
	Code    int
	State   string
	Message string
	QueryID string
	kind    error // source.ErrAuth, source.ErrQuery or nil (retryable)
	err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "snowflake source %q: %s: ", e.Source, e.Op)
	if e.Code != 0 {
		fmt.Fprintf(&b, "%06d", e.Code)
		if e.State != "" {
			fmt.Fprintf(&b, " (%s)", e.State)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.QueryID != "" {
		fmt.Fprintf(&b, " [query ID %s]", e.QueryID)
	}
	if e.kind == source.ErrAuth {
		b.WriteString(" (authentication or authorization failed: check the credentials, the user and the role's grants)")
	}
	return b.String()
}

// Is reports source.ErrAuth / source.ErrQuery for such errors.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap returns the driver's error.
func (e *Error) Unwrap() error { return e.err }

// Session-gone codes: the session expired or was closed; a new login fixes it.
func sessionGone(code int) bool {
	switch code {
	case 390111, 390112, 390114, 390104:
		return true
	}
	return false
}

// authCode is a login or authorization failure: a person must act.
func authCode(code int) bool {
	if sessionGone(code) {
		return false
	}
	switch {
	case code >= 390100 && code < 390400:
		return true
	case code == 260002 || code == 260008: // password or user missing
		return true
	}
	return false
}

// classify wraps a driver error. retry is true when a new session may help
// (an expired session, a network failure) and the caller has written
// nothing yet.
func (s *Source) classify(ctx context.Context, op string, err error, queryID string) (wrapped error, retry bool) {
	return classify(ctx, s.name, op, err, queryID)
}

// classify wraps a driver error of source name (see Source.classify).
func classify(ctx context.Context, name, op string, err error, queryID string) (wrapped error, retry bool) {
	if err == nil {
		return nil, false
	}
	if ctx.Err() != nil {
		return fmt.Errorf("snowflake source %q: %s: %w", name, op, context.Cause(ctx)), false
	}
	e := &Error{Source: name, Op: op, QueryID: queryID, err: err}
	var se *sf.SnowflakeError
	if errors.As(err, &se) {
		e.Code, e.State, e.Message = se.Number, se.SQLState, se.Message
		if len(se.MessageArgs) > 0 {
			e.Message = fmt.Sprintf(se.Message, se.MessageArgs...)
		}
		if se.QueryID != "" {
			e.QueryID = se.QueryID
		}
		switch {
		case sessionGone(se.Number):
			return e, true
		case authCode(se.Number):
			e.kind = source.ErrAuth
			return e, false
		case strings.HasPrefix(se.SQLState, "42") || strings.HasPrefix(se.SQLState, "22") ||
			(se.Number >= 1000 && se.Number < 3000) || (se.Number >= 100000 && se.Number < 101000):
			// Compilation (syntax, unknown object, no privilege on it) and
			// data errors: the same query fails the same way again.
			e.kind = source.ErrQuery
			return e, false
		case se.Number == 630 || se.Number == 604:
			e.Message += " (statement_timeout reached or the statement was cancelled)"
			return e, false
		}
		return e, false
	}
	e.Message = err.Error()
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		e.Message = "the connection to Snowflake failed: " + e.Message
		return e, true
	}
	return e, false
}

// Ping logs in (unless a session is open) and runs SELECT 1: whether
// Snowflake answers with these credentials. The daemon checks it at start
// and waits, not ready, while it fails.
func (s *Source) Ping(ctx context.Context) error {
	return s.run(ctx, "ping", "SELECT 1", nil, noCtx, func(rows driver.Rows, qid string) error {
		v := make([]driver.Value, len(rows.Columns()))
		if err := rows.Next(v); err != nil {
			werr, _ := s.classify(ctx, "ping", err, qid)
			return werr
		}
		return nil
	})
}
