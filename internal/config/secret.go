package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Redacted is what every printing path of a Secret shows.
const Redacted = "[redacted]"

// maxSecretFile bounds a file: secret; a key or a password is small, and a
// mistaken path such as /dev/zero must not hang the daemon.
const maxSecretFile = 64 << 10

var envRefRE = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// Secret is a credential in the daemon config. In YAML it is only ever a
// reference: "${ENV_VAR}" or "file:/path" (a relative path resolves against
// the config file's folder; one trailing newline is dropped). Load expands
// the reference after parsing; a literal value is a config error, so a
// password can never be committed with the config.
//
// Every way of printing a Secret (String, GoString, Format with any verb,
// MarshalJSON, MarshalYAML, MarshalText, slog) shows "[redacted]", or ""
// when no secret is configured. Reveal is the only way to the value. The
// value sits behind a pointer so that even fmt's reflection over a struct
// holding a Secret in an unexported field prints an address, not the value.
type Secret struct {
	ref string
	v   *secretValue
}

type secretValue struct{ s string }

// IsSet reports whether the secret has been resolved to a value.
func (s Secret) IsSet() bool { return s.v != nil }

// IsZero reports whether no reference is configured (for omitempty).
func (s Secret) IsZero() bool { return s.ref == "" }

// Ref returns the reference as written, e.g. "${SNOWFLAKE_PASSWORD}". It
// names where the value comes from and is safe to print.
func (s Secret) Ref() string { return s.ref }

// Reveal returns the value ("" when not resolved). Call it only where the
// value is handed to a driver or compared; never log what it returns.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.s
}

// NewSecret returns a resolved secret, for tests and for callers that
// build a Config in code.
func NewSecret(ref, value string) Secret { return Secret{ref: ref, v: &secretValue{value}} }

func (s Secret) shown() string {
	if s.ref == "" && s.v == nil {
		return ""
	}
	return Redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.shown() }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return s.shown() }

// Format implements fmt.Formatter for every verb (%s, %v, %+v, %#v, %q, %x…).
func (s Secret) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, s.shown()) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.shown() + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.shown(), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// UnmarshalYAML accepts a reference only. The message for a literal never
// repeats the value.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr("must be a reference like ${ENV_VAR} or file:/path, not " + describeNode(n))
	}
	if n.ShortTag() == "!!null" || n.Value == "" {
		*s = Secret{}
		return nil
	}
	v := strings.TrimSpace(n.Value)
	if envRefRE.MatchString(v) || (strings.HasPrefix(v, "file:") && len(v) > len("file:")) {
		*s = Secret{ref: v}
		return nil
	}
	return typeErr("must be a reference like ${ENV_VAR} or file:/path/to/secret, not a literal value; " +
		"move the value into an environment variable or a file")
}

// secretEnv is the environment variable a reference names, or "".
func (s Secret) secretEnv() string {
	if m := envRefRE.FindStringSubmatch(s.ref); m != nil {
		return m[1]
	}
	return ""
}

// unsetError is an ${ENV_VAR} reference whose variable is unset or empty;
// an optional secret (server.token on loopback) tolerates it.
type unsetError struct {
	name  string
	empty bool
}

func (e *unsetError) Error() string {
	if e.empty {
		return "environment variable " + e.name + " is set but empty"
	}
	return "environment variable " + e.name + " is not set; export it before starting exportd"
}

// resolve expands the reference. Errors name the variable or the path,
// never a value.
func (s *Secret) resolve(lookupEnv func(string) (string, bool), dir string) error {
	if s.ref == "" {
		return nil
	}
	if name := s.secretEnv(); name != "" {
		v, ok := lookupEnv(name)
		if !ok || v == "" {
			return &unsetError{name: name, empty: ok}
		}
		s.v = &secretValue{v}
		return nil
	}
	p := strings.TrimPrefix(s.ref, "file:")
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot read secret file %s: %s", p, pathErrReason(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return fmt.Errorf("cannot read secret file %s: %s", p, pathErrReason(err))
	}
	if len(data) > maxSecretFile {
		return fmt.Errorf("secret file %s is larger than 64KiB; point at the secret itself", p)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if v == "" {
		return fmt.Errorf("secret file %s is empty", p)
	}
	s.v = &secretValue{v}
	return nil
}

// pathErrReason drops the path from an *fs.PathError; the caller names it.
func pathErrReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
