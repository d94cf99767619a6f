package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/export"
)

// TestSchemaChangeFailsOrWarns: when an element's output columns change
// between two runs, on_schema_change: fail (the default) refuses with both
// column lists, warn goes on.
func TestSchemaChangeFailsOrWarns(t *testing.T) {
	cfg := demoDir(t)
	ctx := context.Background()
	a := load(t, cfg)
	if _, err := a.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(cfg), "..", "schedules", "daily-login-activity.yaml")
	data, _ := os.ReadFile(p)
	changed := strings.Replace(string(data), "  order_by:", `    - name: Total
      formula: Count()
  order_by:`, 1)
	os.WriteFile(p, []byte(changed), 0o644)
	a2 := load(t, cfg)
	_, err := a2.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at.Add(24 * time.Hour)})
	if !errors.Is(err, export.ErrSchemaChanged) ||
		!strings.Contains(err.Error(), "was [Day of Request Time DATE, Success BIGINT, Failure BIGINT]") ||
		!strings.Contains(err.Error(), "now [Day of Request Time DATE, Success BIGINT, Failure BIGINT, Total BIGINT]") {
		t.Fatalf("changed columns with on_schema_change fail: %v", err)
	}
	os.WriteFile(p, []byte("on_schema_change: warn\n"+changed), 0o644)
	a3 := load(t, cfg)
	if _, err := a3.RunOnce(ctx, app.RunRequest{Schedule: "daily-login-activity", At: at.Add(24 * time.Hour)}); err != nil {
		t.Fatalf("with warn: %v", err)
	}
}
