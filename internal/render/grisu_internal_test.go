package render

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// TestCachedPowers checks the computed table against entries of {fmt}'s pow10_significands and
// pow10_exponents, so that the rounding used to build it is the one {fmt} used.
func TestCachedPowers(t *testing.T) {
	want := map[int]struct {
		sig uint64
		exp int
	}{
		0:  {0xfa8fd5a0081c0288, -1220},
		1:  {0xbaaee17fa23ebf76, -1193},
		43: {0xd1b71758e219652c, -77},
		44: {0x9c40000000000000, -50},
		45: {0xe8d4a51000000000, -24},
		86: {0xaf87023b9bf0ee6b, 1066},
	}
	for i, w := range want {
		if pow10Sig[i] != w.sig || pow10Exp[i] != w.exp {
			t.Errorf("cached power %d (10^%d) = %#x×2^%d, want %#x×2^%d", i, -348+8*i, pow10Sig[i], pow10Exp[i], w.sig, w.exp)
		}
	}
}

// TestDoubleDigitsMatchStrconv: for doubles, DuckDB's digits are the shortest round-trip digits,
// which is what strconv produces; Grisu3 must never produce different ones where it succeeds.
func TestDoubleDigitsMatchStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fallbacks := 0
	for i := range 300_000 {
		var d float64
		if i%2 == 0 {
			d = math.Float64frombits(rng.Uint64() &^ (1 << 63))
		} else {
			d = float64(rng.Int64N(1<<53)) * math.Pow10(rng.IntN(40)-20)
		}
		if math.IsNaN(d) || math.IsInf(d, 0) || d == 0 {
			continue
		}
		if _, _, ok := grisuShortest(nil, d, false); !ok {
			fallbacks++
		}
		digits, exp := floatDigits(nil, d, false)
		got, err := strconv.ParseFloat(string(digits)+"e"+strconv.Itoa(exp), 64)
		if err != nil || got != d {
			t.Fatalf("%v: digits %s e%d do not read back (%v, %v)", d, digits, exp, got, err)
		}
		want := strconv.FormatFloat(d, 'e', -1, 64)
		mant := want[:strings.IndexByte(want, 'e')]
		plain := mant[:1]
		if len(mant) > 2 {
			plain += mant[2:]
		}
		if string(digits) != plain {
			t.Fatalf("%v: digits %s, strconv %s", d, digits, want)
		}
	}
	if fallbacks == 0 {
		t.Error("no Grisu3 fallback met; the sample is too small to cover that path")
	}
}

// TestFloatDigits: a float32 gets its own shortest digits where Grisu3 succeeds and the double's
// shortest digits where it gives up, as in DuckDB.
func TestFloatDigits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fallbacks, own := 0, 0
	for range 300_000 {
		f := math.Float32frombits(rng.Uint32() &^ (1 << 31))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) || f == 0 {
			continue
		}
		digits, exp := floatDigits(nil, float64(f), true)
		text := string(digits) + "e" + strconv.Itoa(exp)
		if _, _, ok := grisuShortest(nil, float64(f), true); ok {
			own++
			back, err := strconv.ParseFloat(text, 32)
			if err != nil || float32(back) != f {
				t.Fatalf("%v: Grisu digits %s do not read back as the float", f, text)
			}
			continue
		}
		fallbacks++
		back, err := strconv.ParseFloat(text, 64)
		if err != nil || back != float64(f) {
			t.Fatalf("%v: fallback digits %s do not read back as the double", f, text)
		}
	}
	if fallbacks == 0 || own == 0 {
		t.Errorf("Grisu3 succeeded %d times and fell back %d times; both paths need coverage", own, fallbacks)
	}
	if got := string(appendFloat(nil, float64(float32(722354368)), 32)); got != "722354368.0" {
		t.Errorf("float32 722354368 = %s, want DuckDB's 722354368.0", got)
	}
}
