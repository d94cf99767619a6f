package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSecretsNeverShown loads a config where every kind of secret is set
// and prints it every way a log line, an error, an API answer or `config
// show` could: no value may appear.
func TestSecretsNeverShown(t *testing.T) {
	env := map[string]string{
		"SNOWFLAKE_PASSWORD": "sf-pw-Zq8v7Xr2",
		"EXT_ID":             "ext-id-Kd93mLq0",
		"EXPORTD_TOKEN":      "api-token-Wp4nB6s1",
		"KEY_PASSPHRASE":     "passphrase-Tg6yU1i3",
		"AWS_KEY_ID":         "AKIA-Rf4eD3wS",
		"AWS_SECRET":         "aws-secret-Mn8bV5c7",
	}
	const keyFile = "pem-body-Lk2jH9g8"
	tr := newTree(t)
	tr.cfg("integrations:\n", "  keyed:\n    type: snowflake\n    account: a\n    user: u\n    database: d\n"+
		"    private_key: file:secrets/sf.p8\n    private_key_passphrase: ${KEY_PASSPHRASE}\nintegrations:\n")
	tr.cfg("    region: us-east-1\n", "    region: us-east-1\n    access_key_id: ${AWS_KEY_ID}\n    secret_access_key: ${AWS_SECRET}\n")
	tr.files["secrets/sf.p8"] = keyFile + "\n"
	dir := tr.write()
	cfg, err := Load(filepath.Join(dir, "exportd.yaml"), LoadOptions{LookupEnv: lookupIn(env)})
	if err != nil {
		t.Fatal(err)
	}
	values := []string{keyFile}
	for _, v := range env {
		values = append(values, v)
	}
	// The values are really there, behind Reveal.
	if got := cfg.Sources["keyed"].Snowflake.PrivateKey.Reveal(); got != keyFile {
		t.Fatalf("private key = %q", got)
	}
	if got := cfg.Integrations["audit_archive"].S3.SecretAccessKey.Reveal(); got != env["AWS_SECRET"] {
		t.Fatalf("secret access key = %q", got)
	}

	var out bytes.Buffer
	show := func(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }
	show("%v %+v %#v", cfg, cfg, cfg)
	show("%v %+v %#v", *cfg, *cfg, *cfg)
	for _, s := range cfg.Sources {
		show("%v %+v %#v %s", *s, *s, *s, s.Snowflake)
	}
	for _, ig := range cfg.Integrations {
		show("%v %+v %#v %s", *ig, *ig, *ig, ig.S3)
	}
	show("%v %+v %#v", cfg.Server, cfg.Server, cfg.Server)
	tok := cfg.Server.Token
	show("%s %q %x %X %d %v %+v %#v %T", tok, tok, tok, tok, tok, &tok, tok, tok, tok)
	show("%s %s", tok.String(), tok.GoString())
	// Held in an unexported field, fmt reflects instead of calling Format.
	type holder struct{ s Secret }
	show("%v %+v %#v", holder{tok}, holder{tok}, holder{tok})
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	show("%s", j)
	y, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	show("%s", y)
	ym, err := yaml.Marshal(cfg.Sources["keyed"])
	if err != nil {
		t.Fatal(err)
	}
	show("%s", ym)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("loaded", "token", tok, "server", cfg.Server)
	slog.New(slog.NewTextHandler(&out, nil)).Info("loaded", "token", tok)

	for _, v := range values {
		if strings.Contains(out.String(), v) {
			t.Errorf("a secret value (%.6s…) was printed", v)
		}
	}
	for _, want := range []string{
		`"token":"[redacted]"`,             // JSON
		`token: '[redacted]'`,              // Redacted()
		`private_key: '[redacted]'`,        // yaml.Marshal
		`token=[redacted]`,                 // slog text
		"[redacted] [redacted] [redacted]", // %s %q %x
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

// TestSecretErrorsNameNoValue: resolution errors name the variable or the
// path; the literal-value error does not repeat the literal.
func TestSecretErrorsNameNoValue(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "dir-not-file")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref, want string
	}{
		{"${NOPE}", "environment variable NOPE is not set; export it before starting exportd"},
		{"${EMPTY}", "environment variable EMPTY is set but empty"},
		{"file:" + p, "cannot read secret file " + p + ": is a directory"},
		{"file:missing", "cannot read secret file " + filepath.Join(dir, "missing") + ": no such file or directory"},
	} {
		s := Secret{ref: c.ref}
		err := s.resolve(lookupIn(map[string]string{"EMPTY": ""}), dir)
		if err == nil || err.Error() != c.want {
			t.Errorf("resolve(%s) = %v, want %s", c.ref, err, c.want)
		}
		if s.IsSet() {
			t.Errorf("resolve(%s) set a value", c.ref)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), maxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Secret{ref: "file:" + big}
	if err := s.resolve(lookupIn(nil), dir); err == nil || !strings.Contains(err.Error(), "larger than 64KiB") {
		t.Errorf("big file: %v", err)
	}

	for _, literal := range []string{"hunter2", "$HUNTER2", "${lower-case}", "pre${X}", "file:"} {
		var s Secret
		err := yaml.Unmarshal([]byte("v: "+literal), &struct {
			V *Secret `yaml:"v"`
		}{&s})
		if err == nil {
			t.Errorf("%q accepted as a secret reference", literal)
			continue
		}
		if strings.Contains(err.Error(), literal) {
			t.Errorf("error repeats the literal %q: %v", literal, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	dir := baseTree(t)
	overlay(t, "testdata/good", dir)
	cfg := mustLoad(t, dir, LoadOptions{})
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(out), dir+string(filepath.Separator), "")
	for _, want := range []string{
		"# effective configuration of ",
		"  demo:\n    type: duckdb\n    timezone: UTC\n    retention: 90d\n",
		"    password: '[redacted]'\n",
		"    part_size: 16MiB\n",
		"  shutdown_timeout: 1m\n",
		"  - name: audit-rows\n",
		"    file: schedules/audit-rows.yaml\n",
		"    recheck: 3d\n",
		"      uri: s3://acme-audit/audit/rows/\n",
		"  - name: login-snapshot\n",
		"    catch_up: latest\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Redacted() lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("Redacted():\n%s", text)
	}
}
