package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/archive/archivequery"
	"github.com/exportd/exportd/internal/archive/audit"
	"github.com/exportd/exportd/internal/domain"
)

// archiveCmd groups the auditors' commands: they read the archive (the
// read half of its store) and never write to it.
func archiveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Read the archive as an auditor: verify it, list what it holds, fetch and query files",
	}
	cmd.AddCommand(archiveVerifyCmd(g), archiveListCmd(g), archiveFetchCmd(g), archiveQueryCmd(g), archiveLsCmd(g), archiveHoldCmd(g, true), archiveHoldCmd(g, false), archiveBundleCmd(g))
	return cmd
}

func archiveVerifyCmd(g *globals) *cobra.Command {
	var asJSON bool
	var publicKeys []string
	var from, to string
	loc := &locationFlags{}
	cmd := &cobra.Command{
		Use:   "verify [LOCATION] [schedule...]",
		Short: "Check that the archive is complete up to now and untouched (exit 0 verified, 1 could not verify, 3 failed)",
		Long: `With a LOCATION (s3://bucket/prefix/, file:///path or a folder: the archive, a cp -r copy of it,
or an evidence bundle), no daemon config is needed: the archive's own records say what it must hold.
Checked: the definition records; each schedule's manifest chain (a deleted or changed manifest is
named once, and the walk goes on past it); every object's size and sha256, read back in parallel;
the per-commit and daily digests and their signatures, against the keys given with --public-key or
--keyring (without them, against the archive's own _keys/, which the report says loudly); every
window from the schedule's start to --as-of (default now) minus its lag and --grace, present or
recorded as skipped or lost; a daily digest for every day; on S3 the Object Lock mode and
retain-until of every object and manifest against the policy recorded, and the bucket's lock
configuration. Exit 0 verified, 1 could not verify (I/O, arguments), 3 verification failed.

Without a LOCATION, the archives of the daemon config's schedules (--config; all, or those named)
are checked in the same way and with the same exit codes: the config only says where they are.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			loc.asJSON, loc.publicKeys = asJSON, publicKeys
			if len(args) > 0 && audit.IsLocation(args[0]) {
				return verifyLocation(cmd, args, loc, from, to)
			}
			return g.verifyConfig(cmd, args, loc, from, to)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().StringArrayVar(&publicKeys, "public-key", nil, "trusted PEM Ed25519 public key (repeatable): every digest must verify with one of them")
	cmd.Flags().StringVar(&from, "from", "", "only windows that end after this instant (RFC 3339 or a date; with LOCATION)")
	cmd.Flags().StringVar(&to, "to", "", "only windows that start before this instant (with LOCATION)")
	loc.register(cmd)
	return cmd
}

// verifyConfig is archive verify [schedule...] with the daemon config: the
// config says where each schedule's archive is (store and prefix); each
// archive is then verified as verify LOCATION does, limited to the
// schedules asked for. The daemon's --now is the default --as-of.
func (g *globals) verifyConfig(cmd *cobra.Command, names []string, f *locationFlags, from, to string) error {
	ctx := cmd.Context()
	o, err := f.options(nil, from, to)
	if err != nil {
		return exitWith(ExitFailure, err)
	}
	if o.AsOf.IsZero() && g.now != "" {
		if o.AsOf, err = time.Parse(time.RFC3339, g.now); err != nil {
			return exitWith(ExitUsage, fmt.Errorf("--now %q: want an RFC 3339 instant", g.now))
		}
	}
	a, err := g.load(ctx, app.Options{ArchiveOnly: true})
	if err != nil {
		return err
	}
	defer a.Close()
	if len(names) == 0 {
		for _, s := range a.Config().Schedules {
			names = append(names, s.Name)
		}
	}
	type target struct {
		r      archive.Reader
		prefix string
	}
	var order []target
	byTarget := map[target][]string{}
	for _, name := range names {
		r, l, _, err := a.ArchiveOf(ctx, name)
		if err != nil {
			return exitWith(ExitFailure, err)
		}
		t := target{r, l.Prefix}
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], name)
	}
	var reports []*audit.Report
	for _, t := range order {
		o := o
		o.Prefix, o.Schedules = t.prefix, byTarget[t]
		o.Location = describeArchive(t.r, t.prefix)
		rep, err := audit.Verify(ctx, t.r, o)
		if err != nil {
			return exitWith(ExitFailure, fmt.Errorf("could not verify %s: %w", o.Location, err))
		}
		reports = append(reports, rep)
	}
	return printAudits(cmd, reports, f, o.Keys)
}

// loadChain reads a schedule's manifest chain for list and fetch; broken
// is the exit error to return when a link of the chain is broken (the
// entries after the break, newest first, are still returned). The caller
// closes a once done with r.
func (g *globals) loadChain(ctx context.Context, schedule string) (a *app.App, r archive.Reader, chain []archive.ChainEntry, broken, err error) {
	a, err = g.load(ctx, app.Options{ArchiveOnly: true})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	r, l, _, err := a.ArchiveOf(ctx, schedule)
	if err == nil {
		rep := &archive.Report{Schedule: schedule}
		chain, err = archive.Chain(ctx, r, l, rep)
		if len(rep.Problems) > 0 {
			broken = exitWith(ExitFailure, fmt.Errorf("the chain of %s is broken:\n%s\n(run exportd archive verify %s)", schedule, strings.Join(rep.Problems, "\n"), schedule))
		}
	}
	if err != nil {
		a.Close()
		return nil, nil, nil, nil, err
	}
	return a, r, chain, broken, nil
}

func archiveListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list <schedule>",
		Short: "List a schedule's archived units in commit order, from its manifest chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, _, chain, broken, err := g.loadChain(ctx, args[0])
			if err != nil {
				return err
			}
			defer a.Close()
			out := cmd.OutOrStdout()
			if asJSON {
				type entry struct {
					Key      string            `json:"manifest_key"`
					SHA256   string            `json:"manifest_sha256"`
					Manifest *archive.Manifest `json:"manifest"`
				}
				entries := []entry{}
				for _, e := range chain {
					entries = append(entries, entry{e.Key, e.SHA256, e.Manifest})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(entries); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tKIND\tUNIT\tREV\tROWS\tBYTES\tOBJECT")
				for _, e := range chain {
					m := e.Manifest
					var rows, bytes int64
					var keys []string
					for _, o := range m.Objects {
						rows, bytes = rows+o.Rows, bytes+o.Bytes
						keys = append(keys, o.Key)
					}
					object := strings.Join(keys, " ")
					if object == "" {
						object = "-"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\n", m.Sequence, m.Kind, m.UnitID, m.Revision, rows, bytes, object)
				}
				tw.Flush()
			}
			return broken
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the chain's manifests as JSON")
	return cmd
}

func archiveFetchCmd(g *globals) *cobra.Command {
	var outDir, from, to string
	acc := &locationFlags{}
	cmd := &cobra.Command{
		Use:   "fetch [LOCATION] <schedule> [unit-id...]",
		Short: "Copy archived files and their manifests to a folder, checking each sha256 on the way",
		Long: `Copy a schedule's archived objects (the newest revision of each unit), with their manifests, into
--out (default: the current folder), checking each object's size and sha256 against its manifest as it
streams; a file that does not match is not left behind, and the command exits 1. Pick units by id
(as archive list shows them) or by window with --from/--to; --out - writes one unit's object to stdout
(without a unit id or --from/--to: the newest unit's).
With a LOCATION first (s3://bucket/prefix/, a folder, or a bundle: a folder or a .zip read in place),
no daemon config is needed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fromT, toT, err := parseRange(from, to)
			if err != nil {
				return err
			}
			var r archive.Reader
			var picked []archive.ChainEntry
			name := args[0] // the schedule, and where the unit ids start
			unitIDs := args[1:]
			if audit.IsLocation(args[0]) {
				if len(args) < 2 {
					return exitWith(ExitUsage, errors.New("fetch LOCATION <schedule> [unit-id...]: name the schedule"))
				}
				l, err := audit.Open(ctx, args[0], acc.s3)
				if err != nil {
					return exitWith(ExitFailure, err)
				}
				defer l.Close()
				name, unitIDs = args[1], args[2:]
				if r, picked, err = locationUnits(ctx, l, args[1:], fromT, toT); err != nil {
					return err
				}
			} else {
				a, ar, p, err := g.pickedUnits(ctx, args, fromT, toT)
				if err != nil {
					return err
				}
				defer a.Close()
				r, picked = ar, p
			}
			if outDir == "-" {
				if len(unitIDs) == 0 && from == "" && to == "" {
					// No unit named: the newest unit with an object.
					if e, ok := newestWithObject(picked); ok {
						if isTerminal(cmd.ErrOrStderr()) {
							fmt.Fprintf(cmd.ErrOrStderr(), "%s %s (the newest unit; name a unit id, as archive list shows them, for another)\n", name, e.Manifest.UnitID)
						}
						picked = []archive.ChainEntry{e}
					}
				}
				if len(picked) != 1 || len(picked[0].Manifest.Objects) != 1 {
					return exitWith(ExitUsage, fmt.Errorf("--out - needs exactly one unit with one object; %d units picked", len(picked)))
				}
				return archive.Fetch(ctx, r, picked[0].Manifest.Objects[0], cmd.OutOrStdout())
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			files := 0
			for _, e := range picked {
				for _, o := range e.Manifest.Objects {
					if err := archive.FetchFile(ctx, r, o, filepath.Join(outDir, path.Base(o.Key))); err != nil {
						return exitWith(ExitFailure, err)
					}
					files++
				}
				// The manifest as committed: the chain's sha256 is of these bytes.
				data := e.Data
				if err := writeFileAtomic(filepath.Join(outDir, path.Base(e.Key)), data); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "fetched %d objects of %d units into %s, each sha256 checked against its manifest\n", files, len(picked), outDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&outDir, "out", "o", ".", "folder to copy into, or - for one unit's object on stdout")
	cmd.Flags().StringVar(&from, "from", "", "only windows that end after this instant (RFC 3339 or a date)")
	cmd.Flags().StringVar(&to, "to", "", "only windows that start before this instant")
	acc.registerAccess(cmd)
	return cmd
}

// newestWithObject is the unit of the picked entries with an object whose
// window ends (or logical time falls) last; among equals the later commit.
func newestWithObject(picked []archive.ChainEntry) (archive.ChainEntry, bool) {
	var best archive.ChainEntry
	var bestT time.Time
	found := false
	for _, e := range picked {
		m := e.Manifest
		if len(m.Objects) != 1 {
			continue
		}
		t := m.LogicalTime
		if m.Window != nil {
			t = m.Window.End
		}
		if !found || !t.Before(bestT) {
			best, bestT, found = e, t, true
		}
	}
	return best, found
}

// parseRange parses --from and --to.
func parseRange(from, to string) (fromT, toT time.Time, err error) {
	if fromT, err = parseTime("from", from); err == nil {
		toT, err = parseTime("to", to)
	}
	return fromT, toT, err
}

// pickedUnits loads the chain of args[0] and picks the units args[1:] (all
// when none) whose windows overlap [from, to); the caller closes a.
func (g *globals) pickedUnits(ctx context.Context, args []string, from, to time.Time) (a *app.App, r archive.Reader, picked []archive.ChainEntry, err error) {
	a, r, chain, broken, err := g.loadChain(ctx, args[0])
	if err != nil {
		return nil, nil, nil, err
	}
	if broken == nil {
		picked, err = pickUnits(chain, args[0], args[1:], from, to)
	} else {
		err = broken
	}
	if err != nil {
		a.Close()
		return nil, nil, nil, err
	}
	return a, r, picked, nil
}

// locationUnits reads the chain of args[0] from an archive location and
// picks the units args[1:] (all when none) whose windows overlap [from, to).
func locationUnits(ctx context.Context, l *audit.Location, args []string, from, to time.Time) (archive.Reader, []archive.ChainEntry, error) {
	if len(l.Prefixes) != 1 {
		return nil, nil, exitWith(ExitFailure, fmt.Errorf("%s holds archives under %d prefixes (%s): name one folder", l.Describe, len(l.Prefixes), strings.Join(l.Prefixes, ", ")))
	}
	from, to = bundlePeriod(l, from, to)
	rep := &archive.Report{Schedule: args[0]}
	chain, err := archive.Chain(ctx, l.Reader, domain.Layout{Prefix: l.Prefixes[0], Schedule: args[0]}, rep)
	if err != nil {
		return nil, nil, exitWith(ExitFailure, err)
	}
	if len(rep.Problems) > 0 {
		return nil, nil, exitWith(ExitFailure, fmt.Errorf("the chain of %s is broken:\n%s\n(run exportd archive verify %s)", args[0], strings.Join(rep.Problems, "\n"), l.Describe))
	}
	if len(chain) == 0 {
		return nil, nil, exitWith(ExitUsage, fmt.Errorf("%s has no archived unit of schedule %q", l.Describe, args[0]))
	}
	picked, err := pickUnits(chain, args[0], args[1:], from, to)
	return l.Reader, picked, err
}

// pickUnits picks the newest revision of the units named by ids (all
// when none), keeping the windows that overlap [from, to) when given.
func pickUnits(chain []archive.ChainEntry, schedule string, ids []string, from, to time.Time) ([]archive.ChainEntry, error) {
	want, found := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var picked []archive.ChainEntry
	for _, e := range archive.Latest(chain) {
		m := e.Manifest
		switch {
		case len(ids) > 0 && !want[m.UnitID]:
			continue
		case m.Window != nil && !from.IsZero() && !m.Window.End.After(from):
			continue
		case m.Window != nil && !to.IsZero() && !m.Window.Start.Before(to):
			continue
		}
		found[m.UnitID] = true
		picked = append(picked, e)
	}
	var missing []string
	for id := range want {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, exitWith(ExitUsage, fmt.Errorf("%s has no archived unit %s (exportd archive list %s shows them)", schedule, strings.Join(missing, ", "), schedule))
	}
	return picked, nil
}

func archiveQueryCmd(g *globals) *cobra.Command {
	var from, to, elementFile string
	sq := &sqlFlags{}
	cmd := &cobra.Command{
		Use:   "query <schedule> [unit-id...] | query [LOCATION] --sql QUERY [schedule...]",
		Short: "Run a workbook element or SQL over archived files (sha256 checked)",
		Long: `Fetch the newest revision of the picked units (by id, or by window with --from/--to; all by
default), checking each object's sha256 against its manifest, load them into an embedded DuckDB as the
table ARCHIVE (columns named by the CSV headers, e.g. [Request Time]) and print, as CSV, the result of
the workbook element in --element (the same YAML as a schedule's element, without from), or every row.

With --sql, the schedules' archived files (of the archive at LOCATION: s3://bucket/prefix/, a folder
or a bundle, a .zip read in place; without LOCATION, of the config's schedules named, all when none)
are loaded as one read-only table per schedule, external access off, and the query's result printed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if sq.sql != "" || len(args) > 0 && audit.IsLocation(args[0]) {
				return g.querySQL(cmd, args, sq, from, to)
			}
			if len(args) == 0 {
				return exitWith(ExitUsage, errors.New("name the schedule (archive query <schedule> --element FILE), or give --sql"))
			}
			fromT, toT, err := parseRange(from, to)
			if err != nil {
				return err
			}
			var el *archivequery.Element
			if elementFile != "" {
				data, err := os.ReadFile(elementFile)
				if err != nil {
					return exitWith(ExitUsage, fmt.Errorf("--element: %w", err))
				}
				if el, err = archivequery.DecodeElement(data); err != nil {
					return exitWith(ExitUsage, fmt.Errorf("%s: %w", elementFile, err))
				}
			}
			a, r, picked, err := g.pickedUnits(ctx, args, fromT, toT)
			if err != nil {
				return err
			}
			defer a.Close()
			var zone *time.Location
			if s := a.Config().Schedule(args[0]); s != nil {
				zone = s.Location
			}
			res, err := archivequery.Run(ctx, g.logger, r, picked, el, zone, cmd.OutOrStdout())
			if err != nil {
				if archivequery.IsElementError(err) && elementFile != "" {
					return exitWith(ExitFailure, fmt.Errorf("%s: %w", elementFile, err))
				}
				return exitWith(ExitFailure, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d rows from %d archived units\n", res.Rows, len(picked))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "only windows that end after this instant (RFC 3339 or a date)")
	cmd.Flags().StringVar(&to, "to", "", "only windows that start before this instant")
	cmd.Flags().StringVar(&elementFile, "element", "", "YAML file with a workbook element (filters, group_by, columns, order_by, limit)")
	sq.register(cmd)
	return cmd
}

func writeFileAtomic(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
