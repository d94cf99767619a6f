package snowflake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	_ "github.com/exportd/exportd/internal/source/snowflake/nominicore" // before gosnowflake's init
	sf "github.com/snowflakedb/gosnowflake/v2"

	"github.com/exportd/exportd/internal/workbook"
)

// Unloader runs warehouse-side unloads (COPY INTO <location> through a
// storage integration) on a Snowflake source's connection pool. The data
// goes from Snowflake straight to the bucket; exportd sees only the
// statement's DETAILED_OUTPUT.
type Unloader struct {
	name string
	db   *sql.DB
}

// NewUnloader returns an Unloader on db, a gosnowflake pool; name is the
// source's name for errors.
func NewUnloader(name string, db *sql.DB) *Unloader { return &Unloader{name: name, db: db} }

// Unloader returns the source's unloader: COPY INTO <location> on the
// source's own connection pool.
func (s *Source) Unloader() *Unloader { return NewUnloader(s.name, s.db) }

// UnloadedFile is one row of COPY INTO's DETAILED_OUTPUT.
type UnloadedFile struct {
	// Name is FILE_NAME: the file's path relative to the location.
	Name string
	Size int64
	Rows int64
}

// UnloadResult is what an unload wrote.
type UnloadResult struct {
	QueryID string
	Files   []UnloadedFile
}

// Unload runs stmt, a COPY INTO <location> written by the workbook
// compiler (workbook.Compiled.UnloadStatement), with QUERY_TAG tag, on a
// session whose output formats follow the README's rendering rules
// (workbook.UnloadSessionParameters). The session is not given back to the
// pool: its parameters would leak into other queries.
func (u *Unloader) Unload(ctx context.Context, stmt, tag string) (UnloadResult, error) {
	if !strings.HasPrefix(stmt, "COPY INTO 's3://") {
		return UnloadResult{}, fmt.Errorf("snowflake source %q: unload: not a COPY INTO <location> statement", u.name)
	}
	conn, err := u.db.Conn(ctx)
	if err != nil {
		return UnloadResult{}, u.wrap(ctx, "unload (connect)", err, "")
	}
	defer conn.Close()
	var res UnloadResult
	var qerr error
	_ = conn.Raw(func(dc any) error {
		// Returning ErrBadConn drops the session whatever happened.
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			qerr = errors.New("driver connection cannot query")
			return driver.ErrBadConn
		}
		ec, ok := dc.(driver.ExecerContext)
		if !ok {
			qerr = errors.New("driver connection cannot execute")
			return driver.ErrBadConn
		}
		var set []string
		for _, p := range workbook.UnloadSessionParameters {
			set = append(set, p[0]+" = "+p[1])
		}
		if _, err := ec.ExecContext(ctx, "ALTER SESSION SET "+strings.Join(set, " "), nil); err != nil {
			qerr = u.wrap(ctx, "unload (session parameters)", err, "")
			return driver.ErrBadConn
		}
		qctx := ctx
		if tag != "" {
			qctx = sf.WithQueryTag(ctx, tag)
		}
		rows, err := qc.QueryContext(qctx, stmt, nil)
		if err != nil {
			qerr = u.wrap(ctx, "unload", err, "")
			return driver.ErrBadConn
		}
		defer rows.Close()
		if sr, ok := rows.(sf.SnowflakeRows); ok {
			res.QueryID = sr.GetQueryID()
		}
		res.Files, qerr = readDetailedOutput(rows)
		if qerr != nil {
			qerr = u.wrap(ctx, "unload (read DETAILED_OUTPUT)", qerr, res.QueryID)
		}
		return driver.ErrBadConn
	})
	return res, qerr
}

// readDetailedOutput reads FILE_NAME, FILE_SIZE, ROW_COUNT rows.
func readDetailedOutput(rows driver.Rows) ([]UnloadedFile, error) {
	cols := rows.Columns()
	idx := map[string]int{}
	for i, c := range cols {
		idx[strings.ToUpper(c)] = i
	}
	for _, c := range []string{"FILE_NAME", "FILE_SIZE", "ROW_COUNT"} {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("no %s column in the answer (columns %v); the statement needs DETAILED_OUTPUT = TRUE", c, cols)
		}
	}
	var files []UnloadedFile
	vals := make([]driver.Value, len(cols))
	for {
		err := rows.Next(vals)
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		f := UnloadedFile{Name: valueText(vals[idx["FILE_NAME"]])}
		var e1, e2 error
		f.Size, e1 = strconv.ParseInt(valueText(vals[idx["FILE_SIZE"]]), 10, 64)
		f.Rows, e2 = strconv.ParseInt(valueText(vals[idx["ROW_COUNT"]]), 10, 64)
		if f.Name == "" || e1 != nil || e2 != nil {
			return nil, fmt.Errorf("unexpected DETAILED_OUTPUT row %v", vals)
		}
		files = append(files, f)
	}
}

func valueText(v driver.Value) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// StorageAllowedLocations reads the STORAGE_ALLOWED_LOCATIONS and
// STORAGE_BLOCKED_LOCATIONS of a storage integration (DESC INTEGRATION),
// each normalized to end with '/' ("*" stays as it is).
func (u *Unloader) StorageAllowedLocations(ctx context.Context, integration string) (allowed, blocked []string, err error) {
	if !isIdentifier(integration) {
		return nil, nil, fmt.Errorf("snowflake source %q: storage integration %q is not a Snowflake identifier", u.name, integration)
	}
	rows, err := u.db.QueryContext(ctx, "DESC INTEGRATION "+integration)
	if err != nil {
		return nil, nil, u.wrap(ctx, "DESC INTEGRATION "+integration, err, "")
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	found := false
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, u.wrap(ctx, "DESC INTEGRATION "+integration, err, "")
		}
		prop, value := "", ""
		for i, c := range cols {
			switch strings.ToLower(c) {
			case "property":
				prop = vals[i].String
			case "property_value":
				value = vals[i].String
			}
		}
		switch strings.ToUpper(prop) {
		case "STORAGE_ALLOWED_LOCATIONS":
			allowed, found = splitLocations(value), true
		case "STORAGE_BLOCKED_LOCATIONS":
			blocked = splitLocations(value)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, u.wrap(ctx, "DESC INTEGRATION "+integration, err, "")
	}
	if !found {
		return nil, nil, fmt.Errorf("snowflake source %q: DESC INTEGRATION %s shows no STORAGE_ALLOWED_LOCATIONS; is it an external stage storage integration?", u.name, integration)
	}
	return allowed, blocked, nil
}

func splitLocations(v string) []string {
	var out []string
	for _, s := range strings.Split(strings.Trim(v, "[]"), ",") {
		s = strings.Trim(strings.TrimSpace(s), `"'`)
		if s == "" {
			continue
		}
		if s != "*" && !strings.HasSuffix(s, "/") {
			s += "/"
		}
		out = append(out, s)
	}
	return out
}

// CheckStorageLocation reports whether loc (s3://bucket/prefix/) lies inside
// one of allowed and outside every blocked location, on '/' boundaries.
func CheckStorageLocation(loc string, allowed, blocked []string) error {
	if !strings.HasSuffix(loc, "/") {
		loc += "/"
	}
	ok := false
	for _, a := range allowed {
		if a == "*" || strings.HasPrefix(loc, a) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%s is outside the storage integration's STORAGE_ALLOWED_LOCATIONS (%s)", loc, strings.Join(allowed, ", "))
	}
	for _, b := range blocked {
		if strings.HasPrefix(loc, b) || strings.HasPrefix(b, loc) {
			return fmt.Errorf("%s overlaps the storage integration's STORAGE_BLOCKED_LOCATIONS entry %s", loc, b)
		}
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z'):
		case i > 0 && (r == '$' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// wrap wraps a failed unload call as the source wraps its queries' errors
// (*Error, with Snowflake's code, SQLSTATE, message and query ID).
func (u *Unloader) wrap(ctx context.Context, op string, err error, queryID string) error {
	e, _ := classify(ctx, u.name, op, err, queryID)
	return e
}

// IsFileTooLarge reports an unload error saying the result does not fit in
// one file (SINGLE = TRUE above MAX_FILE_SIZE); unloading in parts
// (SINGLE = FALSE) is the remedy.
func IsFileTooLarge(err error) bool {
	var e *Error
	return errors.As(err, &e) && tooLargeRE.MatchString(e.Message)
}

var tooLargeRE = regexp.MustCompile(`(?i)max(imum)? file size.*exceeded|exceeds? .*max(imum)? file size`)
