package render

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"time"
)

// column is a Column prepared for formatting.
type column struct {
	name  string
	typ   string
	kind  Kind
	width int // DECIMAL width, -1 when unknown
	scale int // DECIMAL scale, -1 when unknown
}

// Interval is an INTERVAL value in DuckDB's representation. duckdb-go's own Interval (same field
// names) is accepted too, without this package importing duckdb-go.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// decimalValue is what duckdb-go's Decimal offers through methods: String is exact but drops
// trailing zeros, so the column's scale puts them back. Any fmt.Stringer is accepted for a
// DECIMAL column; this interface only names the expected one.
type decimalValue interface {
	Float64() float64
	String() string
}

// appendValue writes one non-NULL value formatted for its column. It returns b unchanged with an
// error when the value cannot be written the way DuckDB writes the column's type.
func appendValue(b []byte, c *column, v any) ([]byte, error) {
	out, err := appendKind(b, c, v)
	if err != errNotClaimed {
		return out, err
	}
	// Driver wrappers (sql.NullString, duckdb's *UUID ...) are formatted by what they wrap.
	if x, ok := v.(driver.Valuer); ok {
		dv, err := x.Value()
		if err != nil {
			return b, fmt.Errorf("%T.Value: %w", v, err)
		}
		if dv == nil {
			return b, nil
		}
		if out, err := appendKind(b, c, dv); err != errNotClaimed {
			return out, err
		}
		v = dv
	}
	return appendGeneric(b, v)
}

// errNotClaimed tells appendValue that the column's kind has no rule for the value's Go type.
var errNotClaimed = errors.New("not claimed")

func appendKind(b []byte, c *column, v any) ([]byte, error) {
	switch c.kind {
	case KindVarchar:
		if s, ok := v.(string); ok {
			return appendText(b, s), nil
		}
	case KindInteger:
		if out, ok, err := appendInteger(b, v); ok || err != nil {
			return out, err
		}
	case KindFloat:
		if out, ok, err := appendFloatValue(b, v); ok || err != nil {
			return out, err
		}
	case KindDecimal:
		if out, ok, err := appendDecimalValue(b, v, c.width, c.scale); ok || err != nil {
			return out, err
		}
	case KindBoolean:
		if out, ok, err := appendBoolValue(b, v); ok || err != nil {
			return out, err
		}
	case KindDate:
		if t, ok := v.(time.Time); ok {
			return appendDate(b, t), nil
		}
	case KindTimestamp:
		if t, ok := v.(time.Time); ok {
			return appendTimestamp(b, t), nil
		}
	case KindTimestampTZ:
		if t, ok := v.(time.Time); ok {
			return appendTimestamp(b, t.UTC()), nil
		}
	case KindTimestampUnit:
		if t, ok := v.(time.Time); ok {
			return appendTimestampCast(b, t), nil
		}
	case KindTime:
		if t, ok := v.(time.Time); ok {
			return appendClock(b, t), nil
		}
	case KindTimeTZ:
		if t, ok := v.(time.Time); ok {
			return appendOffset(appendClock(b, t), t), nil
		}
	case KindInterval:
		if iv, ok := intervalOf(v); ok {
			return appendInterval(b, iv), nil
		}
	case KindUUID:
		if out, ok := appendUUIDValue(b, v); ok {
			return out, nil
		}
	case KindNested:
		return b, fmt.Errorf("%w: %T in a nested or JSON column: DuckDB's text for it cannot be rebuilt from the Go value", ErrUnsupportedValue, v)
	case KindBlob:
		switch x := v.(type) {
		case []byte:
			return appendBlob(b, x), nil
		case string:
			return appendBlob(b, x), nil
		}
	}
	return b, errNotClaimed
}

// appendGeneric formats values whose column kind did not claim them, by their Go type: text as
// text, numbers by the number rules.
func appendGeneric(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendText(b, x), nil
	case []byte:
		return appendText(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendFloat(b, x, 64), nil
	case float32:
		return appendFloat(b, float64(x), 32), nil
	case time.Time:
		// No DuckDB rule applies to a time in a text column; keep every digit.
		return appendText(b, x.Format(time.RFC3339Nano)), nil
	}
	if out, ok, _ := appendInteger(b, v); ok {
		return out, nil
	}
	if x, ok := v.(fmt.Stringer); ok {
		return appendText(b, x.String()), nil
	}
	return b, fmt.Errorf("%w: Go type %T", ErrUnsupportedValue, v)
}

// needsQuote marks the bytes that make DuckDB quote a field: its delimiter, quote, both line-end
// bytes and '#', which DuckDB quotes wherever it appears.
var needsQuote = [256]bool{'\n': true, '\r': true, ',': true, '"': true, '#': true}

// appendText writes a text field, quoted when DuckDB would quote it. The empty string equals the
// NULL string and is therefore always quoted, which keeps "" and NULL apart.
func appendText[T string | []byte](b []byte, s T) []byte {
	if len(s) == 0 {
		return append(b, '"', '"')
	}
	for i := 0; i < len(s); i++ {
		if needsQuote[s[i]] {
			return appendQuoted(b, s)
		}
	}
	return append(b, s...)
}

func appendQuoted[T string | []byte](b []byte, s T) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, s[start:i+1]...)
			b = append(b, '"')
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendInteger handles Go integer types and *big.Int; ok is false for other types. Text must be
// an integer literal, written without a leading '+'.
func appendInteger(b []byte, v any) ([]byte, bool, error) {
	switch x := v.(type) {
	case int64:
		return strconv.AppendInt(b, x, 10), true, nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), true, nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), true, nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), true, nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), true, nil
	case uint64:
		return strconv.AppendUint(b, x, 10), true, nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), true, nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), true, nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), true, nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), true, nil
	case *big.Int:
		if x == nil {
			return b, true, nil
		}
		return x.Append(b, 10), true, nil
	case big.Int:
		return x.Append(b, 10), true, nil
	case string:
		return appendIntegerText(b, x)
	case []byte:
		return appendIntegerText(b, string(x))
	case float64:
		// Snowflake drivers may hand whole numbers as floats; only exact integers pass.
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return strconv.AppendFloat(b, x, 'f', 0, 64), true, nil
		}
		return b, true, fmt.Errorf("%w: %v is not an integer", ErrUnsupportedValue, x)
	}
	return b, false, nil
}

func appendIntegerText(b []byte, s string) ([]byte, bool, error) {
	d := s
	if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
		d = d[1:]
	}
	if len(d) == 0 {
		return b, true, fmt.Errorf("%w: %q is not an integer", ErrUnsupportedValue, s)
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return b, true, fmt.Errorf("%w: %q is not an integer", ErrUnsupportedValue, s)
		}
	}
	d = trimLeadingZeros(d)
	if s[0] == '-' && d != "0" {
		b = append(b, '-')
	}
	return append(b, d...), true, nil
}

func trimLeadingZeros(d string) string {
	for len(d) > 1 && d[0] == '0' {
		d = d[1:]
	}
	if d == "" {
		return "0"
	}
	return d
}

func appendFloatValue(b []byte, v any) ([]byte, bool, error) {
	switch x := v.(type) {
	case float64:
		return appendFloat(b, x, 64), true, nil
	case float32:
		return appendFloat(b, float64(x), 32), true, nil
	case string:
		return appendFloatText(b, x)
	case []byte:
		return appendFloatText(b, string(x))
	case decimalValue:
		return appendFloat(b, x.Float64(), 64), true, nil
	}
	if out, ok, err := appendInteger(b, v); ok {
		// An integer in a DOUBLE column is still a DOUBLE: 3 prints as "3.0".
		if err != nil {
			return b, true, err
		}
		f, perr := strconv.ParseFloat(string(out[len(b):]), 64)
		if perr != nil {
			return b, true, fmt.Errorf("%w: %v", ErrUnsupportedValue, perr)
		}
		return appendFloat(b, f, 64), true, nil
	}
	return b, false, nil
}

func appendFloatText(b []byte, s string) ([]byte, bool, error) {
	switch s {
	case "nan", "NaN", "NAN":
		return append(b, "nan"...), true, nil
	case "-nan", "-NaN", "-NAN":
		return append(b, "-nan"...), true, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return b, true, fmt.Errorf("%w: %q is not a number", ErrUnsupportedValue, s)
	}
	return appendFloat(b, f, 64), true, nil
}

// appendFloat writes f like DuckDB: the digits floatDigits picks, positional when the decimal
// exponent of d.ddd×10^e is in [-4, 15] (with ".0" after whole numbers), scientific otherwise.
func appendFloat(b []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		if math.Signbit(f) {
			return append(b, "-nan"...)
		}
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	}
	if math.Signbit(f) {
		b = append(b, '-')
		f = -f
	}
	if f == 0 {
		return append(b, '0', '.', '0')
	}
	var tmp [32]byte
	digits, exp := floatDigits(tmp[:0], f, bitSize == 32)
	point := len(digits) + exp // digits before the decimal point
	if point-1 < -4 || point-1 >= 16 {
		b = append(b, digits[0])
		if len(digits) > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		e := point - 1
		if e < 0 {
			b = append(b, '-')
			e = -e
		} else {
			b = append(b, '+')
		}
		if e < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(e), 10)
	}
	switch {
	case point <= 0:
		b = append(b, '0', '.')
		for range -point {
			b = append(b, '0')
		}
		return append(b, digits...)
	case point >= len(digits):
		b = append(b, digits...)
		for range point - len(digits) {
			b = append(b, '0')
		}
		return append(b, '.', '0')
	default:
		b = append(b, digits[:point]...)
		b = append(b, '.')
		return append(b, digits[point:]...)
	}
}

// appendDecimalValue writes a DECIMAL exactly. width and scale come from the column type; -1 means
// unknown, and then the value is written with the digits it has.
func appendDecimalValue(b []byte, v any, width, scale int) ([]byte, bool, error) {
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case []byte:
		text = string(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, true, fmt.Errorf("%w: %v in a DECIMAL column", ErrUnsupportedValue, x)
		}
		text = strconv.FormatFloat(x, 'f', scale, 64)
	case float32:
		text = strconv.FormatFloat(float64(x), 'f', scale, 32)
	case *big.Float:
		if x == nil {
			return b, true, nil
		}
		if x.IsInf() {
			return b, true, fmt.Errorf("%w: %v in a DECIMAL column", ErrUnsupportedValue, x)
		}
		text = x.Text('f', scale)
	case fmt.Stringer:
		text = x.String()
	default:
		start := len(b)
		out, ok, err := appendInteger(b, v)
		if !ok || err != nil {
			return b, ok, err
		}
		text = string(out[start:])
		b = out[:start]
	}
	out, err := appendDecimalText(b, text, width, scale)
	return out, true, err
}

// appendDecimalText rewrites a plain decimal literal to DuckDB's DECIMAL(width,scale) layout.
func appendDecimalText(b []byte, s string, width, scale int) ([]byte, error) {
	bad := func() ([]byte, error) {
		return b, fmt.Errorf("%w: %q is not a decimal number", ErrUnsupportedValue, s)
	}
	neg := false
	r := s
	if len(r) > 0 && (r[0] == '-' || r[0] == '+') {
		neg = r[0] == '-'
		r = r[1:]
	}
	intPart, frac := r, ""
	for i := 0; i < len(r); i++ {
		if r[i] == '.' {
			intPart, frac = r[:i], r[i+1:]
			break
		}
	}
	if intPart == "" && frac == "" {
		return bad()
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return bad()
			}
		}
	}
	intPart = trimLeadingZeros(intPart)
	if scale >= 0 {
		// More digits than the scale can only be zeros from a driver's own formatting; anything
		// else is kept, because an archived value must never be rounded.
		for len(frac) > scale && frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
	}
	zero := intPart == "0"
	for i := 0; zero && i < len(frac); i++ {
		zero = frac[i] == '0'
	}
	if neg && !zero {
		b = append(b, '-')
	}
	if !(width >= 0 && width == scale && intPart == "0") {
		b = append(b, intPart...)
	}
	if frac == "" && scale <= 0 {
		return b, nil
	}
	b = append(b, '.')
	b = append(b, frac...)
	for i := len(frac); i < scale; i++ {
		b = append(b, '0')
	}
	return b, nil
}

func appendBoolValue(b []byte, v any) ([]byte, bool, error) {
	switch x := v.(type) {
	case bool:
		return strconv.AppendBool(b, x), true, nil
	case string:
		p, err := strconv.ParseBool(x)
		if err != nil {
			return b, true, fmt.Errorf("%w: %q is not a boolean", ErrUnsupportedValue, x)
		}
		return strconv.AppendBool(b, p), true, nil
	case []byte:
		return appendBoolValue(b, string(x))
	case int64:
		return strconv.AppendBool(b, x != 0), true, nil
	case int:
		return strconv.AppendBool(b, x != 0), true, nil
	}
	return b, false, nil
}

// DuckDB's infinite dates and timestamps, as duckdb-go hands them to Go: the largest and smallest
// day and microsecond counts.
var (
	tsInf    = time.UnixMicro(math.MaxInt64).UTC()
	tsNegInf = time.UnixMicro(-math.MaxInt64).UTC()
)

// unitInf holds the infinities of TIMESTAMP_S, _MS and _NS: the same reserved counts, in seconds,
// milliseconds and nanoseconds. No real value of any of the three types falls on another's.
var unitInf = [...]struct {
	t    time.Time
	text string
}{
	{time.Unix(math.MaxInt64, 0).UTC(), "infinity"},
	{time.Unix(-math.MaxInt64, 0).UTC(), "-infinity"},
	{time.UnixMilli(math.MaxInt64).UTC(), "infinity"},
	{time.UnixMilli(-math.MaxInt64).UTC(), "-infinity"},
	{time.Unix(0, math.MaxInt64).UTC(), "infinity"},
	{time.Unix(0, -math.MaxInt64).UTC(), "-infinity"},
}

const (
	dateInfYear    = 5881580  // 5881580-07-11, day math.MaxInt32
	dateNegInfYear = -5877641 // -5877641-06-24, day -math.MaxInt32
)

// appendDate writes %Y-%m-%d of t's own calendar date: a DATE has no zone to convert from.
func appendDate(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	switch {
	case y == dateInfYear && m == time.July && d == 11:
		return append(b, "infinity"...)
	case y == dateNegInfYear && m == time.June && d == 24:
		return append(b, "-infinity"...)
	}
	return appendYMD(b, y, m, d)
}

// appendTimestamp writes %Y-%m-%dT%H:%M:%SZ of t's wall clock; callers convert TIMESTAMPTZ to UTC
// first. The fraction is dropped: time.Time's fields already floor toward the earlier second,
// which is what DuckDB does for times before 1970 too.
func appendTimestamp(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y > 294246 || y < -290307 {
		if t.Equal(tsInf) {
			return append(b, "infinity"...)
		}
		if t.Equal(tsNegInf) {
			return append(b, "-infinity"...)
		}
	}
	b = appendYMD(b, y, m, d)
	hh, mm, ss := t.Clock()
	b = append(b, 'T')
	b = append2(b, hh)
	b = append(b, ':')
	b = append2(b, mm)
	b = append(b, ':')
	b = append2(b, ss)
	return append(b, 'Z')
}

// appendYMD is DuckDB's strftime %Y-%m-%d: four digits at least, and for years before year 0 a
// minus sign and the unpadded astronomical year.
func appendYMD(b []byte, y int, m time.Month, d int) []byte {
	if y < 0 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(-y), 10)
	} else {
		b = appendPadded(b, y, 4)
	}
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	return append2(b, d)
}

// appendTimestampCast is DuckDB's default TIMESTAMP text, used for the TIMESTAMP_S/_MS/_NS types
// that TIMESTAMPFORMAT does not apply to.
func appendTimestampCast(b []byte, t time.Time) []byte {
	y, m, d := t.Date()
	if y > 2261 || y < 1678 {
		for _, inf := range unitInf {
			if t.Equal(inf.t) {
				return append(b, inf.text...)
			}
		}
	}
	if y <= 0 {
		// DuckDB counts years before 1 AD as "(BC)" with no year 0.
		b = appendPadded(b, 1-y, 4)
	} else {
		b = appendPadded(b, y, 4)
	}
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	b = append2(b, d)
	if y <= 0 {
		b = append(b, " (BC)"...)
	}
	b = append(b, ' ')
	return appendClock(b, t)
}

// appendClock writes HH:MM:SS and the fraction of a second without trailing zeros.
func appendClock(b []byte, t time.Time) []byte {
	hh, mm, ss := t.Clock()
	b = append2(b, hh)
	b = append(b, ':')
	b = append2(b, mm)
	b = append(b, ':')
	b = append2(b, ss)
	return appendFraction(b, t.Nanosecond(), 9)
}

// appendFraction writes "." and frac (a count of 10^-digits seconds) with trailing zeros removed,
// or nothing when frac is 0.
func appendFraction(b []byte, frac, digits int) []byte {
	if frac == 0 {
		return b
	}
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.')
	return appendPadded(b, frac, digits)
}

// appendOffset writes a TIMETZ offset the way DuckDB does: +HH, then :MM if the minutes are not
// zero, then :SS if the seconds are not zero. So +01:00:01 comes out as "+01:01", the same text as
// +01:01:00; that is DuckDB's output and the export keeps it.
func appendOffset(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	b = append2(b, off/3600)
	if mm := off % 3600 / 60; mm != 0 {
		b = append(b, ':')
		b = append2(b, mm)
	}
	if ss := off % 60; ss != 0 {
		b = append(b, ':')
		b = append2(b, ss)
	}
	return b
}

func append2(b []byte, v int) []byte {
	if v >= 0 && v < 100 {
		return append(b, byte('0'+v/10), byte('0'+v%10))
	}
	return strconv.AppendInt(b, int64(v), 10)
}

func appendPadded(b []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// intervalOf accepts Interval, duckdb-go's Interval (a struct with the same integer fields, read
// by reflection so that this package does not depend on duckdb-go) and time.Duration.
func intervalOf(v any) (Interval, bool) {
	switch x := v.(type) {
	case Interval:
		return x, true
	case *Interval:
		if x != nil {
			return *x, true
		}
		return Interval{}, false
	case time.Duration:
		return Interval{Micros: int64(x / time.Microsecond)}, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return Interval{}, false
	}
	months, days, micros := rv.FieldByName("Months"), rv.FieldByName("Days"), rv.FieldByName("Micros")
	if !months.IsValid() || !days.IsValid() || !micros.IsValid() ||
		!months.CanInt() || !days.CanInt() || !micros.CanInt() {
		return Interval{}, false
	}
	return Interval{Months: int32(months.Int()), Days: int32(days.Int()), Micros: micros.Int()}, true
}

// appendInterval is DuckDB's INTERVAL text: "1 year 2 months 3 days 04:05:06.7".
func appendInterval(b []byte, iv Interval) []byte {
	start := len(b)
	part := func(v int32, unit string) {
		if len(b) > start {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(v), 10)
		b = append(b, ' ')
		b = append(b, unit...)
		if v != 1 && v != -1 {
			b = append(b, 's')
		}
	}
	if iv.Months != 0 {
		years, months := iv.Months/12, iv.Months%12
		if years != 0 {
			part(years, "year")
		}
		if months != 0 {
			part(months, "month")
		}
	}
	if iv.Days != 0 {
		part(iv.Days, "day")
	}
	if iv.Micros == 0 {
		if len(b) == start {
			b = append(b, "00:00:00"...)
		}
		return b
	}
	if len(b) > start {
		b = append(b, ' ')
	}
	micros := uint64(iv.Micros)
	if iv.Micros < 0 {
		b = append(b, '-')
		micros = -micros
	}
	const perSecond = 1_000_000
	hours := micros / (3600 * perSecond)
	micros -= hours * 3600 * perSecond
	minutes := micros / (60 * perSecond)
	micros -= minutes * 60 * perSecond
	seconds := micros / perSecond
	micros -= seconds * perSecond
	if hours < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, hours, 10)
	b = append(b, ':')
	b = append2(b, int(minutes))
	b = append(b, ':')
	b = append2(b, int(seconds))
	return appendFraction(b, int(micros), 6)
}

const hexDigits = "0123456789abcdef"

// appendUUIDValue accepts the 16 raw bytes duckdb-go returns for UUID, a [16]byte (also named
// array types such as duckdb.UUID or google/uuid), text, and fmt.Stringer.
func appendUUIDValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		if len(x) == 16 {
			return appendUUID(b, x), true
		}
		return appendText(b, x), true
	case [16]byte:
		return appendUUID(b, x[:]), true
	case string:
		return appendText(b, x), true
	case fmt.Stringer:
		return appendText(b, x.String()), true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array && rv.Len() == 16 && rv.Type().Elem().Kind() == reflect.Uint8 {
		var raw [16]byte
		reflect.Copy(reflect.ValueOf(raw[:]), rv)
		return appendUUID(b, raw[:]), true
	}
	return b, false
}

func appendUUID(b []byte, u []byte) []byte {
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// blobPlain marks the bytes DuckDB writes as themselves in a BLOB's text; all others become \xHH.
var blobPlain = func() (t [256]bool) {
	for c := 32; c <= 126; c++ {
		t[c] = c != '\\' && c != '\'' && c != '"'
	}
	return t
}()

const hexUpper = "0123456789ABCDEF"

func appendBlob[T string | []byte](b []byte, x T) []byte {
	if len(x) == 0 {
		return append(b, '"', '"')
	}
	start := len(b)
	quote := false
	for i := 0; i < len(x); i++ {
		c := x[i]
		if blobPlain[c] {
			b = append(b, c)
			quote = quote || needsQuote[c]
			continue
		}
		b = append(b, '\\', 'x', hexUpper[c>>4], hexUpper[c&0xf])
	}
	if !quote {
		return b
	}
	// Only ',' and '#' can remain ('"', CR and LF were escaped), so quoting needs no doubling.
	b = append(b, 0)
	copy(b[start+1:], b[start:len(b)-1])
	b[start] = '"'
	return append(b, '"')
}
