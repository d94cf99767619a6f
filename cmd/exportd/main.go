// Command exportd archives warehouse exports (Sigma-style workbook elements)
// on a schedule, to S3 or a local folder, for long-term retention.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/exportd/exportd/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, version, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
