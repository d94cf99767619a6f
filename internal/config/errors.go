package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid matches (errors.Is) the error Load returns for a config with
// problems, as opposed to a failure to load it at all.
var ErrInvalid = errors.New("invalid configuration")

// Error is one located problem in a config or schedule file. It prints as
//
//	file:line:col: export "name": field: message
//
// for a schedule file and as "file:line:col: field: message" for the
// daemon config. Field is the YAML path of the value
// ("sources.demo.retention", "element.columns[1].formula"); it is empty for
// problems of the whole file (empty file, not YAML) and for unknown keys,
// whose message names the key.
type Error struct {
	File   string
	Line   int
	Column int
	// Export is the schedule's name as written in the file ("" for the
	// daemon config, or when the file has no usable name).
	Export string
	Field  string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Export != "" {
		fmt.Fprintf(&b, "export %q: ", e.Export)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes every Error match ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Errors is every problem Load found, sorted by file, line and column. It
// prints one problem per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Is makes Errors match ErrInvalid.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

// ElementError is a problem the element checker (the workbook compiler)
// found. Field is the path under element ("columns[1].formula", "" for the
// element as a whole); Load places the message at that position.
type ElementError struct {
	// Path, when set, places the problem outside element: a path from the
	// schedule file's root, e.g. alerts[0].when.
	Path  string
	Field string
	Msg   string
}
