package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/exportd/exportd/internal/server"
)

// defaultServer is the daemon the status commands ask: EXPORTD_SERVER, or
// the default listen address.
func defaultServer() string {
	if s := os.Getenv("EXPORTD_SERVER"); s != "" {
		return s
	}
	return "http://127.0.0.1:8080"
}

// client builds an API client for url with the token from EXPORTD_TOKEN or
// EXPORTD_TOKEN_FILE (never a flag: it would show in ps and shell history).
func client(url string) (*server.Client, error) {
	token, err := server.TokenFromEnv()
	if err != nil {
		return nil, exitWith(ExitUsage, err)
	}
	return &server.Client{BaseURL: strings.TrimSuffix(url, "/"), Token: token}, nil
}

// remoteErr maps an API error to the CLI's exit codes.
func remoteErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, server.ErrUnknownSchedule), errors.Is(err, server.ErrBadRequest):
		return exitWith(ExitUsage, err)
	case errors.Is(err, server.ErrUnavailable):
		return exitWith(ExitTempFail, err)
	}
	return err
}

func statusCmd() *cobra.Command {
	var serverURL string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [schedule]",
		Short: "Show the schedules of a running daemon: status, next fire, freshness, last run",
		Long: `Ask a running daemon (--server, default $EXPORTD_SERVER or
http://127.0.0.1:8080) for its schedules: status (idle, running, paused,
failing), next fire, freshness (end of the newest archived window), the last
run, consecutive failures and lost windows. Times are UTC.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(serverURL)
			if err != nil {
				return err
			}
			var list []server.ScheduleStatus
			if len(args) == 1 {
				s, err := c.Schedule(cmd.Context(), args[0])
				if err != nil {
					return remoteErr(err)
				}
				list = []server.ScheduleStatus{s}
			} else if list, err = c.Schedules(cmd.Context()); err != nil {
				return remoteErr(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SCHEDULE\tSTATUS\tNEXT FIRE\tFRESHNESS\tLAST RUN\tFAILURES\tLOST")
			for _, s := range list {
				last := "-"
				if r := s.LastRun; r != nil {
					last = r.Outcome + " " + r.Unit
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", s.Name, s.Status, stamp(s.NextFire), stamp(s.Freshness),
					last, s.ConsecutiveFailures, s.LostWindows)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", defaultServer(), "the daemon's API")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

func runsCmd() *cobra.Command {
	var serverURL, schedule string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "Show a running daemon's run history, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(serverURL)
			if err != nil {
				return err
			}
			runs, err := c.Runs(cmd.Context(), schedule, limit)
			if err != nil {
				return remoteErr(err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), runs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCHEDULE\tUNIT\tTRIGGER\tOUTCOME\tFINISHED\tROWS\tBYTES\tKEY / ERROR")
			for _, r := range runs {
				what := r.Key
				if r.Error != "" {
					what = r.Error
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.ID, r.Schedule, r.Unit, r.Trigger, r.Outcome,
					stamp(r.Finished), r.Rows, r.Bytes, what)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", defaultServer(), "the daemon's API")
	cmd.Flags().StringVar(&schedule, "schedule", "", "only this schedule's runs")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	return cmd
}

// pauseCmd is pause or resume.
func pauseCmd(resume bool) *cobra.Command {
	var serverURL string
	use, short := "pause <schedule>", "Pause a schedule on a running daemon (it stays paused across restarts)"
	if resume {
		use, short = "resume <schedule>", "Resume a paused schedule on a running daemon (its failures are forgotten)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(serverURL)
			if err != nil {
				return err
			}
			call := c.Pause
			if resume {
				call = c.Resume
			}
			s, err := call(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (next fire %s)\n", s.Name, s.Status, stamp(s.NextFire))
			return nil
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", defaultServer(), "the daemon's API")
	return cmd
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
