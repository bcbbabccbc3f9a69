//! Input variables: `variable` and `variables` blocks, and their values from outside, the way
//! Nomad's jobspec2 takes them (hashicorp/nomad v1.6.9 `jobspec2/types.variables.go`,
//! `collectInputVariableValues`, and `jobspec2/parse.go`):
//!
//! * a `variable "name"` block takes `type`, `default`, `description` and `validation`
//!   blocks (`condition`, `error_message`); `variables { name = default }` declares variables
//!   typed by their defaults; defaults are plain values (no references, no function calls);
//! * values come, from lowest to highest precedence, from the default, `NOMAD_VAR_<name>`
//!   environment entries (ignored for undeclared names), `-var-file` files in order (HCL
//!   attributes, or a JSON object; a `variable` block there is an error), and `-var` values;
//!   the last value set wins;
//! * a `-var` or environment value is taken as literal text when the variable's type is
//!   `string`, `number` or unset, and otherwise read as an HCL expression
//!   (`expressionFromVariableDefinition`); every value is then converted to the variable's
//!   type with cty's rules;
//! * a value for an undeclared variable in a var file or `-var` is an error (`nomad job run`
//!   parses with `Strict: true`); a declared variable left without any value is an error;
//! * a `validation` condition may refer only to the variable itself; when it is false the
//!   error is its `error_message`, which must be a sentence (start with a capital letter if
//!   it starts with a letter, end with `.`, `?` or `!`).

use std::collections::HashMap;
use std::path::Path;

use super::decode::{syntax_error, Decoder, LineIndex};
use super::eval::{Budget, Evaluator, Mode, Value};
use super::functions::TypeConstraint;
use super::syntax::{self, Body, Expr, ExprKind, Item, Span};
use super::HclOptions;
use crate::error::{Format, ParseError, ParseErrorKind};

/// The prefix of environment entries that give variable values.
pub(crate) const ENV_PREFIX: &str = "NOMAD_VAR_";

/// Where a variable's value came from (for error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Default,
    Env,
    VarFile,
    Arg,
}

struct Validation<'s> {
    condition: &'s Expr<'s>,
    message: String,
}

struct Decl<'s> {
    name: String,
    ty: Option<TypeConstraint>,
    value: Option<(Value, Source)>,
    validations: Vec<Validation<'s>>,
    span: Span,
}

/// The jobspec's declared variables.
#[derive(Default)]
pub(crate) struct Variables<'s> {
    decls: Vec<Decl<'s>>,
    index: HashMap<String, usize>,
}

fn var_err(path: impl Into<String>, msg: impl Into<String>) -> ParseError {
    ParseError::new(Format::Hcl, msg)
        .at(path)
        .kind(ParseErrorKind::Variable)
}

/// Whether an identifier is a valid variable name (`hclsyntax.ValidIdentifier`).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || unicode_ident::is_xid_start(c))
        && chars.all(|c| c == '-' || unicode_ident::is_xid_continue(c))
}

/// `looksLikeSentences`: a message starting with a capital letter (if it starts with a
/// letter) and ending with `.`, `?` or `!`.
fn looks_like_sentence(s: &str) -> bool {
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    if first.is_alphabetic() && !first.is_uppercase() {
        return false;
    }
    matches!(last, '.' | '?' | '!')
}

impl<'s> Variables<'s> {
    fn add(&mut self, dec: &Decoder<'s, '_>, decl: Decl<'s>) -> Result<(), ParseError> {
        if self.index.contains_key(&decl.name) {
            return Err(dec
                .err(
                    &format!("variable[{}]", decl.name),
                    decl.span,
                    format!("duplicate variable: {:?} is declared twice", decl.name),
                )
                .kind(ParseErrorKind::Variable));
        }
        self.index.insert(decl.name.clone(), self.decls.len());
        self.decls.push(decl);
        Ok(())
    }

    /// A `variable "name" { ... }` block.
    pub(crate) fn declare_block(
        &mut self,
        dec: &Decoder<'s, '_>,
        name: &str,
        body: &'s Body<'s>,
        span: Span,
    ) -> Result<(), ParseError> {
        let path = format!("variable[{name}]");
        if !valid_name(name) {
            return Err(dec
                .err(
                    &path,
                    span,
                    "invalid variable name: a name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes",
                )
                .kind(ParseErrorKind::Variable));
        }
        let mut ty = None;
        let mut default = None;
        let mut validations = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for item in &body.items {
            match item {
                Item::Attr(a) => {
                    if seen.contains(&a.name) {
                        return Err(dec.err(
                            &format!("{path}.{}", a.name),
                            a.name_span,
                            format!("attribute {:?} is set twice", a.name),
                        ));
                    }
                    seen.push(a.name);
                    match a.name {
                        "type" => {
                            let text = &dec.src[a.expr.span.start()..a.expr.span.end()];
                            let t = TypeConstraint::parse(text).map_err(|m| {
                                dec.err(
                                    &format!("{path}.type"),
                                    a.expr.span,
                                    format!("invalid type specification: {m}"),
                                )
                                .kind(ParseErrorKind::Variable)
                            })?;
                            ty = Some(t);
                        }
                        "default" => {
                            let v = dec.literal(&a.expr, &format!("{path}.default"))?;
                            default = Some((v, a.expr.span));
                        }
                        "description" => {
                            let v = dec.literal(&a.expr, &format!("{path}.description"))?;
                            if !matches!(v, Value::String(_) | Value::Null) {
                                return Err(dec
                                    .err(
                                        &format!("{path}.description"),
                                        a.expr.span,
                                        "a description must be a string",
                                    )
                                    .kind(ParseErrorKind::Type));
                            }
                        }
                        other => {
                            return Err(dec.unknown_name(
                                &path,
                                a.name_span,
                                "argument",
                                other,
                                ["type", "default", "description", "validation"],
                            ))
                        }
                    }
                }
                Item::Block(b) if b.ident == "validation" => {
                    let vpath = format!("{path}.validation");
                    if !b.labels.is_empty() {
                        return Err(dec.err(
                            &vpath,
                            b.ident_span,
                            "a validation block takes no labels",
                        ));
                    }
                    let mut condition = None;
                    let mut message = None;
                    for vi in &b.body.items {
                        match vi {
                            Item::Attr(a) if a.name == "condition" => condition = Some(&a.expr),
                            Item::Attr(a) if a.name == "error_message" => {
                                let v = dec.literal(&a.expr, &format!("{vpath}.error_message"))?;
                                let Value::String(m) = v else {
                                    return Err(dec
                                        .err(
                                            &format!("{vpath}.error_message"),
                                            a.expr.span,
                                            "an error_message must be a string",
                                        )
                                        .kind(ParseErrorKind::Type));
                                };
                                if !looks_like_sentence(&m) {
                                    return Err(dec.err(
                                        &format!("{vpath}.error_message"),
                                        a.expr.span,
                                        "invalid validation error message: it must be at least one full sentence, starting with an uppercase letter and ending with a period or question mark",
                                    ).kind(ParseErrorKind::Variable));
                                }
                                message = Some(m);
                            }
                            Item::Attr(a) => {
                                return Err(dec.unknown_name(
                                    &vpath,
                                    a.name_span,
                                    "argument",
                                    a.name,
                                    ["condition", "error_message"],
                                ))
                            }
                            Item::Block(vb) => {
                                return Err(dec.unknown_name(
                                    &vpath,
                                    vb.ident_span,
                                    "block",
                                    vb.ident,
                                    ["condition", "error_message"],
                                ))
                            }
                        }
                    }
                    let (Some(condition), Some(message)) = (condition, message) else {
                        return Err(dec
                            .err(
                                &vpath,
                                b.ident_span,
                                "a validation block needs both condition and error_message",
                            )
                            .kind(ParseErrorKind::Variable));
                    };
                    validations.push(Validation { condition, message });
                }
                Item::Block(b) => {
                    return Err(dec.unknown_name(
                        &path,
                        b.ident_span,
                        "block",
                        b.ident,
                        ["type", "default", "description", "validation"],
                    ))
                }
            }
        }
        let value = match default {
            Some((v, vspan)) => {
                let v = match &ty {
                    Some(t) => t.convert(&v).map_err(|m| {
                        dec.err(
                            &format!("{path}.default"),
                            vspan,
                            format!("invalid default value for variable {name:?}: this default value is not compatible with the variable's type constraint: {m}"),
                        )
                        .kind(ParseErrorKind::Variable)
                    })?,
                    None => v,
                };
                if ty.is_none() {
                    ty = Some(TypeConstraint::of_value(&v).map_err(|m| {
                        dec.err(&format!("{path}.default"), vspan, m)
                            .kind(ParseErrorKind::Variable)
                    })?);
                }
                Some((v, Source::Default))
            }
            None => None,
        };
        self.add(
            dec,
            Decl {
                name: name.to_string(),
                ty,
                value,
                validations,
                span,
            },
        )
    }

    /// `variables { name = default ... }`.
    pub(crate) fn declare_variables_block(
        &mut self,
        dec: &Decoder<'s, '_>,
        body: &'s Body<'s>,
    ) -> Result<(), ParseError> {
        for item in &body.items {
            match item {
                Item::Attr(a) => {
                    let path = format!("variables.{}", a.name);
                    let v = dec.literal(&a.expr, &path)?;
                    let ty = TypeConstraint::of_value(&v).map_err(|m| {
                        dec.err(&path, a.expr.span, m)
                            .kind(ParseErrorKind::Variable)
                    })?;
                    self.add(
                        dec,
                        Decl {
                            name: a.name.to_string(),
                            ty: Some(ty),
                            value: Some((v, Source::Default)),
                            validations: Vec::new(),
                            span: a.name_span,
                        },
                    )?;
                }
                Item::Block(b) => {
                    return Err(dec.err(
                        "variables",
                        b.ident_span,
                        "only attributes are allowed in a variables block",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Takes the values given from outside, in Nomad's order of precedence.
    pub(crate) fn collect(&mut self, opts: &HclOptions, budget: &Budget) -> Result<(), ParseError> {
        for (k, v) in &opts.env {
            let Some(name) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let Some(&i) = self.index.get(name) else {
                // Undeclared: ignored, as Nomad does.
                continue;
            };
            let value = self.text_value(i, v, Source::Env, budget)?;
            self.decls[i].value = Some((value, Source::Env));
        }
        for path in &opts.var_files {
            self.read_var_file(path, budget)?;
        }
        for (name, text) in &opts.variables {
            let Some(&i) = self.index.get(name.as_str()) else {
                let hint = super::eval::suggest(name, self.decls.iter().map(|d| d.name.as_str()))
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                return Err(var_err(
                    format!("variable[{name}]"),
                    format!(
                        "undefined -var variable: a value was given for {name:?}, which the jobspec does not declare; declare it with a variable {name:?} block{hint}"
                    ),
                ));
            };
            let value = self.text_value(i, text, Source::Arg, budget)?;
            self.decls[i].value = Some((value, Source::Arg));
        }
        Ok(())
    }

    /// A `-var` or environment value: literal text for string, number and untyped
    /// variables, an HCL expression otherwise; converted to the variable's type.
    fn text_value(
        &self,
        i: usize,
        text: &str,
        source: Source,
        budget: &Budget,
    ) -> Result<Value, ParseError> {
        let d = &self.decls[i];
        let from = match source {
            Source::Env => format!("the environment variable {ENV_PREFIX}{}", d.name),
            _ => format!("-var {}", d.name),
        };
        let path = format!("variable[{}]", d.name);
        let literal =
            d.ty.as_ref()
                .is_none_or(TypeConstraint::is_string_or_number);
        let value = if literal {
            Value::String(text.to_string())
        } else {
            let expr = syntax::parse_expression(text).map_err(|e| {
                var_err(
                    &path,
                    format!(
                        "the value of {from} is not a valid HCL expression: {}",
                        e.message
                    ),
                )
            })?;
            let vars = Value::Object(hcl::Map::new());
            let ev = Evaluator {
                src: text,
                mode: Mode::Literal,
                vars: &vars,
                locals: &vars,
                base_dir: None,
                budget,
            };
            ev.eval(&expr, None).map_err(|e| {
                var_err(&path, format!("the value of {from}: {}", e.message)).kind(match e.kind {
                    ParseErrorKind::Limit(l) => ParseErrorKind::Limit(l),
                    _ => ParseErrorKind::Variable,
                })
            })?
        };
        self.convert(i, value, &from)
    }

    fn convert(&self, i: usize, value: Value, from: &str) -> Result<Value, ParseError> {
        let d = &self.decls[i];
        match &d.ty {
            Some(t) => t.convert(&value).map_err(|m| {
                var_err(
                    format!("variable[{}]", d.name),
                    format!(
                        "invalid value for variable {:?} from {from}: it is not compatible with the variable's type constraint ({}): {m}",
                        d.name,
                        t.friendly()
                    ),
                )
            }),
            None => Ok(value),
        }
    }

    fn read_var_file(&mut self, path: &Path, budget: &Budget) -> Result<(), ParseError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            var_err(
                format!("var-file[{shown}]"),
                format!("unable to read var file {shown}: {e}"),
            )
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            var_err(
                format!("var-file[{shown}]"),
                format!(
                    "unable to parse var file {shown}: not UTF-8 (invalid byte at offset {})",
                    e.valid_up_to()
                ),
            )
        })?;
        if text.trim_start_matches(' ').starts_with('{') {
            return self.read_json_var_file(&shown, text);
        }
        let lines = LineIndex::new(text);
        let at = |span: Span| lines.line(span.start());
        let body = syntax::parse_body(text).map_err(|e| {
            let mut pe = syntax_error(text, &e);
            pe.message = format!("unable to parse var file {shown}: {}", pe.message);
            pe.path = Some(format!("var-file[{shown}]"));
            pe
        })?;
        for item in &body.items {
            match item {
                Item::Block(b) if b.ident == "variable" => {
                    let name = b.labels.first().map_or("", |l| l.value.as_ref());
                    return Err(var_err(
                        format!("var-file[{shown}]"),
                        format!(
                            "variable declaration in a var file: a var file assigns values to variables declared in the job file; to set {name:?} here, write {name} = <value>"
                        ),
                    )
                    .line(at(b.ident_span)));
                }
                Item::Block(b) => {
                    return Err(var_err(
                        format!("var-file[{shown}]"),
                        format!(
                            "unexpected block {:?}: a var file holds only name = value attributes",
                            b.ident
                        ),
                    )
                    .line(at(b.ident_span)));
                }
                Item::Attr(a) => {
                    let Some(&i) = self.index.get(a.name) else {
                        return Err(var_err(
                            format!("var-file[{shown}].{}", a.name),
                            format!(
                                "undefined variable: a value for {:?} was set but the job file does not declare it; declare it with a variable {:?} block",
                                a.name, a.name
                            ),
                        )
                        .line(at(a.name_span)));
                    };
                    let vars = Value::Object(hcl::Map::new());
                    let ev = Evaluator {
                        src: text,
                        mode: Mode::Literal,
                        vars: &vars,
                        locals: &vars,
                        base_dir: None,
                        budget,
                    };
                    let v = ev.eval(&a.expr, None).map_err(|e| {
                        var_err(format!("var-file[{shown}].{}", a.name), e.message)
                            .line(at(a.expr.span))
                    })?;
                    let v = self
                        .convert(i, v, &format!("var file {shown}"))
                        .map_err(|e| e.line(at(a.expr.span)))?;
                    self.decls[i].value = Some((v, Source::VarFile));
                }
            }
        }
        Ok(())
    }

    fn read_json_var_file(&mut self, shown: &str, text: &str) -> Result<(), ParseError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            var_err(
                format!("var-file[{shown}]"),
                format!("unable to parse var file {shown}: {e}"),
            )
            .line(e.line())
        })?;
        let serde_json::Value::Object(m) = v else {
            return Err(var_err(
                format!("var-file[{shown}]"),
                format!("unable to parse var file {shown}: a JSON var file must be an object"),
            ));
        };
        for (k, v) in m {
            let Some(&i) = self.index.get(k.as_str()) else {
                return Err(var_err(
                    format!("var-file[{shown}].{k}"),
                    format!(
                        "undefined variable: a value for {k:?} was set but the job file does not declare it; declare it with a variable {k:?} block"
                    ),
                ));
            };
            let v = self.convert(
                i,
                super::values::json_to_hcl(v),
                &format!("var file {shown}"),
            )?;
            self.decls[i].value = Some((v, Source::VarFile));
        }
        Ok(())
    }

    /// Every variable's value as the `var` object; an error for a variable without a value or
    /// a failed validation.
    pub(crate) fn finish(self, dec: &Decoder<'s, '_>) -> Result<Value, ParseError> {
        let mut out = hcl::Map::with_capacity(self.decls.len());
        for d in &self.decls {
            let path = format!("variable[{}]", d.name);
            let Some((value, source)) = &d.value else {
                return Err(dec
                    .err(
                        &path,
                        d.span,
                        format!(
                            "unset variable {:?}: a variable must have a default or be given a value; pass one with -var '{}=...', a -var-file, or the {ENV_PREFIX}{} environment variable",
                            d.name, d.name, d.name
                        ),
                    )
                    .kind(ParseErrorKind::Variable));
            };
            for v in &d.validations {
                let mut only = hcl::Map::new();
                only.insert(d.name.clone(), value.clone());
                let vars = Value::Object(only);
                let empty = Value::Object(hcl::Map::new());
                let ev = Evaluator {
                    src: dec.src,
                    mode: Mode::Validation,
                    vars: &vars,
                    locals: &empty,
                    base_dir: None,
                    budget: &dec.budget,
                };
                let result = ev.eval(v.condition, None).map_err(|e| {
                    dec.eval_err(&format!("{path}.validation"), v.condition.span, e)
                })?;
                let ok = match result {
                    Value::Bool(b) => b,
                    Value::String(s) if s == "true" || s == "false" => s == "true",
                    _ => {
                        return Err(dec
                            .err(
                                &format!("{path}.validation.condition"),
                                v.condition.span,
                                "invalid variable validation result: the condition must be true or false",
                            )
                            .kind(ParseErrorKind::Variable))
                    }
                };
                if !ok {
                    let from = match source {
                        Source::Default => "default",
                        Source::Env => "env",
                        Source::VarFile => "varfile",
                        Source::Arg => "cmd",
                    };
                    return Err(dec
                        .err(
                            &path,
                            v.condition.span,
                            format!(
                                "invalid value for {from} variable {:?}: {}",
                                d.name, v.message
                            ),
                        )
                        .kind(ParseErrorKind::Variable));
                }
            }
            out.insert(d.name.clone(), value.clone());
        }
        Ok(Value::Object(out))
    }
}

/// True when `e` is a plain name (an `iterator = name` value).
pub(crate) fn bare_name<'s>(e: &Expr<'s>) -> Option<&'s str> {
    match e.kind {
        ExprKind::Var(n) => Some(n),
        _ => None,
    }
}
