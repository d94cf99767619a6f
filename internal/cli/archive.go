package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/domain"
)

// archiveCmd groups the auditors' commands: they read the archive (the
// read half of its store) and never write to it.
func archiveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive",
		Short: "Read the archive as an auditor: verify it, list what it holds, fetch and query files",
	}
	cmd.AddCommand(archiveVerifyCmd(g), archiveListCmd(g), archiveFetchCmd(g), archiveQueryCmd(g), archiveLsCmd(), archiveHoldCmd(true), archiveHoldCmd(false), archiveBundleCmd())
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

Without a LOCATION, the schedules of the daemon config (--config) are checked as before: the chain,
every object, and no missing window between window.start and the last archived one (exit 1).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) > 0 && audit.IsLocation(args[0]) {
				loc.asJSON, loc.publicKeys = asJSON, publicKeys
				return verifyLocation(cmd, args, loc, from, to)
			}
			if from != "" || to != "" || loc.asOf != "" || loc.keyring != "" || len(publicKeys) > 1 {
				return exitWith(ExitUsage, errors.New("--from, --to, --as-of, --keyring and several --public-key need an archive LOCATION as first argument"))
			}
			publicKey := ""
			if len(publicKeys) == 1 {
				publicKey = publicKeys[0]
			}
			var opts archive.VerifyOptions
			if publicKey != "" {
				data, err := os.ReadFile(publicKey)
				if err != nil {
					return exitWith(ExitUsage, fmt.Errorf("--public-key: %w", err))
				}
				if opts.PublicKey, err = archive.ParsePublicKey(data); err != nil {
					return exitWith(ExitUsage, fmt.Errorf("--public-key %s: %w (derive it with: openssl pkey -in exportd-signing.pem -pubout)", publicKey, err))
				}
			}
			a, err := g.load(ctx, app.Options{ArchiveOnly: true})
			if err != nil {
				return err
			}
			defer a.Close()
			names := args
			if len(names) == 0 {
				for _, s := range a.Config().Schedules {
					names = append(names, s.Name)
				}
			}
			var reports []*archive.Report
			failed := 0
			for _, name := range names {
				r, l, start, err := a.ArchiveOf(ctx, name)
				if err != nil {
					return err
				}
				opts.ExpectStart = start
				rep, err := archive.Verify(ctx, r, l, opts)
				if err != nil {
					return fmt.Errorf("verify %s: %w", name, err)
				}
				if s := a.Config().Schedule(name); len(rep.Missing) > 0 && s != nil && s.CatchUp != config.CatchUpAll {
					rep.Notes = append(rep.Notes, fmt.Sprintf("catch_up: %s leaves missed windows out by design; with catch_up: all the daemon exports them", s.CatchUp))
				}
				if !rep.OK() {
					failed++
				}
				reports = append(reports, rep)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			} else {
				for _, rep := range reports {
					printReport(out, rep)
				}
			}
			if failed > 0 {
				return exitWith(ExitFailure, fmt.Errorf("the archive of %d of %d schedules is not complete and untouched", failed, len(reports)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().StringArrayVar(&publicKeys, "public-key", nil, "trusted PEM Ed25519 public key (repeatable): every digest must verify with one of them")
	cmd.Flags().StringVar(&from, "from", "", "only windows that end after this instant (RFC 3339 or a date; with LOCATION)")
	cmd.Flags().StringVar(&to, "to", "", "only windows that start before this instant (with LOCATION)")
	loc.register(cmd)
	return cmd
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

func printReport(out io.Writer, rep *archive.Report) {
	state := "OK"
	if !rep.OK() {
		state = "FAILED"
	}
	var kinds []string
	for _, k := range []string{domain.KindExported, domain.KindSkipped, domain.KindLost, domain.KindSuperseded} {
		if n := rep.Kinds[k]; n > 0 {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	fmt.Fprintf(out, "%s: %s: %d manifests in the chain", rep.Schedule, state, rep.Manifests)
	if len(kinds) > 0 {
		fmt.Fprintf(out, " (%s)", strings.Join(kinds, ", "))
	}
	fmt.Fprintf(out, "; %d objects read back, %d bytes, %d rows", rep.Objects, rep.Bytes, rep.Rows)
	if rep.Signed > 0 {
		fmt.Fprintf(out, "; signed through sequence %d", rep.Signed)
	}
	if !rep.First.IsZero() {
		fmt.Fprintf(out, "; windows from %s to %s", rep.First.UTC().Format(time.RFC3339), rep.Last.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	for _, w := range rep.Missing {
		fmt.Fprintf(out, "  missing: no manifest for [%s, %s)\n", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339))
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(out, "  problem: %s\n", p)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
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
	cmd := &cobra.Command{
		Use:   "fetch <schedule> [unit-id...]",
		Short: "Copy archived files and their manifests to a folder, checking each sha256 on the way",
		Long: `Copy a schedule's archived objects (the newest revision of each unit), with their manifests, into
--out (default: the current folder), checking each object's size and sha256 against its manifest as it
streams; a file that does not match is not left behind, and the command exits 1. Pick units by id
(as archive list shows them) or by window with --from/--to; --out - writes one unit's object to stdout
(without a unit id or --from/--to: the newest unit's).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			fromT, toT, err := parseRange(from, to)
			if err != nil {
				return err
			}
			a, r, picked, err := g.pickedUnits(ctx, args, fromT, toT)
			if err != nil {
				return err
			}
			defer a.Close()
			if outDir == "-" {
				if len(args) == 1 && from == "" && to == "" {
					// No unit named: the newest unit with an object.
					if e, ok := newestWithObject(picked); ok {
						if isTerminal(cmd.ErrOrStderr()) {
							fmt.Fprintf(cmd.ErrOrStderr(), "%s %s (the newest unit; name a unit id, as archive list shows them, for another)\n", args[0], e.Manifest.UnitID)
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

// pickUnits picks the newest revision of the units named by ids (all
// when none), keeping the windows that overlap [from, to) when given.
func pickUnits(chain []archive.ChainEntry, schedule string, ids []string, from, to time.Time) ([]archive.ChainEntry, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var picked []archive.ChainEntry
	for _, e := range archive.Latest(chain) {
		m := e.Manifest
		switch {
		case len(want) > 0 && !want[m.UnitID]:
			continue
		case m.Window != nil && !from.IsZero() && !m.Window.End.After(from):
			continue
		case m.Window != nil && !to.IsZero() && !m.Window.Start.Before(to):
			continue
		}
		delete(want, m.UnitID)
		picked = append(picked, e)
	}
	if len(want) > 0 {
		var missing []string
		for id := range want {
			missing = append(missing, id)
		}
		sort.Strings(missing)
		return nil, exitWith(ExitUsage, fmt.Errorf("%s has no archived unit %s (exportd archive list %s shows them)", schedule, strings.Join(missing, ", "), schedule))
	}
	return picked, nil
}

func archiveQueryCmd(g *globals) *cobra.Command {
	var from, to, elementFile string
	sq := &sqlFlags{}
	cmd := &cobra.Command{
		Use:   "query <schedule> [unit-id...] | query LOCATION --sql QUERY [schedule...]",
		Short: "Run a workbook element over archived files (sha256 checked) and print the result as CSV",
		Long: `Fetch the newest revision of the picked units (by id, or by window with --from/--to; all by
default), checking each object's sha256 against its manifest, load them into an embedded DuckDB as the
table ARCHIVE (columns named by the CSV headers, e.g. [Request Time]) and print, as CSV, the result of
the workbook element in --element (the same YAML as a schedule's element, without from), or every row.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if audit.IsLocation(args[0]) {
				return querySQL(cmd, args, sq, from, to)
			}
			if sq.sql != "" {
				return exitWith(ExitUsage, errors.New("--sql needs an archive LOCATION as first argument (s3://bucket/prefix/ or a folder)"))
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
