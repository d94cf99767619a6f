package schedule

import (
	"slices"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/domain"
)

func TestPreview(t *testing.T) {
	la := mustLoc(t, "America/Los_Angeles")
	type fire struct {
		local   string
		utc     string
		windows []domain.Window
	}
	tests := []struct {
		name string
		cron string
		ws   *WindowSpec
		from string
		n    int
		want []fire
	}{
		{"daily windows over the spring weekend", "0 3 * * *",
			&WindowSpec{Every: EveryDay, Lag: 2 * time.Hour, Location: la, Start: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
			"2027-03-13T00:00:00-08:00", 3, []fire{
				{"2027-03-13 03:00 PST", "2027-03-13T11:00:00Z", laDays(t, 12, 12)},
				{"2027-03-14 03:00 PDT", "2027-03-14T10:00:00Z", laDays(t, 13, 13)},
				{"2027-03-15 03:00 PDT", "2027-03-15T10:00:00Z", laDays(t, 14, 14)}, // 23h
			}},
		{"a fire in the gap", "30 2 * * *",
			&WindowSpec{Every: EveryDay, Location: la, Start: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
			"2027-03-13T12:00:00-08:00", 2, []fire{
				{"2027-03-14 03:00 PDT", "2027-03-14T10:00:00Z", laDays(t, 13, 13)},
				{"2027-03-15 02:30 PDT", "2027-03-15T09:30:00Z", laDays(t, 14, 14)},
			}},
		{"hourly windows over the fall-back night", "0 * * * *",
			&WindowSpec{Every: EveryHour, Location: la, Start: time.Date(2027, 11, 1, 0, 0, 0, 0, time.UTC)},
			"2027-11-07T00:30:00-07:00", 3, []fire{
				{"2027-11-07 01:00 PDT", "2027-11-07T08:00:00Z", []domain.Window{win(t, "2027-11-07T07:00:00Z", "2027-11-07T08:00:00Z")}},
				{"2027-11-07 02:00 PST", "2027-11-07T10:00:00Z", []domain.Window{
					win(t, "2027-11-07T08:00:00Z", "2027-11-07T09:00:00Z"),
					win(t, "2027-11-07T09:00:00Z", "2027-11-07T10:00:00Z"),
				}},
				{"2027-11-07 03:00 PST", "2027-11-07T11:00:00Z", []domain.Window{win(t, "2027-11-07T10:00:00Z", "2027-11-07T11:00:00Z")}},
			}},
		{"fires before Start export nothing", "0 3 * * *",
			&WindowSpec{Every: EveryDay, Location: la, Start: time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)},
			"2027-03-13T00:00:00-08:00", 3, []fire{
				{"2027-03-13 03:00 PST", "2027-03-13T11:00:00Z", nil},
				{"2027-03-14 03:00 PDT", "2027-03-14T10:00:00Z", nil},
				{"2027-03-15 03:00 PDT", "2027-03-15T10:00:00Z", laDays(t, 14, 14)},
			}},
		{"snapshot schedule", "30 1 * * *", nil,
			"2027-11-06T12:00:00-07:00", 2, []fire{
				{"2027-11-07 01:30 PDT", "2027-11-07T08:30:00Z", nil},
				{"2027-11-08 01:30 PST", "2027-11-08T09:30:00Z", nil},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Preview(mustCron(t, tc.cron, la), tc.ws, ts(t, tc.from), tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d fires, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if l := g.Local.Format("2006-01-02 15:04 MST"); l != w.local {
					t.Errorf("fire %d local %s, want %s", i, l, w.local)
				}
				if u := g.UTC.Format(time.RFC3339); u != w.utc || g.UTC.Location() != time.UTC {
					t.Errorf("fire %d UTC %s, want %s", i, u, w.utc)
				}
				if !slices.Equal(g.Windows, w.windows) {
					t.Errorf("fire %d windows %v, want %v", i, g.Windows, w.windows)
				}
			}
		})
	}
	if got, err := Preview(mustCron(t, "@daily", la), nil, time.Now(), 0); err != nil || len(got) != 0 {
		t.Errorf("Preview n=0 = %v, %v", got, err)
	}
}
