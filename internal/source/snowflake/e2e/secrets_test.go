package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeShowsNoSecret runs the daemon on four Snowflake sources, one per
// authenticator (password, encrypted key pair, programmatic access token,
// OAuth token file), each exporting a day from the emulator, and reads
// every output an operator or a scraper sees: validate --online, /metrics,
// the API's schedules and runs, the status pages, the logs, the archive and
// the state. None of them may show a credential.
func TestServeShowsNoSecret(t *testing.T) {
	root := repoRoot(t)
	_, _, _ = setup(t, emu.Port) // loads the audit log
	dir := t.TempDir()

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	const passphrase = "e2e-kp-pass-Lw7c2Vn5"
	cmd := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes256", "-passout", "env:KP_PASS")
	cmd.Env = append(os.Environ(), "KP_PASS="+passphrase)
	cmd.Stdin = strings.NewReader(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	encPEM, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkcs8 (the test needs openssl for an encrypted key): %v", err)
	}
	const pat, oauth, apiToken = "e2e-pat-Qy3m8Tz6", "e2e-oauth-Hs5k1Xd9", "e2e-api-token-Fp2n6Gj4"
	for name, data := range map[string][]byte{"key.p8": encPEM, "oauth-token": []byte(oauth)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SNOWFLAKE_PASSWORD", password)
	t.Setenv("SNOWFLAKE_KEY_PASSPHRASE", passphrase)
	t.Setenv("SNOWFLAKE_PAT", pat)
	t.Setenv("EXPORTD_TOKEN", apiToken)
	secrets := []string{password, passphrase, pat, oauth, apiToken}
	for _, l := range strings.Split(string(encPEM), "\n") {
		if len(l) > 16 && !strings.HasPrefix(l, "-----") {
			secrets = append(secrets, l)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	src := func(cred string) string {
		return fmt.Sprintf("{type: snowflake, account: local, user: EXPORTD, database: SIGMA_AUDIT, schema: AUDIT, "+
			"host: %s, port: %d, protocol: http, timezone: UTC, %s}", emu.Host, emu.Port, cred)
	}
	cfg := filepath.Join(dir, "exportd.yaml")
	config := fmt.Sprintf(`state_dir: state
schedules_dir: schedules
server: {listen: "%s", token: "${EXPORTD_TOKEN}", status_page: anyone}
sources:
  by_password: %s
  by_key_pair: %s
  by_pat: %s
  by_oauth: %s
integrations:
  local: {type: folder, path: archive}
runs: {max_concurrent: 2}
`, addr, src(`password: "${SNOWFLAKE_PASSWORD}"`),
		src(`private_key: "file:`+filepath.Join(dir, "key.p8")+`", private_key_passphrase: "${SNOWFLAKE_KEY_PASSPHRASE}"`),
		src(`token: "${SNOWFLAKE_PAT}"`),
		src(`authenticator: oauth, oauth_token_file: "`+filepath.Join(dir, "oauth-token")+`"`))
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	sched, err := os.ReadFile(filepath.Join(root, "config", "emulator", "schedules", "audit-log-rows.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"by_password", "by_key_pair", "by_pat", "by_oauth"}
	if err := os.MkdirAll(filepath.Join(dir, "schedules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		name := "rows-" + strings.ReplaceAll(n, "_", "-")
		s := strings.Replace(string(sched), "name: audit-log-rows", "name: "+name, 1)
		s = strings.Replace(s, "source: warehouse", "source: "+n, 1)
		if err := os.WriteFile(filepath.Join(dir, "schedules", name+".yaml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	var seen strings.Builder // every output, to grep at the end
	grab := func(what, s string) {
		fmt.Fprintf(&seen, "== %s\n%s\n", what, s)
	}
	ctx := t.Context()
	code, out, errs := exportd(ctx, "-c", cfg, "validate", "--online")
	if code != 0 || !strings.Contains(out, "ok (4 schedules, 4 sources, 1 integrations)") {
		t.Fatalf("validate --online: exit %d\n%s\n%s", code, out, errs)
	}
	grab("validate --online", out+errs)

	// serve: the catch-up at start exports the latest day of each schedule.
	sctx, stop := context.WithCancel(ctx)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := exportd(sctx, "-c", cfg, "--now", "2026-11-25T06:00:00Z", "serve")
		done <- result{code, out, errs}
	}()
	base := "http://" + addr
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		grab("GET "+path, string(b))
		return string(b)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/api/v1/runs")
		if err == nil {
			var m struct {
				Runs []struct {
					Schedule string `json:"schedule"`
					Outcome  string `json:"outcome"`
					Rows     int64  `json:"rows"`
				} `json:"runs"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			exported := 0
			for _, r := range m.Runs {
				if r.Outcome == "exported" && r.Rows == 40 {
					exported++
				}
			}
			if exported == len(names) {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			r := <-done
			t.Fatalf("the four schedules did not export: %v\n%s\n%s", err, r.out, r.errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	metrics := get("/metrics")
	if !strings.Contains(metrics, `exportd_`) || !strings.Contains(metrics, `rows-by-oauth`) {
		t.Errorf("/metrics lacks exportd's series of the schedules:\n%.2000s", metrics)
	}
	get("/api/v1/runs")
	get("/api/v1/schedules")
	for _, n := range names {
		name := "rows-" + strings.ReplaceAll(n, "_", "-")
		get("/api/v1/schedules/" + name)
		get("/api/v1/schedules/" + name + "/windows")
		get("/schedules/" + name)
	}
	if page := get("/"); !strings.Contains(page, "rows-by-key-pair") {
		t.Errorf("status page lacks the schedules:\n%.2000s", page)
	}
	stop()
	r := <-done
	if r.code != 0 {
		t.Errorf("serve: exit %d\n%s", r.code, r.errs)
	}
	grab("serve output and logs", r.out+r.errs)
	if !strings.Contains(r.errs, `"msg":"exported"`) {
		t.Errorf("serve logs lack the exports:\n%s", r.errs)
	}
	for p, c := range archived(t, filepath.Join(dir, "archive"), filepath.Join(dir, "state")) {
		grab(p, c)
	}

	all := seen.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			i := strings.Index(all, s)
			t.Errorf("an output shows the secret %.8q...: %q", s, all[max(0, i-200):i])
		}
	}
}
