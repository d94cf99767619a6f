package config

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Redacted renders the effective configuration as YAML, for `exportd
// config show`: defaults applied, paths resolved, every schedule included,
// and every secret shown as "[redacted]" (an unset one is left out). It is
// a view for people, not a file Load reads back.
func (c *Config) Redacted() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# effective configuration of %s; secrets are redacted\n", c.File)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return b.Bytes(), nil
}
