package workbook

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// RowCondition is a Logical formula over an element's output columns,
// evaluated in Go on each row of the rendered CSV (a data alert: "if a
// column condition is met"). It needs no query: it reads the values
// exportd already streams. Empty fields are Null; a comparison with Null
// is false, as in SQL's WHERE.
type RowCondition struct {
	root node
	cols []OutputColumn
	idx  map[string]int // lowercased column name → index in the header
}

// CompileRowCondition parses and type-checks src against the output
// columns. Supported: column references, number/text/logical literals,
// Null, + - * / & (concatenation), comparisons, And, Or, Not, and the
// functions IsNull, Not, Abs. Errors carry the 1-based column inside src.
func CompileRowCondition(src string, cols []OutputColumn) (*RowCondition, error) {
	n, perr := parseFormula(src)
	if perr != nil {
		return nil, &Error{Field: "when", Col: perr.pos, Msg: perr.msg}
	}
	rc := &RowCondition{root: n, cols: cols, idx: map[string]int{}}
	for i, c := range cols {
		rc.idx[strings.ToLower(c.Name)] = i
	}
	t, err := rc.check(n)
	if err != nil {
		return nil, err
	}
	if t != Logical && t != Null {
		return nil, &Error{Field: "when", Col: n.position(), Msg: fmt.Sprintf("the condition is %s, not Logical; compare it, e.g. [Failure] > 100", typeWord(t))}
	}
	return rc, nil
}

// Columns are the output columns the condition was checked against.
func (rc *RowCondition) Columns() []OutputColumn { return rc.cols }

func typeWord(t Type) string {
	switch t {
	case Null:
		return "Null"
	case Integer, Number:
		return "a Number"
	case Text:
		return "Text"
	case Logical:
		return "Logical"
	case Date:
		return "a Date"
	case Datetime, DatetimeTZ:
		return "a Datetime"
	}
	return "of an unsupported type"
}

func numeric(t Type) bool { return t == Integer || t == Number || t == Null }

func comparable(a, b Type) bool {
	if a == Null || b == Null {
		return true
	}
	if numeric(a) && numeric(b) {
		return true
	}
	if a == DatetimeTZ {
		a = Datetime
	}
	if b == DatetimeTZ {
		b = Datetime
	}
	// Dates and datetimes are written as ISO 8601 text, so they compare
	// with text literals such as "2026-11-03".
	textual := func(t Type) bool { return t == Text || t == Date || t == Datetime }
	return a == b || (textual(a) && textual(b))
}

func (rc *RowCondition) errf(n node, format string, args ...any) error {
	return &Error{Field: "when", Col: n.position(), Msg: fmt.Sprintf(format, args...)}
}

func (rc *RowCondition) check(n node) (Type, error) {
	switch n := n.(type) {
	case *numLit:
		if strings.ContainsAny(n.text, ".eE") {
			return Number, nil
		}
		return Integer, nil
	case *strLit:
		return Text, nil
	case *boolLit:
		return Logical, nil
	case *nullLit:
		return Null, nil
	case *refNode:
		i, ok := rc.idx[strings.ToLower(n.name)]
		if !ok {
			names := make([]string, len(rc.cols))
			for j, c := range rc.cols {
				names[j] = "[" + c.Name + "]"
			}
			return Invalid, rc.errf(n, "unknown column [%s]; the output columns are %s", n.name, strings.Join(names, ", "))
		}
		if t := rc.cols[i].Type; t == Other {
			return Invalid, rc.errf(n, "column [%s] has a type conditions cannot compare", n.name)
		}
		return rc.cols[i].Type, nil
	case *unaryNode:
		t, err := rc.check(n.x)
		if err != nil {
			return Invalid, err
		}
		if n.op == "-" {
			if !numeric(t) {
				return Invalid, rc.errf(n, "- needs a number, not %s", typeWord(t))
			}
			return t, nil
		}
		if t != Logical && t != Null {
			return Invalid, rc.errf(n, "Not needs a Logical, not %s", typeWord(t))
		}
		return Logical, nil
	case *callNode:
		switch strings.ToLower(n.name) {
		case "isnull":
			if len(n.args) != 1 {
				return Invalid, rc.errf(n, "IsNull takes one argument")
			}
			if _, err := rc.check(n.args[0]); err != nil {
				return Invalid, err
			}
			return Logical, nil
		case "not":
			if len(n.args) != 1 {
				return Invalid, rc.errf(n, "Not takes one argument")
			}
			return rc.check(&unaryNode{op: "not", x: n.args[0], pos: n.pos})
		case "abs":
			if len(n.args) != 1 {
				return Invalid, rc.errf(n, "Abs takes one argument")
			}
			t, err := rc.check(n.args[0])
			if err != nil {
				return Invalid, err
			}
			if !numeric(t) {
				return Invalid, rc.errf(n, "Abs needs a number, not %s", typeWord(t))
			}
			return t, nil
		}
		return Invalid, rc.errf(n, "%s is not available in a data alert; use comparisons, And, Or, Not, IsNull and Abs", n.name)
	case *binaryNode:
		lt, err := rc.check(n.l)
		if err != nil {
			return Invalid, err
		}
		rt, err := rc.check(n.r)
		if err != nil {
			return Invalid, err
		}
		switch n.op {
		case "+", "-", "*", "/":
			if !numeric(lt) || !numeric(rt) {
				return Invalid, rc.errf(n, "%s needs numbers, not %s and %s", n.op, typeWord(lt), typeWord(rt))
			}
			if n.op == "/" || lt == Number || rt == Number {
				return Number, nil
			}
			return Integer, nil
		case "&":
			return Text, nil
		case "=", "!=", "<", "<=", ">", ">=":
			if !comparable(lt, rt) {
				return Invalid, rc.errf(n, "cannot compare %s with %s", typeWord(lt), typeWord(rt))
			}
			return Logical, nil
		case "and", "or":
			for _, t := range []Type{lt, rt} {
				if t != Logical && t != Null {
					return Invalid, rc.errf(n, "%s needs Logical values, not %s", strings.Title(n.op), typeWord(t)) //nolint:staticcheck
				}
			}
			return Logical, nil
		}
		return Invalid, rc.errf(n, "operator %s is not available in a data alert", n.op)
	}
	return Invalid, fmt.Errorf("unsupported formula")
}

// value is a row value: nil is Null; otherwise float64, string or bool.
type value any

// Match evaluates the condition on one CSV record (fields in output column
// order, as rendered: empty is Null). A record of the wrong width or a
// field that does not parse as its column's type is an error.
func (rc *RowCondition) Match(record []string) (bool, error) {
	if len(record) != len(rc.cols) {
		return false, fmt.Errorf("row has %d fields, want %d", len(record), len(rc.cols))
	}
	v, err := rc.eval(rc.root, record)
	if err != nil {
		return false, err
	}
	b, _ := v.(bool)
	return b, nil
}

func (rc *RowCondition) eval(n node, rec []string) (value, error) {
	switch n := n.(type) {
	case *numLit:
		return strconv.ParseFloat(n.text, 64)
	case *strLit:
		return n.val, nil
	case *boolLit:
		return n.val, nil
	case *nullLit:
		return nil, nil
	case *refNode:
		i := rc.idx[strings.ToLower(n.name)]
		s := rec[i]
		if s == "" {
			return nil, nil
		}
		switch rc.cols[i].Type {
		case Integer, Number:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("column [%s]: %q is not a number", rc.cols[i].Name, s)
			}
			return f, nil
		case Logical:
			return strings.EqualFold(s, "true"), nil
		}
		return s, nil
	case *unaryNode:
		v, err := rc.eval(n.x, rec)
		if err != nil || v == nil {
			return nil, err
		}
		if n.op == "-" {
			return -v.(float64), nil
		}
		return !v.(bool), nil
	case *callNode:
		switch strings.ToLower(n.name) {
		case "isnull":
			v, err := rc.eval(n.args[0], rec)
			return v == nil, err
		case "not":
			return rc.eval(&unaryNode{op: "not", x: n.args[0], pos: n.pos}, rec)
		case "abs":
			v, err := rc.eval(n.args[0], rec)
			if err != nil || v == nil {
				return nil, err
			}
			return math.Abs(v.(float64)), nil
		}
	case *binaryNode:
		l, err := rc.eval(n.l, rec)
		if err != nil {
			return nil, err
		}
		if n.op == "and" && l == false {
			return false, nil
		}
		if n.op == "or" && l == true {
			return true, nil
		}
		r, err := rc.eval(n.r, rec)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "and":
			if r == false {
				return false, nil
			}
			if l == nil || r == nil {
				return nil, nil
			}
			return true, nil
		case "or":
			if r == true {
				return true, nil
			}
			if l == nil || r == nil {
				return nil, nil
			}
			return false, nil
		case "&":
			return fmt.Sprint(orEmpty(l)) + fmt.Sprint(orEmpty(r)), nil
		}
		if l == nil || r == nil {
			return nil, nil
		}
		switch n.op {
		case "+":
			return l.(float64) + r.(float64), nil
		case "-":
			return l.(float64) - r.(float64), nil
		case "*":
			return l.(float64) * r.(float64), nil
		case "/":
			if r.(float64) == 0 {
				return nil, nil
			}
			return l.(float64) / r.(float64), nil
		}
		c := compare(l, r)
		switch n.op {
		case "=":
			return c == 0, nil
		case "!=":
			return c != 0, nil
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		case ">=":
			return c >= 0, nil
		}
	}
	return nil, fmt.Errorf("unsupported formula")
}

func orEmpty(v value) value {
	if v == nil {
		return ""
	}
	return v
}

func compare(l, r value) int {
	switch l := l.(type) {
	case float64:
		r := r.(float64)
		switch {
		case l < r:
			return -1
		case l > r:
			return 1
		}
		return 0
	case bool:
		r := r.(bool)
		switch {
		case l == r:
			return 0
		case !l:
			return -1
		}
		return 1
	}
	return strings.Compare(fmt.Sprint(l), fmt.Sprint(r))
}
