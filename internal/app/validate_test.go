package app_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestValidateReportsEveryProblemLocated breaks two schedules in two ways
// the workbook compiler finds (a formula typo, SQL that is not one SELECT)
// and one the config loader finds, and checks that `exportd validate`
// reports all of them at once, each at file:line:col, and exits 1.
func TestValidateReportsEveryProblemLocated(t *testing.T) {
	t.Setenv("EXPORTD_TOKEN", "")
	cfg := demoDir(t)
	dir := filepath.Join(filepath.Dir(cfg), "..", "schedules")
	p := filepath.Join(dir, "daily-login-activity.yaml")
	data, _ := os.ReadFile(p)
	bad := strings.Replace(string(data), `[Event Status] = "FAILURE"`, `[Event Stauts] = "FAILURE"`, 1)
	if bad == string(data) {
		t.Fatal("could not break the formula")
	}
	os.WriteFile(p, []byte(bad), 0o644)
	os.WriteFile(filepath.Join(dir, "two-statements.yaml"), []byte(`name: two-statements
source: demo
cron: "0 6 * * *"
element:
  from: {sql: "SELECT * FROM AUDIT_LOGS; DROP TABLE AUDIT_LOGS"}
destination: {integration: local}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "bad-cron.yaml"), []byte(`name: bad-cron
source: demo
cron: "0 25 * * *"
element:
  from: {table: AUDIT_LOGS}
destination: {integration: local}
`), 0o644)
	out, code := runCLI(t, cfg, "validate")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`schedules/daily-login-activity\.yaml:\d+:\d+: export "daily-login-activity": element\.columns\[1\]\.formula: column \d+: unknown column \[Event Stauts\]; did you mean \[Event Status\]\?`),
		regexp.MustCompile(`schedules/two-statements\.yaml:5:\d+: export "two-statements": element\.from\.sql: .*`),
		regexp.MustCompile(`schedules/bad-cron\.yaml:3:\d+: export "bad-cron": cron: .*`),
	} {
		if !want.MatchString(out) {
			t.Errorf("output lacks %s\n%s", want, out)
		}
	}
}
