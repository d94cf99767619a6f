package archive_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
)

func newArchive(t *testing.T, now *time.Time) *archive.Archive {
	st, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &archive.Archive{Store: st, Instance: "test:1", Now: func() time.Time { return *now }}
}

// TestEnsureDefinition: version 1 when a schedule first appears, nothing
// new while it is unchanged, version 2 linking version 1 when it changes;
// records are create-only.
func TestEnsureDefinition(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a := newArchive(t, &now)
	ctx := t.Context()
	l := domain.Layout{Prefix: "p", Schedule: "logins"}
	spec := archive.DefinitionSpec{Cron: "0 6 * * *", Timezone: "Europe/Paris", CatchUp: "all", Condition: "always",
		Element: json.RawMessage(`{"from":{"table":"T"}}`), SQL: map[string]string{"duckdb": "SELECT 1"},
		Source: archive.Source{Name: "demo", Dialect: "duckdb"}, Window: &archive.DefinitionWindow{Every: "day", Lag: "2h0m0s"}}
	r1, err := a.EnsureDefinition(ctx, l, spec, archive.PutOptions{})
	if err != nil || r1.Version != 1 || r1.Key != "p/_definitions/logins/v000001.json" {
		t.Fatalf("first: %+v %v", r1, err)
	}
	again, err := a.EnsureDefinition(ctx, l, spec, archive.PutOptions{})
	if err != nil || again != r1 {
		t.Fatalf("unchanged: %+v, want %+v (%v)", again, r1, err)
	}
	spec.Cron = "0 7 * * *"
	r2, err := a.EnsureDefinition(ctx, l, spec, archive.PutOptions{})
	if err != nil || r2.Version != 2 {
		t.Fatalf("changed: %+v %v", r2, err)
	}
	data, _, err := a.Store.Read(ctx, r2.Key)
	if err != nil || archive.SHA256Hex(data) != r2.SHA256 {
		t.Fatal(err)
	}
	d, err := archive.ParseDefinition(data)
	if err != nil || d.Prev == nil || d.Prev.Key != r1.Key || d.Prev.SHA256 != r1.SHA256 || d.Cron != "0 7 * * *" {
		t.Fatalf("version 2: %+v %v", d, err)
	}
	if _, err := a.Store.Put(ctx, r1.Key, bytes.NewReader([]byte("{}")), archive.PutOptions{}); !errors.Is(err, archive.ErrExists) {
		t.Fatalf("overwriting a record: %v", err)
	}
	// A record never holds a field it does not know (a DSN included).
	if _, err := archive.ParseDefinition(bytes.Replace(data, []byte(`"cron"`), []byte(`"dsn": "x", "cron"`), 1)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// TestWriteDailyDigest: one digest per UTC day whatever the number of
// calls, each linking the previous day's; heads and definitions of every
// schedule; a signature over the exact bytes, written again by the next
// call if it is missing.
func TestWriteDailyDigest(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 5, 0, 0, time.UTC)
	a := newArchive(t, &now)
	ctx := t.Context()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := a.EnsureDefinition(ctx, domain.Layout{Schedule: "logins"}, archive.DefinitionSpec{Cron: "@daily", Timezone: "UTC"}, archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	k1, err := a.WriteDailyDigest(ctx, "", now, []string{"logins", "new-one"}, key, archive.PutOptions{})
	if err != nil || k1 != "_daily/2026-12-01.json" {
		t.Fatalf("%s %v", k1, err)
	}
	d1, _, _ := a.Store.Read(ctx, k1)
	now = now.Add(20 * time.Hour)
	if k, err := a.WriteDailyDigest(ctx, "", now, nil, key, archive.PutOptions{}); err != nil || k != k1 {
		t.Fatalf("same day again: %s %v", k, err)
	}
	if again, _, _ := a.Store.Read(ctx, k1); !bytes.Equal(again, d1) {
		t.Fatal("the day's digest changed")
	}
	now = now.Add(30 * time.Hour) // 2026-12-02 skipped: the daemon was down
	k3, err := a.WriteDailyDigest(ctx, "", now, nil, key, archive.PutOptions{})
	if err != nil || k3 != "_daily/2026-12-03.json" {
		t.Fatalf("%s %v", k3, err)
	}
	d3, _, _ := a.Store.Read(ctx, k3)
	dd, err := archive.ParseDailyDigest(d3)
	if err != nil || dd.Prev == nil || dd.Prev.Key != k1 || dd.Prev.SHA256 != archive.SHA256Hex(d1) || len(dd.Schedules) != 1 ||
		dd.Schedules[0].Schedule != "logins" || dd.Schedules[0].Definition == nil || dd.KeyID != archive.KeyID(key.Public().(ed25519.PublicKey)) {
		t.Fatalf("%+v %v", dd, err)
	}
	d1p, _ := archive.ParseDailyDigest(d1)
	if len(d1p.Schedules) != 2 || d1p.Schedules[0].Schedule != "logins" || d1p.Schedules[1].Schedule != "new-one" || d1p.Schedules[1].Sequence != 0 {
		t.Fatalf("first digest: %+v", d1p.Schedules)
	}
	sig, _, err := a.Store.Read(ctx, archive.SignatureKey(k3))
	if err != nil || !ed25519.Verify(key.Public().(ed25519.PublicKey), d3, sig) {
		t.Fatalf("signature: %v", err)
	}
	// A writer that died between the digest and its signature: the next
	// call signs it.
	_, etag, _ := a.Store.Read(ctx, archive.SignatureKey(k1))
	if err := a.Store.Delete(ctx, archive.SignatureKey(k1), etag); err != nil {
		t.Fatal(err)
	}
	now = time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	if _, err := a.WriteDailyDigest(ctx, "", now, nil, key, archive.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if sig, _, err := a.Store.Read(ctx, archive.SignatureKey(k1)); err != nil || !ed25519.Verify(key.Public().(ed25519.PublicKey), d1, sig) {
		t.Fatalf("re-signed: %v", err)
	}
}
