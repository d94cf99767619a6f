package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const repoRoot = "../.."

// TestCommentsGenerated fails when comments_gen.go no longer matches the
// doc comments of the config and workbook types.
func TestCommentsGenerated(t *testing.T) {
	got, err := ReadComments(".")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, goComments) {
		for k, v := range got {
			if goComments[k] != v {
				t.Errorf("%s: source says %q, comments_gen.go %q", k, v, goComments[k])
			}
		}
		for k := range goComments {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: in comments_gen.go, no longer in the source", k)
			}
		}
		t.Fatal("comments_gen.go is stale: run go generate ./internal/config")
	}
	if len(goComments) < 50 {
		t.Fatalf("only %d doc comments extracted", len(goComments))
	}
}

// TestSchemaDescribesFields checks that the schema is the one of the files
// as the loader decodes them: the same keys, with the doc comments as
// descriptions.
func TestSchemaDescribesFields(t *testing.T) {
	for kind, raw := range map[string]reflect.Type{
		SchemaConfig:   reflect.TypeFor[daemonFile](),
		SchemaSchedule: reflect.TypeFor[scheduleFile](),
	} {
		var s struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		}
		out, err := JSONSchema(kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatal(err)
		}
		want := yamlKeys(raw)
		got := slices.Sorted(maps.Keys(s.Properties))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s schema keys %v, loader decodes %v", kind, got, want)
		}
		key, words := "state_dir", "spool folder"
		if kind == SchemaSchedule {
			key, words = "cron", "5-field expression"
		}
		if d := s.Properties[key].Description; !strings.Contains(d, words) {
			t.Errorf("%s schema: %s has no doc comment as description: %q", kind, key, d)
		}
	}
}

// TestSchemaFilesCurrent: docs/schema holds exactly what exportd schema
// prints.
func TestSchemaFilesCurrent(t *testing.T) {
	for _, kind := range SchemaKinds {
		want, err := JSONSchema(kind)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(repoRoot, "docs/schema", SchemaFile(kind)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/schema/%s is stale: run go run ./cmd/exportd schema %s > docs/schema/%s", SchemaFile(kind), kind, SchemaFile(kind))
		}
	}
	if _, err := JSONSchema("nope"); err == nil {
		t.Error("an unknown schema kind was accepted")
	}
}

// schemas compiles both schemas with the real validator.
func schemas(t *testing.T) map[string]*sjs.Schema {
	t.Helper()
	c := sjs.NewCompiler()
	out := map[string]*sjs.Schema{}
	for _, kind := range SchemaKinds {
		b, err := JSONSchema(kind)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := sjs.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		url := SchemaBaseURL + SchemaFile(kind)
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		if out[kind], err = c.Compile(url); err != nil {
			t.Fatalf("%s schema does not compile: %v", kind, err)
		}
	}
	return out
}

// instance turns YAML into the JSON value a schema validates, as
// yaml-language-server does.
func instance(t *testing.T, name string, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	inst, err := sjs.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

var schemaLineRE = regexp.MustCompile(`^# yaml-language-server: \$schema=(\S+)$`)

// TestShippedFilesValidate: every YAML file shipped under config/,
// schedules/ and deploy/ names its schema for editors, and each exportd
// file is valid against the schema it names.
func TestShippedFilesValidate(t *testing.T) {
	sch := schemas(t)
	checked := map[string]int{}
	for _, dir := range []string{"config", "schedules", "deploy"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
				return err
			}
			rel, _ := filepath.Rel(repoRoot, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			ref := ""
			sc := bufio.NewScanner(bytes.NewReader(data))
			for i := 0; i < 5 && sc.Scan(); i++ {
				if m := schemaLineRE.FindStringSubmatch(sc.Text()); m != nil {
					ref = m[1]
				}
			}
			if ref == "" {
				t.Errorf("%s: no `# yaml-language-server: $schema=...` line in its first 5 lines", rel)
				return nil
			}
			for _, kind := range SchemaKinds {
				if filepath.Base(ref) != SchemaFile(kind) {
					continue
				}
				// Editors resolve the path against the file's folder.
				if got, want := filepath.Clean(filepath.Join(filepath.Dir(p), ref)), filepath.Join(repoRoot, "docs/schema", SchemaFile(kind)); got != want {
					t.Errorf("%s: $schema=%s resolves to %s, not %s", rel, ref, got, want)
				}
				if err := sch[kind].Validate(instance(t, rel, data)); err != nil {
					t.Errorf("%s: not valid against the %s schema:\n%v", rel, kind, err)
				}
				checked[kind]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The production config loads with its schedules (secrets are only
	// references here), and the Kubernetes copy is the same file.
	prod := filepath.Join(repoRoot, "deploy/config/exportd.yaml")
	cfg, err := Load(prod, LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatalf("deploy/config/exportd.yaml: %v", err)
	}
	if cfg.StateDir != "/var/lib/exportd" || len(cfg.Schedules) == 0 {
		t.Errorf("deploy/config/exportd.yaml: state_dir %s, %d schedules; want /var/lib/exportd and at least one", cfg.StateDir, len(cfg.Schedules))
	}
	for _, pair := range [][2]string{
		{"deploy/config/exportd.yaml", "deploy/kubernetes/config/exportd.yaml"},
		{"deploy/schedules/audit-log-rows.yaml", "deploy/kubernetes/schedules/audit-log-rows.yaml"},
	} {
		a, errA := os.ReadFile(filepath.Join(repoRoot, pair[0]))
		b, errB := os.ReadFile(filepath.Join(repoRoot, pair[1]))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		// All but the schema line, whose relative path differs.
		_, restA, _ := bytes.Cut(a, []byte("\n"))
		_, restB, _ := bytes.Cut(b, []byte("\n"))
		if !bytes.Equal(restA, restB) {
			t.Errorf("%s differs from %s: copy it over (kustomize reads only files under its folder)", pair[1], pair[0])
		}
	}
	// The demo and the production config, and their schedules.
	if checked[SchemaConfig] < 2 || checked[SchemaSchedule] < 3 {
		t.Errorf("validated %v; want at least 2 configs and 3 schedules", checked)
	}
}

// TestREADMEExamplesValidate checks every YAML block of the README (and
// docs/) against the schema. A fragment (a few keys of a config or of a
// schedule) is checked laid over the shipped demo file.
func TestREADMEExamplesValidate(t *testing.T) {
	sch := schemas(t)
	base := map[string]map[string]any{}
	for kind, p := range map[string]string{SchemaConfig: "config/exportd.yaml", SchemaSchedule: "schedules/daily-login-activity.yaml"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		base[kind] = m
	}
	docs, _ := filepath.Glob(filepath.Join(repoRoot, "docs/*.md"))
	blocks := 0
	for _, p := range append([]string{filepath.Join(repoRoot, "README.md")}, docs...) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, p)
		for i, block := range yamlBlocks(string(data)) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(block.text), &m); err != nil {
				t.Errorf("%s:%d: YAML example does not parse: %v", rel, block.line, err)
				continue
			}
			kind := SchemaConfig
			for _, k := range []string{"name", "cron", "element", "destination", "window"} {
				if _, ok := m[k]; ok {
					kind = SchemaSchedule
				}
			}
			if _, ok := m["apiVersion"]; ok {
				continue // a Kubernetes object, checked by the deploy module
			}
			doc := maps.Clone(base[kind])
			maps.Copy(doc, m)
			j, _ := yaml.Marshal(doc)
			if err := sch[kind].Validate(instance(t, rel, j)); err != nil {
				t.Errorf("%s:%d: example %d is not a valid %s:\n%v", rel, block.line, i+1, kind, err)
			}
			blocks++
		}
	}
	if blocks < 4 {
		t.Errorf("checked %d YAML examples; the README has at least 4", blocks)
	}
}

type mdBlock struct {
	line int
	text string
}

func yamlBlocks(md string) []mdBlock {
	var out []mdBlock
	var cur *strings.Builder
	start := 0
	for i, line := range strings.Split(md, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```yaml":
			cur, start = &strings.Builder{}, i+2
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, mdBlock{start, cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return out
}

// TestSchemaAgreesWithLoader: on testdata/schema, the schema and the loader
// accept and reject the same files (ok-* accepted, the rest rejected).
func TestSchemaAgreesWithLoader(t *testing.T) {
	sch := schemas(t)
	files, _ := filepath.Glob("testdata/schema/*.yaml")
	var accepted, rejected int
	for _, p := range files {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var dir, kind string
			if strings.HasSuffix(name, ".config.yaml") {
				kind = SchemaConfig
				dir = t.TempDir()
				copyFile(t, p, filepath.Join(dir, "exportd.yaml"))
				if err := os.MkdirAll(filepath.Join(dir, "schedules"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				kind = SchemaSchedule
				dir = baseTree(t)
				copyFile(t, p, filepath.Join(dir, "schedules", name))
			}
			schemaErr := sch[kind].Validate(instance(t, name, data))
			_, loadErr := Load(filepath.Join(dir, "exportd.yaml"), LoadOptions{SkipSecrets: true})
			wantOK := strings.HasPrefix(name, "ok-")
			if (schemaErr == nil) != wantOK || (loadErr == nil) != wantOK {
				t.Errorf("want accepted=%v; schema says %v; loader says %v", wantOK, schemaErr, loadErr)
			}
			if wantOK {
				accepted++
			} else {
				rejected++
			}
		})
	}
	if accepted < 2 || rejected < 10 {
		t.Errorf("%d accepted and %d rejected files; the set needs both", accepted, rejected)
	}
}
