package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/exportd/exportd/internal/config"
)

// healthcheckCmd asks a running daemon's /healthz (or /readyz with
// --ready), for container health checks that have no shell or curl
// (distroless): exit 0 when it answers 200, 1 otherwise. It reads only
// server.listen from the config, so it needs none of the daemon's secrets.
// /healthz is liveness: a daemon waiting for an unreachable store is alive
// (restarting it would not help); --ready follows /readyz and prints why
// the daemon is not ready, when the daemon shows it (loopback without a
// token).
func healthcheckCmd(g *globals) *cobra.Command {
	var url string
	var timeout time.Duration
	var ready bool
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the daemon at the config's server.listen answers /healthz (or /readyz with --ready)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				listen, err := listenAddress(g.configPath)
				if err != nil {
					return err
				}
				path := "/healthz"
				if ready {
					path = "/readyz"
				}
				url = "http://" + listen + path
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return exitWith(ExitUsage, fmt.Errorf("--url: %w", err))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("unhealthy: %w", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				what := "unhealthy"
				if ready {
					what = "not ready"
				}
				var body struct {
					Reason string `json:"reason"`
				}
				_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
				if body.Reason != "" {
					return fmt.Errorf("%s: %s", what, body.Reason)
				}
				return fmt.Errorf("%s: %s answered %s", what, url, resp.Status)
			}
			if ready {
				fmt.Fprintln(cmd.OutOrStdout(), "ready")
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "health URL (default: http://<server.listen>/healthz, or /readyz with --ready, from the config)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	cmd.Flags().BoolVar(&ready, "ready", false, "ask /readyz (the stores and sources are reachable) instead of /healthz (the process serves)")
	return cmd
}

// listenAddress is the address to dial for the config's server.listen: a
// wildcard host (":8080", "0.0.0.0:8080", "[::]:8080") is dialled on
// loopback.
func listenAddress(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read config: %w", err)
	}
	var f struct {
		Server struct {
			Listen string `yaml:"listen"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	listen := f.Server.Listen
	if listen == "" {
		listen = config.DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%s: server.listen %q: %w", path, listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port), nil
}
