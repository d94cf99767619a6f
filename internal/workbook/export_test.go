package workbook

import (
	"database/sql"
	"testing"
)

// SetCrossCheck installs the cross-dialect check that run applies to every
// element it executes on DuckDB.
func SetCrossCheck(f func(tb testing.TB, db *sql.DB, el *Element, schema Schema, opts Options, v Values)) {
	crossCheck = f
}
