package config

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBuildID: the identity that keys the decoded-schedules cache is the
// Go build ID of the running binary, as `go tool buildid` reads it.
func TestBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	want := strings.TrimSpace(string(out))
	if got := buildID(); got == "" || got != want {
		t.Fatalf("buildID() = %q, want %q", got, want)
	}
	if goBuildID([]byte("short")) != "" || goBuildID(make([]byte, 32)) != "" {
		t.Error("a note that is not Go's build ID gave one")
	}
}
