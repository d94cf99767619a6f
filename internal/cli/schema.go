package cli

import (
	"github.com/spf13/cobra"

	"github.com/exportd/exportd/internal/config"
)

// schemaCmd prints the JSON Schema of the daemon config or of a schedule
// file, for editors (yaml-language-server) and CI checks.
func schemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema [config|schedule]",
		Short: "Print the JSON Schema (2020-12) of the daemon config or of a schedule file",
		Long: `Print the JSON Schema (draft 2020-12) of the daemon config (default) or of a
schedule file. Editors that speak yaml-language-server check and complete a
file that starts with

  # yaml-language-server: $schema=<url or path of the schema>

The schema checks keys, types and enums; exportd validate checks the rest.`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: config.SchemaKinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := config.SchemaConfig
			if len(args) == 1 {
				kind = args[0]
			}
			out, err := config.JSONSchema(kind)
			if err != nil {
				return exitWith(ExitUsage, err)
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
}
