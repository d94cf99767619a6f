//go:build !race

package scale_test

const raceEnabled = false
