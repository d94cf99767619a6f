package workbook

import (
	"math/rand/v2"
	"testing"
)

// TestSameNameAgreesWithNormName checks the allocation-free comparison
// against the rule it stands for, on chosen cases and on random strings
// over an alphabet of the characters that matter.
func TestSameNameAgreesWithNormName(t *testing.T) {
	cases := [][2]string{
		{"Request Time", "REQUEST_TIME"},
		{"request  time", "Request_Time"},
		{" Request Time ", "request_time"},
		{"Request Time", "Request Times"},
		{"Request_", "request"},
		{"ÉVÉNEMENT", "événement"},
		{"a\tb", "a b"},
		{"", " "},
		{"a__b", "a b"},
	}
	alphabet := []rune{'a', 'A', 'b', ' ', '_', '\t', 'É', 'é', 'ß', '\xff'}
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		rs := make([]rune, r.IntN(6))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	for range 20000 {
		cases = append(cases, [2]string{word(), word()})
	}
	equal := 0
	for _, c := range cases {
		want := normName(c[0]) == normName(c[1])
		if got := sameName(c[0], c[1]); got != want {
			t.Errorf("sameName(%q, %q) = %v; normName gives %q and %q", c[0], c[1], got, normName(c[0]), normName(c[1]))
		}
		if want {
			equal++
		}
	}
	// The random pairs must exercise both answers.
	if equal < 100 {
		t.Fatalf("only %d equal pairs: the generator does not test matches", equal)
	}
}
