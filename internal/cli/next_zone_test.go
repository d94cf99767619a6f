package cli_test

import (
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/cli"
)

// TestNextInAnotherZone: next --timezone previews a schedule as if it ran
// in that zone, DST policy included: the nonexistent 02:30 of the spring
// gap fires once at 03:00 PDT, the repeated 01:30 of fall back once, and
// the day windows are the zone's (23 and 25 hours long).
func TestNextInAnotherZone(t *testing.T) {
	cfg := demoConfig(t)
	next := func(from string, n string) string {
		t.Helper()
		out, errOut, code := run(t, "--config", cfg, "--now", demoEnd, "next", "audit-log-rows", "--timezone", "America/Los_Angeles", "-n", n, "--from", from)
		if code != cli.ExitOK {
			t.Fatalf("next: exit %d\n%s%s", code, out, errOut)
		}
		return out
	}
	spring := next("2027-03-14T08:00:00Z", "5")
	for _, want := range []string{"LOCAL (America/Los_Angeles)", "2027-03-14 01:30:00 PST      2027-03-14T09:30:00Z",
		"2027-03-14 03:00:00 PDT      2027-03-14T10:00:00Z  20270313T080000Z-20270314T080000Z", "2027-03-14 03:30:00 PDT"} {
		if !strings.Contains(spring, want) {
			t.Errorf("spring forward: no %q in\n%s", want, spring)
		}
	}
	if strings.Contains(spring, "02:30:00") {
		t.Errorf("spring forward: a fire at the nonexistent 02:30:\n%s", spring)
	}
	// The 23-hour day's window is exported on the next day.
	if out := next("2027-03-15T09:00:00Z", "2"); !strings.Contains(out, "20270314T080000Z-20270315T070000Z") {
		t.Errorf("the 23-hour window of 2027-03-14 in Los Angeles:\n%s", out)
	}
	fall := next("2027-11-07T07:00:00Z", "4")
	if strings.Count(fall, "01:30:00") != 1 || !strings.Contains(fall, "2027-11-07 01:30:00 PDT") {
		t.Errorf("fall back: want 01:30 once (PDT):\n%s", fall)
	}

	_, errOut, code := run(t, "--config", cfg, "next", "audit-log-rows", "--timezone", "Mars/Olympus")
	if code != cli.ExitUsage || !strings.Contains(errOut, "IANA time zone") {
		t.Errorf("an unknown zone: exit %d, %s", code, errOut)
	}
}
