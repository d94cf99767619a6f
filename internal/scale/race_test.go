//go:build race

package scale_test

// raceEnabled: the race detector's pass runs the memory test on fewer rows
// (the child is the race-instrumented test binary, several times slower);
// the normal pass checks the full million.
const raceEnabled = true
