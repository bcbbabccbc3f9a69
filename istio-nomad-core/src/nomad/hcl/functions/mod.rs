//! The HCL2 functions a Nomad jobspec may call: exactly the table of Nomad's `jobspec2`
//! parser (`jobspec2/functions.go` at Nomad v1.6.9), with the semantics of the libraries
//! behind it: go-cty v1.12.1's stdlib (`cty/function/stdlib`), HCL's `tryfunc` and
//! `typeexpr` extensions, go-cty-yaml, and HashiCorp's go-cty-funcs (crypto, encoding,
//! uuid, cidr, filesystem; commit 2721b1e36840, the version Nomad v1.6.9 pins).
//!
//! # Values
//!
//! Arguments and results are `hcl::Value`s; cty's richer types map onto them like this:
//!
//! | cty | `hcl::Value` |
//! |---|---|
//! | string, number, bool | `String`, `Number`, `Bool` (strings NFC-normalized, as cty does) |
//! | null of any type | `Null` |
//! | list, tuple | `Array` in order |
//! | set | `Array` in cty's set order: strings by bytes, numbers by value, `false` before `true`, nulls last, other values by cty's set hash |
//! | map, object | `Object` with keys sorted (cty's order for both) |
//!
//! An argument `Array` is a cty tuple and an `Object` a cty object, as an HCL literal is; each
//! argument is converted to the parameter's type before the call, as HCL does
//! (`[1, "a"]` passed where a `list(string)` is expected becomes `["1", "a"]`). A result that
//! cty types as a list, set or map loses that distinction once it is an `hcl::Value`.
//!
//! Numbers: cty numbers are arbitrary-precision decimals; here a whole number is exact up to
//! 128 bits and any other number is an `f64` (so `parseint` of a 40-digit number is rounded,
//! and `format("%.30f", 0.1)` shows binary noise that cty's 512-bit floats do not).
//! A result that is infinite (`log(0, 10)`) is an error, since `hcl::Value` cannot hold it.
//!
//! # Functions that need the caller
//!
//! * `try(...)` and `can(expr)` take unevaluated expressions in HCL: the reader evaluates each
//!   argument itself and calls `try` with the ones that evaluated (`call` returns the first)
//!   and `can` with a value only when its expression evaluated (`call` returns `true`).
//! * `convert(value, type)`: the second argument is the type expression's source text as a
//!   string (`"list(string)"`, `"object({a=number, b=optional(string)})"`).
//! * `uuidv4()` is random, as in Nomad.
//!
//! # Filesystem functions
//!
//! `abspath`, `basename`, `dirname`, `file`, `filebase64`, `fileexists`, `fileset` and
//! `pathexpand` are refused with [`FunctionError::FilesystemNotAllowed`] unless
//! [`FunctionEnv::base_dir`] is set (Nomad's `guardFS` refuses the same eight). Relative paths
//! resolve against `base_dir`; absolute paths and `~/` (the `HOME` directory) are read as
//! Nomad reads them, since allowing filesystem functions means trusting the jobspec.
//! A file larger than [`FunctionEnv::max_value_bytes`] is refused before it is read.
//!
//! # Limits
//!
//! No input makes a function panic. Results larger than [`FunctionEnv::max_value_bytes`]
//! (measured by [`value_size`]) are [`FunctionError::TooLarge`]; where the size is known in
//! advance (`indent`, `replace`, `format` widths, `setproduct`, `formatlist`, files) the check
//! comes before the value is built. `range` makes at most 1,024 values, as cty does.
//! Arguments nested deeper than 256 levels are refused.

mod cidr;
mod collections;
mod crypto;
mod datetime;
mod encoding;
mod filesystem;
mod format;
mod numbers;
mod strings;
mod typeexpr;
mod value;
mod yaml;

use std::path::Path;

use value::{convert, Ty, Val};

#[allow(unused_imports)] // the measure the reader's own size limit follows
pub(crate) use value::value_size;

// ---------------------------------------------------------------------------------------
// cty rules the HCL reader shares with the functions (types, conversion, equality).

/// A cty type constraint: a variable's `type = ...`, or the type of a value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TypeConstraint(Ty);

impl TypeConstraint {
    /// Parses a type expression's source text (`list(string)`, `object({a = number})`).
    pub(crate) fn parse(src: &str) -> Result<Self, String> {
        let t = typeexpr::parse_type(src)?;
        if has_optional(&t) {
            return Err("optional attributes are not allowed in a variable type".into());
        }
        Ok(TypeConstraint(t))
    }

    /// The type of a value as HCL types a literal (arrays are tuples, objects are objects,
    /// `null` is `any`), as Nomad types a variable declared with only a default.
    pub(crate) fn of_value(v: &hcl::Value) -> Result<Self, String> {
        Ok(TypeConstraint(Val::from_hcl(v)?.ty()))
    }

    /// `string` or `number`: the types for which Nomad reads a `-var` or `NOMAD_VAR_` value
    /// as literal text rather than as an HCL expression.
    pub(crate) fn is_string_or_number(&self) -> bool {
        matches!(self.0, Ty::Str | Ty::Num)
    }

    /// Converts a value to this type with cty's conversion rules.
    pub(crate) fn convert(&self, v: &hcl::Value) -> Result<hcl::Value, String> {
        let val = Val::from_hcl(v)?;
        convert(val, &self.0)?.to_hcl()
    }

    /// cty's friendly name of the type (`string`, `list of number`, `object`).
    pub(crate) fn friendly(&self) -> String {
        self.0.friendly()
    }
}

fn has_optional(t: &Ty) -> bool {
    match t {
        Ty::Optional(_) => true,
        Ty::List(e) | Ty::Set(e) | Ty::Map(e) => has_optional(e),
        Ty::Tuple(ts) => ts.iter().any(has_optional),
        Ty::Object(m) => m.values().any(has_optional),
        _ => false,
    }
}

/// cty's `Value.Equals` on two HCL values (`1 == 1.0`; values of different types differ).
pub(crate) fn values_equal(a: &hcl::Value, b: &hcl::Value) -> Result<bool, String> {
    Ok(value::equals(&Val::from_hcl(a)?, &Val::from_hcl(b)?))
}

/// The value of `cond ? t : f` (the chosen one, `pick_true`), converted to the type both
/// results unify to, as `hclsyntax.ConditionalExpr` does; an error when they do not unify.
pub(crate) fn conditional_result(
    t: &hcl::Value,
    f: &hcl::Value,
    pick_true: bool,
) -> Result<hcl::Value, String> {
    let tv = Val::from_hcl(t)?;
    let fv = Val::from_hcl(f)?;
    let ty = match (&tv, &fv) {
        (Val::Null(Ty::Dyn), other) | (other, Val::Null(Ty::Dyn)) => other.ty(),
        _ => value::unify(&[tv.ty(), fv.ty()]).ok_or_else(|| {
            format!(
                "inconsistent conditional result types: the true and false result expressions must have consistent types ({} and {})",
                tv.ty().friendly(),
                fv.ty().friendly()
            )
        })?,
    };
    let chosen = if pick_true { tv } else { fv };
    convert(chosen, &ty)?.to_hcl()
}

/// cty's number-to-string conversion (all digits, no exponent).
pub(crate) fn number_text(n: &hcl::Number) -> String {
    value::Num::from_hcl(n).to_text()
}

/// cty's string-to-number conversion; `None` when the text is not a number.
pub(crate) fn parse_number_text(s: &str) -> Option<hcl::Number> {
    match value::parse_number(s)? {
        value::Num::Int(i) => {
            if let Ok(v) = i64::try_from(i) {
                Some(hcl::Number::from(v))
            } else if let Ok(v) = u64::try_from(i) {
                Some(hcl::Number::from(v))
            } else {
                #[allow(clippy::cast_precision_loss)]
                hcl::Number::from_f64(i as f64)
            }
        }
        value::Num::Float(f) => hcl::Number::from_f64(f),
    }
}

/// NFC-normalizes a string, as every cty string value is.
pub(crate) fn normalize(s: String) -> String {
    value::nfc(s)
}

/// What a function call may use.
pub(crate) struct FunctionEnv<'a> {
    /// Folder that filesystem functions (file, fileexists, fileset, filebase64, templatefile)
    /// read relative to; None: filesystem functions are refused.
    pub base_dir: Option<&'a Path>,
    /// Largest value (bytes of strings, summed over nested values) a call may return.
    pub max_value_bytes: usize,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FunctionError {
    /// No function of that name.
    #[error("unknown function \"{name}\"")]
    Unknown {
        /// The name called.
        name: String,
    },
    /// Too few or too many arguments.
    #[error("{name}: expects {expected} argument(s), got {got}")]
    Arity {
        /// The function.
        name: String,
        /// `"2"`, `"at least 1"` or `"1 to 3"`.
        expected: String,
        /// How many were given.
        got: usize,
    },
    /// One argument is wrong (`index` counts from 1).
    #[error("{name}: argument {index}: {message}")]
    Argument {
        /// The function.
        name: String,
        /// Which argument, the first being 1.
        index: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The call failed.
    #[error("{name}: {message}")]
    Failed {
        /// The function.
        name: String,
        /// Why.
        message: String,
    },
    /// The result would exceed [`FunctionEnv::max_value_bytes`].
    #[error("{name}: result larger than the limit of {limit} bytes")]
    TooLarge {
        /// The function.
        name: String,
        /// The limit in force.
        limit: usize,
    },
    /// A filesystem function called without [`FunctionEnv::base_dir`].
    #[error(
        "{name}: reads files, which is not allowed here (allow filesystem functions to use it)"
    )]
    FilesystemNotAllowed {
        /// The function.
        name: String,
    },
}

/// How a function implementation fails; [`call`] adds the function's name.
#[derive(Debug)]
pub(super) enum Fail {
    /// Argument `.0` (counting from 0) is wrong.
    Arg(usize, String),
    /// The call failed.
    Msg(String),
    /// The result would be too large.
    TooLarge,
}

impl Fail {
    fn msg(m: impl Into<String>) -> Fail {
        Fail::Msg(m.into())
    }
}

type Res = Result<Val, Fail>;
type Impl = fn(Vec<Val>, &Ctx<'_>) -> Res;

/// What an implementation may use.
pub(super) struct Ctx<'a> {
    env: &'a FunctionEnv<'a>,
}

impl Ctx<'_> {
    /// Refuses a result of `size` bytes that exceeds the limit.
    fn check(&self, size: usize) -> Result<(), Fail> {
        if size > self.env.max_value_bytes {
            Err(Fail::TooLarge)
        } else {
            Ok(())
        }
    }

    fn limit(&self) -> usize {
        self.env.max_value_bytes
    }

    /// The base folder; filesystem functions only run when it is set.
    fn base_dir(&self) -> Result<&Path, Fail> {
        self.env
            .base_dir
            .ok_or_else(|| Fail::msg("filesystem functions are disabled"))
    }
}

/// A parameter's type, as declared in the function's spec.
#[derive(Clone, Copy)]
enum P {
    Dyn,
    Str,
    Num,
    ListStr,
    ListDyn,
    SetDyn,
    /// A type expression's source text (`convert`).
    TypeExpr,
}

impl P {
    fn ty(self) -> Ty {
        match self {
            P::Dyn | P::TypeExpr => Ty::Dyn,
            P::Str => Ty::Str,
            P::Num => Ty::Num,
            P::ListStr => Ty::list(Ty::Str),
            P::ListDyn => Ty::list(Ty::Dyn),
            P::SetDyn => Ty::set(Ty::Dyn),
        }
    }
}

#[derive(Clone, Copy)]
struct Param {
    name: &'static str,
    ty: P,
    allow_null: bool,
}

const fn p(name: &'static str, ty: P) -> Param {
    Param {
        name,
        ty,
        allow_null: false,
    }
}

const fn pn(name: &'static str, ty: P) -> Param {
    Param {
        name,
        ty,
        allow_null: true,
    }
}

struct Spec {
    params: &'static [Param],
    var: Option<Param>,
    imp: Impl,
    /// A filesystem function (refused without a base folder).
    fs: bool,
}

const fn f(params: &'static [Param], imp: Impl) -> Spec {
    Spec {
        params,
        var: None,
        imp,
        fs: false,
    }
}

const fn fv(params: &'static [Param], var: Param, imp: Impl) -> Spec {
    Spec {
        params,
        var: Some(var),
        imp,
        fs: false,
    }
}

const fn fs(params: &'static [Param], imp: Impl) -> Spec {
    Spec {
        params,
        var: None,
        imp,
        fs: true,
    }
}

const STR: &[Param] = &[p("str", P::Str)];
const NUM: &[Param] = &[p("num", P::Num)];
const PATH: &[Param] = &[p("path", P::Str)];
const TWO_STR: &[Param] = &[p("str", P::Str), p("other", P::Str)];
const THREE_STR: &[Param] = &[p("str", P::Str), p("substr", P::Str), p("replace", P::Str)];
const TWO_NUM: &[Param] = &[p("num", P::Num), p("base", P::Num)];
const NONE: &[Param] = &[];

/// Nomad's jobspec2 function table (`jobspec2/functions.go`, v1.6.9), in its order.
static TABLE: &[(&str, Spec)] = &[
    ("abs", f(NUM, numbers::abs)),
    ("base64decode", f(STR, encoding::base64decode)),
    ("base64encode", f(STR, encoding::base64encode)),
    ("bcrypt", fv(STR, p("cost", P::Num), crypto::bcrypt)),
    ("can", f(&[pn("expression", P::Dyn)], can)),
    ("ceil", f(NUM, numbers::ceil)),
    ("chomp", f(STR, strings::chomp)),
    (
        "chunklist",
        f(
            &[p("list", P::ListDyn), p("size", P::Num)],
            collections::chunklist,
        ),
    ),
    (
        "cidrhost",
        f(&[p("prefix", P::Str), p("hostnum", P::Num)], cidr::host),
    ),
    ("cidrnetmask", f(&[p("prefix", P::Str)], cidr::netmask)),
    (
        "cidrsubnet",
        f(
            &[
                p("prefix", P::Str),
                p("newbits", P::Num),
                p("netnum", P::Num),
            ],
            cidr::subnet,
        ),
    ),
    (
        "cidrsubnets",
        fv(&[p("prefix", P::Str)], p("newbits", P::Num), cidr::subnets),
    ),
    (
        "coalesce",
        fv(NONE, pn("vals", P::Dyn), collections::coalesce),
    ),
    (
        "coalescelist",
        fv(NONE, pn("vals", P::Dyn), collections::coalescelist),
    ),
    ("compact", f(&[p("list", P::ListStr)], collections::compact)),
    ("concat", fv(NONE, p("seqs", P::Dyn), collections::concat)),
    (
        "contains",
        f(
            &[p("list", P::Dyn), p("value", P::Dyn)],
            collections::contains,
        ),
    ),
    (
        "convert",
        f(
            &[pn("value", P::Dyn), p("type", P::TypeExpr)],
            typeexpr::convert_fn,
        ),
    ),
    ("csvdecode", f(STR, encoding::csvdecode)),
    (
        "distinct",
        f(&[p("list", P::ListDyn)], collections::distinct),
    ),
    (
        "element",
        f(
            &[p("list", P::Dyn), p("index", P::Num)],
            collections::element,
        ),
    ),
    ("flatten", f(&[p("list", P::Dyn)], collections::flatten)),
    ("floor", f(NUM, numbers::floor)),
    (
        "format",
        fv(&[p("format", P::Str)], pn("args", P::Dyn), format::format),
    ),
    (
        "formatdate",
        f(
            &[p("format", P::Str), p("time", P::Str)],
            datetime::formatdate,
        ),
    ),
    (
        "formatlist",
        fv(
            &[p("format", P::Str)],
            pn("args", P::Dyn),
            format::formatlist,
        ),
    ),
    (
        "indent",
        f(&[p("spaces", P::Num), p("str", P::Str)], strings::indent),
    ),
    (
        "index",
        f(
            &[p("collection", P::Dyn), p("key", P::Dyn)],
            collections::index,
        ),
    ),
    (
        "join",
        fv(
            &[p("separator", P::Str)],
            p("lists", P::ListStr),
            strings::join,
        ),
    ),
    ("jsondecode", f(STR, encoding::jsondecode)),
    ("jsonencode", f(&[pn("val", P::Dyn)], encoding::jsonencode)),
    ("keys", f(&[p("inputMap", P::Dyn)], collections::keys)),
    ("length", f(&[p("collection", P::Dyn)], collections::length)),
    ("log", f(TWO_NUM, numbers::log)),
    (
        "lookup",
        f(
            &[
                p("inputMap", P::Dyn),
                p("key", P::Str),
                p("default", P::Dyn),
            ],
            collections::lookup,
        ),
    ),
    ("lower", f(STR, strings::lower)),
    ("max", fv(NONE, p("numbers", P::Num), numbers::max)),
    ("md5", f(STR, crypto::md5)),
    ("merge", fv(NONE, pn("maps", P::Dyn), collections::merge)),
    ("min", fv(NONE, p("numbers", P::Num), numbers::min)),
    (
        "parseint",
        f(&[p("number", P::Dyn), p("base", P::Num)], numbers::parseint),
    ),
    (
        "pow",
        f(&[p("num", P::Num), p("power", P::Num)], numbers::pow),
    ),
    ("range", fv(NONE, p("params", P::Num), collections::range)),
    ("reverse", f(STR, strings::reverse)),
    ("replace", f(THREE_STR, strings::replace)),
    ("regex_replace", f(THREE_STR, strings::regex_replace)),
    (
        "rsadecrypt",
        f(
            &[p("ciphertext", P::Str), p("privatekey", P::Str)],
            crypto::rsadecrypt,
        ),
    ),
    (
        "setintersection",
        fv(
            &[p("first_set", P::SetDyn)],
            p("other_sets", P::SetDyn),
            collections::setintersection,
        ),
    ),
    (
        "setproduct",
        fv(NONE, p("sets", P::Dyn), collections::setproduct),
    ),
    (
        "setunion",
        fv(
            &[p("first_set", P::SetDyn)],
            p("other_sets", P::SetDyn),
            collections::setunion,
        ),
    ),
    ("sha1", f(STR, crypto::sha1)),
    ("sha256", f(STR, crypto::sha256)),
    ("sha512", f(STR, crypto::sha512)),
    ("signum", f(NUM, numbers::signum)),
    (
        "slice",
        f(
            &[
                p("list", P::Dyn),
                p("start_index", P::Num),
                p("end_index", P::Num),
            ],
            collections::slice,
        ),
    ),
    ("sort", f(&[p("list", P::ListStr)], strings::sort)),
    (
        "split",
        f(&[p("separator", P::Str), p("str", P::Str)], strings::split),
    ),
    ("strlen", f(STR, strings::strlen)),
    ("strrev", f(STR, strings::reverse)),
    (
        "substr",
        f(
            &[p("str", P::Str), p("offset", P::Num), p("length", P::Num)],
            strings::substr,
        ),
    ),
    (
        "timeadd",
        f(
            &[p("timestamp", P::Str), p("duration", P::Str)],
            datetime::timeadd,
        ),
    ),
    ("title", f(STR, strings::title)),
    (
        "trim",
        f(&[p("str", P::Str), p("cutset", P::Str)], strings::trim),
    ),
    ("trimprefix", f(TWO_STR, strings::trimprefix)),
    ("trimspace", f(STR, strings::trimspace)),
    ("trimsuffix", f(TWO_STR, strings::trimsuffix)),
    ("try", fv(NONE, pn("expressions", P::Dyn), try_fn)),
    ("upper", f(STR, strings::upper)),
    ("urlencode", f(STR, encoding::urlencode)),
    ("uuidv4", f(NONE, crypto::uuidv4)),
    (
        "uuidv5",
        f(&[p("namespace", P::Str), p("name", P::Str)], crypto::uuidv5),
    ),
    ("values", f(&[p("values", P::Dyn)], collections::values)),
    ("yamldecode", f(&[p("src", P::Str)], yaml::yamldecode)),
    ("yamlencode", f(&[pn("value", P::Dyn)], yaml::yamlencode)),
    (
        "zipmap",
        f(
            &[p("keys", P::ListStr), p("values", P::Dyn)],
            collections::zipmap,
        ),
    ),
    // filesystem calls
    ("abspath", fs(PATH, filesystem::abspath)),
    ("basename", fs(PATH, filesystem::basename)),
    ("dirname", fs(PATH, filesystem::dirname)),
    ("file", fs(PATH, filesystem::file)),
    ("filebase64", fs(PATH, filesystem::filebase64)),
    ("fileexists", fs(PATH, filesystem::fileexists)),
    (
        "fileset",
        fs(
            &[p("path", P::Str), p("pattern", P::Str)],
            filesystem::fileset,
        ),
    ),
    ("pathexpand", fs(PATH, filesystem::pathexpand)),
];

fn lookup_spec(name: &str) -> Option<&'static Spec> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
}

/// Whether `name` is a known function.
pub(crate) fn exists(name: &str) -> bool {
    lookup_spec(name).is_some()
}

/// Every function name, in the table's order.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(n, _)| *n)
}

/// Calls function `name` (Nomad's jobspec2 function table) with evaluated arguments.
pub(crate) fn call(
    name: &str,
    args: Vec<hcl::Value>,
    env: &FunctionEnv<'_>,
) -> Result<hcl::Value, FunctionError> {
    let spec = lookup_spec(name).ok_or_else(|| FunctionError::Unknown {
        name: name.to_string(),
    })?;
    let named = |message: String| FunctionError::Failed {
        name: name.to_string(),
        message,
    };
    let n = spec.params.len();
    let arity_ok = match spec.var {
        None => args.len() == n,
        Some(_) => args.len() >= n,
    };
    if !arity_ok {
        return Err(FunctionError::Arity {
            name: name.to_string(),
            expected: if spec.var.is_some() {
                format!("at least {n}")
            } else {
                n.to_string()
            },
            got: args.len(),
        });
    }
    if spec.fs && env.base_dir.is_none() {
        return Err(FunctionError::FilesystemNotAllowed {
            name: name.to_string(),
        });
    }
    let arg_error = |index: usize, message: String| FunctionError::Argument {
        name: name.to_string(),
        index: index + 1,
        message,
    };
    let mut vals = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        let param = spec
            .params
            .get(i)
            .copied()
            .or(spec.var)
            .ok_or_else(|| named("more arguments than parameters".to_string()))?;
        let v = Val::from_hcl(a).map_err(|m| arg_error(i, m))?;
        let v = convert(v, &param.ty.ty()).map_err(|m| {
            arg_error(
                i,
                format!("invalid value for \"{}\" parameter: {m}", param.name),
            )
        })?;
        if v.is_null() && !param.allow_null {
            return Err(arg_error(i, "argument must not be null".to_string()));
        }
        vals.push(v);
    }
    let ctx = Ctx { env };
    let too_large = || FunctionError::TooLarge {
        name: name.to_string(),
        limit: env.max_value_bytes,
    };
    let out = (spec.imp)(vals, &ctx).map_err(|e| match e {
        Fail::Arg(i, m) => arg_error(i, m),
        Fail::Msg(m) => named(m),
        Fail::TooLarge => too_large(),
    })?;
    if value::val_size(&out) > env.max_value_bytes {
        return Err(too_large());
    }
    out.to_hcl().map_err(named)
}

/// `can(expr)`: the reader calls it only when `expr` evaluated (`hcl/v2/ext/tryfunc`).
fn can(_args: Vec<Val>, _ctx: &Ctx<'_>) -> Res {
    Ok(Val::Bool(true))
}

/// `try(exprs...)`: the reader passes the arguments that evaluated; the first one wins
/// (`hcl/v2/ext/tryfunc`).
fn try_fn(args: Vec<Val>, _ctx: &Ctx<'_>) -> Res {
    args.into_iter()
        .next()
        .ok_or_else(|| Fail::msg("at least one argument is required"))
}

/// The string inside a `Str` value (every `P::Str` parameter holds one after conversion).
fn s(v: &Val) -> &str {
    match v {
        Val::Str(s) => s,
        _ => "",
    }
}

/// The number inside a `Num` value.
fn num(v: &Val) -> value::Num {
    match v {
        Val::Num(n) => *n,
        _ => value::Num::Int(0),
    }
}

/// `gocty.FromCtyValue(v, &int)` for argument `i`.
fn int_arg(v: &Val, i: usize) -> Result<i64, Fail> {
    num(v).to_go_int().map_err(|m| Fail::Arg(i, m))
}

#[doc(hidden)]
pub mod test_hook {
    //! Test access to the function library from outside the crate (the differential test
    //! against go-cty); not part of the API.

    /// Calls function `name` with `args`; filesystem functions read relative to `base_dir`
    /// when given. Returns the result or the error's message.
    pub fn call(
        name: &str,
        args: Vec<hcl::Value>,
        base_dir: Option<&std::path::Path>,
        max_value_bytes: usize,
    ) -> Result<hcl::Value, String> {
        let env = super::FunctionEnv {
            base_dir,
            max_value_bytes,
        };
        super::call(name, args, &env).map_err(|e| e.to_string())
    }

    /// Every function name Nomad's jobspec2 offers, as implemented here.
    pub fn names() -> Vec<&'static str> {
        super::names().collect()
    }
}

#[cfg(test)]
mod tests;
