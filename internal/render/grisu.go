package render

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// DuckDB turns FLOAT and DOUBLE into text with the copy of {fmt} 6 it bundles ("{}" format). Its
// digits come from Grisu3: the shortest digits that read back as the value, when Grisu3 can
// prove them; otherwise from an exact fallback. For DOUBLE both give what strconv's shortest
// formatting gives. For FLOAT they do not: Grisu3 works with the float's own rounding interval,
// but the fallback (marked "TODO: handle float" there) uses the interval of the value converted
// to double, so for the few floats Grisu3 gives up on DuckDB prints the shortest DOUBLE digits
// instead, e.g. 722354368.0 where the shortest float digits are 722354370.0. To match that byte
// for byte, this file reproduces {fmt} 6's Grisu3 step for step (the same cached powers of ten,
// the same rounding of products, the same give-up conditions) and uses strconv for the fallback.

// floatDigits returns the decimal digits of v > 0 and the exponent such that v is
// digits×10^exp, as DuckDB chooses them. binary32 means v holds a float32.
func floatDigits(buf []byte, v float64, binary32 bool) ([]byte, int) {
	if d, exp, ok := grisuShortest(buf, v, binary32); ok {
		return d, exp
	}
	// The fallback is exact and shortest at double precision, like strconv.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], v, 'e', -1, 64) // d[.ddd]e±dd
	ePos := len(e) - 4
	for e[ePos] != 'e' {
		ePos--
	}
	exp := 0
	for _, c := range e[ePos+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[ePos+1] == '-' {
		exp = -exp
	}
	d := append(buf[:0], e[0])
	if ePos > 1 {
		d = append(d, e[2:ePos]...)
	}
	return d, exp - (len(d) - 1)
}

// diyFP is f×2^e, {fmt}'s "fp".
type diyFP struct {
	f uint64
	e int
}

const implicitBit = 1 << 52

// assignFP splits a double; lowerCloser reports a power of two whose predecessor is closer.
func assignFP(d float64) (v diyFP, lowerCloser bool) {
	u := math.Float64bits(d)
	f := u & (implicitBit - 1)
	be := int(u>>52) & 0x7ff
	lowerCloser = f == 0 && be > 1
	if be != 0 {
		f += implicitBit
	} else {
		be = 1
	}
	return diyFP{f, be - 1023 - 52}, lowerCloser
}

func normalizeFP(v diyFP, shift uint) diyFP {
	top := uint64(implicitBit) << shift
	for v.f&top == 0 {
		v.f <<= 1
		v.e--
	}
	offset := 64 - 52 - int(shift) - 1
	v.f <<= uint(offset)
	v.e -= offset
	return v
}

// doubleBoundaries returns the value and the significands of the half-way points to its
// neighbours, aligned to the normalized upper one.
func doubleBoundaries(d float64) (diyFP, uint64, uint64) {
	v, lowerCloser := assignFP(d)
	lower := diyFP{v.f<<1 - 1, v.e - 1}
	if lowerCloser {
		lower = diyFP{v.f<<2 - 1, v.e - 2}
	}
	upper := normalizeFP(diyFP{v.f<<1 + 1, v.e - 1}, 1)
	lower.f <<= uint(lower.e - upper.e)
	return v, lower.f, upper.f
}

// floatBoundaries is the same for a float32 held in a double: the neighbours are float32's.
func floatBoundaries(d float64) (diyFP, uint64, uint64) {
	v, _ := assignFP(d)
	const minNormalE = -125 - 53
	halfULP := uint64(1) << (53 - 24 - 1)
	if minNormalE > v.e {
		halfULP <<= uint(minNormalE - v.e)
	}
	upper := normalizeFP(diyFP{v.f + halfULP, v.e}, 0)
	shift := uint(0)
	if v.f == implicitBit && v.e > minNormalE {
		shift = 1
	}
	lower := diyFP{v.f - halfULP>>shift, v.e}
	lower.f <<= uint(lower.e - upper.e)
	return v, lower.f, upper.f
}

// mulRound is lhs×rhs/2^64 rounded half up.
func mulRound(lhs, rhs uint64) uint64 {
	hi, lo := bits.Mul64(lhs, rhs)
	if lo&(1<<63) != 0 {
		hi++
	}
	return hi
}

// Cached powers of ten 10^k, k = -348, -340, ..., 340, as normalized 64-bit significands rounded
// to nearest and binary exponents: {fmt}'s pow10_significands and pow10_exponents.
var pow10Sig, pow10Exp = cachedPowers()

func cachedPowers() (sig [87]uint64, exp [87]int) {
	ten := big.NewInt(10)
	for i := range sig {
		k := -348 + 8*i
		p := new(big.Int).Exp(ten, big.NewInt(int64(max(k, -k))), nil)
		var q *big.Int
		var e int
		if k >= 0 {
			e = p.BitLen() - 64
			if e <= 0 {
				q = new(big.Int).Lsh(p, uint(-e))
			} else {
				q = new(big.Int).Rsh(p, uint(e))
				if p.Bit(e-1) == 1 {
					q.Add(q, big.NewInt(1))
				}
			}
		} else {
			s := 63 + p.BitLen()
			num := new(big.Int).Lsh(big.NewInt(1), uint(s))
			r := new(big.Int)
			q, r = new(big.Int).QuoRem(num, p, r)
			if r.Lsh(r, 1).Cmp(p) >= 0 {
				q.Add(q, big.NewInt(1))
			}
			e = -s
		}
		if q.BitLen() > 64 {
			q.Rsh(q, 1)
			e++
		}
		sig[i], exp[i] = q.Uint64(), e
	}
	return sig, exp
}

// cachedPower returns a power of ten whose binary exponent lies in [minExponent, minExponent+28]
// and its decimal exponent, with {fmt}'s fixed-point estimate of log10(2).
func cachedPower(minExponent int) (diyFP, int) {
	const oneOverLog2of10 = 0x4d104d42
	index := int(int64(uint64(int64(minExponent+63))*oneOverLog2of10+(1<<32-1)) >> 32)
	index = (index+348-1)/8 + 1
	return diyFP{pow10Sig[index], pow10Exp[index]}, -348 + index*8
}

var pow10u64 = func() (t [20]uint64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return t
}()

type genResult int

const (
	genMore genResult = iota
	genDone
	genError
)

// grisuShortest is {fmt} 6's format_float for precision -1. ok is false where {fmt} falls back.
func grisuShortest(buf []byte, d float64, binary32 bool) ([]byte, int, bool) {
	var v diyFP
	var lower, upper uint64
	if binary32 {
		v, lower, upper = floatBoundaries(d)
	} else {
		v, lower, upper = doubleBoundaries(d)
	}
	v = normalizeFP(v, 0)
	const minExp = -60
	cached, cachedExp10 := cachedPower(minExp - (v.e + 64))
	v = diyFP{mulRound(v.f, cached.f), v.e + cached.e + 64}
	lower = mulRound(lower, cached.f) - 1
	upper = mulRound(upper, cached.f) + 1
	g := grisuGen{buf: buf[:0], diff: upper - v.f}
	exp, res := g.digits(diyFP{upper, v.e}, upper-lower)
	if res != genDone {
		return nil, 0, false
	}
	return g.buf, exp - cachedExp10, true
}

type grisuGen struct {
	buf  []byte
	diff uint64 // distance from the scaled value to the upper boundary
}

// digits is grisu_gen_digits with the shortest handler; it returns kappa after the last digit.
func (g *grisuGen) digits(value diyFP, delta uint64) (int, genResult) {
	shift := uint(-value.e)
	one := uint64(1) << shift
	integral := uint32(value.f >> shift)
	fractional := value.f & (one - 1)
	exp := decimalDigits(integral)
	for {
		var digit uint32
		if exp > 1 {
			p := uint32(pow10u64[exp-1])
			digit, integral = integral/p, integral%p
		} else {
			digit, integral = integral, 0
		}
		exp--
		remainder := uint64(integral)<<shift + fractional
		if r := g.onDigit(byte('0'+digit), pow10u64[exp]<<shift, remainder, delta, exp, true); r != genMore {
			return exp, r
		}
		if exp <= 0 {
			break
		}
	}
	for {
		fractional *= 10
		delta *= 10
		digit := byte('0' + fractional>>shift)
		fractional &= one - 1
		exp--
		if -exp >= len(pow10u64) {
			return exp, genError
		}
		if r := g.onDigit(digit, one, fractional, delta, exp, false); r != genMore {
			return exp, r
		}
	}
}

// onDigit is grisu_shortest_handler::on_digit, Grisu3's round_weed.
func (g *grisuGen) onDigit(digit byte, divisor, remainder, delta uint64, exp int, integral bool) genResult {
	g.buf = append(g.buf, digit)
	if remainder >= delta {
		return genMore
	}
	unit := uint64(1)
	if !integral {
		unit = pow10u64[-exp]
	}
	up := (g.diff - 1) * unit
	for remainder < up && delta-remainder >= divisor &&
		(remainder+divisor < up || up-remainder >= remainder+divisor-up) {
		g.buf[len(g.buf)-1]--
		remainder += divisor
	}
	down := (g.diff + 1) * unit
	if remainder < down && delta-remainder >= divisor &&
		(remainder+divisor < down || down-remainder > remainder+divisor-down) {
		return genError
	}
	if 2*unit <= remainder && remainder <= delta-4*unit {
		return genDone
	}
	return genError
}

func decimalDigits(n uint32) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}
