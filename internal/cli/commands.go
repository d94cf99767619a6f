package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/archive"
	"github.com/exportd/exportd/internal/domain"
	"github.com/exportd/exportd/internal/export"
	"github.com/exportd/exportd/internal/schedule"
	"github.com/exportd/exportd/internal/server"
)

func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, exitWith(ExitUsage, fmt.Errorf("--%s %q: want an RFC 3339 time (2026-11-25T06:00:00Z) or a date (2026-11-25, UTC)", flag, s))
}

func runCmd(g *globals) *cobra.Command {
	var at, window, serverURL string
	var adhoc, asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "run <schedule>",
		Short: "Export one unit of a schedule now, in the foreground",
		Long: `Run one export now and print its object key, rows, bytes and sha256.
On a terminal a live line shows the rows and bytes streamed so far, the rate
and the time elapsed; one summary line (on stderr) ends every export.

A snapshot schedule exports its element at the logical time (--at, default
now). A windowed schedule exports its latest closed window, or the window
starting at --window. Running the same unit twice archives it once: the
second run prints "already archived" and exits 0.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			atT, err := parseTime("at", at)
			if err != nil {
				return err
			}
			ws, err := parseTime("window", window)
			if err != nil {
				return err
			}
			if window != "" && ws.IsZero() {
				return exitWith(ExitUsage, fmt.Errorf("--window %s is the zero time, not a window start; leave --window out for the latest closed window", window))
			}
			if serverURL != "" {
				return runRemote(cmd, serverURL, args[0], ws, adhoc, at)
			}
			a, err := g.load(ctx, app.Options{})
			if err != nil {
				return err
			}
			defer a.Close()
			errOut := cmd.ErrOrStderr()
			prog := newRunProgress(errOut, args[0], !asJSON && !quiet && isTerminal(errOut))
			res, err := a.RunOnce(export.WithProgress(ctx, prog), app.RunRequest{Schedule: args[0], At: atT, WindowStart: ws, Adhoc: adhoc})
			prog.finish()
			out := cmd.OutOrStdout()
			switch {
			case errors.Is(err, archive.ErrAlreadyArchived):
				if asJSON {
					return writeJSON(out, runJSON(args[0], res, "already_archived"))
				}
				fmt.Fprintf(out, "already archived: %s %s\n  manifest %s\n", args[0], res.Unit.ID(), res.ManifestKey)
				return nil
			case errors.Is(err, archive.ErrClaimed):
				return exitWith(ExitTempFail, fmt.Errorf("%s %s: %w", args[0], res.Unit.ID(), err))
			case errors.Is(err, app.ErrBadRequest):
				return exitWith(ExitUsage, err)
			case err != nil:
				return err
			}
			if o := res.Object; o != nil {
				fmt.Fprintln(errOut, prog.summary(res.Kind, res.Unit.ID(), o.Rows, o.Bytes, res.Duration))
			}
			switch {
			case asJSON:
				return writeJSON(out, runJSON(args[0], res, res.Kind))
			case !quiet:
				printResult(out, args[0], res)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON (no live progress line)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the one-line summary (on stderr)")
	cmd.Flags().StringVar(&at, "at", "", "logical time of the run (RFC 3339; default now)")
	cmd.Flags().StringVar(&window, "window", "", "start of the window to export (windowed schedules; default the latest closed one)")
	cmd.Flags().BoolVar(&adhoc, "adhoc", false, "export a one-off snapshot of a windowed schedule under adhoc/")
	cmd.Flags().StringVar(&serverURL, "server", "", "trigger the run on a running daemon (http://127.0.0.1:8080); the token comes from EXPORTD_TOKEN or EXPORTD_TOKEN_FILE")
	return cmd
}

// runRemote asks a running daemon to run the unit now and waits for it.
func runRemote(cmd *cobra.Command, url, name string, windowStart time.Time, adhoc bool, at string) error {
	if at != "" {
		return exitWith(ExitUsage, errors.New("--at cannot be used with --server: the daemon runs at its own time"))
	}
	token, err := server.TokenFromEnv()
	if err != nil {
		return exitWith(ExitUsage, err)
	}
	c := &server.Client{BaseURL: strings.TrimSuffix(url, "/"), Token: token}
	req := server.RunRequest{Adhoc: adhoc, Wait: true}
	if !windowStart.IsZero() {
		req.WindowStart = &windowStart
	}
	out, err := c.RunNow(cmd.Context(), name, req)
	w := cmd.OutOrStdout()
	switch {
	case errors.Is(err, server.ErrAlreadyArchived):
		fmt.Fprintf(w, "already archived: %s %s\n  manifest %s\n", name, out.Run.Unit, out.Manifest)
		return nil
	case errors.Is(err, server.ErrRunning):
		return exitWith(ExitTempFail, err)
	case errors.Is(err, server.ErrBadRequest), errors.Is(err, server.ErrUnknownSchedule):
		return exitWith(ExitUsage, err)
	case err != nil:
		return err
	}
	r := out.Run
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s %s\n", out.Status, name, r.Unit)
	if r.Key != "" {
		fmt.Fprintf(tw, "key\t%s\nrows\t%d\nbytes\t%d\n", r.Key, r.Rows, r.Bytes)
	}
	if r.ManifestKey != "" {
		fmt.Fprintf(tw, "manifest\t%s\n", r.ManifestKey)
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", r.Error)
	}
	tw.Flush()
	if out.Status == domain.OutcomeFailed {
		return exitWith(ExitFailure, fmt.Errorf("run of %s failed on the daemon", name))
	}
	return nil
}

// runResultJSON is run --json's answer.
type runResultJSON struct {
	Schedule    string  `json:"schedule"`
	Unit        string  `json:"unit"`
	Status      string  `json:"status"`
	Repaired    bool    `json:"repaired,omitempty"`
	Key         string  `json:"key,omitempty"`
	Rows        int64   `json:"rows"`
	Bytes       int64   `json:"bytes"`
	SHA256      string  `json:"sha256,omitempty"`
	QueryID     string  `json:"query_id,omitempty"`
	Manifest    string  `json:"manifest,omitempty"`
	DurationSec float64 `json:"duration_seconds"`
}

func runJSON(name string, res app.RunResult, status string) runResultJSON {
	r := runResultJSON{Schedule: name, Unit: res.Unit.ID(), Status: status, Repaired: res.Repaired,
		QueryID: res.QueryID, Manifest: res.ManifestKey, DurationSec: res.Duration.Seconds()}
	if o := res.Object; o != nil {
		r.Key, r.Rows, r.Bytes, r.SHA256 = o.Key, o.Rows, o.Bytes, o.SHA256
	}
	return r
}

func printResult(w io.Writer, name string, res app.RunResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if res.Repaired {
		fmt.Fprintf(tw, "repaired\t%s %s (completed an interrupted run)\n", name, res.Unit.ID())
	} else {
		fmt.Fprintf(tw, "%s\t%s %s\n", res.Kind, name, res.Unit.ID())
	}
	if o := res.Object; o != nil {
		fmt.Fprintf(tw, "key\t%s\n", o.Key)
		fmt.Fprintf(tw, "rows\t%d\n", o.Rows)
		fmt.Fprintf(tw, "bytes\t%d\n", o.Bytes)
		fmt.Fprintf(tw, "sha256\t%s\n", o.SHA256)
	}
	if res.QueryID != "" {
		fmt.Fprintf(tw, "query id\t%s\n", res.QueryID)
	}
	fmt.Fprintf(tw, "manifest\t%s\n", res.ManifestKey)
	fmt.Fprintf(tw, "duration\t%s\n", res.Duration.Round(time.Millisecond))
	tw.Flush()
}

func validateCmd(g *globals) *cobra.Command {
	var online, skipSecrets bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config and every schedule; report every problem at once",
		Long: `Check config/exportd.yaml and every schedule file: YAML shape, references,
cron, time zones, filename templates, and each element's formulas type-checked
against the source's columns (embedded sources are opened, unless the columns
cached under state_dir were read from the same database and init files;
others use the columns cached under state_dir or declared in the config, or
the live warehouse with --online). Each problem prints as file:line:col: export "name":
field: message. Exit 1 if there is any.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.load(cmd.Context(), app.Options{Online: online, SkipSecrets: skipSecrets, NoRows: true})
			if err != nil {
				return err
			}
			defer a.Close()
			cfg := a.Config()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d schedules, %d sources, %d integrations)\n",
				cfg.File, len(cfg.Schedules), len(cfg.Sources), len(cfg.Integrations))
			return nil
		},
	}
	cmd.Flags().BoolVar(&online, "online", false, "read table columns from every warehouse (and refresh the cache)")
	cmd.Flags().BoolVar(&skipSecrets, "skip-secrets", false, "check secret references without resolving them (CI without credentials)")
	return cmd
}

func explainCmd(g *globals) *cobra.Command {
	var dialect string
	cmd := &cobra.Command{
		Use:   "explain <schedule>",
		Short: "Print the SQL a schedule's element compiles to, with its parameters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.load(cmd.Context(), app.Options{NoRows: true})
			if err != nil {
				return err
			}
			defer a.Close()
			c, err := a.Explain(cmd.Context(), args[0], dialect)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "-- %s (%s)\n", args[0], c.Dialect)
			for i, p := range c.Params {
				fmt.Fprintf(out, "-- parameter %d: %s (%s)\n", i+1, p.Name, p.Type)
			}
			var cols []string
			for _, oc := range c.Columns {
				cols = append(cols, fmt.Sprintf("%s %s", oc.Name, oc.Type))
			}
			fmt.Fprintf(out, "-- columns: %s\n%s\n", strings.Join(cols, ", "), c.SQL)
			return nil
		},
	}
	cmd.Flags().StringVar(&dialect, "dialect", "", "duckdb or snowflake (default: the source's)")
	return cmd
}

func nextCmd(g *globals) *cobra.Command {
	var n int
	var from, zone string
	cmd := &cobra.Command{
		Use:   "next <schedule>",
		Short: "Preview the next fires of a schedule, local and UTC, with the windows each exports",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fromT, err := parseTime("from", from)
			if err != nil {
				return err
			}
			if fromT.IsZero() {
				fromT = time.Now()
			}
			a, err := g.load(cmd.Context(), app.Options{NoRows: true})
			if err != nil {
				return err
			}
			defer a.Close()
			s := a.Config().Schedule(args[0])
			if s == nil {
				return exitWith(ExitUsage, fmt.Errorf("unknown schedule %q", args[0]))
			}
			if zone != "" {
				// What if the schedule ran in another zone: its cron and
				// windows in that zone, nothing else changed.
				loc, err := time.LoadLocation(zone)
				if err != nil || zone == "Local" {
					return exitWith(ExitUsage, fmt.Errorf("--timezone %q: want an IANA time zone such as America/Los_Angeles", zone))
				}
				fires, err := schedule.ParseCron(s.Cron, loc)
				if err != nil {
					return err
				}
				what := *s
				what.Timezone, what.Location, what.Fires = zone, loc, fires
				s = &what
			}
			fires, err := a.Preview(s, fromT, n)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "LOCAL (%s)\tUTC\tWINDOWS\n", s.Location)
			for _, f := range fires {
				ws := "snapshot"
				if s.Window != nil {
					var ids []string
					for _, w := range f.Windows {
						ids = append(ids, w.ID())
					}
					ws = strings.Join(ids, " ")
					if ws == "" {
						ws = "-"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Local.Format("2006-01-02 15:04:05 MST"), f.UTC.Format(time.RFC3339), ws)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVarP(&n, "count", "n", 10, "how many fires")
	cmd.Flags().StringVar(&from, "from", "", "preview fires after this time (default now)")
	cmd.Flags().StringVar(&zone, "timezone", "", "preview as if the schedule's timezone were this IANA zone (default: its own)")
	return cmd
}

func serveCmd(g *globals) *cobra.Command {
	var once, noCache bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run every schedule on its cron until SIGTERM (or catch up once with --once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.load(ctx, app.Options{ConfigCache: !noCache})
			if err != nil {
				return err
			}
			defer a.Close()
			g.logger.Info("configuration loaded", zap.Int("schedules", len(a.Config().Schedules)),
				zap.Int("schedule_files_from_cache", a.Config().DecodedHits()))
			if once {
				return a.ServeOnce(ctx, func(fr app.FireResult) {
					fmt.Fprintf(cmd.OutOrStdout(), "catch-up: %d exported, %d already archived, %d lost, %d skipped, %d failed\n",
						fr.Exported, fr.AlreadyArchived, fr.Lost, fr.Skipped, fr.Failed)
				})
			}
			return a.Run(ctx)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "catch up every schedule, then exit (0, or 1 if any window failed)")
	cmd.Flags().BoolVar(&noCache, "no-config-cache", false, "parse every schedule file, without state_dir/schedules.cache (kept from the last start, for the same binary)")
	return cmd
}
