// Command gencomments writes the doc comments of the config and workbook
// types into comments_gen.go, so that `exportd schema` describes every
// field in a built binary, where no source is at hand. Run it with
// `go generate ./internal/config`.
package main

import (
	"fmt"
	"os"

	"github.com/exportd/exportd/internal/config"
)

func main() {
	src, err := config.GenerateComments(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencomments:", err)
		os.Exit(1)
	}
	if err := os.WriteFile("comments_gen.go", src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gencomments:", err)
		os.Exit(1)
	}
}
