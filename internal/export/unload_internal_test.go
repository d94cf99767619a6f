package export

import (
	"slices"
	"testing"
)

func TestNaturalLess(t *testing.T) {
	got := []string{"p/data_0_0_10.csv", "p/data_0_0_2.csv", "p/data_0_1_0.csv", "p/data_0_0_0.csv", "p/data_0_0_1.csv"}
	slices.SortFunc(got, func(a, b string) int {
		if naturalLess(a, b) {
			return -1
		}
		if naturalLess(b, a) {
			return 1
		}
		return 0
	})
	want := []string{"p/data_0_0_0.csv", "p/data_0_0_1.csv", "p/data_0_0_2.csv", "p/data_0_0_10.csv", "p/data_0_1_0.csv"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v", got)
	}
}
