package workbook

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Unload is a Snowflake COPY INTO <location> of a compiled element: the
// warehouse writes the CSV file itself, through a storage integration.
type Unload struct {
	// Location is the s3:// URL of the file (SINGLE = TRUE) or of the
	// files' common prefix (Parts).
	Location string
	// Integration is the Snowflake storage integration's name.
	Integration string
	// Gzip asks for COMPRESSION = GZIP.
	Gzip bool
	// MaxFileSize is MAX_FILE_SIZE in bytes (Snowflake caps a SINGLE file
	// at 5 GB on S3).
	MaxFileSize int64
	// Parts unloads several files of at most MaxFileSize (SINGLE = FALSE),
	// each with its own header, for results above SINGLE's limit.
	Parts bool
}

// MaxSingleFileSize is the largest file a SINGLE = TRUE unload writes to
// S3 (5 GB).
const MaxSingleFileSize int64 = 5 << 30

// UnloadFileFormat is the FILE_FORMAT of every unload. The SELECT that
// UnloadStatement writes already turns each value into its CSV field text
// (quoted where the README's rules quote it, dates and timestamps in their
// fixed format), so Snowflake must write the fields as they are: no
// enclosing, no escaping, SQL NULL as an empty field. An empty string never
// reaches Snowflake unquoted (it is written as ""), so NULL and "" stay
// apart.
const unloadFileFormat = `TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\n' ` +
	`FIELD_OPTIONALLY_ENCLOSED_BY = NONE ESCAPE_UNENCLOSED_FIELD = NONE ESCAPE = NONE ` +
	`NULL_IF = ('') EMPTY_FIELD_AS_NULL = FALSE ` +
	`DATE_FORMAT = 'YYYY-MM-DD' TIME_FORMAT = 'HH24:MI:SS' ` +
	`TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS"Z"' BINARY_FORMAT = HEX`

// UnloadSessionParameters are set (ALTER SESSION SET) on the session that
// runs an unload, so that any value the SELECT leaves to Snowflake's own
// formatting follows the README's rules too.
var UnloadSessionParameters = [][2]string{
	{"TIMEZONE", "'UTC'"},
	{"DATE_OUTPUT_FORMAT", "'YYYY-MM-DD'"},
	{"TIME_OUTPUT_FORMAT", "'HH24:MI:SS'"},
	{"TIMESTAMP_OUTPUT_FORMAT", `'YYYY-MM-DD"T"HH24:MI:SS"Z"'`},
	{"TIMESTAMP_NTZ_OUTPUT_FORMAT", `'YYYY-MM-DD"T"HH24:MI:SS"Z"'`},
	{"BINARY_OUTPUT_FORMAT", "'HEX'"},
}

var (
	s3URLRE       = regexp.MustCompile(`^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*()=/-]*)?$`)
	sfIdentRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]{0,254}$`)
	boundValueRE  = regexp.MustCompile(`^[0-9][0-9 :.+-]{0,40}$`)
	plainHeaderRE = regexp.MustCompile(`^[^,"#\r\n]+$`)
)

// ErrUnload reports an element or location that cannot be unloaded.
var ErrUnload = errors.New("cannot unload")

// UnloadStatement returns the COPY INTO <location> statement for c with
// args (from c.Bind) written in as literals: COPY INTO takes no bind
// parameters. Only values that Bind formats (digits, spaces and date
// punctuation) are accepted, each as a quoted literal that the compiled SQL
// converts to its type (TO_TIMESTAMP_NTZ(?, ...) and friends).
func (c *Compiled) UnloadStatement(u Unload, args []any) (string, error) {
	if c.Dialect != Snowflake {
		return "", fmt.Errorf("%w: unloading needs the snowflake dialect, not %s", ErrUnload, c.Dialect)
	}
	if !s3URLRE.MatchString(u.Location) || strings.Contains(u.Location, "//"+"/") || strings.Contains(u.Location, "/../") {
		return "", fmt.Errorf("%w: location %q is not a plain s3://bucket/key URL", ErrUnload, u.Location)
	}
	if !sfIdentRE.MatchString(u.Integration) {
		return "", fmt.Errorf("%w: storage integration %q is not a Snowflake identifier", ErrUnload, u.Integration)
	}
	if u.MaxFileSize <= 0 || u.MaxFileSize > MaxSingleFileSize {
		return "", fmt.Errorf("%w: max file size %d is outside 1 to %d bytes", ErrUnload, u.MaxFileSize, MaxSingleFileSize)
	}
	inner, err := inlineBinds(c.SQL, args)
	if err != nil {
		return "", err
	}
	sel, err := c.unloadSelect(inner)
	if err != nil {
		return "", err
	}
	compression := "NONE"
	if u.Gzip {
		compression = "GZIP"
	}
	single := "TRUE"
	if u.Parts {
		single = "FALSE"
	}
	return "COPY INTO " + sfLiteral(u.Location) + "\nFROM (\n" + sel + "\n)\n" +
		"STORAGE_INTEGRATION = " + u.Integration + "\n" +
		"FILE_FORMAT = (" + unloadFileFormat + " COMPRESSION = " + compression + ")\n" +
		"HEADER = TRUE SINGLE = " + single + " MAX_FILE_SIZE = " + strconv.FormatInt(u.MaxFileSize, 10) +
		" OVERWRITE = FALSE DETAILED_OUTPUT = TRUE", nil
}

// unloadSelect wraps the element's SELECT in one that renders every output
// column as its CSV field text, by the README's rules: text quoted when it
// is empty or holds a delimiter, quote, line end or '#' (as DuckDB quotes),
// with quotes doubled; logicals as true/false; dates as 2006-01-02;
// datetimes (already UTC wall clock) as 2006-01-02T15:04:05Z. Numbers are
// left to Snowflake's own text form.
func (c *Compiled) unloadSelect(inner string) (string, error) {
	var b strings.Builder
	b.WriteString("SELECT\n")
	for i, col := range c.Columns {
		if !plainHeaderRE.MatchString(col.Name) {
			return "", fmt.Errorf("%w: column name %q would need quoting in the CSV header; rename it", ErrUnload, col.Name)
		}
		ref := "u." + quoteIdent(col.Name)
		var e string
		switch col.Type {
		case Text:
			e = "CASE WHEN " + ref + " IS NULL THEN NULL WHEN " + ref + " = '' OR CONTAINS(" + ref + ", ',') OR CONTAINS(" + ref +
				", '\"') OR CONTAINS(" + ref + ", '#') OR CONTAINS(" + ref + ", CHR(10)) OR CONTAINS(" + ref + ", CHR(13)) " +
				"THEN '\"' || REPLACE(" + ref + ", '\"', '\"\"') || '\"' ELSE " + ref + " END"
		case Logical:
			e = "CASE WHEN " + ref + " THEN 'true' WHEN NOT " + ref + " THEN 'false' END"
		case Date:
			e = "TO_VARCHAR(" + ref + ", 'YYYY-MM-DD')"
		case Datetime:
			// Built from parts rather than with a format string, which the
			// emulator the tests run on ignores for timestamps; the result is
			// the same text in Snowflake.
			two := func(f string) string { return "LPAD(" + f + "(" + ref + ")::VARCHAR, 2, '0')" }
			e = "CASE WHEN " + ref + " IS NOT NULL THEN TO_VARCHAR(CAST(" + ref + " AS DATE), 'YYYY-MM-DD') || 'T' || " +
				two("HOUR") + " || ':' || " + two("MINUTE") + " || ':' || " + two("SECOND") + " || 'Z' END"
		default:
			e = ref
		}
		sep := ","
		if i == len(c.Columns)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %s AS %s%s\n", e, quoteIdent(col.Name), sep)
	}
	b.WriteString("FROM (\n" + strings.TrimRight(inner, "\n ") + "\n) AS u")
	// An ORDER BY inside a subquery orders nothing outside it: repeat the
	// element's order on the unconverted values.
	lines := strings.Split(strings.TrimRight(c.SQL, "\n "), "\n")
	if last := lines[len(lines)-1]; strings.HasPrefix(last, "ORDER BY ") {
		var keys []string
		for _, item := range strings.Split(strings.TrimPrefix(last, "ORDER BY "), ", ") {
			m := orderItemRE.FindStringSubmatch(item)
			n := 0
			if m != nil {
				n, _ = strconv.Atoi(m[1])
			}
			if n < 1 || n > len(c.Columns) {
				return "", fmt.Errorf("%w: unexpected ORDER BY item %q", ErrUnload, item)
			}
			keys = append(keys, "u."+quoteIdent(c.Columns[n-1].Name)+m[2])
		}
		b.WriteString("\nORDER BY " + strings.Join(keys, ", "))
	}
	return b.String(), nil
}

var orderItemRE = regexp.MustCompile(`^([0-9]+)( (?:ASC|DESC) NULLS (?:FIRST|LAST))$`)

// inlineBinds replaces each ? placeholder of Snowflake SQL (outside string
// literals, quoted identifiers and comments) with args[i] as a string
// literal.
func inlineBinds(sql string, args []any) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(sql); i++ {
		ch := sql[i]
		switch {
		case ch == '\'' || ch == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == '\\' && ch == '\'' {
					j += 2
					continue
				}
				if sql[j] == ch {
					if j+1 < len(sql) && sql[j+1] == ch {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				return "", fmt.Errorf("%w: unterminated quote in compiled SQL", ErrUnload)
			}
			b.WriteString(sql[i : j+1])
			i = j
		case ch == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				j = len(sql) - i
			}
			b.WriteString(sql[i : i+j])
			i += j - 1
		case ch == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return "", fmt.Errorf("%w: unterminated comment in compiled SQL", ErrUnload)
			}
			b.WriteString(sql[i : i+2+j+2])
			i += 2 + j + 1
		case ch == '?':
			if n >= len(args) {
				return "", fmt.Errorf("%w: the SQL has more placeholders than the %d values", ErrUnload, len(args))
			}
			s, ok := args[n].(string)
			if !ok || !boundValueRE.MatchString(s) {
				return "", fmt.Errorf("%w: value %d is not a formatted date or timestamp", ErrUnload, n+1)
			}
			b.WriteString(sfLiteral(s))
			n++
		default:
			b.WriteByte(ch)
		}
	}
	if n != len(args) {
		return "", fmt.Errorf("%w: %d values for %d placeholders", ErrUnload, len(args), n)
	}
	return b.String(), nil
}

// sfLiteral is a Snowflake string literal: backslashes and quotes doubled.
func sfLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
