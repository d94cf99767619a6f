package testenv

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// SnowUnload answers COPY INTO <location> for the SnowProxy, which the
// emulator cannot run: it checks the statement's shape (and, through Check,
// its text against a golden file), runs the inner SELECT on the emulator,
// writes the CSV that the FILE_FORMAT asks for into the S3 server at the
// location, and answers with DETAILED_OUTPUT rows (FILE_NAME, FILE_SIZE,
// ROW_COUNT), as Snowflake does. Every other request passes through.
//
// It implements only the file format exportd sends: fields written as the
// SELECT gives them (FIELD_OPTIONALLY_ENCLOSED_BY = NONE, no escaping),
// NULL as the first NULL_IF value, '\n' records, HEADER = TRUE, COMPRESSION
// NONE or GZIP, SINGLE = TRUE (one file at the location; a result larger
// than MAX_FILE_SIZE fails as in Snowflake) or FALSE (files
// <location>_0_0_<n>.csv[.gz] of at most MAX_FILE_SIZE bytes each).
type SnowUnload struct {
	// DB queries the emulator directly (not through the proxy).
	DB *sql.DB
	// S3 writes to the S3 server.
	S3 *s3.Client
	// Integrations are the storage integrations DESC INTEGRATION knows:
	// name (upper case) to STORAGE_ALLOWED_LOCATIONS.
	Integrations map[string][]string
	// Check, when set, vets the statement (golden text); an error fails the
	// statement with a compilation error carrying it.
	Check func(stmt string) error

	mu sync.Mutex
	// Fault, when set, is called before the unload; a non-empty message
	// fails the statement with it (after writing nothing).
	Fault func(stmt string) string
	// RowCountSkew is added to every ROW_COUNT reported (a warehouse whose
	// DETAILED_OUTPUT disagrees with the file).
	RowCountSkew int64
	statements   []string
	seq          int
}

// Statements are the COPY INTO statements answered so far.
func (u *SnowUnload) Statements() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.statements...)
}

// SetFault sets Fault and RowCountSkew.
func (u *SnowUnload) SetFault(f func(stmt string) string, skew int64) {
	u.mu.Lock()
	u.Fault, u.RowCountSkew = f, skew
	u.mu.Unlock()
}

var copyRE = regexp.MustCompile(`(?s)^COPY INTO '(s3://[^'/]+/[^']+)'\nFROM \(\n(.*)\n\)\nSTORAGE_INTEGRATION = ([A-Za-z_][A-Za-z0-9_$]*)\n` +
	`FILE_FORMAT = \((.*)\)\nHEADER = TRUE SINGLE = (TRUE|FALSE) MAX_FILE_SIZE = ([0-9]+) OVERWRITE = FALSE DETAILED_OUTPUT = TRUE$`)

// the options the hook implements, in the order exportd writes them.
var unloadFormatRE = regexp.MustCompile(`^TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' FIELD_OPTIONALLY_ENCLOSED_BY = NONE ` +
	`ESCAPE_UNENCLOSED_FIELD = NONE ESCAPE = NONE NULL_IF = \(''\) EMPTY_FIELD_AS_NULL = FALSE DATE_FORMAT = '[^']*' TIME_FORMAT = '[^']*' ` +
	`TIMESTAMP_FORMAT = '[^']*' BINARY_FORMAT = HEX COMPRESSION = (NONE|GZIP)$`)

// Hook is the SnowHook to install on a SnowProxy.
func (u *SnowUnload) Hook(w http.ResponseWriter, r *SnowRequest) bool {
	if r.Path != "/queries/v1/query-request" {
		return false
	}
	switch {
	case strings.HasPrefix(r.SQL, "ALTER SESSION SET "):
		// fakesnow 0.12.1 does not implement ALTER SESSION; the unload's
		// SELECT renders every value itself, so the parameters only
		// restate its formats.
		writeSnowRows(w, "01-alter-session", []string{"status"}, [][]string{{"Statement executed successfully."}})
		return true
	case strings.HasPrefix(r.SQL, "DESC INTEGRATION "):
		// The emulator has no integrations (it fails with HTTP 500).
		name := strings.TrimSpace(strings.TrimPrefix(r.SQL, "DESC INTEGRATION "))
		u.mu.Lock()
		locs, ok := u.Integrations[strings.ToUpper(name)]
		u.mu.Unlock()
		if !ok {
			WriteSnowError(w, "002003", "SQL compilation error:\nIntegration '"+name+"' does not exist or not authorized.", "02000", "01-desc-integration")
			return true
		}
		writeSnowRows(w, "01-desc-integration", []string{"property", "property_type", "property_value", "property_default"}, [][]string{
			{"ENABLED", "Boolean", "true", "false"},
			{"STORAGE_PROVIDER", "String", "S3", ""},
			{"STORAGE_ALLOWED_LOCATIONS", "List", strings.Join(locs, ","), "[]"},
			{"STORAGE_BLOCKED_LOCATIONS", "List", "", "[]"},
			{"STORAGE_AWS_IAM_USER_ARN", "String", "arn:aws:iam::123456789001:user/abc1-b-self1234", ""},
			{"STORAGE_AWS_ROLE_ARN", "String", "arn:aws:iam::001234567890:role/exportd-snowflake-unload", ""},
			{"STORAGE_AWS_EXTERNAL_ID", "String", "ACME_SFCRole=2_abcdefg=", ""},
		})
		return true
	case !strings.HasPrefix(r.SQL, "COPY INTO '"):
		return false
	}
	u.mu.Lock()
	u.statements = append(u.statements, r.SQL)
	u.seq++
	qid := fmt.Sprintf("01-unload-%04d", u.seq)
	fault, skew := u.Fault, u.RowCountSkew
	u.mu.Unlock()
	m := copyRE.FindStringSubmatch(r.SQL)
	if m == nil {
		WriteSnowError(w, "001003", "SQL compilation error: COPY INTO statement not in the shape the test proxy implements", "42000", qid)
		return true
	}
	loc, sel, format, single, maxSize := m[1], m[2], m[4], m[5] == "TRUE", m[6]
	fm := unloadFormatRE.FindStringSubmatch(format)
	if fm == nil {
		WriteSnowError(w, "001003", "SQL compilation error: FILE_FORMAT not implemented by the test proxy: "+format, "42000", qid)
		return true
	}
	if u.Check != nil {
		if err := u.Check(r.SQL); err != nil {
			WriteSnowError(w, "001003", "SQL compilation error: "+err.Error(), "42000", qid)
			return true
		}
	}
	if fault != nil {
		if msg := fault(r.SQL); msg != "" {
			WriteSnowError(w, "100132", msg, "22000", qid)
			return true
		}
	}
	max, _ := strconv.ParseInt(maxSize, 10, 64)
	files, err := u.unload(context.Background(), loc, sel, fm[1] == "GZIP", single, max)
	if err != nil {
		WriteSnowError(w, "100132", err.Error(), "22000", qid)
		return true
	}
	rowset := [][]string{}
	for _, f := range files {
		rowset = append(rowset, []string{f.name, strconv.FormatInt(f.size, 10), strconv.FormatInt(f.rows+skew, 10)})
	}
	col := func(name, typ string) map[string]any {
		return map[string]any{"name": name, "type": typ, "nullable": false, "scale": 0, "precision": 38, "length": nil, "byteLength": nil}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true, "code": nil, "message": nil,
		"data": map[string]any{
			"queryId": qid, "queryResultFormat": "json", "returned": len(rowset), "total": len(rowset),
			"rowtype": []any{col("FILE_NAME", "text"), col("FILE_SIZE", "fixed"), col("ROW_COUNT", "fixed")},
			"rowset":  rowset, "statementTypeId": 4096,
		},
	})
	return true
}

type unloadedFile struct {
	name       string
	size, rows int64
}

func (u *SnowUnload) unload(ctx context.Context, loc, sel string, gz, single bool, max int64) ([]unloadedFile, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
	rows, err := u.DB.QueryContext(ctx, sel)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	header := strings.Join(cols, ",") + "\n"
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	type part struct {
		buf  bytes.Buffer
		rows int64
	}
	parts := []*part{{}}
	parts[0].buf.WriteString(header)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		var line strings.Builder
		for i, v := range vals {
			if i > 0 {
				line.WriteByte(',')
			}
			if v.Valid {
				line.WriteString(v.String)
			}
		}
		line.WriteByte('\n')
		p := parts[len(parts)-1]
		if !single && p.rows > 0 && int64(p.buf.Len()+line.Len()) > max {
			p = &part{}
			p.buf.WriteString(header)
			parts = append(parts, p)
		}
		p.buf.WriteString(line.String())
		p.rows++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if single && int64(parts[0].buf.Len()) > max {
		return nil, fmt.Errorf("Max file size (%d) exceeded for unload single file mode. Use a larger MAX_FILE_SIZE or SINGLE = FALSE", max)
	}
	var out []unloadedFile
	for i, p := range parts {
		k := key
		if !single {
			k = fmt.Sprintf("%s_0_0_%d.csv", key, i)
			if gz {
				k += ".gz"
			}
		}
		body := p.buf.Bytes()
		if gz {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			_, _ = zw.Write(body)
			_ = zw.Close()
			body = zb.Bytes()
		}
		// OVERWRITE = FALSE: an existing file fails the unload.
		if _, err := u.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err == nil {
			return nil, fmt.Errorf("files already exist at the unload destination: s3://%s/%s. Use overwrite option to force unloading", bucket, k)
		}
		if _, err := u.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			return nil, fmt.Errorf("write s3://%s/%s: %v", bucket, k, err)
		}
		out = append(out, unloadedFile{name: path.Base(k), size: int64(len(body)), rows: p.rows})
	}
	return out, nil
}

// writeSnowRows answers a query with text columns, as JSON.
func writeSnowRows(w http.ResponseWriter, qid string, cols []string, rows [][]string) {
	var rt []any
	for _, c := range cols {
		rt = append(rt, map[string]any{"name": c, "type": "text", "nullable": true, "scale": 0, "precision": 0, "length": 16777216, "byteLength": 16777216})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"success": true, "code": nil, "message": nil,
		"data": map[string]any{"queryId": qid, "queryResultFormat": "json", "returned": len(rows), "total": len(rows),
			"rowtype": rt, "rowset": rows, "statementTypeId": 4096},
	})
}
