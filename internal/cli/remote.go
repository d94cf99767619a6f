package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
run, consecutive failures and lost windows. Times are UTC. On a terminal
the table is aligned, with how far ahead or behind each time is; piped or
redirected it is plain tab-aligned text, and --json prints the API's answer.`,
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
			out := cmd.OutOrStdout()
			tty := isTerminal(out)
			now := time.Now()
			t := &table{header: []string{"SCHEDULE", "STATUS", "NEXT FIRE", "FRESHNESS", "LAST RUN", "FAILURES", "LOST"},
				right: map[int]bool{5: true, 6: true}}
			for _, s := range list {
				last := "-"
				if r := s.LastRun; r != nil {
					last = r.Outcome + " " + r.Unit
				}
				next, fresh := stamp(s.NextFire), stamp(s.Freshness)
				status := s.Status
				if tty {
					next, fresh = when(s.NextFire, now), when(s.Freshness, now)
					if !s.Freshness.IsZero() {
						fresh = s.Freshness.UTC().Format("2006-01-02 15:04Z") + " (" + strings.TrimSuffix(ago(s.Freshness, now), " ago") + " behind)"
					}
					if r := s.LastRun; r != nil && !r.Finished.IsZero() {
						last += " (" + ago(r.Finished, now) + ")"
					}
					if p := s.Pause; p != nil {
						status += " (" + p.Reason + ")"
					}
				}
				t.add(s.Name, status, next, fresh, last, fmt.Sprint(s.ConsecutiveFailures), fmt.Sprint(s.LostWindows))
			}
			return t.print(out)
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
			out := cmd.OutOrStdout()
			tty := isTerminal(out)
			now := time.Now()
			t := &table{header: []string{"ID", "SCHEDULE", "UNIT", "TRIGGER", "OUTCOME", "FINISHED", "ROWS", "BYTES", "KEY / ERROR"},
				right: map[int]bool{6: true, 7: true}}
			for _, r := range runs {
				what := r.Key
				if r.Error != "" {
					what = r.Error
				}
				finished, rows, size := stamp(r.Finished), fmt.Sprint(r.Rows), fmt.Sprint(r.Bytes)
				if tty {
					finished, rows, size = ago(r.Finished, now), thousands(r.Rows), iec(float64(r.Bytes))
					if r.Finished.IsZero() {
						finished = "-"
					}
					what = strings.Join(strings.Fields(what), " ") // one line
				}
				trigger := r.Trigger
				if trigger == "" {
					// A run read from the archive (serve --once, exportd run,
					// another replica): what triggered it is not recorded.
					trigger = "-"
				}
				t.add(r.ID, r.Schedule, r.Unit, trigger, r.Outcome, finished, rows, size, what)
			}
			return t.print(out)
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
