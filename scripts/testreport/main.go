// Command testreport reads `go test -json` on stdin, prints failures and
// skips, and exits 1 if a test failed or was skipped without being allowed
// (the first argument is a regexp of test names allowed to skip).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	allowed := regexp.MustCompile("^$")
	if len(os.Args) > 1 && os.Args[1] != "" {
		allowed = regexp.MustCompile(os.Args[1])
	}
	outputs := map[string][]string{}
	var passed, failed, skipped, allowedSkips int
	var bad []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		id := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			outputs[id] = append(outputs[id], e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			}
		case "fail":
			if e.Test != "" {
				failed++
			}
			bad = append(bad, "FAIL "+id+"\n"+strings.Join(outputs[id], ""))
		case "skip":
			if e.Test == "" {
				continue // package without tests
			}
			if allowed.MatchString(e.Test) {
				allowedSkips++
				continue
			}
			skipped++
			bad = append(bad, "SKIP (not allowed) "+id+"\n"+strings.Join(outputs[id], ""))
		}
	}
	for _, b := range bad {
		fmt.Println(b)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if allowedSkips > 0 {
		fmt.Printf("(%d skips allowed: suites that need outside accounts)\n", allowedSkips)
	}
	if failed > 0 || skipped > 0 || passed == 0 {
		os.Exit(1)
	}
}
