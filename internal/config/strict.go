package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// This file is the second pass over the yaml.Node tree: it checks a file
// against the Go type it decodes into, with positions and YAML paths, and
// answers position queries, and decodes the values as it goes (a node's
// own Decode is used for leaves and custom unmarshalers only).

// document is one parsed YAML file.
type document struct {
	file string
	// data is the file's bytes as loaded, for positions after release.
	data []byte

	mu   sync.Mutex
	root *yaml.Node // the top mapping; nil for an empty file or after release
}

// release drops the node tree once a schedule is checked: 10,000 retained
// trees were a third of the daemon's heap, and the garbage collector
// marked them over and over while the rest loaded. Positions are then
// answered by parsing the retained bytes again, which only messages need.
func (d *document) release() {
	d.mu.Lock()
	d.root = nil
	d.mu.Unlock()
}

// tree returns the top mapping, parsing the retained bytes again after
// release.
func (d *document) tree() *yaml.Node {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.root == nil && d.data != nil {
		var doc yaml.Node
		if yaml.Unmarshal(d.data, &doc) == nil && len(doc.Content) > 0 {
			if root := deref(doc.Content[0]); root.Kind == yaml.MappingNode {
				d.root = root
			}
		}
	}
	return d.root
}

// pair is one key/value of a mapping, merge keys (<<) expanded.
type pair struct{ k, v *yaml.Node }

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pairs returns a mapping's entries; keys from merged mappings come first
// and are overridden by the mapping's own keys.
func pairs(n *yaml.Node) []pair {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			v = deref(v)
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					merged = append(merged, pairs(m)...)
				}
			} else {
				merged = append(merged, pairs(v)...)
			}
			continue
		}
		own = append(own, pair{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	out := make([]pair, 0, len(merged)+len(own))
	for _, p := range merged {
		if !slices.ContainsFunc(own, func(o pair) bool { return o.k.Value == p.k.Value }) {
			out = append(out, p)
		}
	}
	return append(out, own...)
}

// pathSeg is one step of a YAML path: a key, or an index.
type pathSeg struct {
	key   string
	index int // -1 for a key
}

// parsePath splits "element.columns[1].formula" into steps.
func parsePath(path string) []pathSeg {
	var segs []pathSeg
	for _, part := range strings.Split(path, ".") {
		if part == "" {
			continue
		}
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			segs = append(segs, pathSeg{key: key, index: -1})
		}
		for rest != "" {
			num, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if !ok || err != nil {
				break
			}
			segs = append(segs, pathSeg{index: i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// pos returns the position of path: the value for a scalar, the key for a
// mapping or list (the line that names it); the nearest existing ancestor
// when path is not in the file.
func (d *document) pos(path string) (line, col int) {
	root := d.tree()
	if root == nil {
		return 1, 1
	}
	var key *yaml.Node
	val := root
	at := func() (int, int) {
		if key != nil && (val == nil || deref(val).Kind != yaml.ScalarNode || isNull(deref(val))) {
			return key.Line, key.Column
		}
		return val.Line, val.Column
	}
	for _, s := range parsePath(path) {
		v := deref(val)
		if s.index >= 0 {
			if v.Kind != yaml.SequenceNode || s.index >= len(v.Content) {
				return at()
			}
			key, val = nil, v.Content[s.index]
			continue
		}
		found := false
		for _, p := range pairs(v) {
			if p.k.Value == s.key {
				key, val, found = p.k, p.v, true
				break
			}
		}
		if !found {
			return at()
		}
	}
	return at()
}

// keyPos is the position of the key that names path (of the value for a
// list item), for problems with the key itself.
func (d *document) keyPos(path string) (line, col int) {
	segs := parsePath(path)
	if len(segs) == 0 || segs[len(segs)-1].index >= 0 {
		return d.pos(path)
	}
	last := segs[len(segs)-1].key
	parent := strings.TrimSuffix(strings.TrimSuffix(path, last), ".")
	n := d.tree()
	if n == nil {
		return 1, 1
	}
	for _, s := range parsePath(parent) {
		n = deref(n)
		if s.index >= 0 {
			if n.Kind != yaml.SequenceNode || s.index >= len(n.Content) {
				return d.pos(path)
			}
			n = n.Content[s.index]
			continue
		}
		var next *yaml.Node
		for _, p := range pairs(n) {
			if p.k.Value == s.key {
				next = p.v
			}
		}
		if next == nil {
			return d.pos(path)
		}
		n = next
	}
	for _, p := range pairs(n) {
		if p.k.Value == last {
			return p.k.Line, p.k.Column
		}
	}
	return d.pos(path)
}

// fieldInfo is one YAML key of a struct.
type fieldInfo struct {
	typ     reflect.Type
	index   []int  // for reflect.Value.FieldByIndex (through inline structs)
	variant string // the only `type:` value the key is valid for, or ""
}

type structInfo struct {
	fields   map[string]fieldInfo
	order    []string
	variants []string
}

var structCache sync.Map // reflect.Type → *structInfo

func yamlName(f reflect.StructField) (name string, inline, skip bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	inline = slices.Contains(strings.Split(opts, ","), "inline")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, inline, false
}

func structFields(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]fieldInfo{}}
	var add func(t reflect.Type, variant string, prefix []int)
	add = func(t reflect.Type, variant string, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			index := append(slices.Clip(prefix), i)
			f := t.Field(i)
			name, inline, skip := yamlName(f)
			if skip {
				continue
			}
			if inline {
				v := f.Tag.Get("variant")
				if v != "" {
					si.variants = append(si.variants, v)
				} else {
					v = variant
				}
				add(f.Type, v, index)
				continue
			}
			si.fields[name] = fieldInfo{typ: f.Type, index: index, variant: variant}
			si.order = append(si.order, name)
		}
	}
	add(t, "", nil)
	structCache.Store(t, si)
	return si
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checker runs the structural pass over one file.
type checker struct {
	// report records a problem at n, shown under field; bad lists the
	// paths whose semantic checks it makes moot.
	report func(n *yaml.Node, field, msg string, bad ...string)
}

// walk checks node n against the type of v at path and decodes it into
// v (settable) as it goes: one pass over the tree for the checks and the
// values, where a separate decode doubled the cost of loading 10,000
// schedules. What fails a check is left at its zero value.
func (c *checker) walk(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		c.leaf(n, v, path)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		c.walk(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.report(n, path, "must be a mapping, not "+describeNode(n), path)
			return
		}
		c.mapping(n, v, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.report(n, path, "must be a mapping, not "+describeNode(n), path)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		seen := map[string]*yaml.Node{}
		for _, p := range c.ownPairs(n, path, seen) {
			if p.k.Kind != yaml.ScalarNode {
				c.report(p.k, path, "keys must be strings, not "+describeNode(p.k))
				continue
			}
			key := reflect.New(t.Key()).Elem()
			c.leaf(p.k, key, path)
			elem := reflect.New(t.Elem()).Elem()
			c.walk(p.v, elem, joinPath(path, p.k.Value))
			v.SetMapIndex(key, elem)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.report(n, path, "must be a list, not "+describeNode(n), path)
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			c.walk(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.Interface:
		c.decode(n, v, path)
	default:
		c.leaf(n, v, path)
	}
}

// decode hands n to the YAML decoder for v, for what the walk does not
// take apart itself.
func (c *checker) decode(n *yaml.Node, v reflect.Value, path string) {
	if err := n.Decode(v.Addr().Interface()); err != nil {
		msg := err.Error()
		if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
			msg = te.Errors[0]
		}
		c.report(n, path, msg, path)
	}
}

// ownPairs returns a mapping's entries and reports duplicate keys.
func (c *checker) ownPairs(n *yaml.Node, path string, seen map[string]*yaml.Node) []pair {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.ShortTag() == "!!merge" || k.Kind != yaml.ScalarNode {
			continue
		}
		if first, ok := seen[k.Value]; ok {
			// The decoder drops a mapping with a duplicate key whole.
			c.report(k, path, fmt.Sprintf("duplicate key %q; it is already set at line %d", k.Value, first.Line), path)
			continue
		}
		seen[k.Value] = k
	}
	return pairs(n)
}

func (c *checker) mapping(n *yaml.Node, v reflect.Value, path string) {
	si := structFields(v.Type())
	ps := c.ownPairs(n, path, map[string]*yaml.Node{})
	// The discriminator of a struct with per-type fields is its "type".
	variant := ""
	if len(si.variants) > 0 {
		for _, p := range ps {
			if v := deref(p.v); p.k.Value == "type" && v.Kind == yaml.ScalarNode && slices.Contains(si.variants, v.Value) {
				variant = v.Value
			}
		}
	}
	valid := func(name string) bool {
		f, ok := si.fields[name]
		return ok && (f.variant == "" || variant == "" || f.variant == variant)
	}
	for _, p := range ps {
		k := p.k
		if k.Kind != yaml.ScalarNode {
			c.report(k, path, "keys must be strings, not "+describeNode(k))
			continue
		}
		f, ok := si.fields[k.Value]
		switch {
		case !ok:
			var names []string
			for _, name := range si.order {
				if valid(name) {
					names = append(names, name)
				}
			}
			if s := suggest(k.Value, names); s != "" {
				// The misspelt field is not also reported as missing.
				c.report(k, path, fmt.Sprintf("unknown field %q; did you mean %q?", k.Value, s), joinPath(path, s))
			} else {
				c.report(k, path, fmt.Sprintf("unknown field %q; valid fields: %s", k.Value, strings.Join(names, ", ")))
			}
		case !valid(k.Value):
			c.report(k, path, fmt.Sprintf("field %q does not apply to type %s; it is a %s setting", k.Value, variant, f.variant))
		default:
			c.walk(p.v, v.FieldByIndex(f.index), joinPath(path, k.Value))
		}
	}
}

// leaf checks a scalar by decoding it into v, which is left at its zero
// value when the scalar does not fit.
func (c *checker) leaf(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	custom := reflect.PointerTo(t).Implements(unmarshalerType)
	if !custom && n.Kind != yaml.ScalarNode {
		c.report(n, path, "must be "+describeKind(t)+", not "+describeNode(n), path)
		return
	}
	if !custom && t.Kind() == reflect.String && n.ShortTag() == "!!str" {
		// Most leaves are strings: a plain string scalar is its value,
		// without a decoder built for it.
		v.SetString(n.Value)
		return
	}
	fresh := reflect.New(t)
	err := n.Decode(fresh.Interface())
	if custom {
		if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
			c.report(n, path, te.Errors[0], path)
		} else if err != nil {
			c.report(n, path, err.Error(), path)
		} else {
			v.Set(fresh.Elem())
		}
		return
	}
	// The decoder is lax where a config should not be: it truncates 1.5
	// into an int and takes yes/no/on/off as booleans.
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if err == nil && tag != "!!int" {
			err = fmt.Errorf("not an integer")
		}
	case reflect.Bool:
		if err == nil && tag != "!!bool" {
			err = fmt.Errorf("not a boolean")
		}
	}
	if err != nil {
		c.report(n, path, fmt.Sprintf("must be %s, not %s", describeKind(t), quoteShort(n.Value)), path)
		return
	}
	v.Set(fresh.Elem())
}

func describeKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return "a string"
}

func describeNode(n *yaml.Node) string {
	switch deref(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return quoteShort(n.Value)
}

// quoteShort quotes a value for a message, cut to a readable length.
func quoteShort(s string) string {
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) + "…"
	}
	return strconv.Quote(s)
}

// suggest returns the candidate closest to s when it is close enough to be
// a typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 0
	norm := func(x string) string { return strings.ReplaceAll(strings.ToLower(x), "-", "_") }
	for _, c := range candidates {
		if norm(c) == norm(s) {
			return c
		}
		d := editDistance(s, c)
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(1, min(3, len(s)/3)) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			// A transposition ("soruce") is one edit.
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
