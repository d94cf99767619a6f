package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
)

// BundleFile names a bundle's description at its root.
const BundleFile = "exportd-bundle.json"

// BundleInfo is what a bundle says of itself: the period and schedules it
// holds the objects of, and the instant it was made. Verify of a bundle
// takes them as its --from, --to and --as-of.
type BundleInfo struct {
	FormatVersion int       `json:"format_version"`
	Source        string    `json:"source"`
	Prefix        string    `json:"prefix"`
	Schedules     []string  `json:"schedules,omitempty"`
	From          time.Time `json:"from,omitzero"`
	To            time.Time `json:"to,omitzero"`
	AsOf          time.Time `json:"as_of"`
}

// ReadBundleInfo reads a bundle's description; ok is false for a folder
// that is not a bundle.
func ReadBundleInfo(dir string) (BundleInfo, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if errors.Is(err, os.ErrNotExist) {
		return BundleInfo{}, false, nil
	}
	if err != nil {
		return BundleInfo{}, false, err
	}
	var b BundleInfo
	if err := json.Unmarshal(data, &b); err != nil {
		return BundleInfo{}, false, fmt.Errorf("%s: %w", BundleFile, err)
	}
	return b, true, nil
}

// Bundle writes an evidence package into dir (which must not exist): the
// archive's records under the same keys (every manifest, head, definition
// record, digest, public key and hold record, so that chains and digests
// verify whole), the objects of the units overlapping [o.From, o.To), the
// verify report as JSON, the bucket's lock settings, an HTML report with a
// completeness table per schedule and month, and a README for checking it
// by hand. exportd archive verify DIR checks it offline.
func Bundle(ctx context.Context, r archive.Reader, o Options, dir string) (*Report, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("%s exists; a bundle goes into a new folder", dir)
	}
	rep, err := Verify(ctx, r, o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var keys []string
	for _, d := range []string{domain.DefinitionsDir, domain.HeadDir, archive.DailyDir, domain.DigestsDir, domain.KeysDir, archive.HoldsDir} {
		infos, err := (&verifier{r: r}).list(ctx, archive.PrefixKey(o.Prefix, d)+"/")
		if err != nil {
			return nil, err
		}
		for _, oi := range infos {
			keys = append(keys, oi.Key)
		}
	}
	for _, s := range rep.Schedules {
		if len(o.Schedules) > 0 && !slices.Contains(o.Schedules, s.Schedule) {
			continue
		}
		rp := &archive.Report{}
		chain, err := archive.Chain(ctx, r, domain.Layout{Prefix: o.Prefix, Schedule: s.Schedule}, rp)
		if err != nil {
			return nil, err
		}
		for _, e := range chain {
			keys = append(keys, e.Key)
			if overlaps(e.Manifest, o.From, o.To) {
				for _, ob := range e.Manifest.Objects {
					keys = append(keys, ob.Key)
				}
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Parallel, 4))
	for _, k := range keys {
		g.Go(func() error { return copyKey(gctx, r, k, dir) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	info := BundleInfo{FormatVersion: archive.FormatVersion, Source: o.Location, Prefix: o.Prefix, Schedules: o.Schedules, From: o.From, To: o.To, AsOf: rep.AsOf}
	write := func(name string, v any) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), append(data, '\n'), 0o644)
	}
	if err := write(BundleFile, info); err != nil {
		return nil, err
	}
	if err := write("verify-report.json", rep); err != nil {
		return nil, err
	}
	if rep.BucketLock != nil {
		if err := write("lock-settings.json", rep.BucketLock); err != nil {
			return nil, err
		}
	}
	if err := writeHTML(filepath.Join(dir, "report.html"), rep, info); err != nil {
		return nil, err
	}
	readme := fmt.Sprintf(`# exportd evidence bundle

From %s, prefix %q, as of %s.

- %s: what this bundle holds (period, schedules).
- verify-report.json: exportd archive verify's report when the bundle was made (findings: %d).
- report.html: completeness per schedule and month.
- lock-settings.json (S3 only): the bucket's Object Lock configuration.
- The archive's records under their own keys: _definitions/, _head/, _daily/, _digests/, _keys/, _holds/, every
  manifest of each schedule, and the objects of the period.

Check it with exportd: exportd archive verify . --public-key <the key you were given>
Check it by hand: see "Verifying by hand" in exportd's docs/ARCHIVE.md (sha256sum, sed, openssl).
`, info.Source, info.Prefix, info.AsOf.Format(time.RFC3339), BundleFile, len(rep.Findings))
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte(readme), 0o644); err != nil {
		return nil, err
	}
	return rep, nil
}

func copyKey(ctx context.Context, r archive.Reader, key, dir string) error {
	if err := domain.ValidateKey(key); err != nil {
		return err
	}
	rc, _, err := r.Get(ctx, key)
	if errors.Is(err, archive.ErrNotFound) {
		return nil // the report names what is gone
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("copy %s: %w", key, err)
	}
	return f.Close()
}

var reportHTML = template.Must(template.New("r").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>exportd evidence bundle</title>
<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}.bad{background:#fcc}</style></head><body>
<h1>exportd evidence bundle</h1>
<p>Source {{.Info.Source}}, prefix {{.Info.Prefix}}, as of {{.Report.AsOf}}.
Verification: {{if .Report.OK}}<b>VERIFIED</b>{{else}}<b class="bad">FAILED: {{len .Report.Findings}} finding(s)</b>{{end}};
signatures: {{.Report.Trust}}.</p>
{{range .Report.Findings}}<p class="bad">{{.}}</p>{{end}}
<h2>Completeness per schedule and month</h2>
<table><tr><th>schedule</th><th>month</th><th>windows archived</th><th>missing</th></tr>
{{range .Rows}}<tr{{if .Missing}} class="bad"{{end}}><td>{{.Schedule}}</td><td>{{.Month}}</td><td>{{.Present}}</td><td>{{.Missing}}</td></tr>
{{end}}</table>
<h2>Schedules</h2>
<table><tr><th>schedule</th><th>definition</th><th>head</th><th>windows</th><th>objects</th><th>bytes</th><th>rows</th><th>legal holds</th></tr>
{{range .Report.Schedules}}<tr><td>{{.Schedule}}</td><td>v{{.Definition}}</td><td>{{.Head}}</td><td>{{.Present}}/{{.Expected}}</td><td>{{.Objects}}</td><td>{{.Bytes}}</td><td>{{.Rows}}</td><td>{{.Held}}</td></tr>
{{end}}</table></body></html>
`))

type monthRow struct {
	Schedule, Month string
	Present         int
	Missing         int
}

func writeHTML(file string, rep *Report, info BundleInfo) error {
	var rows []monthRow
	for _, s := range rep.Schedules {
		for _, m := range s.Months {
			rows = append(rows, monthRow{Schedule: s.Schedule, Month: m.Month, Present: m.Present, Missing: m.Expected - m.Present})
		}
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := reportHTML.Execute(f, struct {
		Report *Report
		Info   BundleInfo
		Rows   []monthRow
	}{rep, info, rows}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
