package workbook

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one problem of an element, located by its YAML path under
// `element:` and, inside a formula, by a 1-based character column.
type Error struct {
	// Field is the YAML path under element, e.g. "columns[1].formula",
	// "filters[0]", "group_by[0].truncate", "from.sql", "order_by[0].column".
	Field string
	// Col is the 1-based column (in characters) inside the formula; 0 when
	// the problem is not inside a formula.
	Col int
	Msg string
}

func (e *Error) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("%s: column %d: %s", e.Field, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Msg)
}

// Errors lists every problem found in an element, in the order of the
// element's fields.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.Is and errors.As see each problem and ErrInvalid.
func (es Errors) Unwrap() []error {
	out := make([]error, 0, len(es)+1)
	out = append(out, ErrInvalid)
	for _, e := range es {
		out = append(out, e)
	}
	return out
}

// ErrInvalid is matched (errors.Is) by every error Compile and Check return
// for a bad element, as opposed to a failing SQLParser.
var ErrInvalid = errors.New("invalid element")

// ErrMissingValue is returned by Bind when a parameter the SQL needs has no
// value (a zero time).
var ErrMissingValue = errors.New("missing parameter value")
