// Package schedule decides when exportd runs an export and which windows a
// run exports: cron expressions evaluated in a schedule's time zone, windows
// aligned in that zone, catch-up planning after downtime, the fire loop that
// calls a RunFunc at each scheduled (logical) instant, and retries.
//
// The package never imports the export, archive store or server code: the
// fire loop is handed a RunFunc, the planner is handed an "is this window
// archived" function. It uses only the Window type of package archive.
//
// # Daylight saving time
//
// A cron expression names local wall-clock times in the schedule's zone
// ("30 2 * * *" is 02:30 on the local clock). Each matching wall-clock time
// is turned into an instant by this policy:
//
//   - A wall-clock time that occurs once fires at that instant.
//   - A wall-clock time that occurs twice, because the clock is set back,
//     fires once, at its first occurrence. The repeated stretch of the clock
//     does not fire again.
//   - A wall-clock time that does not occur, because the clock is set
//     forward, fires once at the first valid instant after the gap: the
//     instant of the change itself.
//   - Several wall-clock times that land on the same instant fire once: each
//     distinct instant fires at most once.
//
// Examples in America/Los_Angeles (clocks go 02:00 PST -> 03:00 PDT on
// 2027-03-14 and 02:00 PDT -> 01:00 PST on 2027-11-07):
//
//   - "30 2 * * *" fires at 03:00 PDT (10:00Z) on 2027-03-14: the day is
//     not skipped, unlike robfig/cron v3.0.1's own Schedule.Next.
//   - "30 1 * * *" fires at 01:30 PDT (08:30Z) on 2027-11-07, and not again
//     at 01:30 PST (09:30Z).
//   - "0 * * * *" fires 23 times on 2027-03-14 (01:00 PST is followed by
//     03:00 PDT, on which 02:00 lands) and 24 times on 2027-11-07 (01:00 PDT
//     fires, 01:00 PST does not).
//   - "*/15 * * * *" fires at 01:45 PST and then at 03:00 PDT on 2027-03-14
//     (02:00, 02:15, 02:30 and 02:45 all land on 03:00 PDT), and runs through
//     01:00-01:45 once, in PDT, on 2027-11-07.
//
// The same policy holds in every zone, whatever the size of the change
// (Europe/London's 01:00 GMT -> 02:00 BST, Australia/Lord_Howe's half hour).
// robfig/cron's parser reads the expression; its Schedule.Next is only ever
// evaluated on zone-free wall-clock times, where it has no DST to get wrong,
// and this package maps the result to instants.
//
// Fires and windows are separate: a fire only decides when the planner looks
// for closed windows. An hour window is always one real hour, so the fall-back
// day has 25 hour windows; with "0 * * * *" the fire at 02:00 PST exports both
// the PDT and the PST 01:00 hours.
package schedule
