package audit

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
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

// Bundle writes an evidence package into out, a new folder, or a zip file
// when out ends in .zip: the archive's records under the same keys (every
// manifest, head, definition record, digest, public key and hold record,
// so that chains and digests verify whole), the objects of the units
// overlapping [o.From, o.To), the verify report as JSON, the bucket's lock
// settings, an HTML report with a completeness table per schedule and
// month, and a README for checking it by hand. exportd archive verify OUT
// checks it offline (a zip is read in place). A zip is deterministic: its
// entries are sorted, stored uncompressed, dated the bundle's as-of and
// read only; it is written to a temporary name and renamed when complete.
func Bundle(ctx context.Context, r archive.Reader, o Options, out string) (*Report, error) {
	if _, err := os.Lstat(out); err == nil {
		return nil, fmt.Errorf("%s exists; a bundle goes into a new folder or file", out)
	}
	rep, err := Verify(ctx, r, o)
	if err != nil {
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
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		if err := domain.ValidateKey(k); err != nil {
			return nil, err
		}
	}
	info := BundleInfo{FormatVersion: archive.FormatVersion, Source: o.Location, Prefix: o.Prefix, Schedules: o.Schedules, From: o.From, To: o.To, AsOf: rep.AsOf}
	meta, err := bundleMeta(rep, info, isZip(out))
	if err != nil {
		return nil, err
	}
	if isZip(out) {
		err = writeZip(ctx, r, keys, meta, out, info.AsOf)
	} else {
		err = writeFolder(ctx, r, keys, meta, out, o.Parallel)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// bundleMeta is what a bundle says besides the archive's own keys: its
// description, the verify report, the lock settings, the HTML report and
// the README, by file name.
func bundleMeta(rep *Report, info BundleInfo, zipped bool) (map[string][]byte, error) {
	meta := map[string][]byte{}
	add := func(name string, v any) error {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		meta[name] = append(data, '\n')
		return nil
	}
	if err := add(BundleFile, info); err != nil {
		return nil, err
	}
	if err := add("verify-report.json", rep); err != nil {
		return nil, err
	}
	if rep.BucketLock != nil {
		if err := add("lock-settings.json", rep.BucketLock); err != nil {
			return nil, err
		}
	}
	html, err := renderHTML(rep, info)
	if err != nil {
		return nil, err
	}
	meta["report.html"] = html
	check := "exportd archive verify . --public-key <the key you were given>"
	byHand := ""
	if zipped {
		check = "exportd archive verify THIS.zip --public-key <the key you were given> (read in place; no need to unzip)"
		byHand = " Unzip it first (unzip -d bundle THIS.zip); every entry is stored as is, under its archive key."
	}
	meta["README.md"] = fmt.Appendf(nil, `# exportd evidence bundle

From %s, prefix %q, as of %s.

- %s: what this bundle holds (period, schedules).
- verify-report.json: exportd archive verify's report when the bundle was made (findings: %d).
- report.html: completeness per schedule and month.
- lock-settings.json (S3 only): the bucket's Object Lock configuration.
- The archive's records under their own keys: _definitions/, _head/, _daily/, _digests/, _keys/, _holds/, every
  manifest of each schedule, and the objects of the period.

Check it with exportd: %s
Check it by hand: see "Verifying by hand" in exportd's docs/ARCHIVE.md (sha256sum, sed, openssl).%s
`, info.Source, info.Prefix, info.AsOf.Format(time.RFC3339), BundleFile, len(rep.Findings), check, byHand)
	return meta, nil
}

// writeFolder writes a folder bundle: the keys copied in parallel, read
// only, then the bundle's own files.
func writeFolder(ctx context.Context, r archive.Reader, keys []string, meta map[string][]byte, dir string, parallel int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 4))
	for _, k := range keys {
		g.Go(func() error { return copyKey(gctx, r, k, dir) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(meta)) {
		if err := os.WriteFile(filepath.Join(dir, name), meta[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeZip writes a zip bundle: every entry in name order, stored, dated
// at, mode 0444, to file.tmp renamed to file once complete (removed on
// error, so nothing half-written is left).
func writeZip(ctx context.Context, r archive.Reader, keys []string, meta map[string][]byte, file string, at time.Time) (err error) {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	at = at.UTC().Truncate(time.Second)
	names := append(slices.Clone(keys), slices.Collect(maps.Keys(meta))...)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		if err := zipEntry(ctx, r, zw, name, meta, at); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := os.Lstat(file); err == nil {
		return fmt.Errorf("%s exists; a bundle goes into a new file", file)
	}
	return os.Rename(tmp, file)
}

// zipEntry writes one entry: a bundle file from meta, or the archive's
// object at that key (left out when it is gone: the report names it).
func zipEntry(ctx context.Context, r archive.Reader, zw *zip.Writer, name string, meta map[string][]byte, at time.Time) error {
	var src io.Reader
	if data, ok := meta[name]; ok {
		src = bytes.NewReader(data)
	} else {
		rc, _, err := r.Get(ctx, name)
		if errors.Is(err, archive.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		defer rc.Close()
		src = rc
	}
	h := &zip.FileHeader{Name: name, Method: zip.Store, Modified: at}
	h.SetMode(0o444)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	return nil
}

func copyKey(ctx context.Context, r archive.Reader, key, dir string) error {
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

func renderHTML(rep *Report, info BundleInfo) ([]byte, error) {
	var rows []monthRow
	for _, s := range rep.Schedules {
		for _, m := range s.Months {
			rows = append(rows, monthRow{Schedule: s.Schedule, Month: m.Month, Present: m.Present, Missing: m.Expected - m.Present})
		}
	}
	var b bytes.Buffer
	if err := reportHTML.Execute(&b, struct {
		Report *Report
		Info   BundleInfo
		Rows   []monthRow
	}{rep, info, rows}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
