package topology

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Decoding a file is three passes so that one run reports every problem:
//
//  1. goccy/go-yaml parses the text to an AST (a syntax error stops here:
//     the parser cannot go on);
//  2. a walk of the AST against the Go types reports unknown fields,
//     repeated keys and values of the wrong type, replaces each bad value
//     with null so that decoding cannot fail on it, and records the
//     position of every path;
//  3. goccy/go-yaml decodes the AST, Validate checks the meaning, and each
//     of its errors gets the position of its path.
//
// The walk keeps strings as written: goccy/go-yaml would decode
// "version: 7.0" into a string field as "7" and "0x10" as "16".

func parse(file string, b []byte) (*Topology, Errors) {
	d := &decoder{file: file, pos: map[string]token.Position{}, anchors: map[string]*ast.AnchorNode{}, dropped: map[ast.Node]bool{}, visited: map[visit]bool{}}
	f, err := parseYAML(b)
	if err != nil {
		return nil, Errors{d.yamlError(err)}
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || isNull(doc.Body) {
			continue
		}
		if body != nil {
			d.errorAt(nodePos(doc.Body), "", "a second YAML document (want one topology per file)")
			break
		}
		body = doc.Body
	}
	if body == nil {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: "the file holds no topology (want a mapping with hosts, cvms, ...)"}}
	}
	body = d.walk(body, topologyType, "", fieldOpts{})
	if d.expanded > maxExpanded {
		return nil, Errors{{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("aliases expand to more than %d values (want fewer or shallower aliases)", maxExpanded)}}
	}
	if d.dropped[body] {
		return nil, d.errs // not a mapping: there is nothing to check
	}

	var t Topology
	if err := decodeNode(body, &t); err != nil {
		// The walk should have caught it; report rather than hide it.
		d.errs = append(d.errs, d.yamlError(err))
		sortErrors(d.errs)
		return nil, d.errs
	}
	type seen struct {
		pos token.Position
		msg string
	}
	reported := map[seen]bool{}
	for _, is := range t.check() {
		if d.isDropped(is.key) {
			continue
		}
		// A value written once under an anchor is checked once per
		// alias: say it once.
		p := d.lookup(is.path)
		if k := (seen{p, is.msg}); !reported[k] {
			reported[k] = true
			d.errorAt(p, is.path, is.msg)
		}
	}
	if len(d.errs) > 0 {
		sortErrors(d.errs)
		return nil, d.errs
	}
	return &t, nil
}

// parseYAML runs the parser, turning a panic on hostile input into an
// error: a topology file is user input, and `lab validate` must answer.
func parseYAML(b []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	return parser.ParseBytes(b, 0, parser.AllowDuplicateMapKey())
}

// decodeNode runs the decoder, turning a panic into an error as parseYAML
// does.
func decodeNode(n ast.Node, t *Topology) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed: %v", r)
		}
	}()
	return yaml.NodeToValue(n, t, yaml.AllowDuplicateMapKey())
}

var (
	topologyType = reflect.TypeFor[Topology]()
	durationType = reflect.TypeFor[time.Duration]()
)

type decoder struct {
	file string
	errs Errors
	// pos is where each path's value is.
	pos map[string]token.Position
	// bad are the paths whose value was dropped: Validate's complaints
	// about them (a name that is now empty) would only repeat the error.
	bad     []string
	anchors map[string]*ast.AnchorNode
	// dropped are the null nodes that replaced bad values, so that a
	// second walk through an alias knows its paths are bad too.
	dropped map[ast.Node]bool
	// visited are the nodes walked, as which type.
	visited map[visit]bool
	// expanded counts the values walked again through aliases; a few
	// nested aliases can stand for billions of values.
	expanded int
}

type visit struct {
	n   ast.Node
	typ reflect.Type
}

// maxMergeDepth bounds the aliases a merge key follows, which may form a
// cycle through anchors under unknown fields.
const maxMergeDepth = 32

// maxExpanded bounds the values aliases may bring in, far above any lab
// (a 1,000-node lab sharing its vSwitches by alias needs about 50,000).
const maxExpanded = 1_000_000

// fieldOpts are a field's options from its `topology` tag.
type fieldOpts struct {
	// zero: a duration may be 0 (Fault.At); others must be positive.
	zero bool
}

func (d *decoder) errorAt(p token.Position, path, msg string) {
	d.errs = append(d.errs, Error{File: d.file, Line: p.Line, Col: p.Column, Path: path, Msg: msg})
}

// yamlError turns a goccy/go-yaml error into an Error at its token.
func (d *decoder) yamlError(err error) Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := Error{File: d.file, Msg: "invalid YAML: " + ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return Error{File: d.file, Line: 1, Col: 1, Msg: "invalid YAML: " + err.Error()}
}

// lookup returns the position of path, or of its nearest ancestor that
// is in the file (a missing field is reported where its mapping is).
func (d *decoder) lookup(path string) token.Position {
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		if path == "" {
			return token.Position{Line: 1, Column: 1}
		}
		path = parentPath(path)
	}
}

func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (d *decoder) drop(path string, n ast.Node) ast.Node {
	d.bad = append(d.bad, path)
	tk := *n.GetToken()
	tk.Type, tk.Value = token.NullType, "null"
	null := ast.Null(&tk)
	d.dropped[null] = true
	return null
}

// isDropped reports whether path is, or is under, a dropped value.
func (d *decoder) isDropped(path string) bool {
	for _, b := range d.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// walk checks n against typ and returns the node to decode in its place.
// A node seen again as the same type (through an alias or a merge key)
// has had its errors reported where it is written; seen as another type,
// its errors are new.
func (d *decoder) walk(n ast.Node, typ reflect.Type, path string, opts fieldOpts) ast.Node {
	if n == nil {
		return n
	}
	k := visit{n, typ}
	report := !d.visited[k]
	if !report {
		if d.expanded++; d.expanded > maxExpanded {
			return n
		}
	}
	d.visited[k] = true
	if d.dropped[n] {
		d.bad = append(d.bad, path)
		return n
	}
	if _, ok := d.pos[path]; !ok && !isNull(n) {
		d.pos[path] = nodePos(n)
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		v.Value = d.walk(v.Value, typ, path, opts)
		// Known after its value, as YAML has it: a node cannot contain
		// an alias of itself.
		d.anchors[v.Name.GetToken().Value] = v
		return v
	case *ast.AliasNode:
		name := v.Value.GetToken().Value
		a, ok := d.anchors[name]
		if !ok {
			if report {
				d.errorAt(nodePos(n), path, fmt.Sprintf("alias *%s names no anchor (want &%s defined above it)", name, name))
			}
			return d.drop(path, n)
		}
		if r := d.walk(a.Value, typ, path, opts); r != a.Value {
			return r
		}
		return v
	case *ast.TagNode:
		tag := v.Start.Value
		if !strings.HasPrefix(tag, "!!") {
			if report {
				d.errorAt(nodePos(n), path, fmt.Sprintf("tag %s is not supported (want a plain value)", tag))
			}
			return d.drop(path, n)
		}
		if v.Value == nil {
			return d.drop(path, n) // goccy/go-yaml cannot decode an empty tagged value
		}
		// The walk checks the type; goccy/go-yaml cannot decode every
		// tagged value (a !!map in a list), so the tag goes.
		return d.walk(v.Value, typ, path, opts)
	}

	bad := func(want string) ast.Node {
		if report {
			d.errorAt(nodePos(n), path, describe(n)+" "+want)
		}
		return d.drop(path, n)
	}
	switch {
	case typ == durationType:
		return d.duration(n, path, opts, report)
	case typ.Kind() == reflect.Pointer:
		return d.walk(n, typ.Elem(), path, opts)
	case typ.Kind() == reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			if isNull(n) {
				return n
			}
			return bad("is not a mapping (want key: value lines or {key: value, ...})")
		}
		d.mapping(m, typ, path, report)
		return m
	case typ.Kind() == reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			if isNull(n) {
				return n
			}
			return bad("is not a list (want - item lines or [item, ...])")
		}
		for i, e := range s.Values {
			r := d.walk(e, typ.Elem(), fmt.Sprintf("%s[%d]", path, i), fieldOpts{})
			s.Values[i] = r
			if i < len(s.Entries) && s.Entries[i] != nil {
				s.Entries[i].Value = r
			}
		}
		return s
	case typ.Kind() == reflect.String:
		switch n.(type) {
		case *ast.StringNode, *ast.LiteralNode, *ast.NullNode:
			return n
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
			// Keep the text as written.
			tk := *n.GetToken()
			tk.Type = token.StringType
			return ast.String(&tk)
		}
		return bad("is not a single value (want a string)")
	case typ.Kind() == reflect.Bool:
		switch n.(type) {
		case *ast.BoolNode, *ast.NullNode:
			return n
		}
		return bad("is not a boolean (want true or false)")
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Int64:
		switch n.(type) {
		case *ast.NullNode:
			return n
		case *ast.IntegerNode:
			// Go's syntax is goccy/go-yaml's (0x, 0o, _); an error other
			// than the range is left to the decoder.
			if _, err := strconv.ParseInt(n.GetToken().Value, 0, typ.Bits()); errors.Is(err, strconv.ErrRange) {
				return bad("is out of range (want a smaller whole number)")
			}
			return n
		}
		return bad("is not a whole number (want digits only, e.g. 22)")
	case typ.Kind() == reflect.Float64:
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.NullNode:
			return n
		}
		return bad("is not a number (want e.g. 10 or 12.5)")
	}
	panic("topology: no rule for " + typ.String())
}

// duration checks a Go duration ("30s"); only fields tagged zero may be 0.
func (d *decoder) duration(n ast.Node, path string, opts fieldOpts, report bool) ast.Node {
	var text string
	switch n.(type) {
	case *ast.NullNode:
		return n
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode:
		text = n.GetToken().Value
	default:
		if report {
			d.errorAt(nodePos(n), path, describe(n)+" is not a duration (want Go syntax, e.g. 30s)")
		}
		return d.drop(path, n)
	}
	v, err := time.ParseDuration(text)
	msg := ""
	switch {
	case err != nil:
		msg = fmt.Sprintf("%q is not a duration (want Go syntax with a unit, e.g. 30s or 1m30s)", text)
	case v < 0 && opts.zero:
		msg = fmt.Sprintf("%q is negative (want 0s or later, e.g. 10s)", text)
	case v < 0:
		msg = fmt.Sprintf("%q is negative (want a positive duration, e.g. 30s)", text)
	case v == 0 && !opts.zero:
		msg = fmt.Sprintf("%q is zero (want a positive duration, e.g. 30s)", text)
	}
	if msg != "" {
		if report {
			d.errorAt(nodePos(n), path, msg)
		}
		return d.drop(path, n)
	}
	if _, ok := n.(*ast.StringNode); ok {
		return n
	}
	tk := *n.GetToken() // "0": goccy/go-yaml wants a string for a duration
	tk.Type = token.StringType
	return ast.String(&tk)
}

// mapping checks a mapping's keys against a struct's fields and walks
// their values; merge keys (<<: *anchor) bring in an anchored mapping's
// keys that are not written here.
func (d *decoder) mapping(m *ast.MappingNode, typ reflect.Type, path string, report bool) {
	fields := structFields(typ)
	first := map[string]token.Position{}
	var merged []*ast.MappingNode
	kept := m.Values[:0]
	for _, mv := range m.Values {
		if mv.Key.IsMergeKey() {
			srcs, ok := d.mergeSources(mv.Value, path, report, 0)
			merged = append(merged, srcs...)
			if ok {
				kept = append(kept, mv)
			}
			continue
		}
		kept = append(kept, mv)
		key := keyText(mv.Key)
		kpos := nodePos(mv.Key)
		f, known := fields.byName[key]
		if !known {
			if report {
				d.errorAt(kpos, path, fmt.Sprintf("unknown field %q (%s)", key, suggest(key, fields.names)))
			}
			mv.Value = d.walkAny(mv.Value, joinPath(path, key), report)
			continue
		}
		if p, dup := first[key]; dup {
			if report {
				d.errorAt(kpos, path, fmt.Sprintf("field %q given twice, first at line %d (want each field once)", key, p.Line))
			}
		} else {
			first[key] = kpos
		}
		child := joinPath(path, key)
		if _, ok := d.pos[child]; !ok {
			d.pos[child] = kpos // until the value's position, if it has one
			if !isNull(mv.Value) {
				d.pos[child] = nodePos(mv.Value)
			}
		}
		mv.Value = d.walk(mv.Value, f.typ, child, f.opts)
	}
	m.Values = kept // without merge keys that name nothing
	for _, src := range merged {
		for _, mv := range src.Values {
			if mv.Key.IsMergeKey() {
				continue // mergeSources brought its mappings in
			}
			key := keyText(mv.Key)
			f, known := fields.byName[key]
			if _, here := first[key]; here || !known {
				continue
			}
			first[key] = nodePos(mv.Key)
			child := joinPath(path, key)
			if _, ok := d.pos[child]; !ok && !isNull(mv.Value) {
				d.pos[child] = nodePos(mv.Value)
			}
			mv.Value = d.walk(mv.Value, f.typ, child, f.opts)
		}
	}
}

// mergeSources resolves a merge key's value: an alias of a mapping, a
// mapping, or a list of them. ok is false when it is none of these, and
// the merge key must go for the decoder to accept the rest.
func (d *decoder) mergeSources(n ast.Node, path string, report bool, depth int) (srcs []*ast.MappingNode, ok bool) {
	fail := func(msg string) ([]*ast.MappingNode, bool) {
		if report {
			d.errorAt(nodePos(n), path, msg)
		}
		return nil, false
	}
	if depth > maxMergeDepth {
		return fail("merged aliases nest too deep or refer to themselves (want <<: *anchor of a mapping)")
	}
	switch v := n.(type) {
	case *ast.AliasNode:
		name := v.Value.GetToken().Value
		a, found := d.anchors[name]
		if !found {
			return fail(fmt.Sprintf("alias *%s names no anchor (want &%s defined above it)", name, name))
		}
		return d.mergeSources(a.Value, path, report, depth+1)
	case *ast.AnchorNode:
		srcs, ok := d.mergeSources(v.Value, path, report, depth+1)
		d.anchors[v.Name.GetToken().Value] = v
		return srcs, ok
	case *ast.MappingNode:
		// Its own merge keys bring in more, after its keys.
		srcs = []*ast.MappingNode{v}
		kept := v.Values[:0]
		for _, mv := range v.Values {
			if mv.Key.IsMergeKey() {
				more, ok := d.mergeSources(mv.Value, path, report, depth+1)
				if !ok {
					continue
				}
				srcs = append(srcs, more...)
			}
			kept = append(kept, mv)
		}
		v.Values = kept
		return srcs, true
	case *ast.SequenceNode:
		for _, e := range v.Values {
			s, ok := d.mergeSources(e, path, report, depth+1)
			if !ok {
				return nil, false
			}
			srcs = append(srcs, s...)
		}
		return srcs, true
	}
	return fail(describe(n) + " cannot be merged (want <<: *anchor of a mapping)")
}

// walkAny walks a value that has no type (an unknown field's): its
// anchors may be named by aliases elsewhere, and the decoder still reads
// its aliases, tags and merge keys, so these must hold.
func (d *decoder) walkAny(n ast.Node, path string, report bool) ast.Node {
	if n == nil || d.dropped[n] {
		return n
	}
	if d.expanded++; d.expanded > maxExpanded {
		return n
	}
	switch v := n.(type) {
	case *ast.AnchorNode:
		v.Value = d.walkAny(v.Value, path, report)
		d.anchors[v.Name.GetToken().Value] = v
	case *ast.AliasNode:
		name := v.Value.GetToken().Value
		if _, ok := d.anchors[name]; !ok {
			if report {
				d.errorAt(nodePos(n), path, fmt.Sprintf("alias *%s names no anchor (want &%s defined above it)", name, name))
			}
			return d.drop(path, n)
		}
	case *ast.TagNode:
		if v.Value == nil || !strings.HasPrefix(v.Start.Value, "!!") {
			return d.drop(path, n)
		}
		return d.walkAny(v.Value, path, report)
	case *ast.MappingNode:
		kept := v.Values[:0]
		for _, mv := range v.Values {
			if mv.Key.IsMergeKey() {
				if _, ok := d.mergeSources(mv.Value, path, report, 0); !ok {
					continue
				}
			} else {
				mv.Value = d.walkAny(mv.Value, joinPath(path, keyText(mv.Key)), report)
			}
			kept = append(kept, mv)
		}
		v.Values = kept
	case *ast.SequenceNode:
		for i, e := range v.Values {
			r := d.walkAny(e, fmt.Sprintf("%s[%d]", path, i), report)
			v.Values[i] = r
			if i < len(v.Entries) && v.Entries[i] != nil {
				v.Entries[i].Value = r
			}
		}
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyText(k ast.Node) string {
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value
	case *ast.AnchorNode:
		return keyText(v.Value)
	case *ast.TagNode:
		return keyText(v.Value)
	case *ast.MappingKeyNode:
		return keyText(v.Value)
	case nil:
		return ""
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return k.String()
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// nodePos is where a node starts in the text: a block mapping's token is
// its first colon, so it is placed at its first key instead.
func nodePos(n ast.Node) token.Position {
	switch v := n.(type) {
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return nodePos(v.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return nodePos(v.Key)
	case *ast.MappingKeyNode:
		if v.Value != nil {
			return nodePos(v.Value)
		}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return *tk.Position
	}
	return token.Position{Line: 1, Column: 1}
}

// describe names a value in a message: "abc" for a string, 12 for a
// number, "a mapping" or "a list".
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.AnchorNode:
		return describe(v.Value)
	case *ast.TagNode:
		return describe(v.Value)
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.String()
}

type structInfo struct {
	byName map[string]fieldInfo
	names  []string
}

type fieldInfo struct {
	typ  reflect.Type
	opts fieldOpts
}

var structCache sync.Map // reflect.Type → *structInfo

// structFields lists a struct's YAML fields, as goccy/go-yaml names them.
func structFields(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]fieldInfo{}}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.byName[name] = fieldInfo{typ: f.Type, opts: fieldOpts{zero: f.Tag.Get("topology") == "zero"}}
		si.names = append(si.names, name)
	}
	structCache.Store(t, si)
	return si
}

// suggest says what an unknown key should have been: the closest field
// name within two edits (or differing only in case), else every field.
func suggest(key string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		d := editDistance(strings.ToLower(key), strings.ToLower(n))
		if strings.EqualFold(key, n) {
			d = 0
		}
		if d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "want " + oneOf(names, "no fields")
}

// editDistance is the Levenshtein distance between two strings.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
