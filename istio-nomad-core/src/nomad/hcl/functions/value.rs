//! The part of go-cty's type system the functions need: types, typed values, conversion and
//! type unification, with go-cty v1.12.1's rules (`cty/convert/conversion*.go`, `unify.go`,
//! `compare_types.go`, `sort_types.go`; set order from `cty/set_internals.go`).
//!
//! Arguments arrive as `hcl::Value`s (tuples and objects, as HCL literals are); a function's
//! parameter type converts them the way HCL does before the call (`hclsyntax`
//! `FunctionCallExpr.Value` runs `convert.Convert` on every argument). Results go back to
//! `hcl::Value` (lists, sets and tuples become arrays; maps and objects become objects with
//! their keys in cty's order, which is sorted).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// How deep a value may nest (arrays and objects) before the functions refuse it.
pub(crate) const MAX_VALUE_DEPTH: usize = 256;

/// A cty type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// `any` (cty.DynamicPseudoType): the type of an untyped `null`.
    Dyn,
    Str,
    Num,
    Bool,
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>),
    Tuple(Vec<Ty>),
    Object(BTreeMap<String, Ty>),
    /// Only as an attribute type of an object type given to `convert`: `optional(T)`.
    Optional(Box<Ty>),
}

impl Ty {
    pub(crate) fn list(t: Ty) -> Ty {
        Ty::List(Box::new(t))
    }
    pub(crate) fn set(t: Ty) -> Ty {
        Ty::Set(Box::new(t))
    }
    pub(crate) fn map(t: Ty) -> Ty {
        Ty::Map(Box::new(t))
    }

    fn is_primitive(&self) -> bool {
        matches!(self, Ty::Str | Ty::Num | Ty::Bool)
    }

    /// The type with `optional(...)` markers removed (cty `WithoutOptionalAttributesDeep`).
    pub(crate) fn without_optional(&self) -> Ty {
        match self {
            Ty::Optional(t) => t.without_optional(),
            Ty::List(t) => Ty::list(t.without_optional()),
            Ty::Set(t) => Ty::set(t.without_optional()),
            Ty::Map(t) => Ty::map(t.without_optional()),
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(Ty::without_optional).collect()),
            Ty::Object(m) => Ty::Object(
                m.iter()
                    .map(|(k, t)| (k.clone(), t.without_optional()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// cty's `FriendlyName`, used in error messages.
    pub(crate) fn friendly(&self) -> String {
        match self {
            Ty::Dyn => "dynamic".into(),
            Ty::Str => "string".into(),
            Ty::Num => "number".into(),
            Ty::Bool => "bool".into(),
            Ty::List(t) => format!("list of {}", t.friendly()),
            Ty::Set(t) => format!("set of {}", t.friendly()),
            Ty::Map(t) => format!("map of {}", t.friendly()),
            Ty::Tuple(_) => "tuple".into(),
            Ty::Object(_) => "object".into(),
            Ty::Optional(t) => t.friendly(),
        }
    }
}

/// A cty number. cty numbers are arbitrary-precision; here an integer is exact up to
/// 128 bits and anything else is an `f64` (possibly infinite, never NaN).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    /// A number from an `f64`; `None` for NaN. Whole numbers up to 2^53 become exact integers.
    pub(crate) fn from_f64(f: f64) -> Option<Num> {
        if f.is_nan() {
            return None;
        }
        if f.fract() == 0.0
            && f.abs() <= 9_007_199_254_740_992.0
            && !(f == 0.0 && f.is_sign_negative())
        {
            // Exact: |f| <= 2^53 is a whole number that fits.
            #[allow(clippy::cast_possible_truncation)]
            return Some(Num::Int(f as i128));
        }
        Some(Num::Float(f))
    }

    pub(crate) fn to_f64(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The number as an exact integer, when it is one.
    pub(crate) fn as_int(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.0e38 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Some(f as i128)
            }
            Num::Float(_) => None,
        }
    }

    /// What `gocty.FromCtyValue(v, &int)` accepts: a whole number that fits a Go `int`
    /// (64 bits).
    pub(crate) fn to_go_int(self) -> Result<i64, String> {
        match self.as_int() {
            Some(i) => i64::try_from(i).map_err(|_| {
                format!(
                    "value must be a whole number, between {} and {}",
                    i64::MIN,
                    i64::MAX
                )
            }),
            None => Err(format!(
                "value must be a whole number, between {} and {}",
                i64::MIN,
                i64::MAX
            )),
        }
    }

    pub(crate) fn is_inf(self) -> bool {
        matches!(self, Num::Float(f) if f.is_infinite())
    }

    pub(crate) fn cmp(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a.cmp(&b),
            (a, b) => {
                if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
                    return x.cmp(&y);
                }
                a.to_f64()
                    .partial_cmp(&b.to_f64())
                    .unwrap_or(Ordering::Equal)
            }
        }
    }

    pub(crate) fn is_zero(self) -> bool {
        self.cmp(Num::Int(0)) == Ordering::Equal
    }

    pub(crate) fn add(self, other: Num) -> Option<Num> {
        if let (Num::Int(a), Num::Int(b)) = (self, other) {
            if let Some(s) = a.checked_add(b) {
                return Some(Num::Int(s));
            }
        }
        Num::from_f64(self.to_f64() + other.to_f64())
    }

    pub(crate) fn neg(self) -> Num {
        match self {
            Num::Int(i) => Num::Int(-i),
            Num::Float(f) => Num::Float(-f),
        }
    }

    /// cty's number-to-string conversion (`big.Float.Text('f', -1)`): all digits, no
    /// exponent.
    pub(crate) fn to_text(self) -> String {
        match self {
            Num::Int(i) => i.to_string(),
            Num::Float(f) if f.is_infinite() => {
                if f > 0.0 {
                    "+Inf".into()
                } else {
                    "-Inf".into()
                }
            }
            Num::Float(f) => format!("{f}"),
        }
    }

    pub(crate) fn from_hcl(n: &hcl::Number) -> Num {
        if let Some(i) = n.as_i64() {
            Num::Int(i128::from(i))
        } else if let Some(u) = n.as_u64() {
            Num::Int(i128::from(u))
        } else {
            Num::from_f64(n.as_f64().unwrap_or(0.0)).unwrap_or(Num::Int(0))
        }
    }

    fn to_hcl(self) -> Option<hcl::Number> {
        match self {
            Num::Int(i) => {
                if let Ok(v) = i64::try_from(i) {
                    Some(hcl::Number::from(v))
                } else if let Ok(v) = u64::try_from(i) {
                    Some(hcl::Number::from(v))
                } else {
                    #[allow(clippy::cast_precision_loss)]
                    hcl::Number::from_f64(i as f64)
                }
            }
            Num::Float(f) => hcl::Number::from_f64(f),
        }
    }
}

/// Parses a number the way `cty.ParseNumberVal` does (`big.ParseFloat` in base 10):
/// optional sign, digits with an optional fraction, optional exponent.
pub(crate) fn parse_number(s: &str) -> Option<Num> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    let mut is_int = true;
    if i < b.len() && b[i] == b'.' {
        is_int = false;
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        is_int = false;
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    if is_int {
        if let Ok(v) = s.parse::<i128>() {
            return Some(Num::Int(v));
        }
    }
    let f: f64 = s.parse().ok()?;
    Num::from_f64(f)
}

/// A cty value.
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Null(Ty),
    Bool(bool),
    Num(Num),
    Str(String),
    /// Element type and elements.
    List(Ty, Vec<Val>),
    /// Element type and elements, in cty's set order, without duplicates.
    Set(Ty, Vec<Val>),
    Map(Ty, BTreeMap<String, Val>),
    Tuple(Vec<Val>),
    Object(BTreeMap<String, Val>),
}

/// NFC-normalizes a string, as `cty.StringVal` does.
pub(crate) fn nfc(s: String) -> String {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s
    } else {
        s.nfc().collect()
    }
}

impl Val {
    /// A string value (NFC-normalized, as every cty string is).
    pub(crate) fn str(s: impl Into<String>) -> Val {
        Val::Str(nfc(s.into()))
    }

    pub(crate) fn int(i: i64) -> Val {
        Val::Num(Num::Int(i128::from(i)))
    }

    pub(crate) fn ty(&self) -> Ty {
        match self {
            Val::Null(t) => t.clone(),
            Val::Bool(_) => Ty::Bool,
            Val::Num(_) => Ty::Num,
            Val::Str(_) => Ty::Str,
            Val::List(t, _) => Ty::list(t.clone()),
            Val::Set(t, _) => Ty::set(t.clone()),
            Val::Map(t, _) => Ty::map(t.clone()),
            Val::Tuple(vs) => Ty::Tuple(vs.iter().map(Val::ty).collect()),
            Val::Object(m) => Ty::Object(m.iter().map(|(k, v)| (k.clone(), v.ty())).collect()),
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Val::Null(_))
    }

    /// Elements of a list, set or tuple (in order); values of a map or object (by key).
    pub(crate) fn elements(&self) -> Vec<&Val> {
        match self {
            Val::List(_, v) | Val::Set(_, v) | Val::Tuple(v) => v.iter().collect(),
            Val::Map(_, m) | Val::Object(m) => m.values().collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn into_elements(self) -> Vec<Val> {
        match self {
            Val::List(_, v) | Val::Set(_, v) | Val::Tuple(v) => v,
            Val::Map(_, m) | Val::Object(m) => m.into_values().collect(),
            _ => Vec::new(),
        }
    }

    /// Reads an HCL value: arrays become tuples, objects become objects.
    pub(crate) fn from_hcl(v: &hcl::Value) -> Result<Val, String> {
        from_hcl_depth(v, 0)
    }

    /// Writes the value back as an HCL value.
    pub(crate) fn to_hcl(&self) -> Result<hcl::Value, String> {
        Ok(match self {
            Val::Null(_) => hcl::Value::Null,
            Val::Bool(b) => hcl::Value::Bool(*b),
            Val::Num(n) => hcl::Value::Number(
                n.to_hcl()
                    .ok_or_else(|| "the result is infinite, which HCL cannot hold".to_string())?,
            ),
            Val::Str(s) => hcl::Value::String(s.clone()),
            Val::List(_, v) | Val::Set(_, v) | Val::Tuple(v) => {
                hcl::Value::Array(v.iter().map(Val::to_hcl).collect::<Result<_, _>>()?)
            }
            Val::Map(_, m) | Val::Object(m) => {
                let mut out = hcl::Map::new();
                for (k, v) in m {
                    out.insert(k.clone(), v.to_hcl()?);
                }
                hcl::Value::Object(out)
            }
        })
    }
}

fn from_hcl_depth(v: &hcl::Value, depth: usize) -> Result<Val, String> {
    if depth > MAX_VALUE_DEPTH {
        return Err(format!("value nests more than {MAX_VALUE_DEPTH} levels"));
    }
    Ok(match v {
        hcl::Value::Null => Val::Null(Ty::Dyn),
        hcl::Value::Bool(b) => Val::Bool(*b),
        hcl::Value::Number(n) => Val::Num(Num::from_hcl(n)),
        hcl::Value::String(s) => Val::str(s.clone()),
        hcl::Value::Array(a) => Val::Tuple(
            a.iter()
                .map(|e| from_hcl_depth(e, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        hcl::Value::Object(m) => {
            let mut out = BTreeMap::new();
            for (k, e) in m {
                out.insert(nfc(k.clone()), from_hcl_depth(e, depth + 1)?);
            }
            Val::Object(out)
        }
    })
}

/// The size of a value for the result limit: the bytes of every string and object key,
/// plus 8 for every other value (numbers, bools, nulls, and each array or object itself).
#[allow(dead_code)] // for the HCL reader
pub(crate) fn value_size(v: &hcl::Value) -> usize {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            hcl::Value::String(s) => total = total.saturating_add(s.len()),
            hcl::Value::Array(a) => {
                total = total.saturating_add(8);
                stack.extend(a.iter());
            }
            hcl::Value::Object(m) => {
                total = total.saturating_add(8);
                for (k, e) in m {
                    total = total.saturating_add(k.len());
                    stack.push(e);
                }
            }
            _ => total = total.saturating_add(8),
        }
    }
    total
}

/// The same measure on a cty value, before it is turned into HCL.
pub(crate) fn val_size(v: &Val) -> usize {
    match v {
        Val::Str(s) => s.len(),
        Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => e
            .iter()
            .fold(8usize, |acc, x| acc.saturating_add(val_size(x))),
        Val::Map(_, m) | Val::Object(m) => m.iter().fold(8usize, |acc, (k, x)| {
            acc.saturating_add(k.len()).saturating_add(val_size(x))
        }),
        _ => 8,
    }
}

// ---------------------------------------------------------------------------------------
// Equality and set order
// ---------------------------------------------------------------------------------------

/// cty's `Value.Equals`: nulls equal each other; values of different types are unequal.
pub(crate) fn equals(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null(_), Val::Null(_)) => true,
        (Val::Null(_), _) | (_, Val::Null(_)) => false,
        _ => a.ty() == b.ty() && same(a, b),
    }
}

fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Null(_), Val::Null(_)) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x.cmp(*y) == Ordering::Equal,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(_, x), Val::List(_, y))
        | (Val::Set(_, x), Val::Set(_, y))
        | (Val::Tuple(x), Val::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Val::Map(_, x), Val::Map(_, y)) | (Val::Object(x), Val::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => false,
    }
}

/// cty's set order (`setRules.Less`): strings by bytes, numbers by value, false before
/// true, nulls last, anything else by its set hash text.
pub(crate) fn set_cmp(a: &Val, b: &Val) -> Ordering {
    if same(a, b) {
        return Ordering::Equal;
    }
    match (a, b) {
        (Val::Null(_), _) => Ordering::Greater,
        (_, Val::Null(_)) => Ordering::Less,
        (Val::Str(x), Val::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Val::Num(x), Val::Num(y)) => x.cmp(*y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => {
            let mut ha = String::new();
            let mut hb = String::new();
            hash_text(a, &mut ha);
            hash_text(b, &mut hb);
            ha.as_bytes().cmp(hb.as_bytes())
        }
    }
}

fn hash_text(v: &Val, out: &mut String) {
    match v {
        Val::Null(_) => out.push('~'),
        Val::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        Val::Num(n) => out.push_str(&n.to_text()),
        Val::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        Val::Map(_, m) => {
            out.push('{');
            for (k, e) in m {
                let _ = write!(out, "{k:?}:");
                hash_text(e, out);
                out.push(';');
            }
            out.push('}');
        }
        Val::List(_, e) | Val::Set(_, e) => {
            out.push('[');
            for x in e {
                hash_text(x, out);
                out.push(';');
            }
            out.push(']');
        }
        Val::Object(m) => {
            out.push('<');
            for e in m.values() {
                hash_text(e, out);
                out.push(';');
            }
            out.push('>');
        }
        Val::Tuple(e) => {
            out.push('<');
            for x in e {
                hash_text(x, out);
                out.push(';');
            }
            out.push('>');
        }
    }
}

/// Builds a set: sorted in cty's order, duplicates removed.
pub(crate) fn make_set(ety: Ty, mut elems: Vec<Val>) -> Val {
    elems.sort_by(set_cmp);
    elems.dedup_by(|a, b| same(a, b));
    Val::Set(ety, elems)
}

// ---------------------------------------------------------------------------------------
// Conversion (cty/convert, always the "unsafe" variant that convert.Convert uses)
// ---------------------------------------------------------------------------------------

/// Whether cty has a conversion from `from` to `to` (`getConversion(in, out, true) != nil`,
/// with equal types counting as convertible, as every caller in cty treats them).
pub(crate) fn convertible(from: &Ty, to: &Ty) -> bool {
    if from == to {
        return true;
    }
    match (from, to) {
        (_, Ty::Dyn) | (Ty::Dyn, _) => true,
        (_, Ty::Optional(t)) => convertible(from, t),
        (f, t) if f.is_primitive() && t.is_primitive() => matches!(
            (f, t),
            (Ty::Num, Ty::Str) | (Ty::Bool, Ty::Str) | (Ty::Str, Ty::Num) | (Ty::Str, Ty::Bool)
        ),
        (Ty::Object(fa), Ty::Object(ta)) => ta.iter().all(|(k, t)| match fa.get(k) {
            Some(f) => convertible(f, t),
            None => matches!(t, Ty::Optional(_)),
        }),
        (Ty::Tuple(fe), Ty::Tuple(te)) => {
            fe.len() == te.len() && fe.iter().zip(te).all(|(f, t)| convertible(f, t))
        }
        (Ty::List(f) | Ty::Set(f), Ty::List(t) | Ty::Set(t)) | (Ty::Map(f), Ty::Map(t)) => {
            convertible(f, t)
        }
        (Ty::Tuple(fe), Ty::List(t) | Ty::Set(t)) => {
            if fe.is_empty() {
                return true;
            }
            let mut ety = (**t).clone();
            if ety == Ty::Dyn {
                match unify(fe) {
                    None => return false,
                    Some(Ty::Dyn) => return fe.iter().all(|f| *f == Ty::Dyn),
                    Some(u) => ety = u,
                }
            }
            fe.iter().all(|f| convertible(f, &ety))
        }
        (Ty::Object(fa), Ty::Map(t)) => {
            if fa.is_empty() {
                return true;
            }
            let mut ety = (**t).clone();
            if ety == Ty::Dyn {
                let tys: Vec<Ty> = fa.values().cloned().collect();
                match unify(&tys) {
                    None => return false,
                    Some(u) => ety = u,
                }
            }
            fa.values().all(|f| convertible(f, &ety))
        }
        (Ty::Map(f), Ty::Object(ta)) => ta
            .values()
            .all(|t| convertible(f, t) || matches!(t, Ty::Optional(_))),
        _ => false,
    }
}

/// cty's `MismatchMessage`, simplified.
fn mismatch(from: &Ty, to: &Ty) -> String {
    match to {
        Ty::Str | Ty::Num | Ty::Bool => format!("{} required", article(&to.friendly())),
        Ty::List(_) | Ty::Set(_) | Ty::Tuple(_)
            if !matches!(from, Ty::List(_) | Ty::Set(_) | Ty::Tuple(_)) =>
        {
            format!("{} required", article(&to.friendly()))
        }
        Ty::Map(_) | Ty::Object(_) if !matches!(from, Ty::Map(_) | Ty::Object(_)) => {
            format!("{} required", article(&to.friendly()))
        }
        _ => format!(
            "incorrect value type; {} required",
            article(&to.without_optional().friendly())
        ),
    }
}

fn article(s: &str) -> String {
    if s.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {s}")
    } else {
        format!("a {s}")
    }
}

/// `convert.Convert(v, want)`.
pub(crate) fn convert(v: Val, want: &Ty) -> Result<Val, String> {
    let from = v.ty();
    if from == want.without_optional() {
        return Ok(v);
    }
    if !convertible(&from, want) {
        return Err(mismatch(&from, want));
    }
    convert_known(v, want)
}

fn convert_known(v: Val, want: &Ty) -> Result<Val, String> {
    let want = match want {
        Ty::Optional(t) => &**t,
        t => t,
    };
    if *want == Ty::Dyn {
        return Ok(v);
    }
    let from = v.ty();
    if from == want.without_optional() {
        return Ok(v);
    }
    if let Val::Null(t) = &v {
        return Ok(Val::Null(dynamic_replace(t, &want.without_optional())));
    }
    match (v, want) {
        (Val::Num(n), Ty::Str) => Ok(Val::str(n.to_text())),
        (Val::Bool(b), Ty::Str) => Ok(Val::str(if b { "true" } else { "false" })),
        (Val::Str(s), Ty::Num) => parse_number(&s)
            .map(Val::Num)
            .ok_or_else(|| "a number is required".to_string()),
        (Val::Str(s), Ty::Bool) => match s.as_str() {
            "true" | "1" => Ok(Val::Bool(true)),
            "false" | "0" => Ok(Val::Bool(false)),
            other => Err(match other.to_lowercase().as_str() {
                "true" => "a bool is required; to convert from string, use lowercase \"true\"",
                "false" => "a bool is required; to convert from string, use lowercase \"false\"",
                _ => "a bool is required",
            }
            .to_string()),
        },
        (Val::Object(attrs), Ty::Object(want_attrs)) => {
            let mut out = BTreeMap::new();
            let mut attrs = attrs;
            for (k, t) in want_attrs {
                match attrs.remove(k) {
                    Some(a) => {
                        let c = convert_known(a, t).map_err(|e| at_attr(k, &e))?;
                        out.insert(k.clone(), c);
                    }
                    None => {
                        out.insert(k.clone(), Val::Null(t.without_optional()));
                    }
                }
            }
            Ok(Val::Object(out))
        }
        (Val::Tuple(elems), Ty::Tuple(want_elems)) => {
            let mut out = Vec::with_capacity(elems.len());
            for (i, (e, t)) in elems.into_iter().zip(want_elems).enumerate() {
                out.push(convert_known(e, t).map_err(|m| at_index(i, &m))?);
            }
            Ok(Val::Tuple(out))
        }
        (Val::List(ety, elems) | Val::Set(ety, elems), Ty::List(want_ety)) => {
            let mut out = Vec::with_capacity(elems.len());
            for (i, e) in elems.into_iter().enumerate() {
                out.push(convert_known(e, want_ety).map_err(|m| at_index(i, &m))?);
            }
            let t = if **want_ety == Ty::Dyn {
                ety
            } else {
                want_ety.without_optional()
            };
            same_types(&out, "list")?;
            let t = out.first().map_or(t, Val::ty);
            Ok(Val::List(t, out))
        }
        (Val::List(ety, elems) | Val::Set(ety, elems), Ty::Set(want_ety)) => {
            let mut out = Vec::with_capacity(elems.len());
            for e in elems {
                out.push(convert_known(e, want_ety)?);
            }
            let t = if **want_ety == Ty::Dyn {
                ety
            } else {
                want_ety.without_optional()
            };
            same_types(&out, "set")?;
            let t = out.first().map_or(t, Val::ty);
            Ok(make_set(t, out))
        }
        (Val::Map(ety, elems), Ty::Map(want_ety)) => {
            let mut out = BTreeMap::new();
            for (k, e) in elems {
                let c = convert_known(e, want_ety).map_err(|m| at_key(&k, &m))?;
                out.insert(k, c);
            }
            let t = if **want_ety == Ty::Dyn {
                ety
            } else {
                want_ety.without_optional()
            };
            if matches!(
                **want_ety,
                Ty::List(_) | Ty::Set(_) | Ty::Map(_) | Ty::Object(_)
            ) {
                out = unify_map_elements(out)?;
            }
            let vals: Vec<Val> = out.values().cloned().collect();
            same_types(&vals, "map")?;
            let t = vals.first().map_or(t, Val::ty);
            Ok(Val::Map(t, out))
        }
        (Val::Tuple(elems), Ty::List(want_ety) | Ty::Set(want_ety)) => {
            let is_list = matches!(want, Ty::List(_));
            if elems.is_empty() {
                let t = want_ety.without_optional();
                return Ok(if is_list {
                    Val::List(t, Vec::new())
                } else {
                    Val::Set(t, Vec::new())
                });
            }
            let mut ety = (**want_ety).clone();
            if ety == Ty::Dyn {
                let tys: Vec<Ty> = elems.iter().map(Val::ty).collect();
                ety = unify(&tys).unwrap_or(Ty::Dyn);
            }
            let mut out = Vec::with_capacity(elems.len());
            for (i, e) in elems.into_iter().enumerate() {
                out.push(convert_known(e, &ety).map_err(|m| at_index(i, &m))?);
            }
            if is_list {
                let tys: Vec<Ty> = out.iter().map(Val::ty).collect();
                let u = unify(&tys)
                    .ok_or_else(|| "cannot find a common base type for all elements".to_string())?;
                if tys.iter().any(|t| *t != u) {
                    out = out
                        .into_iter()
                        .map(|e| convert_known(e, &u))
                        .collect::<Result<_, _>>()?;
                }
                same_types(&out, "list")?;
                let t = out.first().map_or(ety, Val::ty);
                Ok(Val::List(t, out))
            } else {
                same_types(&out, "set")?;
                let t = out.first().map_or(ety, Val::ty);
                Ok(make_set(t, out))
            }
        }
        (Val::Object(attrs), Ty::Map(want_ety)) => {
            if attrs.is_empty() {
                return Ok(Val::Map(want_ety.without_optional(), BTreeMap::new()));
            }
            let mut ety = (**want_ety).clone();
            if ety == Ty::Dyn {
                let tys: Vec<Ty> = attrs.values().map(Val::ty).collect();
                ety = unify(&tys).unwrap_or(Ty::Dyn);
            }
            let mut out = BTreeMap::new();
            for (k, e) in attrs {
                let c = convert_known(e, &ety).map_err(|m| at_key(&k, &m))?;
                out.insert(k, c);
            }
            if matches!(ety, Ty::List(_) | Ty::Set(_) | Ty::Map(_) | Ty::Object(_)) {
                out = unify_map_elements(out)?;
            }
            let vals: Vec<Val> = out.values().cloned().collect();
            if !all_same_type(&vals) {
                return Err("attribute types must all match for conversion to map".into());
            }
            let t = vals.first().map_or(ety, Val::ty);
            Ok(Val::Map(t, out))
        }
        (Val::Map(_, elems), Ty::Object(want_attrs)) => {
            let mut out = BTreeMap::new();
            let mut elems = elems;
            for (k, t) in want_attrs {
                match elems.remove(k) {
                    Some(e) => {
                        let c = convert_known(e, t).map_err(|m| at_attr(k, &m))?;
                        out.insert(k.clone(), c);
                    }
                    None if matches!(t, Ty::Optional(_)) => {
                        out.insert(k.clone(), Val::Null(t.without_optional()));
                    }
                    None => return Err(format!("map has no element for required attribute {k:?}")),
                }
            }
            Ok(Val::Object(out))
        }
        (v, want) => Err(mismatch(&v.ty(), want)),
    }
}

fn at_index(i: usize, msg: &str) -> String {
    if msg.starts_with('[') || msg.starts_with('.') {
        format!("[{i}]{msg}")
    } else {
        format!("[{i}]: {msg}")
    }
}

fn at_key(k: &str, msg: &str) -> String {
    format!("[{k:?}]: {msg}")
}

fn at_attr(k: &str, msg: &str) -> String {
    format!("attribute {k:?}: {msg}")
}

fn all_same_type(vals: &[Val]) -> bool {
    match vals.first() {
        None => true,
        Some(f) => {
            let t = f.ty();
            vals.iter().skip(1).all(|v| v.ty() == t)
        }
    }
}

fn same_types(vals: &[Val], what: &str) -> Result<(), String> {
    if all_same_type(vals) {
        Ok(())
    } else {
        Err(format!(
            "element types must all match for conversion to {what}"
        ))
    }
}

fn unify_map_elements(elems: BTreeMap<String, Val>) -> Result<BTreeMap<String, Val>, String> {
    let tys: Vec<Ty> = elems.values().map(Val::ty).collect();
    let u =
        unify(&tys).ok_or_else(|| "cannot find a common base type for all elements".to_string())?;
    elems
        .into_iter()
        .map(|(k, v)| {
            if v.ty() == u {
                Ok((k, v))
            } else {
                convert_known(v, &u).map(|c| (k, c))
            }
        })
        .collect()
}

/// `dynamicReplace`: the type a null gets when converted.
fn dynamic_replace(from: &Ty, to: &Ty) -> Ty {
    if *from == Ty::Dyn {
        return to.clone();
    }
    match to {
        Ty::Dyn => from.clone(),
        Ty::Str | Ty::Num | Ty::Bool => to.clone(),
        Ty::Map(te) => {
            let ety = match from {
                Ty::Map(fe) => dynamic_replace(fe, te),
                Ty::Object(fa) => {
                    let tys: Vec<Ty> = fa.values().cloned().collect();
                    dynamic_replace(&unify(&tys).unwrap_or(Ty::Dyn), te)
                }
                _ => Ty::Dyn,
            };
            Ty::map(ety)
        }
        Ty::Object(ta) => {
            let mut out = BTreeMap::new();
            for (k, t) in ta {
                let r = match from {
                    Ty::Map(fe) => dynamic_replace(fe, t),
                    Ty::Object(fa) => match fa.get(k) {
                        Some(f) => dynamic_replace(f, t),
                        None => t.clone(),
                    },
                    _ => t.clone(),
                };
                out.insert(k.clone(), r);
            }
            Ty::Object(out)
        }
        Ty::Set(te) | Ty::List(te) => {
            let ety = match from {
                Ty::Set(fe) | Ty::List(fe) => dynamic_replace(fe, te),
                Ty::Tuple(fe) => dynamic_replace(&unify(fe).unwrap_or(Ty::Dyn), te),
                _ => Ty::Dyn,
            };
            if matches!(to, Ty::Set(_)) {
                Ty::set(ety)
            } else {
                Ty::list(ety)
            }
        }
        Ty::Tuple(te) => Ty::Tuple(
            te.iter()
                .enumerate()
                .map(|(i, t)| match from {
                    Ty::Tuple(fe) => fe.get(i).map_or(t.clone(), |f| dynamic_replace(f, t)),
                    _ => t.clone(),
                })
                .collect(),
        ),
        Ty::Optional(t) => dynamic_replace(from, t),
    }
}

// ---------------------------------------------------------------------------------------
// Unification (cty/convert/unify.go, unsafe)
// ---------------------------------------------------------------------------------------

/// `convert.UnifyUnsafe`: the one type all `types` convert to, if there is one.
pub(crate) fn unify(types: &[Ty]) -> Option<Ty> {
    if types.is_empty() {
        return None;
    }
    let (mut maps, mut lists, mut sets, mut objects, mut tuples, mut dyns) = (0, 0, 0, 0, 0, 0);
    for t in types {
        match t {
            Ty::Map(_) => maps += 1,
            Ty::List(_) => lists += 1,
            Ty::Set(_) => sets += 1,
            Ty::Object(_) => objects += 1,
            Ty::Tuple(_) => tuples += 1,
            Ty::Dyn => dyns += 1,
            _ => {}
        }
    }
    let n = types.len();
    if maps > 0 && maps + dyns == n {
        return unify_collections(types, dyns > 0, Ty::map);
    }
    if maps > 0 && maps + objects + dyns == n {
        if let Some(t @ Ty::Map(_)) =
            unify_as(types, |t| matches!(t, Ty::Object(_)), unify_objects_to_map)
        {
            return Some(t);
        }
    } else if lists > 0 && lists + dyns == n {
        return unify_collections(types, dyns > 0, Ty::list);
    } else if lists > 0 && lists + tuples + dyns == n {
        if let Some(t @ Ty::List(_)) =
            unify_as(types, |t| matches!(t, Ty::Tuple(_)), unify_tuples_to_list)
        {
            return Some(t);
        }
    } else if sets > 0 && sets + dyns == n {
        return unify_collections(types, dyns > 0, Ty::set);
    } else if objects > 0 && objects + dyns == n {
        return unify_objects(types, dyns > 0);
    } else if tuples > 0 && tuples + dyns == n {
        return unify_tuples(types, dyns > 0);
    } else if objects > 0 && tuples > 0 {
        return None;
    }
    'pref: for want_idx in sort_types(types) {
        let want = &types[want_idx];
        for (i, t) in types.iter().enumerate() {
            if i == want_idx || t == want {
                continue;
            }
            if !convertible(t, want) {
                continue 'pref;
            }
        }
        return Some(want.clone());
    }
    None
}

/// Unifies the members picked by `pick` with `f`, substitutes the result for them and
/// unifies again (`unifyTuplesAsList`, `unifyObjectsAsMaps`).
fn unify_as(types: &[Ty], pick: fn(&Ty) -> bool, f: fn(&[Ty]) -> Option<Ty>) -> Option<Ty> {
    let picked: Vec<Ty> = types.iter().filter(|t| pick(t)).cloned().collect();
    let u = f(&picked)?;
    let replaced: Vec<Ty> = types
        .iter()
        .map(|t| if pick(t) { u.clone() } else { t.clone() })
        .collect();
    unify(&replaced)
}

fn unify_collections(types: &[Ty], has_dyn: bool, make: fn(Ty) -> Ty) -> Option<Ty> {
    if has_dyn {
        return Some(Ty::Dyn);
    }
    let etys: Vec<Ty> = types
        .iter()
        .map(|t| match t {
            Ty::List(e) | Ty::Set(e) | Ty::Map(e) => (**e).clone(),
            other => other.clone(),
        })
        .collect();
    let ret = make(unify(&etys)?);
    types
        .iter()
        .all(|t| *t == ret || convertible(t, &ret))
        .then_some(ret)
}

fn unify_objects(types: &[Ty], has_dyn: bool) -> Option<Ty> {
    if has_dyn {
        return Some(Ty::Dyn);
    }
    let attrs: Vec<&BTreeMap<String, Ty>> = types
        .iter()
        .filter_map(|t| match t {
            Ty::Object(a) => Some(a),
            _ => None,
        })
        .collect();
    let first = attrs.first()?;
    for a in &attrs[1..] {
        if a.len() != first.len() || a.keys().any(|k| !first.contains_key(k)) {
            return unify_objects_to_map(types);
        }
    }
    let mut ret = BTreeMap::new();
    for k in first.keys() {
        let across: Vec<Ty> = attrs.iter().filter_map(|a| a.get(k).cloned()).collect();
        ret.insert(k.clone(), unify(&across)?);
    }
    let ret = Ty::Object(ret);
    if types.iter().all(|t| *t == ret || convertible(t, &ret)) {
        Some(ret)
    } else {
        unify_objects_to_map(types)
    }
}

fn unify_objects_to_map(types: &[Ty]) -> Option<Ty> {
    let atys: Vec<Ty> = types
        .iter()
        .flat_map(|t| match t {
            Ty::Object(a) => a.values().cloned().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let ret = Ty::map(unify(&atys)?);
    types
        .iter()
        .all(|t| *t == ret || convertible(t, &ret))
        .then_some(ret)
}

fn unify_tuples(types: &[Ty], has_dyn: bool) -> Option<Ty> {
    if has_dyn {
        return Some(Ty::Dyn);
    }
    let elems: Vec<&Vec<Ty>> = types
        .iter()
        .filter_map(|t| match t {
            Ty::Tuple(e) => Some(e),
            _ => None,
        })
        .collect();
    let first = elems.first()?;
    if elems.iter().any(|e| e.len() != first.len()) {
        return unify_tuples_to_list(types);
    }
    let mut ret = Vec::with_capacity(first.len());
    for i in 0..first.len() {
        let across: Vec<Ty> = elems.iter().map(|e| e[i].clone()).collect();
        ret.push(unify(&across)?);
    }
    let ret = Ty::Tuple(ret);
    if types.iter().all(|t| *t == ret || convertible(t, &ret)) {
        Some(ret)
    } else {
        unify_tuples_to_list(types)
    }
}

fn unify_tuples_to_list(types: &[Ty]) -> Option<Ty> {
    let etys: Vec<Ty> = types
        .iter()
        .flat_map(|t| match t {
            Ty::Tuple(e) => e.clone(),
            _ => Vec::new(),
        })
        .collect();
    let ret = Ty::list(unify(&etys)?);
    types
        .iter()
        .all(|t| *t == ret || convertible(t, &ret))
        .then_some(ret)
}

/// `compareTypes`: negative when `a` is preferred over `b`.
fn compare_types(a: &Ty, b: &Ty) -> i32 {
    if *a == Ty::Dyn || *b == Ty::Dyn {
        return match (*a == Ty::Dyn, *b == Ty::Dyn) {
            (false, true) => -1,
            (true, false) => 1,
            _ => 0,
        };
    }
    if a.is_primitive() && b.is_primitive() && (*a == Ty::Str || *b == Ty::Str) {
        return match (*a == Ty::Str, *b == Ty::Str) {
            (false, true) => 1,
            (true, false) => -1,
            _ => 0,
        };
    }
    match (a, b) {
        (Ty::List(x), Ty::List(y)) | (Ty::Set(x), Ty::Set(y)) | (Ty::Map(x), Ty::Map(y)) => {
            return compare_types(x, y)
        }
        _ => {}
    }
    let (a, b, swap) = match (a, b) {
        (Ty::Tuple(_), Ty::List(_))
        | (Ty::Object(_), Ty::Map(_))
        | (Ty::Set(_), Ty::Tuple(_))
        | (Ty::Set(_), Ty::List(_)) => (b, a, -1),
        _ => (a, b, 1),
    };
    match (a, b) {
        (Ty::Tuple(_) | Ty::List(_), Ty::Set(_))
        | (Ty::List(_), Ty::Tuple(_))
        | (Ty::Map(_), Ty::Object(_)) => -swap,
        (Ty::Object(x), Ty::Object(y)) => {
            if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                return 0;
            }
            let cmps = x
                .iter()
                .map(|(k, t)| y.get(k).map_or(0, |u| compare_types(t, u)));
            super_order(cmps) * swap
        }
        (Ty::Tuple(x), Ty::Tuple(y)) => {
            if x.len() != y.len() {
                return 0;
            }
            super_order(x.iter().zip(y).map(|(t, u)| compare_types(t, u))) * swap
        }
        _ => 0,
    }
}

fn super_order(cmps: impl Iterator<Item = i32>) -> i32 {
    let (mut a_super, mut b_super) = (false, false);
    for c in cmps {
        if c < 0 {
            a_super = true;
        } else if c > 0 {
            b_super = true;
        }
    }
    match (a_super, b_super) {
        (true, false) => -1,
        (false, true) => 1,
        _ => 0,
    }
}

/// `sortTypes`: indexes of `tys`, most preferred first (a topological sort).
fn sort_types(tys: &[Ty]) -> Vec<usize> {
    let l = tys.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); l];
    for i in 0..l.saturating_sub(1) {
        for j in i + 1..l {
            match compare_types(&tys[i], &tys[j]) {
                c if c < 0 => edges[i].push(j),
                c if c > 0 => edges[j].push(i),
                _ => {}
            }
        }
    }
    let mut in_degree = vec![0usize; l];
    for outs in &edges {
        for &j in outs {
            in_degree[j] += 1;
        }
    }
    let mut result = vec![0usize; l];
    let (mut head, mut tail) = (0usize, 0usize);
    for (i, &n) in in_degree.iter().enumerate() {
        if n == 0 {
            result[tail] = i;
            tail += 1;
        }
    }
    while head < tail {
        let i = result[head];
        head += 1;
        for &j in &edges[i] {
            in_degree[j] -= 1;
            if in_degree[j] == 0 {
                result[tail] = j;
                tail += 1;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unify_prefers_string_over_number_and_bool() {
        assert_eq!(unify(&[Ty::Num, Ty::Str]), Some(Ty::Str));
        assert_eq!(unify(&[Ty::Bool, Ty::Num]), None);
        assert_eq!(unify(&[Ty::Num, Ty::Dyn]), Some(Ty::Num));
    }

    #[test]
    fn tuple_to_list_unifies_elements() {
        let v = Val::Tuple(vec![Val::int(1), Val::str("a")]);
        let c = convert(v, &Ty::list(Ty::Dyn)).expect("converts");
        match c {
            Val::List(Ty::Str, e) => assert_eq!(e.len(), 2),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn parse_number_follows_big_parse_float() {
        assert!(matches!(parse_number("12"), Some(Num::Int(12))));
        assert!(matches!(parse_number("-1.5e1"), Some(Num::Int(-15))));
        assert!(matches!(parse_number(".5"), Some(Num::Float(f)) if f == 0.5));
        assert!(parse_number("0x10").is_none());
        assert!(parse_number("").is_none());
        assert!(parse_number("1e").is_none());
    }
}
