//! Evaluation of HCL expressions the way Nomad's jobspec2 evaluates them (hashicorp/nomad
//! v1.6.9 `jobspec2/types.config.go` `EvalContext`, with `hclsyntax`'s expression semantics
//! from hashicorp/hcl v2 `hclsyntax/expression*.go`):
//!
//! * `var.<name>` and `local.<name>` are the jobspec's variables and locals;
//! * any other name (`NOMAD_PORT_http`, `attr.kernel.name`, `meta.x`) is left for Nomad to
//!   interpolate at run time: it evaluates to the `${...}` text Nomad's `UndefinedVariable`
//!   callback builds from the source (the traversal's text, with the `${`, `}` and spaces
//!   around it when it is written directly inside an interpolation);
//! * function calls go to Nomad's function table ([`super::functions`]); `try` and `can`
//!   evaluate their arguments themselves (HCL's `ext/tryfunc`);
//! * operators convert their operands as cty does (`"1" + 2` is 3), conditionals unify the
//!   types of both results, `for` expressions iterate objects in key order.
//!
//! Every evaluation runs under a [`Budget`]: a step count, a byte count of every value built,
//! and a size limit on each value, so that no input can make it run long or use much memory
//! (see [`super::HclLimits`]).

use std::cell::Cell;
use std::path::Path;

use super::functions::{self, FunctionEnv, FunctionError};
use super::syntax::{BinaryOp, Call, Expr, ExprKind, ForExpr, ObjKey, Op, Part, Span, UnaryOp};
use super::HclLimits;
use crate::error::{Limit, ParseErrorKind};

pub(crate) type Value = hcl::Value;

/// How deep an evaluated value (arrays and objects) may nest.
pub(crate) const MAX_VALUE_DEPTH: usize = 128;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone)]
pub(crate) struct EvalError {
    pub kind: ParseErrorKind,
    pub message: String,
    /// Byte offset (in the evaluated source) of the expression that failed, when known.
    pub pos: Option<usize>,
}

impl EvalError {
    pub(crate) fn new(kind: ParseErrorKind, message: impl Into<String>) -> Self {
        EvalError {
            kind,
            message: message.into(),
            pos: None,
        }
    }

    fn at(mut self, span: Span) -> Self {
        if self.pos.is_none() {
            self.pos = Some(span.start());
        }
        self
    }

    /// Errors `try` and `can` may catch: not exceeded limits.
    fn catchable(&self) -> bool {
        !matches!(self.kind, ParseErrorKind::Limit(_))
    }
}

fn type_err(message: impl Into<String>) -> EvalError {
    EvalError::new(ParseErrorKind::Type, message)
}

fn ref_err(message: impl Into<String>) -> EvalError {
    EvalError::new(ParseErrorKind::Reference, message)
}

/// The shared counters of one jobspec's evaluation.
pub(crate) struct Budget {
    limits: HclLimits,
    steps: Cell<u64>,
    bytes: Cell<usize>,
}

impl Budget {
    pub(crate) fn new(limits: &HclLimits) -> Self {
        Budget {
            limits: limits.clone(),
            steps: Cell::new(0),
            bytes: Cell::new(0),
        }
    }

    pub(crate) fn limits(&self) -> &HclLimits {
        &self.limits
    }

    /// Counts one step (a `dynamic` block iteration).
    pub(crate) fn check_step(&self) -> Result<(), EvalError> {
        self.step()
    }

    fn step(&self) -> Result<(), EvalError> {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        if n > self.limits.max_steps {
            return Err(EvalError::new(
                ParseErrorKind::Limit(Limit::Steps),
                format!(
                    "evaluation takes more than {} steps (the limit on evaluation steps)",
                    self.limits.max_steps
                ),
            ));
        }
        Ok(())
    }

    /// Counts `n` bytes of values built.
    fn charge(&self, n: usize) -> Result<(), EvalError> {
        let total = self.bytes.get().saturating_add(n);
        self.bytes.set(total);
        if total > self.limits.max_total_bytes {
            return Err(EvalError::new(
                ParseErrorKind::Limit(Limit::TotalBytes),
                format!(
                    "the values evaluated add up to more than {} bytes (the limit on all evaluated values)",
                    self.limits.max_total_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a value larger than the size limit or nested deeper than
    /// [`MAX_VALUE_DEPTH`]; returns its size.
    pub(crate) fn check_value(&self, v: &Value) -> Result<usize, EvalError> {
        let (size, depth) = measure(v, self.limits.max_value_bytes);
        if size > self.limits.max_value_bytes {
            return Err(too_large(self.limits.max_value_bytes));
        }
        if depth > MAX_VALUE_DEPTH {
            return Err(EvalError::new(
                ParseErrorKind::Limit(Limit::Nesting),
                format!("the value nests more than {MAX_VALUE_DEPTH} levels deep"),
            ));
        }
        Ok(size)
    }
}

fn too_large(limit: usize) -> EvalError {
    EvalError::new(
        ParseErrorKind::Limit(Limit::ValueSize),
        format!("the value is larger than {limit} bytes (the limit on one evaluated value)"),
    )
}

/// What one value costs besides its text: the value itself.
const VALUE_COST: usize = std::mem::size_of::<Value>();
/// What one object entry costs besides its key's text and its value.
const ENTRY_COST: usize = std::mem::size_of::<String>() + std::mem::size_of::<usize>();

/// A value's size as the memory it takes: [`VALUE_COST`] per value, plus the bytes of every
/// string, plus the key and [`ENTRY_COST`] per object entry; and its depth. Stops counting
/// once the size passes `stop`.
pub(crate) fn measure(v: &Value, stop: usize) -> (usize, usize) {
    match v {
        Value::String(s) => return (VALUE_COST.saturating_add(s.len()), 1),
        Value::Array(_) | Value::Object(_) => {}
        _ => return (VALUE_COST, 1),
    }
    let mut size = 0usize;
    let mut depth = 0usize;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        depth = depth.max(d);
        size = size.saturating_add(VALUE_COST);
        match v {
            Value::String(s) => size = size.saturating_add(s.len()),
            Value::Array(a) => stack.extend(a.iter().map(|e| (e, d + 1))),
            Value::Object(m) => {
                for (k, e) in m {
                    size = size.saturating_add(k.len() + ENTRY_COST);
                    stack.push((e, d + 1));
                }
            }
            _ => {}
        }
        if size > stop || depth > MAX_VALUE_DEPTH * 4 {
            break;
        }
    }
    (size, depth)
}

/// Which names an expression may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The job and its locals: `var`, `local`, functions; any other name is a Nomad run-time
    /// reference.
    Job,
    /// Plain values (variable defaults, var files, `-var` and `NOMAD_VAR_` values): no
    /// references and no function calls, as Nomad evaluates them without a context.
    Literal,
    /// A variable's `validation` condition: only `var.<name>` and functions.
    Validation,
}

/// Names bound by `for` expressions, template `for` directives and `dynamic` iterators.
pub(crate) struct Scope<'a> {
    pub parent: Option<&'a Scope<'a>>,
    pub name: &'a str,
    pub value: &'a Value,
}

fn lookup<'a>(mut scope: Option<&'a Scope<'a>>, name: &str) -> Option<&'a Value> {
    while let Some(s) = scope {
        if s.name == name {
            return Some(s.value);
        }
        scope = s.parent;
    }
    None
}

/// Evaluates expressions of one source text.
pub(crate) struct Evaluator<'a> {
    /// The text the expressions were parsed from.
    pub src: &'a str,
    pub mode: Mode,
    /// `var`: an object of the variables' values.
    pub vars: &'a Value,
    /// `local`: an object of the locals evaluated so far.
    pub locals: &'a Value,
    /// Folder for filesystem functions; `None` refuses them.
    pub base_dir: Option<&'a Path>,
    pub budget: &'a Budget,
}

/// A traversal's current value: borrowed from a variable, local or scope, or built.
enum Cur<'v> {
    Ref(&'v Value),
    Own(Value),
}

impl<'v> Cur<'v> {
    fn get(&self) -> &Value {
        match self {
            Cur::Ref(v) => v,
            Cur::Own(v) => v,
        }
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "tuple",
        Value::Object(_) => "object",
    }
}

/// Converts to a string as cty does (numbers and bools have a string form).
pub(crate) fn to_text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(functions::number_text(n)),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("a null value cannot be used as a string".into()),
        other => Err(format!("a {} cannot be used as a string", kind_name(other))),
    }
}

fn to_bool(v: &Value, what: &str) -> Result<bool, EvalError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        Value::Null => Err(type_err(format!("{what} is null; a bool is required"))),
        other => Err(type_err(format!(
            "{what} must be a bool, not a {}",
            kind_name(other)
        ))),
    }
}

/// A number for arithmetic: exact integers, else floats.
#[derive(Clone, Copy)]
enum N {
    I(i128),
    F(f64),
}

impl N {
    fn f(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            N::I(i) => i as f64,
            N::F(f) => f,
        }
    }
}

fn num_of(n: &hcl::Number) -> N {
    if let Some(i) = n.as_i64() {
        N::I(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        N::I(i128::from(u))
    } else {
        N::F(n.as_f64().unwrap_or(0.0))
    }
}

fn to_num(v: &Value, what: &str) -> Result<N, EvalError> {
    match v {
        Value::Number(n) => Ok(num_of(n)),
        Value::String(s) => functions::parse_number_text(s)
            .map(|n| num_of(&n))
            .ok_or_else(|| type_err(format!("{what} must be a number, got the string {s:?}"))),
        Value::Null => Err(type_err(format!("{what} is null; a number is required"))),
        other => Err(type_err(format!(
            "{what} must be a number, not a {}",
            kind_name(other)
        ))),
    }
}

fn num_value(n: N) -> Result<Value, EvalError> {
    match n {
        N::I(i) => {
            if let Ok(v) = i64::try_from(i) {
                Ok(Value::Number(v.into()))
            } else if let Ok(v) = u64::try_from(i) {
                Ok(Value::Number(v.into()))
            } else {
                num_value(N::F(n.f()))
            }
        }
        N::F(f) => hcl::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| type_err("the result is not a finite number")),
    }
}

fn arith(op: BinaryOp, a: N, b: N) -> Result<N, EvalError> {
    if let (N::I(x), N::I(y)) = (a, b) {
        let r = match op {
            BinaryOp::Add => x.checked_add(y),
            BinaryOp::Sub => x.checked_sub(y),
            BinaryOp::Mul => x.checked_mul(y),
            BinaryOp::Div => {
                if y == 0 {
                    return Err(type_err("division by zero"));
                }
                if x % y == 0 {
                    Some(x / y)
                } else {
                    None
                }
            }
            BinaryOp::Mod => {
                if y == 0 {
                    return Err(type_err("modulo by zero"));
                }
                Some(x % y)
            }
            _ => None,
        };
        if let Some(r) = r {
            return Ok(N::I(r));
        }
    }
    let (x, y) = (a.f(), b.f());
    let r = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => {
            if y == 0.0 {
                return Err(type_err("division by zero"));
            }
            x / y
        }
        BinaryOp::Mod => {
            if y == 0.0 {
                return Err(type_err("modulo by zero"));
            }
            x % y
        }
        _ => return Err(type_err("not an arithmetic operator")),
    };
    if r.is_finite() {
        Ok(N::F(r))
    } else {
        Err(type_err("the result is not a finite number"))
    }
}

fn compare(a: N, b: N) -> std::cmp::Ordering {
    match (a, b) {
        (N::I(x), N::I(y)) => x.cmp(&y),
        _ => a
            .f()
            .partial_cmp(&b.f())
            .unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// The elements of a collection for `for`: index or key, and value (objects in key order).
fn elements<'v>(v: &'v Value, what: &str) -> Result<Vec<(Value, &'v Value)>, EvalError> {
    match v {
        Value::Array(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, e)| (Value::Number((i as u64).into()), e))
            .collect()),
        Value::Object(m) => {
            let mut keys: Vec<(&String, &Value)> = m.iter().collect();
            keys.sort_by(|a, b| a.0.cmp(b.0));
            Ok(keys
                .into_iter()
                .map(|(k, e)| (Value::String(k.clone()), e))
                .collect())
        }
        Value::Null => Err(type_err(format!(
            "{what} is null; a collection is required"
        ))),
        other => Err(type_err(format!(
            "a {} cannot be iterated; {what} must be a list, set, map or object",
            kind_name(other)
        ))),
    }
}

fn key_text(v: &Value) -> Result<String, EvalError> {
    match v {
        Value::Null => Err(type_err("an object key may not be null")),
        other => to_text(other).map_err(|_| {
            type_err(format!(
                "an object key must be a string, not a {}",
                kind_name(other)
            ))
        }),
    }
}

/// The closest name within HCL's suggestion distance (Levenshtein distance below 3, as
/// `hcl/v2/didyoumean.go` `nameSuggestion` uses).
pub(crate) fn suggest<'n>(
    given: &str,
    names: impl IntoIterator<Item = &'n str>,
) -> Option<&'n str> {
    names
        .into_iter()
        .map(|n| (strsim::levenshtein(given, n), n))
        .filter(|(d, _)| *d < 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn function_error(e: FunctionError) -> EvalError {
    let kind = match &e {
        FunctionError::Unknown { .. } => ParseErrorKind::UnknownFunction,
        FunctionError::TooLarge { .. } => ParseErrorKind::Limit(Limit::ValueSize),
        FunctionError::FilesystemNotAllowed { .. } => ParseErrorKind::FilesystemNotAllowed,
        _ => ParseErrorKind::FunctionCall,
    };
    EvalError::new(kind, e.to_string())
}

impl<'a> Evaluator<'a> {
    /// Evaluates `e`; the value is within the size limit.
    pub(crate) fn eval(&self, e: &Expr<'_>, scope: Option<&Scope<'_>>) -> Result<Value, EvalError> {
        self.eval_inner(e, scope).map_err(|err| err.at(e.span))
    }

    fn charge_str(&self, s: &str) -> Result<(), EvalError> {
        let size = VALUE_COST.saturating_add(s.len());
        if size > self.budget.limits.max_value_bytes {
            return Err(too_large(self.budget.limits.max_value_bytes));
        }
        self.budget.charge(size)
    }

    fn eval_inner(&self, e: &Expr<'_>, scope: Option<&Scope<'_>>) -> Result<Value, EvalError> {
        match &e.kind {
            ExprKind::Null => {
                self.budget.charge(VALUE_COST)?;
                Ok(Value::Null)
            }
            ExprKind::Bool(b) => {
                self.budget.charge(VALUE_COST)?;
                Ok(Value::Bool(*b))
            }
            ExprKind::Number(n) => {
                self.budget.charge(VALUE_COST)?;
                Ok(Value::Number(*n))
            }
            ExprKind::Str(s) => {
                self.charge_str(s)?;
                Ok(Value::String(functions::normalize(s.to_string())))
            }
            ExprKind::Template(parts) => {
                self.budget.step()?;
                let mut out = String::new();
                self.template(parts, scope, &mut out)?;
                self.charge_str(&out)?;
                Ok(Value::String(functions::normalize(out)))
            }
            ExprKind::Wrap(inner) => self.eval(inner, scope),
            ExprKind::Paren(inner) => self.eval(inner, scope),
            ExprKind::Tuple(items) => {
                self.budget.charge(VALUE_COST)?;
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i, scope)?);
                }
                Ok(Value::Array(out))
            }
            ExprKind::Object(items) => {
                self.budget.charge(VALUE_COST)?;
                let mut out = hcl::Map::with_capacity(items.len());
                for item in items {
                    let key = match &item.key {
                        ObjKey::Name(n) => (*n).to_string(),
                        ObjKey::Expr { expr, forced } => {
                            if !forced && is_static_traversal(expr) {
                                return Err(ref_err(
                                    "ambiguous attribute key: to use a reference as the key, wrap it in parentheses; to use a name that contains periods, wrap it in quotes",
                                )
                                .at(expr.span));
                            }
                            key_text(&self.eval(expr, scope)?).map_err(|e| e.at(expr.span))?
                        }
                    };
                    self.budget.charge(key.len() + ENTRY_COST)?;
                    let v = self.eval(&item.value, scope)?;
                    out.insert(key, v);
                }
                Ok(Value::Object(out))
            }
            ExprKind::Var(name) => {
                self.budget.step()?;
                let root = self.root(name, e.span, e.span.end(), scope)?;
                self.finish(root)
            }
            ExprKind::Traversal(base, ops) => {
                self.budget.step()?;
                self.traversal(base, ops, scope)
            }
            ExprKind::Call(call) => self.call(call, e.span, scope),
            ExprKind::Unary(op, inner) => {
                self.budget.step()?;
                let v = self.eval(inner, scope)?;
                match op {
                    UnaryOp::Not => Ok(Value::Bool(!to_bool(&v, "the operand of \"!\"")?)),
                    UnaryOp::Neg => match to_num(&v, "the operand of \"-\"")? {
                        N::I(i) => num_value(N::I(-i)),
                        N::F(f) => num_value(N::F(-f)),
                    },
                }
            }
            ExprKind::Binary(op, pair) => {
                self.budget.step()?;
                // Both operands are evaluated, as `hclsyntax.BinaryOpExpr` does.
                let l = self.eval(&pair.0, scope)?;
                let r = self.eval(&pair.1, scope)?;
                self.binary(*op, &l, &r)
            }
            ExprKind::Cond(c) => {
                self.budget.step()?;
                // Both results are evaluated to find their common type; only the chosen
                // one's errors count (`hclsyntax.ConditionalExpr`).
                let t = self.eval(&c.1, scope);
                let f = self.eval(&c.2, scope);
                for r in [&t, &f] {
                    if let Err(e) = r {
                        if !e.catchable() {
                            return Err(e.clone());
                        }
                    }
                }
                let cond = self.eval(&c.0, scope)?;
                let pick = to_bool(&cond, "the condition").map_err(|e| e.at(c.0.span))?;
                match (t, f) {
                    (Ok(t), Ok(f)) => functions::conditional_result(&t, &f, pick)
                        .map_err(|m| type_err(m).at(e.span)),
                    (t, f) => {
                        if pick {
                            t
                        } else {
                            f
                        }
                    }
                }
            }
            ExprKind::For(f) => self.for_expr(f, scope),
        }
    }

    fn binary(&self, op: BinaryOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
        let side = |left: bool| {
            format!(
                "the {} operand of \"{}\"",
                if left { "left" } else { "right" },
                op.symbol()
            )
        };
        match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                let eq = functions::values_equal(l, r).map_err(type_err)?;
                Ok(Value::Bool(if op == BinaryOp::Eq { eq } else { !eq }))
            }
            BinaryOp::And | BinaryOp::Or => {
                let a = to_bool(l, &side(true))?;
                let b = to_bool(r, &side(false))?;
                Ok(Value::Bool(if op == BinaryOp::And {
                    a && b
                } else {
                    a || b
                }))
            }
            BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq => {
                let a = to_num(l, &side(true))?;
                let b = to_num(r, &side(false))?;
                let o = compare(a, b);
                Ok(Value::Bool(match op {
                    BinaryOp::Less => o.is_lt(),
                    BinaryOp::LessEq => o.is_le(),
                    BinaryOp::Greater => o.is_gt(),
                    _ => o.is_ge(),
                }))
            }
            _ => {
                let a = to_num(l, &side(true))?;
                let b = to_num(r, &side(false))?;
                num_value(arith(op, a, b)?)
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // names and traversals

    /// The value of a root name, or Nomad's `${...}` text for a name left to run time
    /// (covering the traversal text up to `text_end`).
    fn root<'v>(
        &'v self,
        name: &str,
        span: Span,
        text_end: usize,
        scope: Option<&'v Scope<'v>>,
    ) -> Result<Cur<'v>, EvalError> {
        if let Some(v) = lookup(scope, name) {
            return Ok(Cur::Ref(v));
        }
        match (self.mode, name) {
            (Mode::Literal, _) => Err(ref_err(format!(
                "variables are not allowed here (found a reference to {name:?}); write a plain value"
            ))),
            (_, "var") => Ok(Cur::Ref(self.vars)),
            (Mode::Job, "local") => Ok(Cur::Ref(self.locals)),
            (Mode::Validation, _) => Err(ref_err(format!(
                "a validation condition may only refer to the variable itself (found {name:?})"
            ))),
            (Mode::Job, _) => Ok(Cur::Own(Value::String(
                self.nomad_text(span.start(), text_end),
            ))),
        }
    }

    /// The text Nomad's `UndefinedVariable` callback makes of a traversal it cannot resolve
    /// (`jobspec2/types.config.go`): the source text, with the `${` before it (and spaces)
    /// when it directly follows one, then the spaces up to a `}` and a closing `}`.
    fn nomad_text(&self, start: usize, end: usize) -> String {
        let b = self.src.as_bytes();
        let mut text = self.src.get(start..end).unwrap_or("").to_string();
        let mut bracketed = false;
        let mut i = start;
        while i >= 2 {
            i -= 1;
            if b[i] == b'{' && b[i - 1] == b'$' {
                text.insert_str(0, self.src.get(i - 1..start).unwrap_or("${"));
                bracketed = true;
                break;
            } else if b[i] != b' ' {
                break;
            }
        }
        if !bracketed {
            return format!("${{{text}}}");
        }
        let mut j = end + 1;
        while j < b.len() {
            if b[j] == b'}' {
                text.push_str(self.src.get(end..j).unwrap_or(""));
            } else if b[j] != b' ' {
                text.push('}');
                break;
            }
            j += 1;
        }
        text
    }

    fn finish(&self, cur: Cur<'_>) -> Result<Value, EvalError> {
        let v = match cur {
            Cur::Ref(v) => {
                let (size, _) = measure(v, self.budget.limits.max_value_bytes);
                if size > self.budget.limits.max_value_bytes {
                    return Err(too_large(self.budget.limits.max_value_bytes));
                }
                self.budget.charge(size)?;
                v.clone()
            }
            Cur::Own(v) => v,
        };
        Ok(v)
    }

    fn traversal(
        &self,
        base: &Expr<'_>,
        ops: &[Op<'_>],
        scope: Option<&Scope<'_>>,
    ) -> Result<Value, EvalError> {
        let (cur, rest, root_name) = match &base.kind {
            ExprKind::Var(name) => {
                // The static steps belong to the traversal text Nomad keeps for names it
                // leaves to run time.
                let n_static = ops.iter().take_while(|o| is_static_op(o)).count();
                let text_end = if n_static == 0 {
                    base.span.end()
                } else {
                    op_end(&ops[n_static - 1])
                };
                let cur = self.root(name, base.span, text_end, scope)?;
                let unresolved = matches!(cur, Cur::Own(_));
                let rest = if unresolved { &ops[n_static..] } else { ops };
                (cur, rest, if unresolved { None } else { Some(*name) })
            }
            _ => (Cur::Own(self.eval(base, scope)?), ops, None),
        };
        let v = self.apply(cur, rest, scope, root_name)?;
        self.finish(v)
    }

    /// Applies traversal steps.
    fn apply<'v>(
        &self,
        mut cur: Cur<'v>,
        ops: &[Op<'_>],
        scope: Option<&Scope<'_>>,
        root_name: Option<&str>,
    ) -> Result<Cur<'v>, EvalError> {
        let mut i = 0;
        while i < ops.len() {
            match &ops[i] {
                Op::Attr(name, span) => {
                    cur = self
                        .get_attr(cur, name, i == 0, root_name)
                        .map_err(|e| e.at(*span))?;
                }
                Op::Legacy(n, span) => {
                    cur = self
                        .index(cur, &Value::Number((*n).into()))
                        .map_err(|e| e.at(*span))?;
                }
                Op::Index(key, span) => {
                    let k = self.eval(key, scope)?;
                    cur = self.index(cur, &k).map_err(|e| e.at(*span))?;
                }
                Op::AttrSplat(_) | Op::FullSplat(_) => {
                    let full = matches!(ops[i], Op::FullSplat(_));
                    let n = if full {
                        ops.len() - i - 1
                    } else {
                        ops[i + 1..]
                            .iter()
                            .take_while(|o| matches!(o, Op::Attr(..) | Op::Legacy(..)))
                            .count()
                    };
                    let sub = &ops[i + 1..i + 1 + n];
                    let source = cur.get();
                    let items: Vec<&Value> = match source {
                        Value::Null => Vec::new(),
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        self.budget.step()?;
                        let r = self.apply(Cur::Ref(item), sub, scope, None)?;
                        out.push(self.finish(r)?);
                    }
                    cur = Cur::Own(Value::Array(out));
                    i += n;
                }
            }
            i += 1;
        }
        Ok(cur)
    }

    fn get_attr<'v>(
        &self,
        cur: Cur<'v>,
        name: &str,
        first: bool,
        root_name: Option<&str>,
    ) -> Result<Cur<'v>, EvalError> {
        match cur {
            Cur::Ref(Value::Object(m)) => match m.get(name) {
                Some(v) => Ok(Cur::Ref(v)),
                None => Err(self.missing_attr(m, name, first, root_name)),
            },
            Cur::Own(Value::Object(mut m)) => match m.swap_remove(name) {
                Some(v) => Ok(Cur::Own(v)),
                None => Err(self.missing_attr(&m, name, first, root_name)),
            },
            other => Err(match other.get() {
                Value::Null => type_err(format!(
                    "attempt to get attribute {name:?} from a null value"
                )),
                Value::Array(_) => type_err(format!(
                    "cannot access attribute {name:?} on a list or tuple; use an index or a splat (\".*\")"
                )),
                v => type_err(format!(
                    "cannot access attribute {name:?} on a {} value",
                    kind_name(v)
                )),
            }),
        }
    }

    fn missing_attr(
        &self,
        m: &hcl::Map<String, Value>,
        name: &str,
        first: bool,
        root_name: Option<&str>,
    ) -> EvalError {
        let hint = suggest(name, m.keys().map(String::as_str))
            .map(|s| format!(" (did you mean {s:?}?)"))
            .unwrap_or_default();
        match (first, root_name) {
            (true, Some("var")) => EvalError::new(
                ParseErrorKind::Reference,
                format!("var.{name} is not declared: add a variable {name:?} block{hint}"),
            ),
            (true, Some("local")) => EvalError::new(
                ParseErrorKind::Reference,
                format!("local.{name} is not defined in a locals block{hint}"),
            ),
            _ => ref_err(format!(
                "unsupported attribute: the object has no attribute named {name:?}{hint}"
            )),
        }
    }

    fn index<'v>(&self, cur: Cur<'v>, key: &Value) -> Result<Cur<'v>, EvalError> {
        if matches!(key, Value::Null) {
            return Err(type_err("an index may not be null"));
        }
        let list_index = |len: usize| -> Result<usize, EvalError> {
            let n = to_num(key, "the index")?;
            let i = match n {
                N::I(i) => i,
                N::F(f) if f.fract() == 0.0 && f.abs() < 1e18 => {
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i128;
                    i
                }
                _ => return Err(type_err("the index must be a whole number")),
            };
            usize::try_from(i).ok().filter(|i| *i < len).ok_or_else(|| {
                type_err(format!(
                    "index {i} is out of range for a collection of {len} elements"
                ))
            })
        };
        match cur {
            Cur::Ref(Value::Array(a)) => {
                let i = list_index(a.len())?;
                Ok(Cur::Ref(&a[i]))
            }
            Cur::Own(Value::Array(mut a)) => {
                let i = list_index(a.len())?;
                Ok(Cur::Own(a.swap_remove(i)))
            }
            Cur::Ref(Value::Object(m)) => {
                let k = key_text(key)?;
                m.get(&k).map(Cur::Ref).ok_or_else(|| {
                    type_err(format!("the object has no element with the key {k:?}"))
                })
            }
            Cur::Own(Value::Object(mut m)) => {
                let k = key_text(key)?;
                m.swap_remove(&k).map(Cur::Own).ok_or_else(|| {
                    type_err(format!("the object has no element with the key {k:?}"))
                })
            }
            other => Err(match other.get() {
                Value::Null => type_err("attempt to index a null value"),
                v => type_err(format!("a {} value cannot be indexed", kind_name(v))),
            }),
        }
    }

    // -----------------------------------------------------------------------------------
    // calls

    fn call(
        &self,
        call: &Call<'_>,
        span: Span,
        scope: Option<&Scope<'_>>,
    ) -> Result<Value, EvalError> {
        self.budget.step()?;
        let name = call.name;
        if self.mode == Mode::Literal {
            return Err(EvalError::new(
                ParseErrorKind::FunctionCall,
                format!(
                    "function calls are not allowed here (found {name}(...)); write a plain value"
                ),
            ));
        }
        match name {
            "try" | "can" => return self.try_can(call, scope),
            _ => {}
        }
        if !functions::exists(name) {
            let hint = suggest(name, functions::names())
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            return Err(EvalError::new(
                ParseErrorKind::UnknownFunction,
                format!("there is no function named {name:?}{hint}"),
            )
            .at(call.name_span));
        }
        let mut args = Vec::with_capacity(call.args.len());
        for (i, a) in call.args.iter().enumerate() {
            if name == "convert" && i == 1 {
                // The type argument is a type expression, passed as its source text.
                let text = self.src.get(a.span.start()..a.span.end()).unwrap_or("");
                args.push(Value::String(text.to_string()));
                continue;
            }
            args.push(self.eval(a, scope)?);
        }
        if call.expand_final {
            match args.pop() {
                Some(Value::Array(items)) => args.extend(items),
                Some(Value::Null) => {
                    return Err(EvalError::new(
                        ParseErrorKind::FunctionCall,
                        format!("{name}: the expanded argument (\"...\") must not be null"),
                    ))
                }
                Some(other) => {
                    return Err(EvalError::new(
                        ParseErrorKind::FunctionCall,
                        format!(
                        "{name}: the expanded argument (\"...\") must be a list or tuple, not a {}",
                        kind_name(&other)
                    ),
                    ))
                }
                None => {}
            }
        }
        let env = FunctionEnv {
            base_dir: self.base_dir,
            max_value_bytes: self.budget.limits.max_value_bytes,
        };
        let v = functions::call(name, args, &env).map_err(|e| function_error(e).at(span))?;
        let (size, _) = measure(&v, self.budget.limits.max_value_bytes);
        if size > self.budget.limits.max_value_bytes {
            return Err(too_large(self.budget.limits.max_value_bytes));
        }
        self.budget.charge(size)?;
        Ok(v)
    }

    /// `try(a, b, ...)`: the first argument that evaluates; `can(a)`: whether it evaluates
    /// (`hcl/v2/ext/tryfunc`). Exceeded limits are not caught.
    fn try_can(&self, call: &Call<'_>, scope: Option<&Scope<'_>>) -> Result<Value, EvalError> {
        let name = call.name;
        if call.expand_final {
            return Err(EvalError::new(
                ParseErrorKind::FunctionCall,
                format!("{name}: arguments cannot be expanded with \"...\""),
            ));
        }
        if name == "can" {
            if call.args.len() != 1 {
                return Err(EvalError::new(
                    ParseErrorKind::FunctionCall,
                    format!("can: expects 1 argument(s), got {}", call.args.len()),
                ));
            }
            return match self.eval(&call.args[0], scope) {
                Ok(_) => Ok(Value::Bool(true)),
                Err(e) if e.catchable() => Ok(Value::Bool(false)),
                Err(e) => Err(e),
            };
        }
        if call.args.is_empty() {
            return Err(EvalError::new(
                ParseErrorKind::FunctionCall,
                "try: at least one argument is required",
            ));
        }
        let mut last = None;
        for a in &call.args {
            match self.eval(a, scope) {
                Ok(v) => return Ok(v),
                Err(e) if e.catchable() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        let detail = last.map(|e| e.message).unwrap_or_default();
        Err(EvalError::new(
            ParseErrorKind::FunctionCall,
            format!("try: no expression succeeded; the last one failed with: {detail}"),
        ))
    }

    // -----------------------------------------------------------------------------------
    // for expressions and templates

    fn for_expr(&self, f: &ForExpr<'_>, scope: Option<&Scope<'_>>) -> Result<Value, EvalError> {
        self.budget.step()?;
        let coll = self.eval(&f.coll, scope)?;
        let items = elements(&coll, "the collection of a 'for' expression")
            .map_err(|e| e.at(f.coll.span))?;
        let mut list = Vec::new();
        let mut obj: hcl::Map<String, Value> = hcl::Map::new();
        let mut groups: hcl::Map<String, Vec<Value>> = hcl::Map::new();
        for (k, v) in &items {
            self.budget.step()?;
            let vs = Scope {
                parent: scope,
                name: f.value_var,
                value: v,
            };
            let ks;
            let inner = match f.key_var {
                Some(kn) => {
                    ks = Scope {
                        parent: Some(&vs),
                        name: kn,
                        value: k,
                    };
                    &ks
                }
                None => &vs,
            };
            if let Some(c) = &f.cond {
                let cv = self.eval(c, Some(inner))?;
                if !to_bool(&cv, "the 'if' condition of a 'for' expression")
                    .map_err(|e| e.at(c.span))?
                {
                    continue;
                }
            }
            match &f.key {
                Some(kx) => {
                    let key = key_text(&self.eval(kx, Some(inner))?).map_err(|e| e.at(kx.span))?;
                    let val = self.eval(&f.value, Some(inner))?;
                    if f.group {
                        groups.entry(key).or_default().push(val);
                    } else if obj.contains_key(&key) {
                        return Err(type_err(format!(
                            "duplicate object key {key:?} in a 'for' expression; add \"...\" after the value to group values by key"
                        ))
                        .at(kx.span));
                    } else {
                        obj.insert(key, val);
                    }
                }
                None => list.push(self.eval(&f.value, Some(inner))?),
            }
        }
        if f.key.is_none() {
            return Ok(Value::Array(list));
        }
        if f.group {
            obj = groups
                .into_iter()
                .map(|(k, v)| (k, Value::Array(v)))
                .collect();
        }
        obj.sort_keys();
        Ok(Value::Object(obj))
    }

    fn push_text(&self, out: &mut String, s: &str) -> Result<(), EvalError> {
        if VALUE_COST + out.len().saturating_add(s.len()) > self.budget.limits.max_value_bytes {
            return Err(too_large(self.budget.limits.max_value_bytes));
        }
        out.push_str(s);
        Ok(())
    }

    fn template(
        &self,
        parts: &[Part<'_>],
        scope: Option<&Scope<'_>>,
        out: &mut String,
    ) -> Result<(), EvalError> {
        for p in parts {
            match p {
                Part::Lit(s) => self.push_text(out, s)?,
                Part::Interp(e) => {
                    let v = self.eval(e, scope)?;
                    let s = match &v {
                        Value::String(s) => s.as_str(),
                        Value::Null => {
                            return Err(type_err(
                                "invalid template interpolation value: the expression result is null",
                            )
                            .at(e.span))
                        }
                        Value::Array(_) | Value::Object(_) => {
                            return Err(type_err(format!(
                                "invalid template interpolation value: a {} cannot be included in a string",
                                kind_name(&v)
                            ))
                            .at(e.span))
                        }
                        other => {
                            let t = to_text(other).map_err(type_err)?;
                            self.push_text(out, &t)?;
                            continue;
                        }
                    };
                    self.push_text(out, s)?;
                }
                Part::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    self.budget.step()?;
                    let c = self.eval(cond, scope)?;
                    let pick = to_bool(&c, "the condition of an if directive")
                        .map_err(|e| e.at(cond.span))?;
                    self.template(if pick { then } else { otherwise }, scope, out)?;
                }
                Part::For {
                    key_var,
                    value_var,
                    coll,
                    body,
                } => {
                    let c = self.eval(coll, scope)?;
                    let items = elements(&c, "the collection of a for directive")
                        .map_err(|e| e.at(coll.span))?;
                    for (k, v) in &items {
                        self.budget.step()?;
                        let vs = Scope {
                            parent: scope,
                            name: value_var,
                            value: v,
                        };
                        match key_var {
                            Some(kn) => {
                                let ks = Scope {
                                    parent: Some(&vs),
                                    name: kn,
                                    value: k,
                                };
                                self.template(body, Some(&ks), out)?;
                            }
                            None => self.template(body, Some(&vs), out)?,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// A step HCL keeps in a static traversal: `.name`, `.0` or an index by a literal.
fn is_static_op(op: &Op<'_>) -> bool {
    match op {
        Op::Attr(..) | Op::Legacy(..) => true,
        Op::Index(k, _) => matches!(
            k.kind,
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Null | ExprKind::Str(_)
        ),
        _ => false,
    }
}

fn op_end(op: &Op<'_>) -> usize {
    match op {
        Op::Attr(_, s) | Op::Legacy(_, s) | Op::Index(_, s) => s.end(),
        Op::AttrSplat(s) | Op::FullSplat(s) => s.end(),
    }
}

/// A name followed only by static steps (`a.b`, `a[0]`): an ambiguous object key.
fn is_static_traversal(e: &Expr<'_>) -> bool {
    match &e.kind {
        ExprKind::Traversal(base, ops) => {
            matches!(base.kind, ExprKind::Var(_)) && ops.iter().all(is_static_op)
        }
        _ => false,
    }
}

/// The `local.<name>` references in an expression (for ordering locals); `None` when the
/// expression uses `local` as a whole.
pub(crate) fn local_refs<'s>(e: &Expr<'s>, out: &mut Vec<&'s str>) -> bool {
    let mut whole = false;
    walk(e, &mut |x| match &x.kind {
        ExprKind::Traversal(base, ops) if matches!(base.kind, ExprKind::Var("local")) => {
            match ops.first() {
                Some(Op::Attr(n, _)) => out.push(*n),
                Some(Op::Index(k, _)) => match &k.kind {
                    // `local["x"]` names a local when the key is plain text from the source.
                    ExprKind::Str(std::borrow::Cow::Borrowed(b)) => out.push(*b),
                    _ => whole = true,
                },
                _ => whole = true,
            }
            // The index expressions may refer to locals too; the base is `local` itself.
            for op in ops {
                if let Op::Index(k, _) = op {
                    whole |= !local_refs(k, out);
                }
            }
            false
        }
        ExprKind::Var("local") => {
            whole = true;
            false
        }
        _ => true,
    });
    !whole
}

/// Visits expression nodes (pre-order); `f` returns whether to visit a node's children.
pub(crate) fn walk<'e, 's>(e: &'e Expr<'s>, f: &mut dyn FnMut(&'e Expr<'s>) -> bool) {
    if !f(e) {
        return;
    }
    match &e.kind {
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Number(_)
        | ExprKind::Str(_)
        | ExprKind::Var(_) => {}
        ExprKind::Template(parts) => walk_parts(parts, f),
        ExprKind::Wrap(x) | ExprKind::Paren(x) | ExprKind::Unary(_, x) => walk(x, f),
        ExprKind::Tuple(items) => items.iter().for_each(|i| walk(i, f)),
        ExprKind::Object(items) => {
            for i in items {
                if let ObjKey::Expr { expr, .. } = &i.key {
                    walk(expr, f);
                }
                walk(&i.value, f);
            }
        }
        ExprKind::Traversal(base, ops) => {
            walk(base, f);
            for op in ops {
                if let Op::Index(k, _) = op {
                    walk(k, f);
                }
            }
        }
        ExprKind::Call(c) => c.args.iter().for_each(|a| walk(a, f)),
        ExprKind::Binary(_, p) => {
            walk(&p.0, f);
            walk(&p.1, f);
        }
        ExprKind::Cond(c) => {
            walk(&c.0, f);
            walk(&c.1, f);
            walk(&c.2, f);
        }
        ExprKind::For(fe) => {
            walk(&fe.coll, f);
            if let Some(k) = &fe.key {
                walk(k, f);
            }
            walk(&fe.value, f);
            if let Some(c) = &fe.cond {
                walk(c, f);
            }
        }
    }
}

fn walk_parts<'e, 's>(parts: &'e [Part<'s>], f: &mut dyn FnMut(&'e Expr<'s>) -> bool) {
    for p in parts {
        match p {
            Part::Lit(_) => {}
            Part::Interp(e) => walk(e, f),
            Part::If {
                cond,
                then,
                otherwise,
            } => {
                walk(cond, f);
                walk_parts(then, f);
                walk_parts(otherwise, f);
            }
            Part::For { coll, body, .. } => {
                walk(coll, f);
                walk_parts(body, f);
            }
        }
    }
}
