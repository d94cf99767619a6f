// Package render turns query results into the CSV bytes that exportd archives.
//
// Two paths produce an archived CSV and they must agree byte for byte on the same rows:
//
//   - the DuckDB path, where DuckDB's own COPY writes the CSV and Go only passes it through a Sink
//     (optional gzip, then byte count and sha256 of what reaches the destination);
//   - the row path (Snowflake through database/sql, or any source that hands us rows), where Writer
//     formats every value itself and writes into the same kind of Sink.
//
// The format is therefore defined as "what DuckDB 1.5.6 writes" after SET TimeZone='UTC' with
//
//	COPY (q) TO 'f' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '"', ESCAPE '"', NULLSTR '',
//	                 DATEFORMAT '%Y-%m-%d', TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ', USE_TMP_FILE false)
//
// and the rules below were found by running that COPY (the byte-identity test keeps checking them):
//
// Records and quoting. UTF-8, a header row, every record (the last one too) ends in "\n". A field
// is quoted when it equals the NULL string (so an empty string is written "" while NULL is written
// as nothing) or when it contains one of the bytes \n \r , " or # (DuckDB also quotes '#', its
// comment character, wherever it occurs in the field). A quote inside a quoted field is doubled.
// Nothing else is quoted: leading or trailing spaces, tabs, other control bytes and non-ASCII text
// are written as they are. Header names follow the same rule.
//
// Numbers. Integers of every width (up to HUGEINT/UHUGEINT and BIGNUM) in plain decimal digits.
// DECIMAL(w,s) exactly, always with s fraction digits ("1.5000000000" for DECIMAL(38,10), "12" for
// s = 0); when w == s DuckDB leaves out the integer part: ".001", "-.5", ".0000". FLOAT and DOUBLE
// use the shortest digits that read back as the same value (DOUBLE at double precision; FLOAT at
// float precision, except for the rare floats where DuckDB's bundled {fmt} 6 gives up on Grisu3
// and prints the shortest digits of the value as a double: 722354368.0, not 722354370.0; see
// grisu.go), laid out like Python's repr: positional when the decimal exponent e of d.ddd×10^e is
// in [-4, 15] ("0.0001", "1000000000000000.0", with ".0" added to whole numbers), scientific
// otherwise with a signed exponent of at least two digits ("1e-05", "1e+16",
// "1.2345678901234568e+17"); "-0.0", "nan", "-nan" (sign bit set), "inf", "-inf".
//
// Booleans: true, false.
//
// Dates and times. DATE as %Y-%m-%d, TIMESTAMP and TIMESTAMPTZ as %Y-%m-%dT%H:%M:%SZ: fractions of a
// second are dropped (truncated toward the earlier instant, never rounded), a TIMESTAMPTZ is first
// converted to UTC, a zone-less TIMESTAMP is printed as its wall clock. %Y is at least four digits
// for years >= 0 ("0001", "10000") and "-" plus the unpadded astronomical year below that ("-43" is
// 44 BC). Infinite dates and timestamps print "infinity" and "-infinity". DuckDB applies neither
// format option to TIMESTAMP_S, TIMESTAMP_MS or TIMESTAMP_NS: those come out in its default cast,
// "2024-01-02 03:04:05.12" (fraction with trailing zeros removed, "0044-03-15 (BC) 10:00:00" for
// years <= 0), and so does TIME ("13:14:15.5"), TIMETZ ("13:14:15+02", "13:14:15.25-05:30": the
// offset is +HH, then :MM when not zero, then :SS when not zero, so +01:00:01 prints "+01:01") and
// INTERVAL ("1 year 2 months 3 days 04:05:06.7", "-10 months", "00:00:00").
//
// Others. UUID lower-case 8-4-4-4-12. BLOB with printable ASCII kept and every other byte, and also
// \ ' ", written as \xHH with upper-case hex. ENUM and BIT as their text.
//
// Known exceptions, where the row path cannot see what DuckDB sees: TIME '24:00:00' reaches Go as
// midnight (duckdb-go maps it into a time.Time) and is written "00:00:00"; DuckDB's nested types
// (LIST, ARRAY, STRUCT, MAP, UNION) and JSON arrive as parsed Go values whose DuckDB text cannot be
// rebuilt exactly (map order, JSON spacing), so their columns are refused with ErrUnsupportedValue
// rather than written differently.
package render

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind is how a column's values are formatted; KindOf derives it from the database's type name.
type Kind int

// The kinds. Their formats are described in the package documentation.
const (
	KindOther         Kind = iota // unknown types, BIT, JSON, VARIANT: text as the driver gives it
	KindVarchar                   // VARCHAR, TEXT, STRING, CHAR, ENUM
	KindBoolean                   // BOOLEAN
	KindInteger                   // TINYINT..HUGEINT, UTINYINT..UHUGEINT, BIGNUM
	KindDecimal                   // DECIMAL(w,s), NUMERIC, NUMBER, Snowflake FIXED
	KindFloat                     // FLOAT, REAL, DOUBLE: precision follows the Go value (float32 or float64)
	KindDate                      // DATE
	KindTimestamp                 // TIMESTAMP, TIMESTAMP_NTZ, DATETIME: wall clock as is
	KindTimestampTZ               // TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE, TIMESTAMP_TZ, TIMESTAMP_LTZ: in UTC
	KindTimestampUnit             // TIMESTAMP_S, TIMESTAMP_MS, TIMESTAMP_NS: DuckDB's default cast
	KindTime                      // TIME
	KindTimeTZ                    // TIMETZ, TIME WITH TIME ZONE
	KindInterval                  // INTERVAL
	KindUUID                      // UUID
	KindBlob                      // BLOB, BYTEA, BINARY, VARBINARY
	KindNested                    // DuckDB LIST, ARRAY, STRUCT, MAP, UNION, JSON: refused, see the package doc
)

var kindNames = [...]string{
	KindOther: "other", KindVarchar: "varchar", KindBoolean: "boolean", KindInteger: "integer",
	KindDecimal: "decimal", KindFloat: "float", KindDate: "date", KindTimestamp: "timestamp",
	KindTimestampTZ: "timestamptz", KindTimestampUnit: "timestamp_unit", KindTime: "time",
	KindTimeTZ: "timetz", KindInterval: "interval", KindUUID: "uuid", KindBlob: "blob", KindNested: "nested",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// kindByName maps upper-case type names, parameters removed, for DuckDB and Snowflake.
var kindByName = map[string]Kind{
	"BOOLEAN": KindBoolean, "BOOL": KindBoolean, "LOGICAL": KindBoolean,

	"TINYINT": KindInteger, "SMALLINT": KindInteger, "INTEGER": KindInteger, "INT": KindInteger,
	"BIGINT": KindInteger, "HUGEINT": KindInteger, "UTINYINT": KindInteger, "USMALLINT": KindInteger,
	"UINTEGER": KindInteger, "UBIGINT": KindInteger, "UHUGEINT": KindInteger, "BIGNUM": KindInteger,
	"VARINT": KindInteger, "INT1": KindInteger, "INT2": KindInteger, "INT4": KindInteger,
	"INT8": KindInteger, "INT16": KindInteger, "INT32": KindInteger, "INT64": KindInteger,
	"INT128": KindInteger, "BYTEINT": KindInteger, "SHORT": KindInteger, "LONG": KindInteger,
	"SIGNED": KindInteger,

	"DECIMAL": KindDecimal, "NUMERIC": KindDecimal, "NUMBER": KindDecimal, "FIXED": KindDecimal,

	"FLOAT": KindFloat, "FLOAT4": KindFloat, "FLOAT8": KindFloat, "REAL": KindFloat,
	"DOUBLE": KindFloat, "DOUBLE PRECISION": KindFloat,

	"VARCHAR": KindVarchar, "TEXT": KindVarchar, "STRING": KindVarchar, "CHAR": KindVarchar,
	"CHARACTER": KindVarchar, "CHARACTER VARYING": KindVarchar, "BPCHAR": KindVarchar,
	"NVARCHAR": KindVarchar, "NCHAR": KindVarchar, "NVARCHAR2": KindVarchar, "VARCHAR2": KindVarchar,
	"ENUM": KindVarchar,

	"DATE": KindDate,

	"TIMESTAMP": KindTimestamp, "TIMESTAMP_NTZ": KindTimestamp, "DATETIME": KindTimestamp,
	"TIMESTAMP WITHOUT TIME ZONE": KindTimestamp, "TIMESTAMP_US": KindTimestamp,

	"TIMESTAMPTZ": KindTimestampTZ, "TIMESTAMP WITH TIME ZONE": KindTimestampTZ,
	"TIMESTAMP_TZ": KindTimestampTZ, "TIMESTAMP_LTZ": KindTimestampTZ,

	"TIMESTAMP_S": KindTimestampUnit, "TIMESTAMP_MS": KindTimestampUnit, "TIMESTAMP_NS": KindTimestampUnit,

	"TIME": KindTime, "TIME WITHOUT TIME ZONE": KindTime,
	"TIMETZ": KindTimeTZ, "TIME WITH TIME ZONE": KindTimeTZ,

	"INTERVAL": KindInterval,
	"UUID":     KindUUID,

	"BLOB": KindBlob, "BYTEA": KindBlob, "BINARY": KindBlob, "VARBINARY": KindBlob,

	// Snowflake's ARRAY, OBJECT and VARIANT arrive as JSON text and stay KindOther.
	"STRUCT": KindNested, "MAP": KindNested, "UNION": KindNested, "LIST": KindNested, "JSON": KindNested,
}

// KindOf maps a type name as DuckDB or Snowflake reports it (database/sql's DatabaseTypeName, or DDL
// such as "DECIMAL(38,10)", "timestamp with time zone", "TIMESTAMP_NTZ(9)") to its Kind. Unknown
// names are KindOther, whose values are written as the text the driver gives.
func KindOf(dbType string) Kind {
	name, _ := splitType(dbType)
	if k, ok := kindByName[name]; ok {
		return k
	}
	if strings.HasSuffix(name, "]") { // DuckDB lists and arrays: INTEGER[], VARCHAR[3], STRUCT(...)[]
		return KindNested
	}
	return KindOther
}

// splitType returns the upper-case name with single spaces and the text between the outer
// parentheses, if any.
func splitType(dbType string) (name, params string) {
	s := strings.TrimSpace(dbType)
	if i := strings.IndexByte(s, '('); i >= 0 {
		if j := strings.LastIndexByte(s, ')'); j > i {
			params = s[i+1 : j]
			// "TIMESTAMP(3) WITH TIME ZONE": the words after the parameters still name the type.
			s = s[:i] + " " + s[j+1:]
		}
	}
	return strings.ToUpper(strings.Join(strings.Fields(s), " ")), params
}

// decimalShape reads (width, scale) from "DECIMAL(w,s)". Without parameters both are -1: the
// scale is then unknown and values are written as the driver gives them.
func decimalShape(dbType string) (width, scale int, err error) {
	_, params := splitType(dbType)
	if strings.TrimSpace(params) == "" {
		return -1, -1, nil
	}
	parts := strings.Split(params, ",")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("type %q: want DECIMAL(width[,scale])", dbType)
	}
	width, err = strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || width < 1 {
		return 0, 0, fmt.Errorf("type %q: bad width", dbType)
	}
	scale = 0
	if len(parts) == 2 {
		scale, err = strconv.Atoi(strings.TrimSpace(parts[1]))
		if err != nil || scale < 0 || scale > width {
			return 0, 0, fmt.Errorf("type %q: bad scale", dbType)
		}
	}
	return width, scale, nil
}

// Column is one output column: its header name and its type as the database names it.
type Column struct {
	Name string
	Type string
}

// Options configure a Sink or a Writer.
type Options struct {
	// Gzip compresses the CSV. The gzip header carries no name and no time, so the same CSV always
	// gives the same compressed bytes and sha256.
	Gzip bool
	// GzipLevel is a compression level from 1 (fastest) to 9 (smallest); 0 picks level 2, see
	// defaultGzipLevel. Any level gives standard gzip that every gunzip reads.
	GzipLevel int
}

// Stats describe what reached the destination.
type Stats struct {
	Rows   int64  // data records, header excluded
	Bytes  int64  // bytes written to the destination (after gzip)
	SHA256 string // lower-case hex sha256 of those bytes
}

var (
	// ErrUnsupportedValue means a value cannot be written the way DuckDB would write it.
	ErrUnsupportedValue = errors.New("unsupported value")
	// ErrColumnCount means a row does not have one value per column.
	ErrColumnCount = errors.New("wrong number of values")
	// ErrClosed means the Sink or Writer was already closed.
	ErrClosed = errors.New("render: closed")
	// ErrMalformed means CountRows met something this package does not write.
	ErrMalformed = errors.New("malformed csv")
)
