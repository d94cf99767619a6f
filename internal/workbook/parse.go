package workbook

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the formula lexer and parser. Positions are 1-based
// character (rune) columns inside the formula, as an editor shows them.

type tokKind int

const (
	tEOF tokKind = iota
	tNum
	tStr
	tRef   // [Column Name]
	tIdent // function names and keywords (True, False, Null, And, Or, Not)
	tOp    // + - * / ^ & = != <> < <= > >=
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // the value: string contents, reference name, operator, number lexeme
	pos  int
}

type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("column %d: %s", e.pos, e.msg) }

func lex(src string) ([]token, *syntaxError) {
	if !utf8.ValidString(src) {
		return nil, &syntaxError{1, "formula is not valid UTF-8"}
	}
	rs := []rune(src)
	var toks []token
	i := 0
	for i < len(rs) {
		r := rs[i]
		pos := i + 1
		switch {
		case r == 0:
			return nil, &syntaxError{pos, "NUL character in formula"}
		case unicode.IsSpace(r):
			i++
		case r == '[':
			j := i + 1
			for j < len(rs) && rs[j] != ']' {
				if rs[j] == '[' || rs[j] == 0 || rs[j] == '\n' {
					return nil, &syntaxError{j + 1, fmt.Sprintf("unexpected %q inside column reference", rs[j])}
				}
				j++
			}
			if j >= len(rs) {
				return nil, &syntaxError{pos, "unclosed column reference: missing ]"}
			}
			name := strings.TrimSpace(string(rs[i+1 : j]))
			if name == "" {
				return nil, &syntaxError{pos, "empty column reference []"}
			}
			toks = append(toks, token{tRef, name, pos})
			i = j + 1
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(rs) {
				c := rs[j]
				if c == 0 {
					return nil, &syntaxError{j + 1, "NUL character in formula"}
				}
				if c == r {
					closed = true
					j++
					break
				}
				if c == '\\' {
					if j+1 >= len(rs) {
						break
					}
					e := rs[j+1]
					switch e {
					case 'n':
						b.WriteRune('\n')
					case 't':
						b.WriteRune('\t')
					case 'r':
						b.WriteRune('\r')
					case '\\', '"', '\'':
						b.WriteRune(e)
					case 0:
						return nil, &syntaxError{j + 2, "NUL character in formula"}
					default:
						return nil, &syntaxError{j + 1, fmt.Sprintf("unknown escape \\%c in string (use \\\\ for a backslash)", e)}
					}
					j += 2
					continue
				}
				b.WriteRune(c)
				j++
			}
			if !closed {
				return nil, &syntaxError{pos, "unclosed string: missing " + string(r)}
			}
			toks = append(toks, token{tStr, b.String(), pos})
			i = j
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(rs) && rs[i+1] >= '0' && rs[i+1] <= '9':
			j := i
			for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
				j++
			}
			if j < len(rs) && rs[j] == '.' {
				j++
				for j < len(rs) && rs[j] >= '0' && rs[j] <= '9' {
					j++
				}
			}
			if j < len(rs) && (rs[j] == 'e' || rs[j] == 'E') {
				k := j + 1
				if k < len(rs) && (rs[k] == '+' || rs[k] == '-') {
					k++
				}
				if k < len(rs) && rs[k] >= '0' && rs[k] <= '9' {
					for k < len(rs) && rs[k] >= '0' && rs[k] <= '9' {
						k++
					}
					j = k
				}
			}
			if j < len(rs) && (unicode.IsLetter(rs[j]) || rs[j] == '_') {
				return nil, &syntaxError{j + 1, fmt.Sprintf("unexpected %q after number", rs[j])}
			}
			toks = append(toks, token{tNum, string(rs[i:j]), pos})
			i = j
		case unicode.IsLetter(r) || r == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
				j++
			}
			toks = append(toks, token{tIdent, string(rs[i:j]), pos})
			i = j
		case r == '(':
			toks = append(toks, token{tLParen, "(", pos})
			i++
		case r == ')':
			toks = append(toks, token{tRParen, ")", pos})
			i++
		case r == ',':
			toks = append(toks, token{tComma, ",", pos})
			i++
		case strings.ContainsRune("+-*/^&=", r):
			toks = append(toks, token{tOp, string(r), pos})
			i++
		case r == '!' || r == '<' || r == '>':
			op := string(r)
			if i+1 < len(rs) && (rs[i+1] == '=' || r == '<' && rs[i+1] == '>') {
				op += string(rs[i+1])
			}
			if op == "!" {
				return nil, &syntaxError{pos, `unexpected "!"; use != or Not`}
			}
			toks = append(toks, token{tOp, op, pos})
			i += len([]rune(op))
		default:
			return nil, &syntaxError{pos, fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{tEOF, "", len(rs) + 1})
	return toks, nil
}

// node is a parsed formula.
type node interface{ position() int }

type (
	numLit struct {
		text string
		pos  int
	}
	strLit struct {
		val string
		pos int
	}
	boolLit struct {
		val bool
		pos int
	}
	nullLit struct{ pos int }
	refNode struct {
		name string
		pos  int
	}
	callNode struct {
		name string
		args []node
		pos  int
	}
	unaryNode struct {
		op  string // "-" or "not"
		x   node
		pos int
	}
	binaryNode struct {
		op   string // + - * / ^ & = != < <= > >= and or
		l, r node
		pos  int // the operator's position
	}
)

func (n *numLit) position() int     { return n.pos }
func (n *strLit) position() int     { return n.pos }
func (n *boolLit) position() int    { return n.pos }
func (n *nullLit) position() int    { return n.pos }
func (n *refNode) position() int    { return n.pos }
func (n *callNode) position() int   { return n.pos }
func (n *unaryNode) position() int  { return n.pos }
func (n *binaryNode) position() int { return n.pos }

// maxDepth bounds nesting so that a hostile formula cannot exhaust the stack.
const maxDepth = 200

type parser struct {
	toks  []token
	i     int
	depth int
}

// parseFormula parses one formula.
func parseFormula(src string) (node, *syntaxError) {
	if strings.TrimSpace(src) == "" {
		return nil, &syntaxError{0, "empty formula"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &syntaxError{t.pos, fmt.Sprintf("unexpected %s after the end of the formula", describe(t))}
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of formula"
	case tStr:
		return "string"
	case tRef:
		return "[" + t.text + "]"
	}
	return fmt.Sprintf("%q", t.text)
}

// Binding powers, lowest first: Or < And < Not < comparison < & < + - < * / < ^ < unary minus.
const (
	bpOr = iota + 1
	bpAnd
	bpNot
	bpCmp
	bpConcat
	bpAdd
	bpMul
	bpPow
	bpUnary
)

func infix(t token) (op string, bp int, ok bool) {
	switch t.kind {
	case tOp:
		switch t.text {
		case "=", "!=", "<>", "<", "<=", ">", ">=":
			op := t.text
			if op == "<>" {
				op = "!="
			}
			return op, bpCmp, true
		case "&":
			return "&", bpConcat, true
		case "+", "-":
			return t.text, bpAdd, true
		case "*", "/":
			return t.text, bpMul, true
		case "^":
			return "^", bpPow, true
		}
	case tIdent:
		switch strings.ToLower(t.text) {
		case "and":
			return "and", bpAnd, true
		case "or":
			return "or", bpOr, true
		}
	}
	return "", 0, false
}

func (p *parser) expr(minBP int) (node, *syntaxError) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, &syntaxError{p.peek().pos, "formula nests too deeply"}
	}
	left, err := p.prefix()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, bp, ok := infix(t)
		// Operators bind while they are stronger than the caller's; equal
		// strength associates left, except ^ which associates right.
		if !ok || bp <= minBP {
			break
		}
		p.next()
		rightMin := bp
		if op == "^" {
			rightMin = bp - 1
		}
		right, err := p.expr(rightMin)
		if err != nil {
			return nil, err
		}
		left = &binaryNode{op: op, l: left, r: right, pos: t.pos}
		if bp == bpCmp {
			if t2 := p.peek(); t2.kind == tOp {
				if _, bp2, ok2 := infix(t2); ok2 && bp2 == bpCmp {
					return nil, &syntaxError{t2.pos, "comparisons cannot be chained; combine them with And"}
				}
			}
		}
	}
	return left, nil
}

func (p *parser) prefix() (node, *syntaxError) {
	t := p.next()
	switch t.kind {
	case tNum:
		return &numLit{t.text, t.pos}, nil
	case tStr:
		return &strLit{t.text, t.pos}, nil
	case tRef:
		return &refNode{t.text, t.pos}, nil
	case tLParen:
		n, err := p.expr(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &syntaxError{c.pos, fmt.Sprintf("expected ) to close ( at column %d, found %s", t.pos, describe(c))}
		}
		return n, nil
	case tOp:
		if t.text == "-" || t.text == "+" {
			x, err := p.expr(bpPow)
			if err != nil {
				return nil, err
			}
			if t.text == "+" {
				return x, nil
			}
			return &unaryNode{op: "-", x: x, pos: t.pos}, nil
		}
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true":
			return &boolLit{true, t.pos}, nil
		case "false":
			return &boolLit{false, t.pos}, nil
		case "null":
			return &nullLit{t.pos}, nil
		case "not":
			x, err := p.expr(bpNot)
			if err != nil {
				return nil, err
			}
			return &unaryNode{op: "not", x: x, pos: t.pos}, nil
		case "and", "or":
			return nil, &syntaxError{t.pos, fmt.Sprintf("%s needs a value on its left", t.text)}
		}
		if p.peek().kind != tLParen {
			return nil, &syntaxError{t.pos, fmt.Sprintf("unexpected name %s; column names go in brackets: [%s]", t.text, t.text)}
		}
		p.next()
		call := &callNode{name: t.text, pos: t.pos}
		if p.peek().kind == tRParen {
			p.next()
			return call, nil
		}
		for {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			call.args = append(call.args, a)
			c := p.next()
			if c.kind == tRParen {
				return call, nil
			}
			if c.kind != tComma {
				return nil, &syntaxError{c.pos, fmt.Sprintf("expected , or ) in the arguments of %s, found %s", t.text, describe(c))}
			}
		}
	case tEOF:
		return nil, &syntaxError{t.pos, "unexpected end of formula"}
	}
	return nil, &syntaxError{t.pos, fmt.Sprintf("unexpected %s", describe(t))}
}
