package folderstore_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/folderstore"
	"github.com/exportd/exportd/internal/domain"
)

// TestSyncsPerCommit counts the fsyncs of one unit's commit protocol: the
// object, the head and the manifest are fsynced (file and folder each),
// claims are not.
func TestSyncsPerCommit(t *testing.T) {
	ctx := t.Context()
	s, err := folderstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := &archive.Archive{Store: s, Instance: "test:1"}
	tpl, err := domain.ParseFilename("", true)
	if err != nil {
		t.Fatal(err)
	}
	l := domain.Layout{Schedule: "daily", Location: time.UTC, Filename: tpl, Ext: ".csv"}
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 2 {
		u := domain.Unit{Schedule: "daily", Logical: start.AddDate(0, 0, i+1), Window: domain.Window{Start: start.AddDate(0, 0, i), End: start.AddDate(0, 0, i+1)}}
		before := s.Syncs()
		c, err := a.Claim(ctx, l, u, 1)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := l.ObjectKey(u, 1)
		m := &archive.Manifest{Kind: domain.KindExported, Schedule: "daily", UnitID: u.ID(), LogicalTime: u.Logical,
			Window: &domain.Window{Start: u.Window.Start, End: u.Window.End}, Objects: []archive.Object{{Key: key}}}
		if err := c.Record(ctx, m); err != nil {
			t.Fatal(err)
		}
		if claimSyncs := s.Syncs() - before; claimSyncs != 0 {
			t.Errorf("window %d: claim and record made %d fsyncs, want 0", i, claimSyncs)
		}
		mark := s.Syncs()
		if _, err := s.Put(ctx, key, bytes.NewReader([]byte("a\n1\n")), archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := s.Syncs() - mark; got != 2 {
			t.Errorf("window %d: the object took %d fsyncs, want 2 (file, folder)", i, got)
		}
		mark = s.Syncs()
		if _, _, err := a.Commit(ctx, c, m, archive.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		// Head (file, folder) and manifest (file, folder); the claim's
		// done mark adds none.
		if got := s.Syncs() - mark; got != 4 {
			t.Errorf("window %d: the commit took %d fsyncs, want 4", i, got)
		}
	}
}

// TestTornClaimTakenOver: a claim cut short by a crash (claims are not
// fsynced, so the host may come back with an empty file) does not block its
// unit; the next run takes it over.
func TestTornClaimTakenOver(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	s, err := folderstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	a := &archive.Archive{Store: s, Instance: "test:2"}
	tpl, err := domain.ParseFilename("", true)
	if err != nil {
		t.Fatal(err)
	}
	l := domain.Layout{Schedule: "daily", Location: time.UTC, Filename: tpl, Ext: ".csv"}
	start := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	u := domain.Unit{Schedule: "daily", Logical: start.AddDate(0, 0, 1), Window: domain.Window{Start: start, End: start.AddDate(0, 0, 1)}}
	p := filepath.Join(root, filepath.FromSlash(l.ClaimKey(u)))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := a.Claim(ctx, l, u, 1)
	if err != nil {
		t.Fatalf("claim over a torn claim: %v", err)
	}
	if c.Previous() == nil {
		t.Error("the torn claim was not reported as taken over")
	}
	if _, err := a.Claim(ctx, l, u, 1); err == nil {
		t.Error("a second claim of the unit succeeded while the first is live")
	}
}
