// Package cli is exportd's command line: cobra commands that parse flags,
// build an app.App and print results. Exit codes: 0 success (including
// "already archived"), 1 failure (an invalid configuration included), 2
// usage error (bad flags or arguments, a refused run request), 75
// (EX_TEMPFAIL) when another run holds the unit.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/exportd/exportd/internal/app"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/logging"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitTempFail = 75
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

type globals struct {
	configPath string
	logLevel   string
	logFormat  string
	now        string
	version    string
	stdout     io.Writer
	stderr     io.Writer
	logger     *zap.Logger
}

func defaultConfigPath() string {
	if p := os.Getenv("EXPORTD_CONFIG"); p != "" {
		return p
	}
	return "config/exportd.yaml"
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	g := &globals{version: version, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "exportd",
		Short: "Scheduled, verifiable exports of warehouse data to long-term archives",
		Long: `exportd runs workbook-style export definitions (schedules/*.yaml) on a warehouse
(DuckDB embedded, Snowflake in production), renders CSV and archives it in a
local folder or S3, exactly once per window, with chained manifests.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := logging.New(logging.Options{Level: g.logLevel, Format: g.logFormat})
			if err != nil {
				return exitWith(ExitUsage, fmt.Errorf("--log-level/--log-format: %w", err))
			}
			g.logger = l
			return nil
		},
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	pf := root.PersistentFlags()
	pf.StringVarP(&g.configPath, "config", "c", defaultConfigPath(), "daemon config file (env EXPORTD_CONFIG)")
	pf.StringVar(&g.logLevel, "log-level", "info", "debug, info, warn or error")
	pf.StringVar(&g.logFormat, "log-format", "", "console or json (default: console on a terminal, json otherwise)")
	// --now pins the daemon's clock (which windows are due, the demo data's
	// end): for rehearsals and tests, never for production.
	pf.StringVar(&g.now, "now", "", "pretend the current time is this RFC 3339 instant (rehearsals and tests)")
	_ = pf.MarkHidden("now")

	root.AddCommand(runCmd(g), validateCmd(g), explainCmd(g), nextCmd(g), serveCmd(g),
		statusCmd(), runsCmd(), pauseCmd(false), pauseCmd(true), archiveCmd(g),
		healthcheckCmd(g), schemaCmd())
	err := root.Execute()
	if g.logger != nil {
		_ = g.logger.Sync()
	}
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	code := ExitFailure
	if errors.As(err, &ee) {
		code = ee.code
	} else if isUsage(err) {
		code = ExitUsage
	}
	fmt.Fprintln(stderr, "exportd:", err)
	return code
}

func isUsage(err error) bool {
	// cobra's argument and flag errors.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires ", "invalid argument", "flag needs"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (g *globals) load(ctx context.Context, o app.Options) (*app.App, error) {
	o.ConfigPath = g.configPath
	o.Logger = g.logger
	o.Version = g.version
	if g.now != "" {
		t, err := time.Parse(time.RFC3339, g.now)
		if err != nil {
			return nil, exitWith(ExitUsage, fmt.Errorf("--now %q: want an RFC 3339 instant", g.now))
		}
		o.Now = func() time.Time { return t }
	}
	a, err := app.Load(ctx, o)
	if err != nil {
		if errors.Is(err, config.ErrInvalid) {
			// Every problem, one per line, located; exit 1.
			return nil, exitWith(ExitFailure, fmt.Errorf("invalid configuration:\n%w", err))
		}
		return nil, err
	}
	return a, nil
}
