package snowflake

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/testenv"
)

// secrets collects every secret value a test uses; checkNoSecret greps
// outputs for them.
type secrets []string

func (s secrets) check(t *testing.T, what, out string) {
	t.Helper()
	for _, v := range s {
		if v != "" && strings.Contains(out, v) {
			t.Errorf("%s shows a secret value: %q", what, out)
		}
	}
}

// login is a login-request body as the driver sends it.
type login struct {
	Data struct {
		LoginName     string         `json:"LOGIN_NAME"`
		Password      string         `json:"PASSWORD"`
		Authenticator string         `json:"AUTHENTICATOR"`
		Token         string         `json:"TOKEN"`
		Params        map[string]any `json:"SESSION_PARAMETERS"`
	} `json:"data"`
}

func parseLogin(t testing.TB, body []byte) login {
	var l login
	if err := json.Unmarshal(body, &l); err != nil {
		t.Errorf("login body: %v", err)
	}
	return l
}

const auditDDL = `CREATE TABLE AUDIT (ID NUMBER(38,0), AMOUNT NUMBER(12,2), RATIO FLOAT, ACTOR TEXT, TS TIMESTAMP_NTZ)`
const auditRows = `INSERT INTO AUDIT VALUES (1, 12.5, 0.25, 'a@x', '2026-01-01 09:30:00'), (2, NULL, -1.5, '', '2026-01-02 10:00:00'), (3, -0.05, NULL, NULL, NULL)`
const auditCSV = "ID,AMOUNT,RATIO,ACTOR,TS\n1,12.50,0.25,a@x,2026-01-01T09:30:00Z\n2,,-1.5,\"\",2026-01-02T10:00:00Z\n3,-0.05,,,\n"

// TestExportTagTimeoutQueryID: the rows stream as CSV; the session carries
// STATEMENT_TIMEOUT_IN_SECONDS, each query the unit's QUERY_TAG; the result
// names the query ID; the window bounds travel as bind parameters.
func TestExportTagTimeoutQueryID(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	var logins []login
	var tags []any
	var bindings []json.RawMessage
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		mu.Lock()
		defer mu.Unlock()
		switch r.Path {
		case "/session/v1/login-request":
			logins = append(logins, parseLogin(t, r.Body))
		case "/queries/v1/query-request":
			var q struct {
				Parameters map[string]any  `json:"parameters"`
				Bindings   json.RawMessage `json:"bindings"`
			}
			_ = json.Unmarshal(r.Body, &q)
			if strings.Contains(r.SQL, "AUDIT") {
				tags = append(tags, q.Parameters["QUERY_TAG"])
				bindings = append(bindings, q.Bindings)
			}
		}
		return false
	})
	s, _ := openTest(t, p.Host, p.Port, auditDDL, auditRows)
	ctx := source.WithQueryTag(t.Context(), "exportd:audit:2026-01-01")
	var out bytes.Buffer
	q := source.Query{SQL: `SELECT * FROM AUDIT WHERE ID >= ? ORDER BY ID`, Args: []any{"1"}}
	res, err := s.ExportCSV(ctx, q, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, emu.LogTail())
	}
	if out.String() != auditCSV {
		t.Errorf("csv:\n%s\nwant:\n%s", out.String(), auditCSV)
	}
	if res.Rows != 3 || len(res.Columns) != 5 || res.Columns[1].Type != "NUMBER(12,2)" {
		t.Errorf("result %+v", res)
	}
	if len(res.QueryID) < 8 {
		t.Errorf("query ID %q", res.QueryID)
	}
	n, err := s.Count(ctx, q)
	if err != nil || n != 3 {
		t.Errorf("count = %d, %v", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logins) != 1 {
		t.Fatalf("%d logins, want 1 (one pooled session)", len(logins))
	}
	if v := logins[0].Data.Params["STATEMENT_TIMEOUT_IN_SECONDS"]; v != "3600" {
		t.Errorf("STATEMENT_TIMEOUT_IN_SECONDS = %v, want 3600", v)
	}
	if len(tags) != 2 || tags[0] != "exportd:audit:2026-01-01" || tags[1] != "exportd:audit:2026-01-01" {
		t.Errorf("QUERY_TAG sent: %v", tags)
	}
	if !strings.Contains(string(bindings[0]), `"value":"1"`) {
		t.Errorf("bindings sent: %s", bindings[0])
	}
}

// TestColumns reads a table's columns from INFORMATION_SCHEMA.COLUMNS.
func TestColumns(t *testing.T) {
	s, db := openTest(t, emu.Host, emu.Port, auditDDL)
	for _, name := range []string{"AUDIT", "PUBLIC.AUDIT", db + ".PUBLIC.AUDIT"} {
		cols, err := s.Columns(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, c := range cols {
			got += c.Name + " " + c.Type + ";"
		}
		if want := "ID NUMBER(38,0);AMOUNT NUMBER(12,2);RATIO FLOAT;ACTOR TEXT;TS TIMESTAMP_NTZ;"; got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	_, err := s.Columns(t.Context(), "NOPE")
	if !errors.Is(err, source.ErrQuery) || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("missing table: %v", err)
	}
}

// TestQueryErrors: a compilation error fails at once (one request), marked
// ErrQuery, with Snowflake's message and the query ID; so does a query
// failing while it runs; nothing is written.
func TestQueryErrors(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	s, _ := openTest(t, p.Host, p.Port, auditDDL, auditRows)
	before := len(p.Requests())
	var out bytes.Buffer
	_, err := s.ExportCSV(t.Context(), source.Query{SQL: "SELECT * FROM NO_SUCH_TABLE"}, &out)
	if !errors.Is(err, source.ErrQuery) || errors.Is(err, source.ErrAuth) {
		t.Fatalf("unknown table: %v", err)
	}
	if !strings.Contains(err.Error(), "NO_SUCH_TABLE") || !strings.Contains(err.Error(), "query ID") {
		t.Errorf("error lacks Snowflake's message or the query ID: %v", err)
	}
	queries := 0
	for _, r := range p.Requests()[before:] {
		if r == "/queries/v1/query-request" {
			queries++
		}
	}
	if queries != 1 {
		t.Errorf("%d query requests, want 1 (no retry)", queries)
	}
	_, err = s.ExportCSV(t.Context(), source.Query{SQL: "SELECT ID, CAST(ACTOR AS INT) AS X FROM AUDIT ORDER BY ID"}, &out)
	if !errors.Is(err, source.ErrQuery) || !strings.Contains(err.Error(), "a@x") {
		t.Errorf("failing cast: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("a failed query wrote %q", out.String())
	}
}

// TestSessionExpiry: the session expires (390112) and cannot be renewed
// (390114) at the export query; the source logs in again and runs it once
// more, and the CSV is whole.
func TestSessionExpiry(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	expired := 0
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Path == "/queries/v1/query-request" && strings.Contains(r.SQL, "FROM AUDIT") && expired == 0:
			expired++
			testenv.WriteSnowError(w, "390112", "Your session has expired. Please login again.", "", "")
			return true
		case r.Path == "/session/token-request":
			testenv.WriteSnowError(w, "390114", "Authentication token has expired.  The user must authenticate again.", "", "")
			return true
		}
		return false
	})
	s, _ := openTest(t, p.Host, p.Port, auditDDL, auditRows)
	var out bytes.Buffer
	res, err := s.ExportCSV(t.Context(), source.Query{SQL: "SELECT * FROM AUDIT ORDER BY ID"}, &out)
	if err != nil {
		t.Fatalf("after a session expiry: %v", err)
	}
	if out.String() != auditCSV || res.Rows != 3 {
		t.Errorf("csv after a retry:\n%s", out.String())
	}
	logins := 0
	for _, r := range p.Requests() {
		if r == "/session/v1/login-request" {
			logins++
		}
	}
	if expired != 1 || logins != 2 {
		t.Errorf("expired %d times, %d logins; want 1 and 2", expired, logins)
	}
}

// TestCancel: cancelling the context while Snowflake runs the query
// returns at once with the cause, and the driver asks Snowflake to abort
// the query.
func TestCancel(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	entered := make(chan struct{})
	var once sync.Once
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		if r.Path == "/queries/v1/query-request" && strings.Contains(r.SQL, "SLOW") {
			once.Do(func() { close(entered) })
			time.Sleep(3 * time.Second) // a long query; the client gives up first
			testenv.WriteSnowError(w, "000604", "SQL execution canceled", "57014", "")
			return true
		}
		return false
	})
	s, _ := openTest(t, p.Host, p.Port, auditDDL)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-entered
		cancel()
	}()
	var out bytes.Buffer
	_, err := s.ExportCSV(ctx, source.Query{SQL: "SELECT 'SLOW' AS X FROM AUDIT"}, &out)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled export: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		aborted := false
		for _, r := range p.Requests() {
			aborted = aborted || r == "/queries/v1/abort-request"
		}
		if aborted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no abort-request sent; requests: %v", p.Requests())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out.Len() != 0 {
		t.Errorf("a cancelled query wrote %q", out.String())
	}
}

// TestAuthenticators: each authenticator sends its credential the way
// Snowflake takes it (a JWT signed with the key, the password, the OAuth
// token read from its file, the programmatic access token); a refused
// login fails at once with ErrAuth and Snowflake's message; no output shows
// a secret.
func TestAuthenticators(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	plainPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	const passphrase = "kp-pass-Rt5w9Qz1"
	encPEM := opensslEncrypt(t, plainPEM, passphrase)
	dir := t.TempDir()
	const oauthToken = "oauth-tok-Jm3x8Pq0"
	const pat = "pat-tok-Nc6v2Kw4"
	tokenFile := filepath.Join(dir, "oauth-token")
	if err := os.WriteFile(tokenFile, []byte(oauthToken), 0o600); err != nil {
		t.Fatal(err)
	}
	secretVals := secrets{testPassword, passphrase, oauthToken, pat, strings.Split(plainPEM, "\n")[1], strings.Split(encPEM, "\n")[1]}

	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	var last login
	refuse := false
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		if r.Path != "/session/v1/login-request" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		last = parseLogin(t, r.Body)
		if refuse {
			testenv.WriteSnowError(w, "390100", "Incorrect username or password was specified.", "08004", "")
			return true
		}
		return false
	})
	db := newDB(t)
	base := Options{Name: "wh", Account: "acct", User: "exportd", Database: db, Schema: "PUBLIC", Protocol: "http", Host: p.Host, Port: p.Port}
	cases := []struct {
		name  string
		opts  func(o *Options)
		check func(l login) string
	}{
		{"password", func(o *Options) { o.Authenticator, o.Password = AuthPassword, testPassword }, func(l login) string {
			if l.Data.Password != testPassword || l.Data.LoginName != "exportd" || (l.Data.Authenticator != "" && l.Data.Authenticator != "SNOWFLAKE") {
				return "password login: " + l.Data.Authenticator
			}
			return ""
		}},
		{"key pair", func(o *Options) { o.Authenticator, o.PrivateKey = AuthKeyPair, plainPEM }, func(l login) string {
			return checkJWT(l, &key.PublicKey)
		}},
		{"encrypted key pair", func(o *Options) {
			o.Authenticator, o.PrivateKey, o.PrivateKeyPassphrase = AuthKeyPair, encPEM, passphrase
		}, func(l login) string { return checkJWT(l, &key.PublicKey) }},
		{"oauth token file", func(o *Options) { o.Authenticator, o.TokenFile = AuthOAuth, tokenFile }, func(l login) string {
			if l.Data.Authenticator != "OAUTH" || l.Data.Token != oauthToken {
				return "oauth login: " + l.Data.Authenticator
			}
			return ""
		}},
		{"programmatic access token", func(o *Options) { o.Authenticator, o.Token = AuthPAT, pat }, func(l login) string {
			if l.Data.Authenticator != "PROGRAMMATIC_ACCESS_TOKEN" || l.Data.Token != pat {
				return "pat login: " + l.Data.Authenticator
			}
			return ""
		}},
	}
	for _, c := range cases {
		for _, refused := range []bool{false, true} {
			o := base
			c.opts(&o)
			s, err := Open(t.Context(), o)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			mu.Lock()
			refuse = refused
			mu.Unlock()
			var out bytes.Buffer
			_, err = s.ExportCSV(t.Context(), source.Query{SQL: "SELECT 1 AS ONE"}, &out)
			s.Close()
			mu.Lock()
			l := last
			mu.Unlock()
			if msg := c.check(l); msg != "" {
				t.Errorf("%s: %s", c.name, msg)
			}
			if !refused {
				if err != nil || out.String() != "ONE\n1\n" {
					t.Errorf("%s: %q, %v", c.name, out.String(), err)
				}
				continue
			}
			if !errors.Is(err, source.ErrAuth) || errors.Is(err, source.ErrQuery) || !strings.Contains(err.Error(), "Incorrect username or password") {
				t.Errorf("%s refused: %v", c.name, err)
			}
			if err != nil {
				secretVals.check(t, c.name+" error", err.Error())
				secretVals.check(t, c.name+" error", strings.ReplaceAll(err.Error(), "\n", ""))
			}
		}
	}
	// Bad keys: clear errors that quote no key material.
	for _, c := range []struct{ key, pass, want string }{
		{"not a key", "", "not a PEM key"},
		{encPEM, "", "set private_key_passphrase"},
		{encPEM, "wrong-pass", "passphrase"},
		{plainPEM, passphrase, "not encrypted"},
	} {
		o := base
		o.Authenticator, o.PrivateKey, o.PrivateKeyPassphrase = AuthKeyPair, c.key, c.pass
		_, err := Open(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key %.20q: %v, want %q", c.key, err, c.want)
			continue
		}
		secretVals.check(t, "key error", err.Error())
	}
}

// checkJWT verifies the login's JWT with the public key, as Snowflake does.
func checkJWT(l login, pub *rsa.PublicKey) string {
	if l.Data.Authenticator != "SNOWFLAKE_JWT" {
		return "authenticator " + l.Data.Authenticator
	}
	parts := strings.Split(l.Data.Token, ".")
	if len(parts) != 3 {
		return "token is not a JWT"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "signature: " + err.Error()
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig); err != nil {
		return "JWT signature does not verify with the public key: " + err.Error()
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(claims), `"sub":"ACCT.EXPORTD"`) {
		return "claims: " + string(claims)
	}
	return ""
}

// opensslEncrypt encrypts a PKCS#8 key the way Snowflake's key-pair guide
// does (openssl pkcs8 -topk8 -v2 aes256).
func opensslEncrypt(t *testing.T, plainPEM, pass string) string {
	t.Helper()
	cmd := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes256", "-passout", "env:KP_PASS")
	cmd.Env = append(os.Environ(), "KP_PASS="+pass)
	cmd.Stdin = strings.NewReader(plainPEM)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkcs8 (the test needs openssl to make an encrypted key): %v", err)
	}
	if !strings.Contains(string(out), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("openssl wrote %q", out)
	}
	return string(out)
}

// TestPoolBounded: six concurrent exports on a source with MaxConns 2 use
// at most two Snowflake sessions, and all six finish whole.
func TestPoolBounded(t *testing.T) {
	p := testenv.StartSnowProxy(t, emu)
	var mu sync.Mutex
	inFlight, most := 0, 0
	p.SetHook(func(w http.ResponseWriter, r *testenv.SnowRequest) bool {
		if r.Path == "/queries/v1/query-request" && strings.Contains(r.SQL, "FROM AUDIT") {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(100 * time.Millisecond) // overlap the queries
			mu.Lock()
			inFlight--
			mu.Unlock()
		}
		return false
	})
	s, db := openTest(t, p.Host, p.Port, auditDDL, auditRows)
	s.Close()
	s, err := Open(t.Context(), Options{Name: "wh", Account: "acct", User: "exportd", Database: db, Schema: "PUBLIC",
		Password: testPassword, Protocol: "http", Host: p.Host, Port: p.Port, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := 0
	for _, r := range p.Requests() {
		if r == "/session/v1/login-request" {
			before++
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			var out bytes.Buffer
			if _, err := s.ExportCSV(t.Context(), source.Query{SQL: "SELECT * FROM AUDIT ORDER BY ID"}, &out); err != nil {
				errs <- err
			} else if out.String() != auditCSV {
				errs <- errors.New("partial csv: " + out.String())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	logins := -before
	for _, r := range p.Requests() {
		if r == "/session/v1/login-request" {
			logins++
		}
	}
	if logins > 2 || most > 2 || most < 2 {
		t.Errorf("%d new sessions, %d queries at once; want at most 2 (and 2 at once)", logins, most)
	}
}
