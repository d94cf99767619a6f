package design

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/exportd/exportd/"

// tableRow is a row of DESIGN.md's package table: | floor | `package` | owns |.
var tableRow = regexp.MustCompile("^\\| *([0-9]+) *\\| *`([^`]+)` *\\|")

// floors reads the package table of docs/DESIGN.md.
func floors(t *testing.T, root string) map[string]int {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "docs", "DESIGN.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := tableRow.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[1])
			out[m[2]] = n
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/DESIGN.md: no package table (| floor | `package` | owns |)")
	}
	return out
}

type listed struct {
	ImportPath string
	Imports    []string
}

// packages lists every package of the module with its imports (go list).
func packages(t *testing.T, root string) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestFloors: every package of the module is in DESIGN.md's table, and
// imports only packages on lower floors; only the CLI imports the app.
func TestFloors(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	floor := floors(t, root)
	pkgs := packages(t, root)
	if len(pkgs) < len(floor)/2 {
		t.Fatalf("go list found %d packages; the table has %d", len(pkgs), len(floor))
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		seen[name] = true
		f, ok := floor[name]
		if !ok {
			t.Errorf("%s is not in docs/DESIGN.md's package table: give it a floor", name)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if dep == "internal/app" && name != "internal/cli" {
				t.Errorf("%s imports internal/app: only internal/cli may", name)
			}
			df, ok := floor[dep]
			if !ok {
				continue // reported as a package of its own
			}
			if df >= f {
				t.Errorf("%s (floor %d) imports %s (floor %d): a package imports only lower floors", name, f, dep, df)
			}
		}
	}
	for name := range floor {
		if !seen[name] {
			t.Errorf("docs/DESIGN.md lists %s, which go list does not find", name)
		}
	}
}
