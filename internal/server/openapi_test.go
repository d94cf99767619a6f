package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// specRoutes reads docs/openapi.yaml: "METHOD /path" for every operation.
func specRoutes(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &spec); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var out []string
	for path, item := range spec.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDescribesEveryRoute checks that every route the server
// registers is in docs/openapi.yaml, and every operation there is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	ts := start(t)
	var served []string
	for _, p := range ts.Server.Routes() {
		// The mux's "/{$}" is the path "/" alone.
		served = append(served, strings.Replace(p, "{$}", "", 1))
	}
	slices.Sort(served)
	spec := specRoutes(t)
	if len(served) < 10 {
		t.Fatalf("the server registers only %d routes: %v", len(served), served)
	}
	for _, r := range served {
		if !slices.Contains(spec, r) {
			t.Errorf("%s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range spec {
		if !slices.Contains(served, r) {
			t.Errorf("docs/openapi.yaml describes %s, which the server does not serve", r)
		}
	}
}
