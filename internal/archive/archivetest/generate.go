package archivetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// GenSchedule is one schedule of a generated archive.
type GenSchedule struct {
	Name string
	// Every is "day" or "hour" (UTC windows, no lag).
	Every string
	// Skip names the windows (by index, oldest first) recorded as skipped
	// by the condition instead of exported; SkipWithoutReason records them
	// with no reason (a writer bug a verifier must catch).
	Skip              []int
	SkipWithoutReason bool
}

// GenOptions shape a generated archive.
type GenOptions struct {
	Prefix    string
	Schedules []GenSchedule
	// Start is the start of the first window (a UTC midnight).
	Start time.Time
	// Days of windows and daily digests.
	Days int
	// Key, when set, signs a digest of every commit and every daily digest,
	// and its public key is published under _keys/.
	Key ed25519.PrivateKey
	// Retain, when > 0, locks objects, manifests and records until the
	// window end plus Retain in Mode (the store must lock objects).
	Retain time.Duration
	Mode   string
	// NoRetention names one object key suffix written without retention
	// (a store misconfigured for one write).
	NoRetention string
	// Rows per object.
	Rows int
	// DefinitionLockedOnce: with Retain, the definition record keeps the
	// retention it was written with instead of being extended with every
	// commit as the daemon does (a writer that would let the record go
	// before the manifests naming it).
	DefinitionLockedOnce bool
}

// Generated describes what Generate wrote.
type Generated struct {
	// AsOf is two hours (a verifier's default grace) after the last
	// window closed and the last daily digest's day began.
	AsOf time.Time
	// Windows per schedule, oldest first; Manifests and Objects their keys.
	Windows   map[string][]domain.Window
	Manifests map[string][]string
	Objects   map[string][]string
	// Daily lists the daily digest keys, oldest first.
	Daily []string
}

// Generate writes an archive as a daemon would have over opts.Days days:
// the definition record of each schedule when it first appears; then, each
// day, the windows of the day before (claim, object, manifest naming its
// definition version, per-commit digest when signing) and, ten minutes
// after midnight UTC, the daily digest. It is what the verification tests
// tamper with and what the benchmark verifies.
func Generate(ctx context.Context, st archive.Store, o GenOptions) (*Generated, error) {
	if o.Rows == 0 {
		o.Rows = 3
	}
	now := o.Start
	a := &archive.Archive{Store: st, Instance: "generator:1", Now: func() time.Time { return now }}
	g := &Generated{Windows: map[string][]domain.Window{}, Manifests: map[string][]string{}, Objects: map[string][]string{}}
	tmpl, err := domain.ParseFilename(domain.DefaultFilename, true)
	if err != nil {
		return nil, err
	}
	if o.Key != nil {
		if _, err := a.PublishKey(ctx, o.Prefix, o.Key); err != nil {
			return nil, err
		}
	}
	lock := func(until time.Time) archive.PutOptions {
		if o.Retain <= 0 {
			return archive.PutOptions{}
		}
		return archive.PutOptions{RetainUntil: until.Add(o.Retain).UTC()}
	}
	refs := map[string]archive.DefinitionRef{}
	layouts := map[string]domain.Layout{}
	var names []string
	for _, s := range o.Schedules {
		l := domain.Layout{Prefix: o.Prefix, Schedule: s.Name, Location: time.UTC, Filename: tmpl, Ext: ".csv"}
		layouts[s.Name] = l
		names = append(names, s.Name)
		ref, err := a.EnsureDefinition(ctx, l, GenSpec(s, o), lock(o.Start))
		if err != nil {
			return nil, err
		}
		refs[s.Name] = ref
	}
	index := map[string]int{}
	for d := 1; d <= o.Days; d++ {
		dayEnd := o.Start.Add(time.Duration(d) * 24 * time.Hour)
		for _, s := range o.Schedules {
			step := 24 * time.Hour
			if s.Every == "hour" {
				step = time.Hour
			}
			l := layouts[s.Name]
			for ws := dayEnd.Add(-24 * time.Hour); ws.Before(dayEnd); ws = ws.Add(step) {
				w := domain.Window{Start: ws, End: ws.Add(step)}
				now = w.End.Add(5 * time.Minute)
				i := index[s.Name]
				index[s.Name]++
				skip := false
				for _, k := range s.Skip {
					skip = skip || k == i
				}
				if o.Retain > 0 && !o.DefinitionLockedOnce {
					// As the daemon does before each commit: the record
					// stays locked as long as the manifests naming it.
					if refs[s.Name], err = a.EnsureDefinition(ctx, l, GenSpec(s, o), lock(w.End)); err != nil {
						return nil, err
					}
				}
				mk, ok, err := genUnit(ctx, a, l, s, o, w, refs[s.Name], skip, lock(w.End))
				if err != nil {
					return nil, err
				}
				g.Windows[s.Name] = append(g.Windows[s.Name], w)
				g.Manifests[s.Name] = append(g.Manifests[s.Name], mk)
				if ok != "" {
					g.Objects[s.Name] = append(g.Objects[s.Name], ok)
				}
			}
		}
		now = dayEnd.Add(10 * time.Minute)
		dk, err := a.WriteDailyDigest(ctx, o.Prefix, now, names, o.Key, archive.PutOptions{})
		if err != nil {
			return nil, err
		}
		g.Daily = append(g.Daily, dk)
	}
	g.AsOf = o.Start.Add(time.Duration(o.Days)*24*time.Hour + 2*time.Hour)
	return g, nil
}

// GenSpec is the definition a generated schedule is recorded with.
func GenSpec(s GenSchedule, o GenOptions) archive.DefinitionSpec {
	cron := "0 0 * * *"
	if s.Every == "hour" {
		cron = "0 * * * *"
	}
	spec := archive.DefinitionSpec{
		Cron: cron, Timezone: "UTC",
		Window:    &archive.DefinitionWindow{Every: s.Every, Column: "Request Time", Lag: "0s", Start: o.Start},
		CatchUp:   "all",
		Condition: "always",
		Element:   json.RawMessage(`{"columns":[{"name":"Request Time"},{"name":"User"},{"name":"Status"}]}`),
		SQL: map[string]string{
			"duckdb":    `SELECT "Request Time", "User", "Status" FROM audit WHERE "Request Time" >= $1 AND "Request Time" < $2`,
			"snowflake": `SELECT "Request Time", "User", "Status" FROM audit WHERE "Request Time" >= ? AND "Request Time" < ?`,
		},
		Source:      archive.Source{Name: "audit", Dialect: "duckdb"},
		Destination: archive.DefinitionDestination{Prefix: o.Prefix, Filename: domain.DefaultFilename, Ext: ".csv"},
	}
	if len(s.Skip) > 0 {
		spec.Condition = "if_data"
	}
	if o.Retain > 0 {
		spec.Retention = &archive.Retention{Mode: o.Mode, Retain: o.Retain.String()}
	}
	return spec
}

// genUnit commits one window: its object (unless skipped), its manifest
// and, when signing, its per-commit digest.
func genUnit(ctx context.Context, a *archive.Archive, l domain.Layout, s GenSchedule, o GenOptions, w domain.Window, ref archive.DefinitionRef, skip bool, opts archive.PutOptions) (manifestKey, objectKey string, err error) {
	u := domain.Unit{Schedule: s.Name, Logical: w.End, Window: w}
	c, err := a.Claim(ctx, l, u, 1)
	if err != nil {
		return "", "", err
	}
	m := &archive.Manifest{
		Kind: domain.KindExported, Schedule: s.Name, UnitID: u.ID(), LogicalTime: w.End, Window: &w,
		Timezone: "UTC", Revision: 1,
		Run:        archive.RunInfo{StartedAt: w.End.Add(time.Minute), FinishedAt: w.End.Add(2 * time.Minute), Attempt: 1, Instance: a.Instance, ExportdVersion: "test"},
		Source:     archive.Source{Name: "audit", Dialect: "duckdb"},
		Definition: &ref,
		Query: &archive.Query{SQL: GenSpec(s, o).SQL["duckdb"], Params: []archive.Param{
			{Name: "$1", Type: "TIMESTAMPTZ", Value: w.Start.Format(time.RFC3339)},
			{Name: "$2", Type: "TIMESTAMPTZ", Value: w.End.Format(time.RFC3339)}}},
		Columns: []archive.Column{{Name: "Request Time", Type: "TIMESTAMPTZ"}, {Name: "User", Type: "VARCHAR"}, {Name: "Status", Type: "VARCHAR"}},
		Objects: []archive.Object{},
	}
	if skip {
		m.Kind, m.Reason = domain.KindSkipped, "condition if_data: the element has 0 rows"
		if s.SkipWithoutReason {
			m.Reason = ""
		}
	} else {
		key, err := l.ObjectKey(u, 1)
		if err != nil {
			return "", "", err
		}
		var b bytes.Buffer
		b.WriteString("Request Time,User,Status\n")
		for r := 0; r < o.Rows; r++ {
			status := "ok"
			if r%3 == 2 {
				status = "failed"
			}
			fmt.Fprintf(&b, "%s,user-%d,%s\n", w.Start.Add(time.Duration(r)*time.Second).Format(time.RFC3339), r, status)
		}
		po := opts
		po.ContentType = "text/csv; charset=utf-8; header=present"
		if o.NoRetention != "" && strings.HasSuffix(key, o.NoRetention) {
			po.RetainUntil = time.Time{}
		}
		if _, err := a.Store.Put(ctx, key, bytes.NewReader(b.Bytes()), po); err != nil {
			return "", "", err
		}
		m.Objects = []archive.Object{{Key: key, Bytes: int64(b.Len()), Rows: int64(o.Rows), SHA256: archive.SHA256Hex(b.Bytes()), ContentType: po.ContentType}}
		objectKey = key
	}
	mk, sum, err := a.Commit(ctx, c, m, opts)
	if err != nil {
		return "", "", err
	}
	if o.Key != nil {
		if err := a.WriteDigest(ctx, l, o.Key, m.Sequence, mk, sum, opts); err != nil {
			return "", "", err
		}
	}
	return mk, objectKey, nil
}
