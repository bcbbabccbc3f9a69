// hcl-check parses HCL files with HashiCorp's HCL2 library (hclsyntax, the parser Nomad's
// jobspec2 uses) and reports every diagnostic as FILE:LINE,COLUMN: SUMMARY; DETAIL on stderr.
// The exit status is 1 when any file has an error, 2 on bad usage.
//
//	hcl-check FILE...
//	hcl-check -dump FILE...
//	hcl-check -idents
//
// With -dump, each file that parses is also evaluated and printed on stdout as one JSON line
// {"file": NAME, "body": BODY}, where BODY is {"attrs": {NAME: VALUE, ...}, "blocks":
// [{"type": T, "labels": [...], "body": BODY}, ...]} in source order. Values are evaluated
// the way Nomad's jobspec2 treats references it does not define: a reference such as
// NOMAD_PORT_http or attr.unique.network.ip-address stands for the text "${...}" that Nomad
// interpolates at run time (jobspec2's UndefinedVariable callback in types.config.go keeps
// that text). The dump lets a test compare HashiCorp's reading of a file with another
// parser's, value by value.
//
// A number is dumped as the string "\u0000num:TEXT", TEXT being the exact integer when it
// is one that fits in 64 bits and otherwise the shortest text of the float64 Nomad gets from it (Go's
// big.Float.Float64, what jobspec2's decoding into Go values amounts to), so that the
// reader of the dump compares numbers without a JSON parser's own rounding.
//
// With -idents it prints which code points from U+0080 up hclsyntax takes in identifiers, as
// lines "S FIRST LAST" (may start an identifier) and "C FIRST LAST" (may follow a letter),
// decimal and inclusive, from hclsyntax.ValidIdentifier.
//
// Build in GOPATH mode from Debian's packages (golang-github-hashicorp-hcl-v2-dev,
// golang-github-zclconf-go-cty-dev and their dependencies):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o hcl-check main.go
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"math/big"
	"os"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "-idents" {
		identRanges("S", "")
		identRanges("C", "a")
		return
	}
	dump := false
	if len(args) > 0 && args[0] == "-dump" {
		dump = true
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: hcl-check [-dump] FILE...")
		os.Exit(2)
	}
	failed := 0
	out := json.NewEncoder(os.Stdout)
	for _, name := range args {
		src, err := ioutil.ReadFile(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed++
			continue
		}
		file, diags := hclsyntax.ParseConfig(src, name, hcl.Pos{Line: 1, Column: 1})
		if report(diags) {
			failed++
			continue
		}
		if !dump {
			continue
		}
		body, ok := file.Body.(*hclsyntax.Body)
		if !ok {
			fmt.Fprintf(os.Stderr, "%s: not a native syntax body\n", name)
			failed++
			continue
		}
		tree, diags := dumpBody(body, src)
		if report(diags) {
			failed++
			continue
		}
		if err := out.Encode(map[string]interface{}{"file": name, "body": tree}); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "%d of %d files rejected\n", failed, len(args))
		os.Exit(1)
	}
}

func identRanges(kind, prefix string) {
	in := false
	var first rune
	for r := rune(0x80); r <= 0x110000; r++ {
		ok := r < 0x110000 && (r < 0xD800 || r > 0xDFFF) && hclsyntax.ValidIdentifier(prefix+string(r))
		if ok && !in {
			in, first = true, r
		} else if !ok && in {
			in = false
			fmt.Printf("%s %d %d\n", kind, first, r-1)
		}
	}
}

// report prints the diagnostics and says whether any of them is an error.
func report(diags hcl.Diagnostics) bool {
	bad := false
	for _, d := range diags {
		pos := "?"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		fmt.Fprintf(os.Stderr, "%s: %s; %s\n", pos, d.Summary, d.Detail)
		if d.Severity == hcl.DiagError {
			bad = true
		}
	}
	return bad
}

func dumpBody(body *hclsyntax.Body, src []byte) (map[string]interface{}, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	names := make([]string, 0, len(body.Attributes))
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	attrs := map[string]interface{}{}
	for _, n := range names {
		a := body.Attributes[n]
		v, ds := a.Expr.Value(runtimeRefs(a.Expr, src))
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		raw, err := json.Marshal(plain(v))
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot dump value",
				Detail:   err.Error(),
				Subject:  a.SrcRange.Ptr(),
			})
			continue
		}
		attrs[n] = json.RawMessage(raw)
	}
	blocks := []interface{}{}
	for _, b := range body.Blocks {
		inner, ds := dumpBody(b.Body, src)
		diags = append(diags, ds...)
		labels := b.Labels
		if labels == nil {
			labels = []string{}
		}
		blocks = append(blocks, map[string]interface{}{"type": b.Type, "labels": labels, "body": inner})
	}
	return map[string]interface{}{"attrs": attrs, "blocks": blocks}, diags
}

// runtimeRefs binds every reference of expr to the text Nomad keeps for it (nomadRefText),
// built into nested values along its steps: attr.unique.network.ip-address becomes
// {unique = {network = {ip-address = "${attr.unique.network.ip-address}"}}} under attr, and
// NOMAD_META[0] a one-element tuple under NOMAD_META.
func runtimeRefs(expr hclsyntax.Expression, src []byte) *hcl.EvalContext {
	root := &node{}
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		text := nomadRefText(src, rng.Start.Byte, rng.End.Byte)
		n := root.child(t.RootName())
		for _, step := range t[1:] {
			switch s := step.(type) {
			case hcl.TraverseAttr:
				n = n.child(s.Name)
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String {
					n = n.child(s.Key.AsString())
				} else if i, acc := s.Key.AsBigFloat().Int64(); acc == 0 && i >= 0 && i < 1000 {
					n = n.item(int(i))
				}
			}
		}
		if n.leaf == nil && n.attrs == nil && n.items == nil {
			n.leaf = &text
		}
	}
	vars := map[string]cty.Value{}
	for k, v := range root.attrs {
		vars[k] = v.value()
	}
	return &hcl.EvalContext{Variables: vars}
}

// nomadRefText is the text Nomad's jobspec2 keeps for a reference it does not define, from
// the source bytes of the reference (jobspec2/types.config.go, the UndefinedVariable callback
// of jobConfig's EvalContext, v1.6.9): when only spaces stand between the reference and a
// preceding "${", the text starts at that "${"; it then takes each "}" after the byte that
// follows the reference (with what lies between), skipping spaces, and ends with one more
// "}" at the first other byte. A reference with no "${" before it becomes "${" + ref + "}".
// Where one reference occurs more than once in an expression, the first occurrence's text
// stands for all of them.
func nomadRefText(src []byte, start, end int) string {
	text := string(src[start:end])
	bracketed := false
	for i := start - 1; i >= 1; i-- {
		if src[i] == '{' && src[i-1] == '$' {
			text = string(src[i-1:start]) + text
			bracketed = true
			break
		}
		if src[i] != ' ' {
			break
		}
	}
	if !bracketed {
		return "${" + text + "}"
	}
	for i := end + 1; i < len(src); i++ {
		if src[i] == '}' {
			text += string(src[end:i])
		} else if src[i] != ' ' {
			text += "}"
			break
		}
	}
	return text
}

type node struct {
	leaf  *string
	attrs map[string]*node
	items map[int]*node
}

func (n *node) child(name string) *node {
	if n.attrs == nil {
		n.attrs = map[string]*node{}
	}
	if n.attrs[name] == nil {
		n.attrs[name] = &node{}
	}
	return n.attrs[name]
}

func (n *node) item(i int) *node {
	if n.items == nil {
		n.items = map[int]*node{}
	}
	if n.items[i] == nil {
		n.items[i] = &node{}
	}
	return n.items[i]
}

func (n *node) value() cty.Value {
	switch {
	case n.leaf != nil:
		return cty.StringVal(*n.leaf)
	case n.items != nil:
		max := 0
		for i := range n.items {
			if i > max {
				max = i
			}
		}
		vals := make([]cty.Value, max+1)
		for i := range vals {
			vals[i] = cty.NullVal(cty.String)
			if it := n.items[i]; it != nil {
				vals[i] = it.value()
			}
		}
		return cty.TupleVal(vals)
	default:
		m := map[string]cty.Value{}
		for k, v := range n.attrs {
			m[k] = v.value()
		}
		return cty.ObjectVal(m)
	}
}

// plain turns a known value into JSON-ready Go values, numbers as "\x00num:TEXT".
func plain(v cty.Value) interface{} {
	if v.IsNull() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		bf := v.AsBigFloat()
		// IsInt first: big.Float.Uint64 says Exact for 3.25 in some Go versions.
		if bf.IsInt() {
			_, acc := bf.Int64()
			_, uacc := bf.Uint64()
			if acc == big.Exact || uacc == big.Exact {
				return "\x00num:" + bf.Text('f', 0)
			}
		}
		f, _ := bf.Float64()
		return "\x00num:" + strconv.FormatFloat(f, 'g', -1, 64)
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		items := []interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			items = append(items, plain(e))
		}
		return items
	default: // maps and objects
		m := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			m[k.AsString()] = plain(e)
		}
		return m
	}
}
