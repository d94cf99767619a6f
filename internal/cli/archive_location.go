package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivesql"
	"github.com/exportd/exportd/internal/archive/audit"
	"github.com/exportd/exportd/internal/domain"
)

// ExitVerifyFailed: the archive was read and is not complete and untouched
// (archive verify LOCATION); 1 means it could not be verified.
const ExitVerifyFailed = 3

// locationFlags are archive verify's flags for the LOCATION form.
type locationFlags struct {
	asJSON         bool
	publicKeys     []string
	keyring        string
	from, to, asOf string
	grace          time.Duration
	parallel       int
	s3             audit.S3Access
}

func (f *locationFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.keyring, "keyring", "", "file of trusted PEM public keys (concatenated); with --public-key, all are trusted")
	fl.StringVar(&f.asOf, "as-of", "", "the instant the archive must be complete up to (RFC 3339 or a date; default now)")
	fl.DurationVar(&f.grace, "grace", audit.DefaultGrace, "how late a window's manifest or a day's digest may be after it is due")
	f.registerAccess(cmd)
}

// registerAccess registers the flags that reach a location.
func (f *locationFlags) registerAccess(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.parallel, "parallel", 16, "objects read at once")
	fl.StringVar(&f.s3.Region, "region", "", "S3 region (default: from the AWS chain)")
	fl.StringVar(&f.s3.Endpoint, "endpoint", "", "S3-compatible endpoint URL")
	fl.BoolVar(&f.s3.ForcePathStyle, "path-style", false, "address the bucket in the path (S3-compatible servers)")
	fl.StringVar(&f.s3.RoleARN, "role-arn", "", "IAM role to assume on top of the AWS credential chain")
	fl.StringVar(&f.s3.ExternalID, "external-id", "", "external id for --role-arn")
}

// options turns the flags into verify options: the period, as-of, grace
// and the trusted keys read from --public-key and --keyring.
func (f *locationFlags) options(schedules []string, from, to string) (audit.Options, error) {
	o := audit.Options{Schedules: schedules, Grace: f.grace, Parallel: f.parallel}
	var err error
	if o.From, err = parseTime("from", from); err != nil {
		return o, err
	}
	if o.To, err = parseTime("to", to); err != nil {
		return o, err
	}
	if o.AsOf, err = parseTime("as-of", f.asOf); err != nil {
		return o, err
	}
	files := f.publicKeys
	if f.keyring != "" {
		files = append(files, f.keyring)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return o, fmt.Errorf("public key: %w", err)
		}
		keys, err := audit.ParseKeys(data)
		if err != nil {
			return o, fmt.Errorf("%s: %w", file, err)
		}
		o.Keys = append(o.Keys, keys...)
	}
	return o, nil
}

// verifyLocation runs archive verify LOCATION [schedule...]: the archive
// alone, no daemon config. Exit 0 verified, 1 could not verify, 3 failed.
func verifyLocation(cmd *cobra.Command, args []string, f *locationFlags, from, to string) error {
	ctx := cmd.Context()
	fail := func(err error) error { return exitWith(ExitFailure, err) }
	o, err := f.options(args[1:], from, to)
	if err != nil {
		return fail(err)
	}
	loc, err := audit.Open(ctx, args[0], f.s3)
	if err != nil {
		return fail(err)
	}
	defer loc.Close()
	if b := loc.Bundle; b != nil {
		// An evidence bundle holds the objects of its period as of when
		// it was made: that is what it can prove.
		if o.From.IsZero() && o.To.IsZero() {
			o.From, o.To = b.From, b.To
		}
		if f.asOf == "" {
			o.AsOf = b.AsOf
		}
		if len(o.Schedules) == 0 {
			o.Schedules = b.Schedules
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "an evidence bundle of %s, made %s\n", b.Source, b.AsOf.Format(time.RFC3339))
	}
	var reports []*audit.Report
	for _, p := range loc.Prefixes {
		o.Prefix, o.Location = p, loc.Describe
		if p != "" && !strings.HasPrefix(loc.Describe, "s3://") {
			o.Location = loc.Describe + "/" + p
		}
		rep, err := audit.Verify(ctx, loc.Reader, o)
		if err != nil {
			return fail(fmt.Errorf("could not verify %s: %w", o.Location, err))
		}
		reports = append(reports, rep)
	}
	return printAudits(cmd, reports, f, o.Keys)
}

// printAudits prints verify's reports (a table, or JSON with --json) and
// returns exit 3 when any failed.
func printAudits(cmd *cobra.Command, reports []*audit.Report, f *locationFlags, keys []ed25519.PublicKey) error {
	out := cmd.OutOrStdout()
	failed := false
	for _, rep := range reports {
		failed = failed || !rep.OK()
	}
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Verified bool            `json:"verified"`
			Reports  []*audit.Report `json:"reports"`
		}{!failed, reports}); err != nil {
			return exitWith(ExitFailure, err)
		}
	} else {
		for _, rep := range reports {
			printAudit(out, rep, keys)
		}
	}
	for _, rep := range reports {
		for _, w := range rep.Warnings {
			if strings.HasPrefix(w, "SIGNATURES") {
				fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s\n", w)
			}
		}
	}
	if failed {
		n := 0
		for _, rep := range reports {
			n += len(rep.Findings)
		}
		return exitWith(ExitVerifyFailed, fmt.Errorf("verification FAILED: %d finding(s)", n))
	}
	return nil
}

func printAudit(out io.Writer, rep *audit.Report, keys []ed25519.PublicKey) {
	fmt.Fprintf(out, "archive %s, as of %s (grace %s)\n", rep.Location, rep.AsOf.Format(time.RFC3339), rep.Grace)
	switch rep.Trust {
	case audit.TrustExternal:
		fmt.Fprintf(out, "signatures: checked against %d key(s) given from outside the archive (%s)\n", len(keys), strings.Join(rep.Keys, ", "))
	case audit.TrustArchive:
		fmt.Fprintf(out, "signatures: CHECKED AGAINST THE ARCHIVE'S OWN KEYS ONLY (%s): not a proof against whoever can write the archive; pass --public-key\n", strings.Join(rep.Keys, ", "))
	default:
		fmt.Fprintln(out, "signatures: none in this archive (signing is off)")
	}
	if rep.DailyDigests > 0 {
		fmt.Fprintf(out, "daily digests: %d, %s to %s\n", rep.DailyDigests, rep.FirstDay, rep.LastDay)
	}
	if bl := rep.BucketLock; bl != nil {
		fmt.Fprintf(out, "bucket Object Lock: enabled=%v versioning=%s", bl.Enabled, bl.Versioning)
		if bl.DefaultMode != "" {
			fmt.Fprintf(out, " default=%s %dd %dy", bl.DefaultMode, bl.DefaultDays, bl.DefaultYears)
		}
		fmt.Fprintln(out)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tDEF\tHEAD\tWINDOWS\tOBJECTS\tBYTES\tROWS\tSIGNED\tHOLDS")
	for _, s := range rep.Schedules {
		fmt.Fprintf(tw, "%s\tv%d\t%d\t%d/%d\t%d\t%d\t%d\t%d\t%d\n", s.Schedule, s.Definition, s.Head, s.Present, s.Expected, s.Objects, s.Bytes, s.Rows, s.SignedThrough, s.Held)
	}
	tw.Flush()
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "  note: %s\n", w)
	}
	if rep.OK() {
		fmt.Fprintf(out, "VERIFIED: %d objects (%d bytes) read back, complete up to %s\n", rep.Objects, rep.ObjectBytes, rep.AsOf.Format(time.RFC3339))
		return
	}
	fmt.Fprintf(out, "FAILED: %d finding(s), one per root cause:\n", len(rep.Findings))
	for _, f := range rep.Findings {
		fmt.Fprintf(out, "  %s\n", f)
		if f.Key != "" {
			fmt.Fprintf(out, "      at %s\n", f.Key)
		}
	}
}

// archiveLsCmd is archive ls LOCATION [schedule...]: the archived units
// from the archive alone.
func archiveLsCmd(g *globals) *cobra.Command {
	var asJSON bool
	var from, to string
	loc := &locationFlags{}
	cmd := &cobra.Command{
		Use:   "ls [LOCATION] [schedule...]",
		Short: "List archived windows from the archive alone: keys, rows, bytes, sha256, retained until, holds",
		Long: `List the newest revision of every archived unit (windows overlapping --from/--to), in commit
order per schedule, from the archive at LOCATION (s3://bucket/prefix/, file://, a folder or a bundle,
a .zip read in place) without a daemon config; without LOCATION, from the archive of the config's
schedules named (all when none). On S3 each object's Object Lock retain-until and legal hold are
shown. It does not verify: run exportd archive verify for that.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fromT, err := parseTime("from", from)
			if err != nil {
				return exitWith(ExitFailure, err)
			}
			toT, err := parseTime("to", to)
			if err != nil {
				return exitWith(ExitFailure, err)
			}
			l, names, done, err := g.openArchive(ctx, args, loc.s3)
			if err != nil {
				return err
			}
			defer done()
			fromT, toT = bundlePeriod(l, fromT, toT)
			var all []audit.Entry
			for _, p := range l.Prefixes {
				es, err := audit.List(ctx, l.Reader, p, names, fromT, toT, loc.parallel)
				if err != nil {
					return exitWith(ExitFailure, err)
				}
				all = append(all, es...)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if all == nil {
					all = []audit.Entry{}
				}
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tSEQ\tKIND\tWINDOW\tREV\tROWS\tBYTES\tSHA256\tRETAINED UNTIL\tHOLD\tKEY")
			for _, e := range all {
				retained, hold, key, sum := "-", "-", e.Key, e.SHA256
				if !e.RetainUntil.IsZero() {
					retained = e.LockMode + " " + e.RetainUntil.UTC().Format(time.RFC3339)
				}
				if e.LegalHold {
					hold = "ON"
				}
				if key == "" {
					key, sum = e.ManifestKey, "-"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", e.Schedule, e.Sequence, e.Kind, e.UnitID, e.Revision, e.Rows, e.Bytes, sum, retained, hold, key)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the units as JSON")
	cmd.Flags().StringVar(&from, "from", "", "only windows that end after this instant (RFC 3339 or a date)")
	cmd.Flags().StringVar(&to, "to", "", "only windows that start before this instant")
	loc.registerAccess(cmd)
	return cmd
}

// sqlFlags are archive query's flags for the LOCATION form.
type sqlFlags struct {
	sql, format string
	loc         locationFlags
}

func (f *sqlFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.sql, "sql", "", `a SQL query over one read-only table per schedule (named like it, or with _ for -), external access off`)
	cmd.Flags().StringVar(&f.format, "format", "", "with --sql: csv, json (one object a line) or table (default: table on a terminal, csv otherwise)")
	f.loc.registerAccess(cmd)
}

// querySQL is archive query [LOCATION] --sql: the schedules' archived files
// (sha256 checked) as read-only tables of an embedded DuckDB.
func (g *globals) querySQL(cmd *cobra.Command, args []string, f *sqlFlags, from, to string) error {
	ctx := cmd.Context()
	fail := func(err error) error { return exitWith(ExitFailure, err) }
	if f.sql == "" {
		return fail(errors.New(`with a LOCATION, give the query: --sql 'SELECT ... FROM "schedule-name"'`))
	}
	fromT, err := parseTime("from", from)
	if err != nil {
		return fail(err)
	}
	toT, err := parseTime("to", to)
	if err != nil {
		return fail(err)
	}
	format := f.format
	if format == "" {
		format = archivesql.CSV
		if fi, ok := cmd.OutOrStdout().(*os.File); ok {
			if st, err := fi.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = archivesql.FormatTable
			}
		}
	}
	if format != archivesql.CSV && format != archivesql.JSON && format != archivesql.FormatTable {
		return fail(fmt.Errorf("--format %q: csv, json or table", format))
	}
	l, names, done, err := g.openArchive(ctx, args, f.loc.s3)
	if err != nil {
		return err
	}
	defer done()
	fromT, toT = bundlePeriod(l, fromT, toT)
	if len(l.Prefixes) != 1 {
		return fail(fmt.Errorf("%s holds archives under %d prefixes (%s): name one folder", l.Describe, len(l.Prefixes), strings.Join(l.Prefixes, ", ")))
	}
	if len(names) == 0 {
		// Every schedule with a head (something archived).
		all, err := audit.Schedules(ctx, l.Reader, l.Prefixes[0])
		if err != nil {
			return fail(err)
		}
		for _, n := range all {
			if _, err := l.Reader.Stat(ctx, domain.Layout{Prefix: l.Prefixes[0], Schedule: n}.HeadKey()); err == nil {
				names = append(names, n)
			} else if !errors.Is(err, archive.ErrNotFound) {
				return fail(err)
			}
		}
	}
	tables, err := archivesql.Tables(ctx, l.Reader, l.Prefixes[0], names, fromT, toT)
	if err != nil {
		return fail(err)
	}
	res, err := archivesql.Query(ctx, l.Reader, tables, f.sql, format, cmd.OutOrStdout())
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d rows; %d archived objects loaded (each sha256 checked) as tables %s\n", res.Rows, res.Objects, strings.Join(names, ", "))
	return nil
}

// archiveHoldCmd is archive hold / release LOCATION [schedule...].
func archiveHoldCmd(g *globals, on bool) *cobra.Command {
	var from, to, by, reason string
	loc := &locationFlags{}
	use, short := "hold", "Place an Object Lock legal hold on the objects and manifests of a period (S3), recorded in the archive"
	if !on {
		use, short = "release", "Lift the legal hold of a period (S3), recorded in the archive"
	}
	cmd := &cobra.Command{
		Use:   use + " [LOCATION] [schedule...] --from T --to T --reason WHY [--by WHO]",
		Short: short,
		Long: short + `.

LOCATION is s3://bucket/prefix/; without it, the archive of the config's schedules named (all when none).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fail := func(err error) error { return exitWith(ExitFailure, err) }
			fromT, err := parseTime("from", from)
			if err != nil {
				return fail(err)
			}
			toT, err := parseTime("to", to)
			if err != nil {
				return fail(err)
			}
			if by == "" {
				by = os.Getenv("USER")
			}
			l, names, done, err := g.openArchive(ctx, args, loc.s3)
			if err != nil {
				return err
			}
			defer done()
			st, ok := l.Reader.(archive.Store)
			if !ok || len(l.Prefixes) != 1 {
				return fail(fmt.Errorf("%s: legal holds need one S3 archive location", l.Describe))
			}
			key, n, err := audit.Hold(ctx, st, l.Prefixes[0], names, fromT, toT, on, by, reason, time.Now())
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "legal hold %s on %d objects and manifests; recorded in %s\n", map[bool]string{true: "placed", false: "lifted"}[on], n, key)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "windows that end after this instant (RFC 3339 or a date)")
	cmd.Flags().StringVar(&to, "to", "", "windows that start before this instant")
	cmd.Flags().StringVar(&by, "by", "", "who asks (default: $USER)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (a case or ticket reference); required")
	loc.registerAccess(cmd)
	return cmd
}

// archiveBundleCmd is archive bundle LOCATION [schedule...] -o DIR.
func archiveBundleCmd(g *globals) *cobra.Command {
	var from, to, outDir string
	f := &locationFlags{}
	cmd := &cobra.Command{
		Use:   "bundle [LOCATION] [schedule...] --from T --to T -o DIR|FILE.zip",
		Short: "Write an evidence package for an auditor: files, records, digests, keys, verify report, HTML report",
		Long: `Write into DIR (a new folder), or FILE.zip, the archive's records under their own keys (every manifest, head,
definition record, digest, public key and hold record), the objects of the units of --from/--to, the
verify report as JSON, the bucket's Object Lock settings (S3), an HTML report with a completeness table
per schedule and month, and a README. exportd archive verify DIR (or FILE.zip, read in place, as ls,
fetch and query read it) checks the bundle offline; it can be checked by hand too. A zip is
deterministic: entries sorted and stored, dated the bundle's as-of. Without a LOCATION, the archive of
the config's schedules named (all when none). Exit 0 written and verified, 3 written but verification
failed, 1 not written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fail := func(err error) error { return exitWith(ExitFailure, err) }
			if outDir == "" {
				return fail(errors.New("-o DIR|FILE.zip: the new folder or zip file to write the bundle into"))
			}
			l, names, done, err := g.openArchive(ctx, args, f.s3)
			if err != nil {
				return err
			}
			defer done()
			o, err := f.options(names, from, to)
			if err != nil {
				return fail(err)
			}
			if len(l.Prefixes) != 1 {
				return fail(fmt.Errorf("%s holds archives under %d prefixes (%s): name one folder", l.Describe, len(l.Prefixes), strings.Join(l.Prefixes, ", ")))
			}
			o.Prefix, o.Location = l.Prefixes[0], l.Describe
			rep, err := audit.Bundle(ctx, l.Reader, o, outDir)
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "bundle written to %s: %d objects; verification: %d finding(s)\n", outDir, rep.Objects, len(rep.Findings))
			if !rep.OK() {
				report := filepath.Join(outDir, "verify-report.json")
				if strings.HasSuffix(strings.ToLower(outDir), ".zip") {
					report = outDir + ": verify-report.json"
				}
				return exitWith(ExitVerifyFailed, fmt.Errorf("the bundle was written, but the archive did not verify: see %s", report))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "windows that end after this instant (RFC 3339 or a date)")
	cmd.Flags().StringVar(&to, "to", "", "windows that start before this instant")
	cmd.Flags().StringVarP(&outDir, "out", "o", "", "the new folder, or FILE.zip, to write the bundle into")
	cmd.Flags().StringArrayVar(&f.publicKeys, "public-key", nil, "trusted PEM Ed25519 public key for the report (repeatable)")
	cmd.Flags().StringVar(&f.asOf, "as-of", "", "the instant the archive must be complete up to (default now)")
	cmd.Flags().DurationVar(&f.grace, "grace", audit.DefaultGrace, "how late a window's manifest or a day's digest may be")
	f.registerAccess(cmd)
	return cmd
}

// bundlePeriod is the period a command reads from a location: the one
// asked for, or, when none is and the location is an evidence bundle, the
// bundle's own (it holds the objects of that period only, and the
// manifests of the whole chain).
func bundlePeriod(l *audit.Location, from, to time.Time) (time.Time, time.Time) {
	if b := l.Bundle; b != nil && from.IsZero() && to.IsZero() {
		return b.From, b.To
	}
	return from, to
}

// openArchive opens the archive the arguments name: args[0] when it is an
// archive location (the rest are schedules), else the destination of the
// daemon config's schedules named in args (all when none), which must be
// one archive (store and prefix). done releases what it opened.
func (g *globals) openArchive(ctx context.Context, args []string, s3a audit.S3Access) (l *audit.Location, schedules []string, done func(), err error) {
	if len(args) > 0 && audit.IsLocation(args[0]) {
		l, err := audit.Open(ctx, args[0], s3a)
		if err != nil {
			return nil, nil, nil, exitWith(ExitFailure, err)
		}
		return l, args[1:], func() { l.Close() }, nil
	}
	a, err := g.load(ctx, app.Options{ArchiveOnly: true})
	if err != nil {
		return nil, nil, nil, err
	}
	names := args
	if len(names) == 0 {
		for _, s := range a.Config().Schedules {
			names = append(names, s.Name)
		}
	}
	var first string
	for _, name := range names {
		r, lay, _, err := a.ArchiveOf(ctx, name)
		if err != nil {
			a.Close()
			return nil, nil, nil, exitWith(ExitFailure, err)
		}
		if l == nil {
			l, first = &audit.Location{Reader: r, Prefixes: []string{lay.Prefix}, Describe: describeArchive(r, lay.Prefix)}, name
			continue
		}
		if l.Reader != r || l.Prefixes[0] != lay.Prefix {
			a.Close()
			return nil, nil, nil, exitWith(ExitUsage, fmt.Errorf("schedules %s and %s are archived in different places (%s, %s): name the schedules of one archive, or give its LOCATION",
				first, name, l.Describe, describeArchive(r, lay.Prefix)))
		}
	}
	if l == nil {
		a.Close()
		return nil, nil, nil, exitWith(ExitFailure, errors.New("the config has no schedule: give an archive LOCATION"))
	}
	return l, names, func() { a.Close() }, nil
}

// describeArchive names a store and prefix for reports.
func describeArchive(r archive.Reader, prefix string) string {
	d, ok := r.(interface{ Describe() string })
	if !ok {
		return prefix
	}
	if prefix == "" {
		return d.Describe()
	}
	return strings.TrimSuffix(d.Describe(), "/") + "/" + prefix
}
