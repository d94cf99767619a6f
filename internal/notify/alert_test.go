package notify_test

import (
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/notify"
	"github.com/exportd/exportd/internal/workbook"
)

var cols = []workbook.OutputColumn{{Name: "Day", Type: workbook.Date}, {Name: "User", Type: workbook.Text}, {Name: "Failure", Type: workbook.Integer}, {Name: "Admin", Type: workbook.Logical}}

// TestWatchOnCSVStream feeds CSV in awkward chunks (quotes, commas and
// line breaks inside fields, CRLF, a last line without a break) and
// checks which rows meet each condition.
func TestWatchOnCSVStream(t *testing.T) {
	alerts, err := notify.CompileAlerts([]config.DataAlert{
		{Name: "spike", When: "[Failure] > 100"},
		{When: `[Failure] = 260 And Not [Admin] And [User] != "bob"`},
		{Name: "nulls", When: "IsNull([Failure]) Or [Failure] * 2 = 400"},
		{Name: "never", When: `[Day] > "2027-01-01"`},
	}, cols)
	if err != nil {
		t.Fatal(err)
	}
	csv := "Day,User,Failure,Admin\r\n" +
		"2026-10-09,alice,3,false\r\n" +
		"2026-10-10,\"a,b \"\"q\"\"\",260,false\r\n" +
		"2026-10-11,\"multi\nline\",,true\r\n" +
		"2026-10-12,bob,200,true"
	for _, size := range []int{1, 3, 7, len(csv)} {
		w := notify.NewWatch(alerts)
		for i := 0; i < len(csv); i += size {
			if _, err := w.Write([]byte(csv[i:min(i+size, len(csv))])); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		if w.Errors != 0 {
			t.Fatalf("chunk %d: %d rows not evaluated: %v", size, w.Errors, w.LastErr)
		}
		var got []string
		for _, h := range w.Hits() {
			got = append(got, h.Alert+":"+string(rune('0'+h.Rows))+":"+strings.Join(h.First, "|"))
		}
		want := []string{
			"spike:2:Day=2026-10-10|User=a,b \"q\"|Failure=260|Admin=false",
			`[Failure] = 260 And Not [Admin] And [User] != "bob":1:Day=2026-10-10|User=a,b "q"|Failure=260|Admin=false`,
			"nulls:2:Day=2026-10-11|User=multi\nline|Failure=|Admin=true",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("chunk %d:\ngot  %q\nwant %q", size, got, want)
		}
	}
}

func TestAlertConditionErrors(t *testing.T) {
	for _, c := range []struct{ when, want string }{
		{"[Failures] > 100", "alerts[0].when: column 1: unknown column [Failures]; the output columns are [Day], [User], [Failure], [Admin]"},
		{"[Failure] + 1", "the condition is a Number, not Logical"},
		{`[Failure] > "x"`, "cannot compare a Number with Text"},
		{"[Failure] >", "alerts[0].when: column"},
		{"Sum([Failure]) > 1", "Sum is not available in a data alert"},
	} {
		_, err := notify.CompileAlerts([]config.DataAlert{{When: c.when}}, cols)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.when, err, c.want)
		}
	}
}
