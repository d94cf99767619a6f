package config

//go:generate go run ./internal/gencomments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/exportd/exportd/internal/workbook"
)

// Schema kinds: the daemon config and a schedule file.
const (
	SchemaConfig   = "config"
	SchemaSchedule = "schedule"
)

// SchemaKinds lists what JSONSchema generates, in order.
var SchemaKinds = []string{SchemaConfig, SchemaSchedule}

// SchemaBaseURL is where the published schemas live; each schema's $id
// is this plus its file name.
const SchemaBaseURL = "https://raw.githubusercontent.com/exportd/exportd/main/docs/schema/"

// SchemaFile is the file name of a schema kind under docs/schema.
func SchemaFile(kind string) string { return kind + ".schema.json" }

const configPkg = "github.com/exportd/exportd/internal/config"

// JSONSchema returns the JSON Schema (draft 2020-12) of the daemon config
// (kind "config") or of a schedule file ("schedule"), generated from the
// Go types with their doc comments as descriptions. It checks the shape of
// a file (keys, types, enums, secret references, which keys belong to
// which source or integration type); the loader checks the rest (cron
// expressions, time zones, references between files, formulas).
func JSONSchema(kind string) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		ExpandedStruct:             true,
		CommentMap:                 goComments,
		Mapper:                     schemaScalar,
	}
	var s *jsonschema.Schema
	switch kind {
	case SchemaConfig:
		s = r.Reflect(&Config{})
		// Filled in by Load, not written in the file.
		s.Properties.Delete("schedules")
		s.Title = "exportd daemon config"
		s.Required = []string{"state_dir"}
	case SchemaSchedule:
		s = r.Reflect(&Schedule{})
		s.Properties.Delete("file")
		s.Title = "exportd schedule file"
		s.Required = []string{"name", "source", "cron", "element", "destination"}
	default:
		return nil, fmt.Errorf("unknown schema %q: want one of %s", kind, strings.Join(SchemaKinds, ", "))
	}
	s.Version = "https://json-schema.org/draft/2020-12/schema"
	s.ID = jsonschema.ID(SchemaBaseURL + SchemaFile(kind))
	required := map[string][]string{
		"Source":      {"type"},
		"Integration": {"type"},
		"ObjectLock":  {"mode", "retain"},
		"Window":      {"every", "column"},
		"Destination": {"integration"},
		"Element":     {"from"},
		"Grouping":    {"formula"},
		"CalcColumn":  {"name", "formula"},
		"Order":       {"column"},
	}
	for name, def := range s.Definitions {
		def.Required = required[name]
	}
	if d := s.Definitions["Source"]; d != nil {
		variants(d, map[string]reflect.Type{
			SourceDuckDB:    reflect.TypeFor[DuckDBOptions](),
			SourceSnowflake: reflect.TypeFor[SnowflakeOptions](),
		})
	}
	if d := s.Definitions["Integration"]; d != nil {
		variants(d, map[string]reflect.Type{
			IntegrationFolder: reflect.TypeFor[FolderOptions](),
			IntegrationS3:     reflect.TypeFor[S3Options](),
		})
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// variants makes a type-switched struct exact: type is one of the
// variants, and a key of one variant is refused under another, as the
// loader does.
func variants(def *jsonschema.Schema, byType map[string]reflect.Type) {
	types := slices.Sorted(func(yield func(string) bool) {
		for k := range byType {
			if !yield(k) {
				return
			}
		}
	})
	if t, ok := def.Properties.Get("type"); ok {
		t.Enum = nil
		for _, v := range types {
			t.Enum = append(t.Enum, v)
		}
	}
	for _, v := range types {
		then := &jsonschema.Schema{Properties: jsonschema.NewProperties()}
		for _, other := range types {
			if other == v {
				continue
			}
			for _, key := range yamlKeys(byType[other]) {
				then.Properties.Set(key, jsonschema.FalseSchema)
			}
		}
		cond := &jsonschema.Schema{Properties: jsonschema.NewProperties(), Required: []string{"type"}}
		cond.Properties.Set("type", &jsonschema.Schema{Const: v})
		def.AllOf = append(def.AllOf, &jsonschema.Schema{If: cond, Then: then})
	}
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

var (
	durationPattern = `^[+-]?(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|y))+)$`
	sizePattern     = `^[0-9]+ *(TiB|GiB|MiB|KiB|B)?$`
	secretPattern   = `^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:.+)$`
)

// schemaScalar gives the schema of the types that decode from a scalar of
// their own syntax.
func schemaScalar(t reflect.Type) *jsonschema.Schema {
	desc := goComments[t.PkgPath()+"."+t.Name()]
	enum := func(vals ...string) *jsonschema.Schema {
		s := &jsonschema.Schema{Type: "string", Description: desc}
		for _, v := range vals {
			s.Enum = append(s.Enum, v)
		}
		return s
	}
	switch t {
	case reflect.TypeFor[Secret]():
		return &jsonschema.Schema{Type: "string", Pattern: secretPattern,
			Description: "A secret: a reference ${ENV_VAR} or file:/path, never the value itself."}
	case reflect.TypeFor[Duration]():
		return &jsonschema.Schema{Description: "A duration: a number with a unit (ns, us, ms, s, m, h, d, y), e.g. 90d, 5y, 2h30m.",
			OneOf: []*jsonschema.Schema{{Type: "string", Pattern: durationPattern}, {Type: "integer", Const: 0}}}
	case reflect.TypeFor[Size]():
		return &jsonschema.Schema{Description: "A size in bytes, or with a binary unit: 16MiB, 2GiB, 512KiB.",
			OneOf: []*jsonschema.Schema{{Type: "string", Pattern: sizePattern}, {Type: "integer", Minimum: "0"}}}
	case reflect.TypeFor[time.Time]():
		return &jsonschema.Schema{Type: "string", Description: "A date (2026-09-01) or an RFC 3339 instant."}
	case reflect.TypeFor[CatchUp]():
		return enum(string(CatchUpAll), string(CatchUpLatest), string(CatchUpSkip))
	case reflect.TypeFor[Condition]():
		return enum(string(ConditionAlways), string(ConditionIfData), string(ConditionIfNoData))
	case reflect.TypeFor[SchemaChange]():
		return enum(string(SchemaChangeFail), string(SchemaChangeWarn))
	case reflect.TypeFor[Period]():
		return enum(string(PeriodHour), string(PeriodDay), string(PeriodWeek), string(PeriodMonth))
	}
	return nil
}

// GenerateComments reads the doc comments of the config package in dir
// and of the workbook package beside it, and returns the Go source of
// comments_gen.go.
func GenerateComments(dir string) ([]byte, error) {
	comments, err := ReadComments(dir)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by internal/gencomments; DO NOT EDIT.\n\npackage config\n\n")
	b.WriteString("// goComments are the doc comments of the config and workbook types,\n// keyed by package path, type and field, for the JSON Schema.\n")
	b.WriteString("var goComments = map[string]string{\n")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range comments {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "\t%q: %q,\n", k, comments[k])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

// ReadComments returns the doc comments of the config package in dir and
// of the workbook package beside it, as the JSON Schema reflector keys
// them.
func ReadComments(dir string) (map[string]string, error) {
	r := &jsonschema.Reflector{}
	wbPkg := reflect.TypeFor[workbook.Element]().PkgPath()
	// Keys are the base joined with each file's folder: "." for config,
	// "../workbook" for the workbook package beside it.
	if err := r.AddGoComments(configPkg, dir); err != nil {
		return nil, err
	}
	if err := r.AddGoComments(configPkg, filepath.Join(dir, "..", "workbook")); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range r.CommentMap {
		if (strings.HasPrefix(k, configPkg+".") || strings.HasPrefix(k, wbPkg+".")) && v != "" {
			// One line per paragraph: editors wrap descriptions themselves.
			paras := strings.Split(v, "\n\n")
			for i, p := range paras {
				paras[i] = strings.Join(strings.Fields(p), " ")
			}
			out[k] = strings.Join(paras, "\n\n")
		}
	}
	return out, nil
}
