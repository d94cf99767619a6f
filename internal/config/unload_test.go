package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnloadWarehouse: a snowflake schedule into an s3 integration that
// names its Snowflake storage integration loads with unload: warehouse.
func TestUnloadWarehouse(t *testing.T) {
	dir := baseTree(t)
	cfgPath := filepath.Join(dir, "exportd.yaml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), "    object_lock: {mode: COMPLIANCE, retain: 5y}\n",
		"    object_lock: {mode: COMPLIANCE, retain: 5y}\n    snowflake_integration: AUDIT_S3\n", 1))
	if err := os.WriteFile(cfgPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sched := `name: logins
source: warehouse
cron: "0 6 * * *"
unload: warehouse
element:
  from: {table: AUDIT_LOGS}
destination:
  integration: audit_archive
  uri: s3://acme-audit/audit/logins/
`
	if err := os.WriteFile(filepath.Join(dir, "schedules", "logins.yaml"), []byte(sched), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(cfgPath, LoadOptions{LookupEnv: lookupIn(testEnv)})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Schedule("logins")
	if s.Unload != UnloadWarehouse || s.Destination.IntegrationConfig.S3.SnowflakeIntegration != "AUDIT_S3" {
		t.Fatalf("unload %q, integration %q", s.Unload, s.Destination.IntegrationConfig.S3.SnowflakeIntegration)
	}
}
