// cty-oracle evaluates HCL function calls with HashiCorp's real libraries, as the reference
// for istio-nomad's Rust implementation of Nomad's jobspec2 functions.
//
// Input, one case per line on stdin:
//
//	NAME<TAB>ARGS
//
// where ARGS is a JSON array of argument values (objects become cty objects, arrays cty
// tuples, as HCL literals are). A line "#basedir<TAB>PATH" sets the folder filesystem
// functions read from. Each argument is bound to a variable a0, a1, ... and the call
// NAME(a0, a1, ...) is parsed and evaluated by hclsyntax, so HCL converts the arguments
// to the parameter types exactly as it does in a jobspec. For "convert" the second
// argument is a JSON string holding the type expression, spliced into the call as written.
//
// Output, one line per case: {"ok": VALUE} with the result as cty JSON (sets as arrays), or
// {"err": "message"}.
//
// The function table follows Nomad v1.6.9's jobspec2/functions.go: go-cty's stdlib, HCL's
// tryfunc and typeexpr, and go-cty-yaml come from Debian's packages; the go-cty-funcs
// families (not packaged) are small wrappers here over the same libraries go-cty-funcs
// uses (crypto/*, encoding/base64, net/url, google/uuid, apparentlymart/go-cidr,
// bmatcuk/doublestar, mitchellh/go-homedir). "bcrypt_verify(hash, password)" is an extra
// function that checks a bcrypt hash with golang.org/x/crypto/bcrypt.
//
// Build in GOPATH mode: GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT main.go
package main

import (
	"bufio"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"io/ioutil"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apparentlymart/go-cidr/cidr"
	"github.com/bmatcuk/doublestar"
	"github.com/google/uuid"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	homedir "github.com/mitchellh/go-homedir"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/crypto/bcrypt"
)

func strFunc(params []string, impl func(args []string) (cty.Value, error)) function.Function {
	ps := make([]function.Parameter, len(params))
	for i, n := range params {
		ps[i] = function.Parameter{Name: n, Type: cty.String}
	}
	return function.New(&function.Spec{
		Params: ps,
		Type:   func(args []cty.Value) (cty.Type, error) { return cty.DynamicPseudoType, nil },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			ss := make([]string, len(args))
			for i, a := range args {
				ss[i] = a.AsString()
			}
			return impl(ss)
		},
	})
}

func hashFunc(h func() hash.Hash) function.Function {
	return strFunc([]string{"str"}, func(a []string) (cty.Value, error) {
		x := h()
		x.Write([]byte(a[0]))
		return cty.StringVal(hex.EncodeToString(x.Sum(nil))), nil
	})
}

func parseCIDR(s string) (*net.IPNet, error) {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("invalid CIDR expression: %s", err)
	}
	return n, nil
}

var cidrHost = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var n int
		if err := gocty.FromCtyValue(args[1], &n); err != nil {
			return cty.NilVal, err
		}
		network, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		ip, err := cidr.Host(network, n)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(ip.String()), nil
	},
})

var cidrNetmask = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		network, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(net.IP(network.Mask).String()), nil
	},
})

var cidrSubnet = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "newbits", Type: cty.Number}, {Name: "netnum", Type: cty.Number}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var newbits, netnum int
		if err := gocty.FromCtyValue(args[1], &newbits); err != nil {
			return cty.NilVal, err
		}
		if err := gocty.FromCtyValue(args[2], &netnum); err != nil {
			return cty.NilVal, err
		}
		network, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		if newbits > 32 {
			return cty.NilVal, fmt.Errorf("may not extend prefix by more than 32 bits")
		}
		n, err := cidr.Subnet(network, newbits, netnum)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(n.String()), nil
	},
})

var cidrSubnets = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "prefix", Type: cty.String}},
	VarParam: &function.Parameter{Name: "newbits", Type: cty.Number},
	Type:     function.StaticReturnType(cty.List(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		network, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		startPrefixLen, _ := network.Mask.Size()
		lens := args[1:]
		if len(lens) == 0 {
			return cty.ListValEmpty(cty.String), nil
		}
		var first int
		if err := gocty.FromCtyValue(lens[0], &first); err != nil {
			return cty.NilVal, err
		}
		first += startPrefixLen
		out := make([]cty.Value, len(lens))
		current, _ := cidr.PreviousSubnet(network, first)
		for i, l := range lens {
			var length int
			if err := gocty.FromCtyValue(l, &length); err != nil {
				return cty.NilVal, err
			}
			if length < 1 {
				return cty.NilVal, fmt.Errorf("must extend prefix by at least one bit")
			}
			if length > 32 {
				return cty.NilVal, fmt.Errorf("may not extend prefix by more than 32 bits")
			}
			length += startPrefixLen
			if length > len(network.IP)*8 {
				return cty.NilVal, fmt.Errorf("would extend prefix to %d bits, which is too long", length)
			}
			next, rollover := cidr.NextSubnet(current, length)
			if rollover || !network.Contains(next.IP) {
				return cty.NilVal, fmt.Errorf("not enough remaining address space")
			}
			current = next
			out[i] = cty.StringVal(current.String())
		}
		return cty.ListVal(out), nil
	},
})

var bcryptFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "str", Type: cty.String}},
	VarParam: &function.Parameter{Name: "cost", Type: cty.Number},
	Type:     function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		cost := 10
		if len(args) > 1 {
			if err := gocty.FromCtyValue(args[1], &cost); err != nil {
				return cty.NilVal, err
			}
		}
		if len(args) > 2 {
			return cty.NilVal, fmt.Errorf("bcrypt() takes no more than two arguments")
		}
		out, err := bcrypt.GenerateFromPassword([]byte(args[0].AsString()), cost)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(string(out)), nil
	},
})

func fileBytes(base, path string) ([]byte, error) {
	path, err := homedir.Expand(path)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(base, path)
	}
	return ioutil.ReadFile(filepath.Clean(path))
}

func functions(base string) map[string]function.Function {
	return map[string]function.Function{
		"abs":          stdlib.AbsoluteFunc,
		"base64decode": strFunc([]string{"str"}, func(a []string) (cty.Value, error) {
			b, err := base64.StdEncoding.DecodeString(a[0])
			if err != nil {
				return cty.NilVal, fmt.Errorf("failed to decode base64 data")
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("not valid UTF-8")
			}
			return cty.StringVal(string(b)), nil
		}),
		"base64encode": strFunc([]string{"str"}, func(a []string) (cty.Value, error) {
			return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(a[0]))), nil
		}),
		"bcrypt": bcryptFunc,
		"bcrypt_verify": strFunc([]string{"hash", "password"}, func(a []string) (cty.Value, error) {
			return cty.BoolVal(bcrypt.CompareHashAndPassword([]byte(a[0]), []byte(a[1])) == nil), nil
		}),
		"can":             tryfunc.CanFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"cidrhost":        cidrHost,
		"cidrnetmask":     cidrNetmask,
		"cidrsubnet":      cidrSubnet,
		"cidrsubnets":     cidrSubnets,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"convert":         typeexpr.ConvertFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"index":           stdlib.IndexFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"md5":             hashFunc(md5.New),
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseFunc,
		"replace":         stdlib.ReplaceFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"rsadecrypt": strFunc([]string{"ciphertext", "privatekey"}, func(a []string) (cty.Value, error) {
			b, err := base64.StdEncoding.DecodeString(a[0])
			if err != nil {
				return cty.NilVal, fmt.Errorf("cipher text must be base64-encoded")
			}
			block, _ := pem.Decode([]byte(a[1]))
			if block == nil {
				return cty.NilVal, fmt.Errorf("failed to parse key: no key found")
			}
			if block.Headers["Proc-Type"] == "4,ENCRYPTED" {
				return cty.NilVal, fmt.Errorf("password protected keys are not supported")
			}
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return cty.NilVal, err
			}
			out, err := rsa.DecryptPKCS1v15(nil, key, b)
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(string(out)), nil
		}),
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setunion":        stdlib.SetUnionFunc,
		"sha1":            hashFunc(sha1.New),
		"sha256":          hashFunc(sha256.New),
		"sha512":          hashFunc(sha512.New),
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"try":             tryfunc.TryFunc,
		"upper":           stdlib.UpperFunc,
		"urlencode": strFunc([]string{"str"}, func(a []string) (cty.Value, error) {
			return cty.StringVal(url.QueryEscape(a[0])), nil
		}),
		"uuidv5": strFunc([]string{"namespace", "name"}, func(a []string) (cty.Value, error) {
			var ns uuid.UUID
			switch a[0] {
			case "dns":
				ns = uuid.NameSpaceDNS
			case "url":
				ns = uuid.NameSpaceURL
			case "oid":
				ns = uuid.NameSpaceOID
			case "x500":
				ns = uuid.NameSpaceX500
			default:
				var err error
				if ns, err = uuid.Parse(a[0]); err != nil {
					return cty.NilVal, err
				}
			}
			return cty.StringVal(uuid.NewSHA1(ns, []byte(a[1])).String()), nil
		}),
		"values":     stdlib.ValuesFunc,
		"yamldecode": ctyyaml.YAMLDecodeFunc,
		"yamlencode": ctyyaml.YAMLEncodeFunc,
		"zipmap":     stdlib.ZipmapFunc,
		// filesystem
		"abspath": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			p := a[0]
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			return cty.StringVal(filepath.ToSlash(filepath.Clean(p))), nil
		}),
		"basename": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			return cty.StringVal(filepath.Base(a[0])), nil
		}),
		"dirname": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			return cty.StringVal(filepath.Dir(a[0])), nil
		}),
		"pathexpand": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			p, err := homedir.Expand(a[0])
			return cty.StringVal(p), err
		}),
		"file": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			b, err := fileBytes(base, a[0])
			if err != nil {
				return cty.NilVal, err
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("not valid UTF-8")
			}
			return cty.StringVal(string(b)), nil
		}),
		"filebase64": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			b, err := fileBytes(base, a[0])
			if err != nil {
				return cty.NilVal, err
			}
			return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
		}),
		"fileexists": strFunc([]string{"path"}, func(a []string) (cty.Value, error) {
			p, err := homedir.Expand(a[0])
			if err != nil {
				return cty.NilVal, err
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			fi, err := os.Stat(filepath.Clean(p))
			if err != nil {
				if os.IsNotExist(err) {
					return cty.False, nil
				}
				return cty.NilVal, err
			}
			if fi.Mode().IsRegular() {
				return cty.True, nil
			}
			return cty.NilVal, fmt.Errorf("%s is not a regular file", p)
		}),
		"fileset": strFunc([]string{"path", "pattern"}, func(a []string) (cty.Value, error) {
			path := a[0]
			if !filepath.IsAbs(path) {
				path = filepath.Join(base, path)
			}
			pattern := filepath.Join(path, a[1])
			matches, err := doublestar.Glob(pattern)
			if err != nil {
				return cty.NilVal, err
			}
			var vals []cty.Value
			for _, m := range matches {
				fi, err := os.Stat(m)
				if err != nil {
					return cty.NilVal, err
				}
				if !fi.Mode().IsRegular() {
					continue
				}
				rel, err := filepath.Rel(path, m)
				if err != nil {
					return cty.NilVal, err
				}
				vals = append(vals, cty.StringVal(filepath.ToSlash(rel)))
			}
			if len(vals) == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			return cty.SetVal(vals), nil
		}),
	}
}

type result struct {
	Ok  json.RawMessage `json:"ok,omitempty"`
	Err string          `json:"err,omitempty"`
}

func eval(name string, rawArgs string, funcs map[string]function.Function) result {
	var args []json.RawMessage
	if err := json.Unmarshal([]byte(rawArgs), &args); err != nil {
		return result{Err: "bad test case: " + err.Error()}
	}
	vars := map[string]cty.Value{}
	names := make([]string, len(args))
	for i, raw := range args {
		if name == "convert" && i == 1 {
			var typeExpr string
			if err := json.Unmarshal(raw, &typeExpr); err != nil {
				return result{Err: "bad type expression: " + err.Error()}
			}
			names[i] = typeExpr
			continue
		}
		ty, err := ctyjson.ImpliedType(raw)
		if err != nil {
			return result{Err: "bad argument: " + err.Error()}
		}
		v, err := ctyjson.Unmarshal(raw, ty)
		if err != nil {
			return result{Err: "bad argument: " + err.Error()}
		}
		n := fmt.Sprintf("a%d", i)
		vars[n] = v
		names[i] = n
	}
	src := fmt.Sprintf("%s(%s)", name, strings.Join(names, ", "))
	expr, diags := hclsyntax.ParseExpression([]byte(src), "case.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return result{Err: diags.Error()}
	}
	val, diags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: funcs})
	if diags.HasErrors() {
		return result{Err: diags.Error()}
	}
	plain, err := toPlain(val)
	if err != nil {
		return result{Err: "result: " + err.Error()}
	}
	out, err := json.Marshal(plain)
	if err != nil {
		return result{Err: "result: " + err.Error()}
	}
	return result{Ok: out}
}

// toPlain turns a cty value into plain JSON data (cty/json would wrap dynamically typed
// nulls in type descriptions).
func toPlain(v cty.Value) (interface{}, error) {
	if v.IsNull() {
		return nil, nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString(), nil
	case ty == cty.Bool:
		return v.True(), nil
	case ty == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInf() {
			return nil, fmt.Errorf("cannot serialize infinity as JSON")
		}
		return json.Number(bf.Text('f', -1)), nil
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		out := []interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			p, err := toPlain(e)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	case ty.IsMapType() || ty.IsObjectType():
		out := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			p, err := toPlain(e)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = p
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %s", ty.FriendlyName())
}

func main() {
	base, _ := os.Getwd()
	funcs := functions(base)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		line := in.Text()
		name, rawArgs, ok := strings.Cut(line, "\t")
		if !ok {
			_ = enc.Encode(result{Err: "bad test case: no tab"})
			continue
		}
		if name == "#basedir" {
			base = rawArgs
			funcs = functions(base)
			_ = enc.Encode(result{Ok: json.RawMessage("null")})
			continue
		}
		_ = enc.Encode(eval(name, rawArgs, funcs))
	}
}
