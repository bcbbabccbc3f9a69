//! A parser for HCL's native syntax (the language of `*.nomad.hcl` files), producing a tree
//! that borrows from the source text.
//!
//! It follows HashiCorp's `hclsyntax` package (hashicorp/hcl v2, `hclsyntax/parser.go`,
//! `parser_template.go`, `scan_string_lit.go`; checked against the v2.14.1 sources):
//!
//! * a body is a sequence of attributes (`name = expr`) and blocks (`type "label" ident {`);
//!   every item ends with a newline (or the end of the file); a block opened and closed on one
//!   line holds at most one attribute (`port "http" { to = 80 }`);
//! * newlines end an expression in a body and separate object items; inside parentheses,
//!   brackets, function arguments and `${ }` sequences they are ignored;
//! * comments: `#` and `//` to the end of the line, `/* ... */`;
//! * expressions: literals, quoted templates (escapes `\n \r \t \" \\ \uNNNN \UNNNNNNNN`,
//!   `$${` and `%%{`), heredocs (`<<EOT`, and `<<-EOT` which removes the common leading
//!   whitespace of its lines), tuples, objects, `for` expressions, function calls (with `...`
//!   expanding the last argument), traversals (`.attr`, `[index]`, `.0`, `.*`, `[*]`), unary
//!   `!` and `-`, binary operators with HCL's precedence, and `cond ? a : b`;
//! * templates: `${ }` interpolations and `%{ if }`/`%{ else }`/`%{ endif }`,
//!   `%{ for }`/`%{ endfor }` directives with `~` strip markers, which strip the whitespace of
//!   the adjacent literal (in a heredoc, the adjacent part of its line).
//!
//! The parser reads the input once, left to right, and is linear in its size. Blocks and
//! expressions may nest at most [`MAX_NESTING_DEPTH`] levels and an expression tree is at most
//! [`MAX_EXPR_HEIGHT`] levels high (long operator chains count), so that neither parsing nor
//! evaluating nor dropping a tree can overflow the stack.

use std::borrow::Cow;

use super::MAX_NESTING_DEPTH;

/// How high an expression tree may be (nesting plus chained binary operators).
pub(crate) const MAX_EXPR_HEIGHT: u16 = 192;

/// Byte offsets `start..end` into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        // Inputs are limited to u32::MAX bytes before parsing.
        #[allow(clippy::cast_possible_truncation)]
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The start offset.
    pub fn start(self) -> usize {
        self.start as usize
    }

    /// The end offset.
    pub fn end(self) -> usize {
        self.end as usize
    }
}

/// A body: attributes and blocks in source order.
#[derive(Debug, Default)]
pub(crate) struct Body<'s> {
    pub items: Vec<Item<'s>>,
}

/// One item of a body.
#[derive(Debug)]
pub(crate) enum Item<'s> {
    Attr(Attr<'s>),
    Block(Block<'s>),
}

/// `name = expr`.
#[derive(Debug)]
pub(crate) struct Attr<'s> {
    pub name: &'s str,
    pub name_span: Span,
    pub expr: Expr<'s>,
}

/// `ident "label" label2 { body }`.
#[derive(Debug)]
pub(crate) struct Block<'s> {
    pub ident: &'s str,
    pub ident_span: Span,
    pub labels: Vec<Label<'s>>,
    pub body: Body<'s>,
}

/// A block label (quoted or a bare identifier).
#[derive(Debug)]
pub(crate) struct Label<'s> {
    pub value: Cow<'s, str>,
}

/// An expression with its source span and tree height.
#[derive(Debug)]
pub(crate) struct Expr<'s> {
    pub kind: ExprKind<'s>,
    pub span: Span,
    pub height: u16,
}

/// The kinds of expression.
#[derive(Debug)]
pub(crate) enum ExprKind<'s> {
    Null,
    Bool(bool),
    Number(hcl::Number),
    /// A quoted string or heredoc without interpolations or directives.
    Str(Cow<'s, str>),
    /// A template with interpolations or directives; evaluates to a string.
    Template(Vec<Part<'s>>),
    /// A template holding exactly one interpolation (`"${x}"`): evaluates to `x` unchanged.
    Wrap(Box<Expr<'s>>),
    Tuple(Vec<Expr<'s>>),
    Object(Vec<ObjItem<'s>>),
    Var(&'s str),
    /// A term followed by traversal steps.
    Traversal(Box<Expr<'s>>, Vec<Op<'s>>),
    Call(Box<Call<'s>>),
    Unary(UnaryOp, Box<Expr<'s>>),
    Binary(BinaryOp, Box<(Expr<'s>, Expr<'s>)>),
    Cond(Box<(Expr<'s>, Expr<'s>, Expr<'s>)>),
    For(Box<ForExpr<'s>>),
    Paren(Box<Expr<'s>>),
}

/// `key = value` in an object constructor.
#[derive(Debug)]
pub(crate) struct ObjItem<'s> {
    pub key: ObjKey<'s>,
    pub value: Expr<'s>,
}

/// An object key: a bare name is the literal string; anything else is evaluated.
#[derive(Debug)]
pub(crate) enum ObjKey<'s> {
    Name(&'s str),
    /// `forced` is true when the key was written in parentheses.
    Expr {
        expr: Expr<'s>,
        forced: bool,
    },
}

/// One traversal step.
#[derive(Debug)]
pub(crate) enum Op<'s> {
    /// `.name`
    Attr(&'s str, Span),
    /// `[expr]`, with the span of the brackets
    Index(Expr<'s>, Span),
    /// `.0`
    Legacy(u64, Span),
    /// `.*`: applies the following `.name`/`.0` steps to each element.
    AttrSplat(Span),
    /// `[*]`: applies every following step to each element.
    FullSplat(Span),
}

/// `name(args...)`.
#[derive(Debug)]
pub(crate) struct Call<'s> {
    pub name: &'s str,
    pub name_span: Span,
    pub args: Vec<Expr<'s>>,
    /// The last argument was written `arg...` and is expanded into arguments.
    pub expand_final: bool,
}

/// `[for k, v in coll : value if cond]` or `{for k, v in coll : key => value... if cond}`.
#[derive(Debug)]
pub(crate) struct ForExpr<'s> {
    pub key_var: Option<&'s str>,
    pub value_var: &'s str,
    pub coll: Expr<'s>,
    /// Present for the object form.
    pub key: Option<Expr<'s>>,
    pub value: Expr<'s>,
    pub cond: Option<Expr<'s>>,
    /// `...` after the value: group values under their key.
    pub group: bool,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Not,
    Neg,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    /// HCL's precedence: higher binds tighter.
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq | BinaryOp::NotEq => 3,
            BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 6,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessEq => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }
}

/// One part of a template.
#[derive(Debug)]
pub(crate) enum Part<'s> {
    Lit(Cow<'s, str>),
    Interp(Expr<'s>),
    If {
        cond: Expr<'s>,
        then: Vec<Part<'s>>,
        otherwise: Vec<Part<'s>>,
    },
    For {
        key_var: Option<&'s str>,
        value_var: &'s str,
        coll: Expr<'s>,
        body: Vec<Part<'s>>,
    },
}

/// Why the text is not valid HCL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    /// Byte offset of the problem.
    pub pos: usize,
    /// The input nests deeper than the parser allows.
    pub too_deep: bool,
}

type PResult<T> = Result<T, SyntaxError>;

/// Parses a whole file (a body).
pub(crate) fn parse_body(src: &str) -> PResult<Body<'_>> {
    if u32::try_from(src.len()).is_err() {
        return Err(SyntaxError {
            message: "the file is larger than 4 GiB".into(),
            pos: 0,
            too_deep: false,
        });
    }
    let mut p = Parser::new(src);
    let body = p.body(None)?;
    Ok(body)
}

/// Parses a single expression (a `-var` value); the whole text must be the expression.
pub(crate) fn parse_expression(src: &str) -> PResult<Expr<'_>> {
    if u32::try_from(src.len()).is_err() {
        return Err(SyntaxError {
            message: "the value is larger than 4 GiB".into(),
            pos: 0,
            too_deep: false,
        });
    }
    let mut p = Parser::new(src);
    p.skip(false);
    let e = p.expr(false)?;
    p.skip(false);
    if p.pos < p.b.len() {
        return Err(p.error("extra characters after the expression"));
    }
    Ok(e)
}

struct Parser<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    depth: usize,
}

fn is_id_start(c: char) -> bool {
    c == '_' || unicode_ident::is_xid_start(c)
}

fn is_id_continue(c: char) -> bool {
    c == '-' || unicode_ident::is_xid_continue(c)
}

/// The literal parts of a template as read, before strip markers and folding.
enum Tok<'s> {
    /// A literal; `line_end` is true in heredocs for a literal that ends a line.
    Lit(Cow<'s, str>),
    Interp(Expr<'s>, bool, bool),
    If(Expr<'s>, bool, bool),
    Else(bool, bool, usize),
    EndIf(bool, bool, usize),
    For(Option<&'s str>, &'s str, Expr<'s>, bool, bool),
    EndFor(bool, bool, usize),
}

impl<'s> Parser<'s> {
    fn new(src: &'s str) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            depth: 0,
        }
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            pos: self.pos,
            too_deep: false,
        }
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            pos,
            too_deep: false,
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(SyntaxError {
                message: format!(
                    "blocks and expressions may nest at most {MAX_NESTING_DEPTH} levels"
                ),
                pos: self.pos,
                too_deep: true,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos + n).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        self.b[self.pos..].starts_with(s.as_bytes())
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    /// Skips spaces and comments; also newlines unless `newlines` is true (then it stops at a
    /// newline, and a line comment stops before its newline).
    fn skip(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' => self.pos += 1,
                b'\r' if self.peek_at(1) == Some(b'\n') => {
                    if newlines {
                        return;
                    }
                    self.pos += 2;
                }
                b'\n' => {
                    if newlines {
                        return;
                    }
                    self.pos += 1;
                }
                b'#' => self.line_comment(),
                b'/' if self.peek_at(1) == Some(b'/') => self.line_comment(),
                b'/' if self.peek_at(1) == Some(b'*') => {
                    match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => self.pos = self.b.len(),
                    }
                }
                _ => return,
            }
        }
    }

    fn line_comment(&mut self) {
        match self.b[self.pos..].iter().position(|c| *c == b'\n') {
            Some(i) => {
                self.pos += i;
                if self.pos > 0 && self.b[self.pos - 1] == b'\r' {
                    self.pos -= 1;
                }
            }
            None => self.pos = self.b.len(),
        }
    }

    /// True at a newline (or `\r\n`).
    fn at_newline(&self) -> bool {
        match self.peek() {
            Some(b'\n') => true,
            Some(b'\r') => self.peek_at(1) == Some(b'\n'),
            _ => false,
        }
    }

    fn eat_newline(&mut self) -> bool {
        match self.peek() {
            Some(b'\n') => {
                self.pos += 1;
                true
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.pos += 2;
                true
            }
            _ => false,
        }
    }

    fn ident(&mut self) -> Option<(&'s str, Span)> {
        let start = self.pos;
        let c = self.peek_char()?;
        if !is_id_start(c) {
            return None;
        }
        self.pos += c.len_utf8();
        while let Some(c) = self.peek_char() {
            if is_id_continue(c) {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        Some((&self.src[start..self.pos], Span::new(start, self.pos)))
    }

    fn at_ident(&self) -> bool {
        self.peek_char().is_some_and(is_id_start)
    }

    fn describe_here(&self) -> String {
        match self.peek_char() {
            None => "the end of the file".into(),
            Some('\n') | Some('\r') => "a newline".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    // -----------------------------------------------------------------------------------
    // bodies

    /// A body up to `}` (when `close` is the opening brace offset) or the end of the input.
    fn body(&mut self, close: Option<usize>) -> PResult<Body<'s>> {
        let mut items = Vec::new();
        loop {
            self.skip(false);
            match self.peek() {
                None => {
                    if let Some(open) = close {
                        return Err(self.error_at(
                            open,
                            "unclosed configuration block: there is no closing brace for this block before the end of the file",
                        ));
                    }
                    return Ok(Body { items });
                }
                Some(b'}') if close.is_some() => {
                    self.pos += 1;
                    return Ok(Body { items });
                }
                Some(b'"') => {
                    return Err(
                        self.error("invalid argument name: argument names must not be quoted")
                    );
                }
                _ => {}
            }
            let Some((name, name_span)) = self.ident() else {
                return Err(self.error(format!(
                    "an argument or block definition is required here, found {}",
                    self.describe_here()
                )));
            };
            self.skip(true);
            match self.peek() {
                Some(b'=') if self.peek_at(1) != Some(b'=') => {
                    self.pos += 1;
                    let expr = self.root_expr(true)?;
                    self.end_of_item("argument")?;
                    items.push(Item::Attr(Attr {
                        name,
                        name_span,
                        expr,
                    }));
                }
                Some(b'"') | Some(b'{') => {
                    let block = self.block(name, name_span)?;
                    items.push(Item::Block(block));
                }
                _ if self.at_ident() => {
                    let block = self.block(name, name_span)?;
                    items.push(Item::Block(block));
                }
                _ => {
                    return Err(self.error(format!(
                        "an argument or block definition is required here: to set an argument, use the equals sign \"=\" after {name:?} (found {})",
                        self.describe_here()
                    )));
                }
            }
        }
    }

    /// After an attribute or a block: a newline, the end of the file, or (in a body) nothing
    /// else on the line.
    fn end_of_item(&mut self, what: &str) -> PResult<()> {
        self.skip(true);
        if self.peek().is_none() || self.eat_newline() {
            return Ok(());
        }
        if self.peek() == Some(b',') {
            return Err(self.error(format!(
                "unexpected comma after {what}: definitions must be separated by newlines, not commas"
            )));
        }
        Err(self.error(format!(
            "missing newline after {what}: found {}",
            self.describe_here()
        )))
    }

    fn block(&mut self, ident: &'s str, ident_span: Span) -> PResult<Block<'s>> {
        let mut labels = Vec::new();
        loop {
            self.skip(true);
            match self.peek() {
                Some(b'{') => break,
                Some(b'"') => {
                    let start = self.pos;
                    let e = self.quoted()?;
                    let value = match e.kind {
                        ExprKind::Str(s) => s,
                        _ => {
                            return Err(self.error_at(
                                start,
                                "template sequences are not allowed in a block label",
                            ))
                        }
                    };
                    labels.push(Label { value });
                }
                _ if self.at_ident() => {
                    if let Some((l, _)) = self.ident() {
                        labels.push(Label {
                            value: Cow::Borrowed(l),
                        });
                    }
                }
                Some(b'=') => {
                    return Err(self.error(
                        "invalid block definition: the equals sign \"=\" indicates an argument definition, and must not be used when defining a block",
                    ))
                }
                _ if self.at_newline() => {
                    return Err(self.error(
                        "invalid block definition: a block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header",
                    ))
                }
                _ => {
                    return Err(self.error(format!(
                        "invalid block definition: either a quoted string block label or an opening brace (\"{{\") is expected here, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
        let open = self.pos;
        self.pos += 1;
        self.enter()?;
        self.skip(true);
        let body = if self.peek().is_none() || self.at_newline() || self.peek() == Some(b'}') {
            self.body(Some(open))?
        } else {
            // A single-line block: exactly one attribute, then the closing brace.
            let Some((name, name_span)) = self.ident() else {
                return Err(self.error(format!(
                    "an argument definition is required here, found {}",
                    self.describe_here()
                )));
            };
            self.skip(true);
            if !(self.peek() == Some(b'=') && self.peek_at(1) != Some(b'=')) {
                return Err(self.error_at(
                    name_span.start(),
                    format!("a single-line block definition can contain only a single argument; to define a nested block, place it on a line of its own (at {name:?})"),
                ));
            }
            self.pos += 1;
            let expr = self.root_expr(true)?;
            self.skip(true);
            match self.peek() {
                Some(b'}') => self.pos += 1,
                Some(b',') => {
                    return Err(self.error(
                        "invalid single-argument block definition: single-line block syntax can include only one argument definition",
                    ))
                }
                None => {
                    return Err(self.error_at(
                        open,
                        "unclosed configuration block: there is no closing brace for this block before the end of the file",
                    ))
                }
                _ if self.at_newline() => {
                    return Err(self.error(
                        "invalid single-argument block definition: a block opened with an argument on the same line must be closed on that line",
                    ))
                }
                _ => {
                    return Err(self.error(
                        "invalid single-argument block definition: a single-line block definition must end with a closing brace immediately after its argument",
                    ))
                }
            }
            Body {
                items: vec![Item::Attr(Attr {
                    name,
                    name_span,
                    expr,
                })],
            }
        };
        self.leave();
        self.end_of_item("block definition")?;
        Ok(Block {
            ident,
            ident_span,
            labels,
            body,
        })
    }

    // -----------------------------------------------------------------------------------
    // expressions

    /// An attribute value (does not count towards the nesting depth).
    fn root_expr(&mut self, nl: bool) -> PResult<Expr<'s>> {
        self.skip(nl);
        self.expr(nl)
    }

    /// A nested expression.
    fn sub_expr(&mut self, nl: bool) -> PResult<Expr<'s>> {
        self.enter()?;
        self.skip(nl);
        let e = self.expr(nl);
        self.leave();
        e
    }

    fn expr(&mut self, nl: bool) -> PResult<Expr<'s>> {
        let cond = self.binary(nl, 0)?;
        self.skip(nl);
        if self.peek() != Some(b'?') {
            return Ok(cond);
        }
        self.pos += 1;
        let t = self.sub_expr(nl)?;
        self.skip(nl);
        if self.peek() != Some(b':') {
            return Err(self.error(format!(
                "missing false expression in a conditional: expected \":\", found {}",
                self.describe_here()
            )));
        }
        self.pos += 1;
        let f = self.sub_expr(nl)?;
        let span = Span::new(cond.span.start(), f.span.end());
        let height = 1 + cond.height.max(t.height).max(f.height);
        self.check_height(height)?;
        Ok(Expr {
            kind: ExprKind::Cond(Box::new((cond, t, f))),
            span,
            height,
        })
    }

    fn check_height(&self, height: u16) -> PResult<()> {
        if height > MAX_EXPR_HEIGHT {
            return Err(SyntaxError {
                message: format!(
                    "the expression is too deeply nested (more than {MAX_EXPR_HEIGHT} levels of operators and nesting)"
                ),
                pos: self.pos,
                too_deep: true,
            });
        }
        Ok(())
    }

    fn peek_binary_op(&self) -> Option<(BinaryOp, usize)> {
        let c = self.peek()?;
        let n = self.peek_at(1);
        Some(match (c, n) {
            (b'|', Some(b'|')) => (BinaryOp::Or, 2),
            (b'&', Some(b'&')) => (BinaryOp::And, 2),
            (b'=', Some(b'=')) => (BinaryOp::Eq, 2),
            (b'!', Some(b'=')) => (BinaryOp::NotEq, 2),
            (b'<', Some(b'=')) => (BinaryOp::LessEq, 2),
            (b'>', Some(b'=')) => (BinaryOp::GreaterEq, 2),
            (b'<', _) => (BinaryOp::Less, 1),
            (b'>', _) => (BinaryOp::Greater, 1),
            (b'+', _) => (BinaryOp::Add, 1),
            (b'-', _) => (BinaryOp::Sub, 1),
            (b'*', _) => (BinaryOp::Mul, 1),
            (b'/', Some(b'/')) | (b'/', Some(b'*')) => return None,
            (b'/', _) => (BinaryOp::Div, 1),
            (b'%', _) => (BinaryOp::Mod, 1),
            _ => return None,
        })
    }

    /// Binary operators by precedence climbing; operators of one level associate to the left.
    fn binary(&mut self, nl: bool, min_prec: u8) -> PResult<Expr<'s>> {
        let mut lhs = self.unary(nl)?;
        loop {
            self.skip(nl);
            let Some((op, len)) = self.peek_binary_op() else {
                return Ok(lhs);
            };
            let prec = op.precedence();
            if prec <= min_prec {
                return Ok(lhs);
            }
            self.pos += len;
            self.skip(nl);
            let rhs = self.binary(nl, prec)?;
            let span = Span::new(lhs.span.start(), rhs.span.end());
            let height = 1 + lhs.height.max(rhs.height);
            self.check_height(height)?;
            lhs = Expr {
                kind: ExprKind::Binary(op, Box::new((lhs, rhs))),
                span,
                height,
            };
        }
    }

    fn unary(&mut self, nl: bool) -> PResult<Expr<'s>> {
        let start = self.pos;
        let op = match self.peek() {
            Some(b'!') if self.peek_at(1) != Some(b'=') => UnaryOp::Not,
            Some(b'-') => UnaryOp::Neg,
            _ => return self.term(),
        };
        self.pos += 1;
        self.enter()?;
        self.skip(nl);
        let inner = self.unary(nl);
        self.leave();
        let inner = inner?;
        let height = inner.height + 1;
        self.check_height(height)?;
        Ok(Expr {
            span: Span::new(start, inner.span.end()),
            kind: ExprKind::Unary(op, Box::new(inner)),
            height,
        })
    }

    /// A term and its traversal steps.
    fn term(&mut self) -> PResult<Expr<'s>> {
        let base = self.primary()?;
        let mut ops = Vec::new();
        let mut height = base.height;
        loop {
            // Traversal steps may not be separated from their term by a newline.
            let save = self.pos;
            self.skip(true);
            match self.peek() {
                Some(b'.') if !self.starts_with("...") => {
                    let dot = self.pos;
                    self.pos += 1;
                    self.skip(true);
                    if self.peek() == Some(b'*') {
                        self.pos += 1;
                        ops.push(Op::AttrSplat(Span::new(dot, self.pos)));
                    } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        let start = self.pos;
                        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                            self.pos += 1;
                        }
                        let n = self.src[start..self.pos].parse::<u64>().map_err(|_| {
                            self.error_at(start, "index out of range in a legacy index step")
                        })?;
                        ops.push(Op::Legacy(n, Span::new(start, self.pos)));
                    } else if let Some((name, span)) = self.ident() {
                        ops.push(Op::Attr(name, span));
                    } else {
                        return Err(self.error(format!(
                            "invalid attribute name: an attribute name is required after a dot, found {}",
                            self.describe_here()
                        )));
                    }
                }
                Some(b'[') => {
                    let open = self.pos;
                    self.pos += 1;
                    self.skip(false);
                    if self.peek() == Some(b'*') {
                        let star = self.pos;
                        self.pos += 1;
                        self.skip(false);
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            ops.push(Op::FullSplat(Span::new(open, self.pos)));
                            continue;
                        }
                        self.pos = star;
                    }
                    let idx = self.sub_expr(false)?;
                    self.skip(false);
                    if self.peek() != Some(b']') {
                        return Err(self.error(format!(
                            "missing close bracket on index: expected \"]\", found {}",
                            self.describe_here()
                        )));
                    }
                    self.pos += 1;
                    height = height.max(idx.height + 1);
                    ops.push(Op::Index(idx, Span::new(open, self.pos)));
                }
                _ => {
                    self.pos = save;
                    break;
                }
            }
        }
        if ops.is_empty() {
            return Ok(base);
        }
        let height = height + 1;
        self.check_height(height)?;
        Ok(Expr {
            span: Span::new(base.span.start(), self.pos),
            kind: ExprKind::Traversal(Box::new(base), ops),
            height,
        })
    }

    fn primary(&mut self) -> PResult<Expr<'s>> {
        let start = self.pos;
        let leaf = |kind, end: usize| Expr {
            kind,
            span: Span::new(start, end),
            height: 1,
        };
        match self.peek() {
            None => Err(self.error("an expression is required here, found the end of the file")),
            Some(b'"') => self.quoted(),
            Some(b'<') if self.peek_at(1) == Some(b'<') => self.heredoc(),
            Some(c) if c.is_ascii_digit() => {
                let n = self.number()?;
                Ok(leaf(ExprKind::Number(n), self.pos))
            }
            Some(b'(') => {
                self.pos += 1;
                let inner = self.sub_expr(false)?;
                self.skip(false);
                if self.peek() != Some(b')') {
                    return Err(self.error(format!(
                        "unbalanced parentheses: expected \")\", found {}",
                        self.describe_here()
                    )));
                }
                self.pos += 1;
                let height = inner.height + 1;
                Ok(Expr {
                    kind: ExprKind::Paren(Box::new(inner)),
                    span: Span::new(start, self.pos),
                    height,
                })
            }
            Some(b'[') => self.tuple(),
            Some(b'{') => self.object(),
            _ => {
                let Some((name, _)) = self.ident() else {
                    return Err(self.error(format!(
                        "invalid expression: expected the start of an expression, found {}",
                        self.describe_here()
                    )));
                };
                match name {
                    "true" => return Ok(leaf(ExprKind::Bool(true), self.pos)),
                    "false" => return Ok(leaf(ExprKind::Bool(false), self.pos)),
                    "null" => return Ok(leaf(ExprKind::Null, self.pos)),
                    _ => {}
                }
                let name_end = self.pos;
                let save = self.pos;
                self.skip(true);
                if self.peek() == Some(b'(') {
                    return self.call(name, Span::new(start, name_end));
                }
                if self.starts_with("::") {
                    return Err(self.error(
                        "namespaced function calls (\"ns::name\") are not supported by Nomad's HCL",
                    ));
                }
                self.pos = save;
                Ok(leaf(ExprKind::Var(name), name_end))
            }
        }
    }

    fn number(&mut self) -> PResult<hcl::Number> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut float = false;
        if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e') | Some(b'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+') | Some(b'-')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        let text = &self.src[start..self.pos];
        if !float {
            if let Ok(u) = text.parse::<u64>() {
                return Ok(hcl::Number::from(u));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(hcl::Number::from_f64)
            .ok_or_else(|| self.error_at(start, format!("invalid number {text:?}")))
    }

    fn tuple(&mut self) -> PResult<Expr<'s>> {
        let start = self.pos;
        self.pos += 1;
        self.enter()?;
        self.skip(false);
        if self.starts_keyword("for") {
            let e = self.for_expr(start, b']');
            self.leave();
            return e;
        }
        let mut items = Vec::new();
        let mut height = 1;
        loop {
            self.skip(false);
            if self.peek() == Some(b']') {
                self.pos += 1;
                break;
            }
            let item = self.expr(false)?;
            height = height.max(item.height + 1);
            items.push(item);
            self.skip(false);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.error(format!(
                        "missing item separator: expected a comma or \"]\" after a tuple item, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
        self.leave();
        Ok(Expr {
            kind: ExprKind::Tuple(items),
            span: Span::new(start, self.pos),
            height,
        })
    }

    fn starts_keyword(&self, kw: &str) -> bool {
        self.starts_with(kw)
            && self.src[self.pos + kw.len()..]
                .chars()
                .next()
                .is_none_or(|c| !is_id_continue(c))
    }

    fn object(&mut self) -> PResult<Expr<'s>> {
        let start = self.pos;
        self.pos += 1;
        self.enter()?;
        self.skip(false);
        if self.starts_keyword("for") {
            let e = self.for_expr(start, b'}');
            self.leave();
            return e;
        }
        let mut items = Vec::new();
        let mut height = 1;
        loop {
            self.skip(false);
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            if self.peek().is_none() {
                return Err(self.error_at(
                    start,
                    "unterminated object constructor: there is no closing brace before the end of the file",
                ));
            }
            let forced = self.peek() == Some(b'(');
            let key_expr = self.expr(true)?;
            let key = match key_expr.kind {
                ExprKind::Var(name) if !forced => ObjKey::Name(name),
                _ => ObjKey::Expr {
                    expr: key_expr,
                    forced,
                },
            };
            self.skip(true);
            match self.peek() {
                Some(b'=') | Some(b':') => self.pos += 1,
                _ => {
                    return Err(self.error(format!(
                        "missing key/value separator: expected an equals sign (\"=\") to mark the beginning of the attribute value, found {}",
                        self.describe_here()
                    )))
                }
            }
            self.skip(true);
            let value = self.expr(true)?;
            height = height.max(value.height + 1);
            if let ObjKey::Expr { expr, .. } = &key {
                height = height.max(expr.height + 1);
            }
            items.push(ObjItem { key, value });
            self.skip(true);
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => self.pos += 1,
                _ if self.at_newline() => {}
                None => {
                    return Err(self.error_at(
                        start,
                        "unterminated object constructor: there is no closing brace before the end of the file",
                    ))
                }
                _ => {
                    return Err(self.error(format!(
                        "missing attribute separator: expected a newline or comma to mark the beginning of the next attribute, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
        self.leave();
        self.check_height(height)?;
        Ok(Expr {
            kind: ExprKind::Object(items),
            span: Span::new(start, self.pos),
            height,
        })
    }

    /// After `[for` or `{for`: `k, v in coll : ...`.
    fn for_expr(&mut self, start: usize, close: u8) -> PResult<Expr<'s>> {
        self.pos += 3;
        self.skip(false);
        let Some((first, _)) = self.ident() else {
            return Err(
                self.error("invalid 'for' expression: a variable name is required after 'for'")
            );
        };
        self.skip(false);
        let (key_var, value_var) = if self.peek() == Some(b',') {
            self.pos += 1;
            self.skip(false);
            let Some((second, _)) = self.ident() else {
                return Err(self.error(
                    "invalid 'for' expression: a value variable name is required after the comma",
                ));
            };
            (Some(first), second)
        } else {
            (None, first)
        };
        self.skip(false);
        if !self.starts_keyword("in") {
            return Err(self
                .error("invalid 'for' expression: the 'in' keyword is required after the names"));
        }
        self.pos += 2;
        let coll = self.sub_expr(false)?;
        self.skip(false);
        if self.peek() != Some(b':') {
            return Err(self.error(format!(
                "invalid 'for' expression: a colon is required after the collection, found {}",
                self.describe_here()
            )));
        }
        self.pos += 1;
        let first_expr = self.sub_expr(false)?;
        self.skip(false);
        let (key, value) = if close == b'}' {
            if !self.starts_with("=>") {
                return Err(self.error(
                    "invalid 'for' expression: an object 'for' expression needs \"=>\" between the key and the value",
                ));
            }
            self.pos += 2;
            let v = self.sub_expr(false)?;
            (Some(first_expr), v)
        } else {
            (None, first_expr)
        };
        self.skip(false);
        let mut group = false;
        if self.starts_with("...") {
            if close != b'}' {
                return Err(self.error(
                    "invalid 'for' expression: grouping (\"...\") is only allowed in an object 'for' expression",
                ));
            }
            self.pos += 3;
            group = true;
            self.skip(false);
        }
        let cond = if self.starts_keyword("if") {
            self.pos += 2;
            Some(self.sub_expr(false)?)
        } else {
            None
        };
        self.skip(false);
        if self.peek() != Some(close) {
            return Err(self.error(format!(
                "invalid 'for' expression: expected {:?}, found {}",
                char::from(close),
                self.describe_here()
            )));
        }
        self.pos += 1;
        let mut height = coll.height.max(value.height);
        if let Some(k) = &key {
            height = height.max(k.height);
        }
        if let Some(c) = &cond {
            height = height.max(c.height);
        }
        let height = height + 1;
        self.check_height(height)?;
        Ok(Expr {
            kind: ExprKind::For(Box::new(ForExpr {
                key_var,
                value_var,
                coll,
                key,
                value,
                cond,
                group,
            })),
            span: Span::new(start, self.pos),
            height,
        })
    }

    fn call(&mut self, name: &'s str, name_span: Span) -> PResult<Expr<'s>> {
        self.pos += 1; // (
        self.enter()?;
        let mut args = Vec::new();
        let mut expand_final = false;
        let mut height = 1;
        loop {
            self.skip(false);
            if self.peek() == Some(b')') {
                self.pos += 1;
                break;
            }
            if expand_final {
                return Err(self.error(
                    "missing closing parenthesis: an expanded argument (\"...\") must be the last one",
                ));
            }
            let arg = self.expr(false)?;
            height = height.max(arg.height + 1);
            args.push(arg);
            self.skip(false);
            if self.starts_with("...") {
                self.pos += 3;
                expand_final = true;
                self.skip(false);
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    return Err(self.error(format!(
                        "missing argument separator: expected a comma or \")\" in the call to {name}, found {}",
                        self.describe_here()
                    )))
                }
            }
        }
        self.leave();
        self.check_height(height)?;
        Ok(Expr {
            kind: ExprKind::Call(Box::new(Call {
                name,
                name_span,
                args,
                expand_final,
            })),
            span: Span::new(name_span.start(), self.pos),
            height,
        })
    }

    // -----------------------------------------------------------------------------------
    // templates

    /// A quoted template `"..."`.
    fn quoted(&mut self) -> PResult<Expr<'s>> {
        let start = self.pos;
        self.pos += 1;
        let toks = self.template_tokens(TemplateEnd::Quote)?;
        self.finish_template(toks, start, false)
    }

    fn heredoc(&mut self) -> PResult<Expr<'s>> {
        let start = self.pos;
        self.pos += 2;
        let flush = self.peek() == Some(b'-');
        if flush {
            self.pos += 1;
        }
        let Some((delim, _)) = self.ident() else {
            return Err(self.error("invalid heredoc: an identifier is required after \"<<\""));
        };
        if !self.eat_newline() {
            return Err(
                self.error("invalid heredoc: the heredoc marker must be followed by a newline")
            );
        }
        let mut toks = self.template_tokens(TemplateEnd::Heredoc(delim))?;
        if flush {
            flush_heredoc(&mut toks);
        }
        self.finish_template(toks, start, true)
    }

    fn finish_template(
        &mut self,
        toks: Vec<(Tok<'s>, usize)>,
        start: usize,
        heredoc: bool,
    ) -> PResult<Expr<'s>> {
        let span = Span::new(start, self.pos);
        // A template of one interpolation is that expression's value (not a string).
        if toks.len() == 1 && matches!(toks[0].0, Tok::Interp(..)) {
            if let Some((Tok::Interp(e, _, _), _)) = toks.into_iter().next() {
                let height = e.height + 1;
                return Ok(Expr {
                    kind: ExprKind::Wrap(Box::new(e)),
                    span,
                    height,
                });
            }
            return Err(self.error_at(start, "internal error reading a template"));
        }
        let toks = apply_strip(toks, heredoc);
        let mut height = 1;
        let mut it = toks.into_iter().peekable();
        let parts = fold_parts(&mut it, &mut height, None)?;
        if let Some((_, pos)) = it.next() {
            return Err(self.error_at(pos, "unexpected template directive"));
        }
        if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
            let mut lits = parts.into_iter().map(|p| match p {
                Part::Lit(s) => s,
                _ => Cow::Borrowed(""),
            });
            let first = lits.next().unwrap_or(Cow::Borrowed(""));
            let s = lits.fold(first, |mut acc, l| {
                acc.to_mut().push_str(&l);
                acc
            });
            return Ok(Expr {
                kind: ExprKind::Str(s),
                span,
                height: 1,
            });
        }
        self.check_height(height + 1)?;
        Ok(Expr {
            kind: ExprKind::Template(parts),
            span,
            height: height + 1,
        })
    }

    /// Reads template tokens up to the closing quote or heredoc marker (consumed).
    fn template_tokens(&mut self, end: TemplateEnd<'s>) -> PResult<Vec<(Tok<'s>, usize)>> {
        self.enter()?;
        let mut toks: Vec<(Tok<'s>, usize)> = Vec::new();
        let heredoc = matches!(end, TemplateEnd::Heredoc(_));
        if let TemplateEnd::Heredoc(delim) = end {
            if self.heredoc_end(delim) {
                self.leave();
                return Ok(toks);
            }
        }
        let mut lit = String::new();
        let mut lit_borrow_start = self.pos;
        let mut lit_owned = false;
        // Flushes the pending literal into `toks`.
        macro_rules! flush {
            ($self:ident, $upto:expr) => {{
                let upto = $upto;
                if lit_owned {
                    if !lit.is_empty() {
                        toks.push((
                            Tok::Lit(Cow::Owned(std::mem::take(&mut lit))),
                            lit_borrow_start,
                        ));
                    }
                } else if upto > lit_borrow_start {
                    toks.push((
                        Tok::Lit(Cow::Borrowed(&$self.src[lit_borrow_start..upto])),
                        lit_borrow_start,
                    ));
                }
                #[allow(unused_assignments)]
                {
                    lit_owned = false;
                }
                lit.clear();
            }};
        }
        loop {
            let Some(c) = self.peek() else {
                return Err(match end {
                    TemplateEnd::Quote => {
                        self.error("unterminated template string: no closing quote was found")
                    }
                    TemplateEnd::Heredoc(d) => self.error(format!(
                        "unterminated heredoc: no line holding only {d:?} was found"
                    )),
                });
            };
            match c {
                b'"' if !heredoc => {
                    flush!(self, self.pos);
                    self.pos += 1;
                    break;
                }
                b'\n' | b'\r' if !heredoc => {
                    if c == b'\n' || self.peek_at(1) == Some(b'\n') {
                        return Err(self.error(
                            "invalid multi-line string: quoted strings may not be split over multiple lines; use the \\n escape or a heredoc",
                        ));
                    }
                    self.lit_char(&mut lit, &mut lit_owned, lit_borrow_start);
                }
                b'\n' | b'\r' if heredoc => {
                    // Each heredoc line is its own literal (for strip markers and flushing).
                    let nl_len = if c == b'\n' {
                        1
                    } else if self.peek_at(1) == Some(b'\n') {
                        2
                    } else {
                        0
                    };
                    if nl_len == 0 {
                        self.lit_char(&mut lit, &mut lit_owned, lit_borrow_start);
                        continue;
                    }
                    if lit_owned {
                        lit.push_str(&self.src[self.pos..self.pos + nl_len]);
                    }
                    self.pos += nl_len;
                    flush!(self, self.pos);
                    lit_borrow_start = self.pos;
                    if let TemplateEnd::Heredoc(delim) = end {
                        if self.heredoc_end(delim) {
                            break;
                        }
                    }
                }
                b'\\' if !heredoc => {
                    let esc_start = self.pos;
                    let ch = self.escape()?;
                    if !lit_owned {
                        lit.push_str(&self.src[lit_borrow_start..esc_start]);
                        lit_owned = true;
                    }
                    lit.push(ch);
                }
                b'$' | b'%' if self.peek_at(1) == Some(c) && self.peek_at(2) == Some(b'{') => {
                    // `$${` and `%%{` are the literal `${` and `%{`.
                    if !lit_owned {
                        lit.push_str(&self.src[lit_borrow_start..self.pos]);
                        lit_owned = true;
                    }
                    lit.push(char::from(c));
                    lit.push('{');
                    self.pos += 3;
                }
                b'$' | b'%' if self.peek_at(1) == Some(b'{') => {
                    flush!(self, self.pos);
                    let seq_start = self.pos;
                    self.pos += 2;
                    let strip_left = self.peek() == Some(b'~');
                    if strip_left {
                        self.pos += 1;
                    }
                    let tok = if c == b'$' {
                        let e = self.sub_expr(false)?;
                        let strip_right = self.close_seq("interpolation")?;
                        Tok::Interp(e, strip_left, strip_right)
                    } else {
                        self.directive(strip_left, seq_start)?
                    };
                    toks.push((tok, seq_start));
                    lit_borrow_start = self.pos;
                }
                _ => self.lit_char(&mut lit, &mut lit_owned, lit_borrow_start),
            }
        }
        self.leave();
        Ok(toks)
    }

    /// Advances over one literal character.
    fn lit_char(&mut self, lit: &mut String, owned: &mut bool, _borrow_start: usize) {
        let len = self.peek_char().map_or(1, char::len_utf8);
        if *owned {
            lit.push_str(&self.src[self.pos..self.pos + len]);
        }
        self.pos += len;
    }

    /// At the start of a heredoc line: a line that holds only the closing marker (spaces
    /// around it allowed) and ends with a newline closes the heredoc (the scanner's end-marker
    /// rule in `hclsyntax/scan_tokens.rl`). The marker is consumed, the newline is not.
    fn heredoc_end(&mut self, delim: &str) -> bool {
        let rest = &self.src[self.pos..];
        let Some(nl) = rest.find('\n') else {
            return false;
        };
        let mut line_end = nl;
        if line_end > 0 && rest.as_bytes()[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        if rest[..nl].trim() != delim {
            return false;
        }
        self.pos += line_end;
        true
    }

    fn escape(&mut self) -> PResult<char> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.error("unterminated template string"));
        };
        self.pos += 1;
        Ok(match c {
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'"' => '"',
            b'\\' => '\\',
            b'u' | b'U' => {
                let n = if c == b'u' { 4 } else { 8 };
                let hex = self.src.get(self.pos..self.pos + n).unwrap_or("");
                if hex.len() != n || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(self.error_at(
                        start,
                        format!(
                            "invalid escape sequence: \\{} needs {n} hexadecimal digits",
                            char::from(c)
                        ),
                    ));
                }
                self.pos += n;
                u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        self.error_at(
                            start,
                            format!(
                                "invalid escape sequence: \\{}{hex} is not a Unicode character",
                                char::from(c)
                            ),
                        )
                    })?
            }
            _ => {
                self.pos = start + 1;
                let ch = self.peek_char().unwrap_or('?');
                return Err(self.error_at(
                    start,
                    format!("invalid escape sequence \\{ch}: the symbol {ch:?} is not a valid escape sequence selector"),
                ));
            }
        })
    }

    /// The `}` or `~}` closing a `${`/`%{` sequence; true for `~}`.
    fn close_seq(&mut self, what: &str) -> PResult<bool> {
        self.skip(false);
        let strip = self.peek() == Some(b'~');
        if strip {
            self.pos += 1;
        }
        if self.peek() != Some(b'}') {
            return Err(self.error(format!(
                "extra characters after {what}: expected a closing brace to end the sequence, found {} (to write a literal \"${{\", escape it as \"$${{\")",
                self.describe_here()
            )));
        }
        self.pos += 1;
        Ok(strip)
    }

    fn directive(&mut self, strip_left: bool, seq_start: usize) -> PResult<Tok<'s>> {
        self.skip(false);
        let Some((kw, _)) = self.ident() else {
            return Err(self.error(
                "invalid template directive: a keyword (\"if\", \"for\", \"else\", \"endif\", \"endfor\") is expected after \"%{\"",
            ));
        };
        Ok(match kw {
            "if" => {
                let cond = self.sub_expr(false)?;
                let r = self.close_seq("if marker")?;
                Tok::If(cond, strip_left, r)
            }
            "else" => Tok::Else(strip_left, self.close_seq("else marker")?, seq_start),
            "endif" => Tok::EndIf(strip_left, self.close_seq("endif marker")?, seq_start),
            "endfor" => Tok::EndFor(strip_left, self.close_seq("endfor marker")?, seq_start),
            "for" => {
                self.skip(false);
                let Some((first, _)) = self.ident() else {
                    return Err(self.error("invalid 'for' directive: a variable name is required after 'for'"));
                };
                self.skip(false);
                let (k, v) = if self.peek() == Some(b',') {
                    self.pos += 1;
                    self.skip(false);
                    let Some((second, _)) = self.ident() else {
                        return Err(self.error(
                            "invalid 'for' directive: a value variable name is required after the comma",
                        ));
                    };
                    (Some(first), second)
                } else {
                    (None, first)
                };
                self.skip(false);
                if !self.starts_keyword("in") {
                    return Err(self.error("invalid 'for' directive: the 'in' keyword is required after the names"));
                }
                self.pos += 2;
                let coll = self.sub_expr(false)?;
                let r = self.close_seq("for marker")?;
                Tok::For(k, v, coll, strip_left, r)
            }
            other => {
                return Err(self.error(format!(
                    "invalid template control keyword {other:?}: expected if, for, else, endif or endfor"
                )))
            }
        })
    }
}

#[derive(Clone, Copy)]
enum TemplateEnd<'s> {
    Quote,
    Heredoc(&'s str),
}

fn strips(t: &Tok<'_>) -> (bool, bool) {
    match t {
        Tok::Lit(_) => (false, false),
        Tok::Interp(_, l, r)
        | Tok::If(_, l, r)
        | Tok::Else(l, r, _)
        | Tok::EndIf(l, r, _)
        | Tok::For(_, _, _, l, r)
        | Tok::EndFor(l, r, _) => (*l, *r),
    }
}

/// Applies `~` strip markers to the literal token just before (`${~`) or after (`~}`) a
/// sequence, as `hclsyntax` does: only the adjacent literal token is trimmed (in a heredoc a
/// literal token ends at the end of its line).
fn apply_strip<'s>(mut toks: Vec<(Tok<'s>, usize)>, _heredoc: bool) -> Vec<(Tok<'s>, usize)> {
    for i in 0..toks.len() {
        let (left, right) = strips(&toks[i].0);
        if left && i > 0 {
            if let Tok::Lit(s) = &mut toks[i - 1].0 {
                let t = s.trim_end_matches(char::is_whitespace).len();
                truncate_cow(s, 0, t);
            }
        }
        if right && i + 1 < toks.len() {
            if let Tok::Lit(s) = &mut toks[i + 1].0 {
                let len = s.len();
                let t = len - s.trim_start_matches(char::is_whitespace).len();
                truncate_cow(s, t, len);
            }
        }
    }
    toks
}

fn truncate_cow(s: &mut Cow<'_, str>, from: usize, to: usize) {
    match s {
        Cow::Borrowed(b) => *b = &b[from..to],
        Cow::Owned(o) => {
            o.truncate(to);
            o.drain(..from);
        }
    }
}

/// The flush heredoc rule (`<<-`): the smallest number of leading whitespace characters of
/// any line that starts with a literal (lines holding only whitespace do not count) is removed
/// from every line that starts with a literal (`flushHeredocTemplateParts`).
fn flush_heredoc(toks: &mut [(Tok<'_>, usize)]) {
    let mut min = usize::MAX;
    let mut at_line_start = true;
    let mut adjust = Vec::new();
    for (i, (t, _)) in toks.iter().enumerate() {
        if at_line_start {
            at_line_start = false;
            match t {
                Tok::Lit(s) => {
                    let trimmed = s.trim_start_matches(char::is_whitespace);
                    if !(trimmed.is_empty() && s.ends_with('\n')) {
                        let ws = &s[..s.len() - trimmed.len()];
                        min = min.min(ws.chars().count());
                        adjust.push(i);
                    }
                }
                _ => min = 0,
            }
        }
        if let Tok::Lit(s) = t {
            if s.ends_with('\n') {
                at_line_start = true;
            }
        }
    }
    if min == usize::MAX || min == 0 {
        return;
    }
    for i in adjust {
        if let Tok::Lit(s) = &mut toks[i].0 {
            let cut: usize = s.chars().take(min).map(char::len_utf8).sum();
            let len = s.len();
            truncate_cow(s, cut, len);
        }
    }
}

/// Folds the flat token list into template parts, matching `if`/`else`/`endif` and
/// `for`/`endfor`. `until` names the closing directive expected at this level.
fn fold_parts<'s, I>(
    it: &mut std::iter::Peekable<I>,
    height: &mut u16,
    until: Option<&'static str>,
) -> PResult<Vec<Part<'s>>>
where
    I: Iterator<Item = (Tok<'s>, usize)>,
{
    let mut parts = Vec::new();
    loop {
        let stop = match it.peek() {
            None => {
                if let Some(u) = until {
                    return Err(SyntaxError {
                        message: format!("unterminated template directive: missing %{{ {u} }}"),
                        pos: 0,
                        too_deep: false,
                    });
                }
                return Ok(parts);
            }
            Some((Tok::Else(..), _)) | Some((Tok::EndIf(..), _)) | Some((Tok::EndFor(..), _)) => {
                true
            }
            _ => false,
        };
        if stop {
            let (tok, pos) = match it.peek() {
                Some((t, p)) => (t, *p),
                None => return Ok(parts),
            };
            let name = match tok {
                Tok::Else(..) => "else",
                Tok::EndIf(..) => "endif",
                _ => "endfor",
            };
            let fits = match until {
                Some("endif") => name == "endif" || name == "else",
                Some(u) => u == name,
                None => false,
            };
            if !fits {
                return Err(SyntaxError {
                    message: format!("unexpected %{{ {name} }} in a template"),
                    pos,
                    too_deep: false,
                });
            }
            return Ok(parts);
        }
        let Some((tok, _)) = it.next() else {
            return Ok(parts);
        };
        match tok {
            Tok::Lit(s) => {
                if !s.is_empty() {
                    parts.push(Part::Lit(s));
                }
            }
            Tok::Interp(e, _, _) => {
                *height = (*height).max(e.height + 1);
                parts.push(Part::Interp(e));
            }
            Tok::If(cond, _, _) => {
                *height = (*height).max(cond.height + 1);
                let then = fold_parts(it, height, Some("endif"))?;
                let mut otherwise = Vec::new();
                if let Some((Tok::Else(..), _)) = it.peek() {
                    it.next();
                    otherwise = fold_parts(it, height, Some("endif"))?;
                    if let Some((Tok::Else(..), pos)) = it.peek() {
                        return Err(SyntaxError {
                            message: "unexpected second %{ else } in an if directive".into(),
                            pos: *pos,
                            too_deep: false,
                        });
                    }
                }
                match it.next() {
                    Some((Tok::EndIf(..), _)) => {}
                    _ => {
                        return Err(SyntaxError {
                            message: "unterminated template directive: missing %{ endif }".into(),
                            pos: 0,
                            too_deep: false,
                        })
                    }
                }
                parts.push(Part::If {
                    cond,
                    then,
                    otherwise,
                });
            }
            Tok::For(key_var, value_var, coll, _, _) => {
                *height = (*height).max(coll.height + 1);
                let body = fold_parts(it, height, Some("endfor"))?;
                match it.next() {
                    Some((Tok::EndFor(..), _)) => {}
                    _ => {
                        return Err(SyntaxError {
                            message: "unterminated template directive: missing %{ endfor }".into(),
                            pos: 0,
                            too_deep: false,
                        })
                    }
                }
                parts.push(Part::For {
                    key_var,
                    value_var,
                    coll,
                    body,
                });
            }
            Tok::Else(_, _, pos) | Tok::EndIf(_, _, pos) | Tok::EndFor(_, _, pos) => {
                return Err(SyntaxError {
                    message: "unexpected template directive".into(),
                    pos,
                    too_deep: false,
                });
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn one_attr(src: &str) -> Expr<'_> {
        let body = parse_body(src).unwrap_or_else(|e| panic!("{src:?}: {e:?}"));
        match body.items.into_iter().next() {
            Some(Item::Attr(a)) => a.expr,
            other => panic!("{other:?}"),
        }
    }

    fn err(src: &str) -> SyntaxError {
        match parse_body(src) {
            Ok(b) => panic!("{src:?} parsed: {b:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn bodies_blocks_and_single_line_blocks() {
        let b = parse_body("a = 1\nb \"x\" y {\n  c = 2\n}\nd { e = 3 }\nf {}\n").unwrap();
        assert_eq!(b.items.len(), 4);
        let Item::Block(blk) = &b.items[1] else {
            panic!()
        };
        assert_eq!(blk.ident, "b");
        assert_eq!(
            blk.labels
                .iter()
                .map(|l| l.value.as_ref())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert!(err("a = 1 b = 2\n").message.contains("missing newline"));
        assert!(err("x { a = 1, b = 2 }\n").message.contains("single-line"));
        assert!(err("x { a = 1\n}\n").message.contains("single-argument"));
        assert!(err("x { y {} }\n").message.contains("single argument"));
        assert!(err("x {\n a = 1 }\n").message.contains("missing newline"));
        assert!(err("x {}  y {}\n").message.contains("missing newline"));
        assert!(err("x\n{\n}\n").message.contains("equals sign"));
        assert!(err("x \"a\"\n{\n}\n").message.contains("same line"));
        assert!(err("x {\n").message.contains("unclosed"));
        assert!(err("\"a\" = 1").message.contains("quoted"));
        parse_body("a = 1 # comment\nb = 2 // c\n/* x\n */ c = 3\r\n").unwrap();
    }

    #[test]
    fn strings_escapes_and_templates() {
        match one_attr("a = \"x\\n\\t\\\"\\\\\\u00e9\\U0001F600 $${x} %%{y} $ %\"\n").kind {
            ExprKind::Str(s) => assert_eq!(s, "x\n\t\"\\é😀 ${x} %{y} $ %"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(one_attr("a = \"${x}\"").kind, ExprKind::Wrap(_)));
        assert!(matches!(
            one_attr("a = \"p${x}\"").kind,
            ExprKind::Template(_)
        ));
        assert!(err("a = \"\\q\"").message.contains("escape"));
        assert!(err("a = \"x\ny\"").message.contains("multi-line"));
        assert!(err("a = \"${x\"").message.contains("closing brace"));
        match one_attr("a = \"a ${~ x ~} b\"").kind {
            ExprKind::Template(parts) => {
                assert!(matches!(&parts[0], Part::Lit(s) if s == "a"));
                assert!(matches!(&parts[2], Part::Lit(s) if s == "b"));
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = \"%{ if x }y%{ else }z%{ endif }%{ for k, v in m }${v}%{ endfor }\"")
            .kind
        {
            ExprKind::Template(parts) => {
                assert!(
                    matches!(&parts[0], Part::If { then, otherwise, .. } if then.len() == 1 && otherwise.len() == 1)
                );
                assert!(matches!(
                    &parts[1],
                    Part::For {
                        key_var: Some("k"),
                        value_var: "v",
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
        assert!(err("a = \"%{ if x }y\"").message.contains("endif"));
        assert!(err("a = \"%{ endif }\"").message.contains("endif"));
    }

    #[test]
    fn heredocs() {
        match one_attr("a = <<EOT\nline \\n ${\"x\"}\nEOT\nb = 1\n").kind {
            ExprKind::Template(parts) => {
                assert!(matches!(&parts[0], Part::Lit(s) if s == "line \\n "));
                assert!(matches!(&parts[2], Part::Lit(s) if s == "\n"));
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = <<-EOT\n    x\n      y\n\n    z\n  EOT\n").kind {
            ExprKind::Str(s) => assert_eq!(s, "x\n  y\n\nz\n"),
            other => panic!("{other:?}"),
        }
        match one_attr("a = <<EOT\nEOT\n").kind {
            ExprKind::Str(s) => assert_eq!(s, ""),
            other => panic!("{other:?}"),
        }
        match one_attr("a = <<EOT\nEOTX\nEOT\n").kind {
            ExprKind::Str(s) => assert_eq!(s, "EOTX\n"),
            other => panic!("{other:?}"),
        }
        assert!(err("a = <<EOT\nx\n")
            .message
            .contains("unterminated heredoc"));
        // A heredoc ends only on a line holding the marker alone.
        assert!(err("a = [<<EOT\nx\nEOT]\n")
            .message
            .contains("unterminated heredoc"));
    }

    #[test]
    fn expressions_and_precedence() {
        match one_attr("a = 1 + 2 * 3 == 7 || !false && x.y[0].*.z ? f(a, b...) : -1").kind {
            ExprKind::Cond(c) => {
                assert!(matches!(c.0.kind, ExprKind::Binary(BinaryOp::Or, _)));
                assert!(
                    matches!(&c.1.kind, ExprKind::Call(call) if call.name == "f" && call.expand_final)
                );
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = [for k, v in m : v if k != \"x\"]").kind {
            ExprKind::For(f) => {
                assert_eq!(f.key_var, Some("k"));
                assert!(f.key.is_none() && f.cond.is_some());
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = {for v in l : v => 1...}").kind {
            ExprKind::For(f) => assert!(f.group && f.key.is_some()),
            other => panic!("{other:?}"),
        }
        match one_attr("a = {\n  b = 1\n  \"c\" = 2, (d) = 3\n  e: 4\n}").kind {
            ExprKind::Object(items) => {
                assert_eq!(items.len(), 4);
                assert!(matches!(items[0].key, ObjKey::Name("b")));
                assert!(matches!(items[2].key, ObjKey::Expr { forced: true, .. }));
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = x.0.1").kind {
            ExprKind::Traversal(_, ops) => {
                assert!(matches!(ops[..], [Op::Legacy(0, _), Op::Legacy(1, _)]))
            }
            other => panic!("{other:?}"),
        }
        match one_attr("a = 1.5e3").kind {
            ExprKind::Number(n) => assert_eq!(n.as_f64(), Some(1500.0)),
            other => panic!("{other:?}"),
        }
        assert!(err("a = 1 +\n 2").message.contains("expression"));
        assert!(err("a = {\n b = 1 c = 2\n}").message.contains("separator"));
        assert!(err("a = [1 2]").message.contains("separator"));
        assert!(err("a = f(x..., y)").message.contains("last"));
        parse_body("a = (1 +\n 2)\nb = [\n 1,\n 2,\n]\nc = f(\n 1,\n)\n").unwrap();
    }

    #[test]
    fn nesting_and_operator_chains_are_bounded() {
        let deep = format!("a = {}1{}", "[".repeat(100), "]".repeat(100));
        assert!(err(&deep).too_deep);
        let chain = format!("a = 1{}", " + 1".repeat(1000));
        assert!(err(&chain).too_deep);
        let blocks = format!("{}{}", "x {\n".repeat(100), "}\n".repeat(100));
        assert!(err(&blocks).too_deep);
        let million = format!("a = {}", "(".repeat(1_000_000));
        assert!(err(&million).too_deep);
        let ok = format!("a = {}1{}", "[".repeat(60), "]".repeat(60));
        parse_body(&ok).unwrap();
    }

    #[test]
    fn spans_point_into_the_source() {
        let src = "a = \"x${ attr.b.c }y\"\n";
        let e = one_attr(src);
        let ExprKind::Template(parts) = e.kind else {
            panic!()
        };
        let Part::Interp(inner) = &parts[1] else {
            panic!()
        };
        assert_eq!(&src[inner.span.start()..inner.span.end()], "attr.b.c");
    }
}
