//! `convert(value, type)`: HCL's `ext/typeexpr` `ConvertFunc` (hcl v2.14.1
//! `type_type.go`), with the type constraint syntax of `get_type.go`: `string`, `number`,
//! `bool`, `any`, `list(T)`, `set(T)`, `map(T)`, `tuple([T, ...])`,
//! `object({name = T, ...})` and `optional(T)` for an object attribute. The type arrives as
//! the expression's source text.

use std::collections::BTreeMap;

use super::value::{convert, Ty, Val};
use super::{Ctx, Fail, Res};

/// How deep a type expression may nest.
const MAX_TYPE_DEPTH: usize = 64;

pub(super) fn convert_fn(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let Val::Str(text) = &args[1] else {
        return Err(Fail::Arg(1, "a type expression is required".into()));
    };
    let ty =
        parse_type(text).map_err(|m| Fail::Arg(1, format!("invalid type specification: {m}")))?;
    let value = args.into_iter().next().unwrap_or(Val::Null(Ty::Dyn));
    // ConvertFunc converts twice: once to find the result type, then to that type, where
    // `optional` markers are gone; so an absent optional attribute is refused, as in Nomad.
    let got = convert(value.clone(), &ty).map_err(|m| Fail::Arg(0, m))?;
    convert(value, &got.ty()).map_err(|m| Fail::Arg(0, m))
}

/// Parses a type constraint.
pub(super) fn parse_type(text: &str) -> Result<Ty, String> {
    let mut p = Parser {
        src: text.as_bytes().to_vec(),
        pos: 0,
    };
    let t = p.ty(0, false)?;
    p.ws();
    if p.pos != p.src.len() {
        return Err(format!("unexpected text at offset {}", p.pos));
    }
    Ok(t)
}

struct Parser {
    src: Vec<u8>,
    pos: usize,
}

impl Parser {
    fn ws(&mut self) {
        while self.pos < self.src.len() && self.src[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.pos;
        while self.pos < self.src.len()
            && (self.src[self.pos].is_ascii_alphanumeric()
                || self.src[self.pos] == b'_'
                || self.src[self.pos] == b'-')
        {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.src[start..self.pos]).into_owned()
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.src.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected {:?} at offset {}",
                char::from(c),
                self.pos
            ))
        }
    }

    fn ty(&mut self, depth: usize, in_object: bool) -> Result<Ty, String> {
        if depth > MAX_TYPE_DEPTH {
            return Err("type expression nests too deeply".into());
        }
        let kw = self.ident();
        let is_call = {
            self.ws();
            self.src.get(self.pos) == Some(&b'(')
        };
        if !is_call {
            return match kw.as_str() {
                "bool" => Ok(Ty::Bool),
                "string" => Ok(Ty::Str),
                "number" => Ok(Ty::Num),
                "any" => Ok(Ty::Dyn),
                "list" | "map" | "set" => Err(format!(
                    "the {kw} type constructor requires one argument specifying the element type"
                )),
                "object" => Err("the object type constructor requires one argument specifying the attribute types and values as a map".into()),
                "tuple" => Err("the tuple type constructor requires one argument specifying the element types as a list".into()),
                "" => Err(format!("a type is required at offset {}", self.pos)),
                other => Err(format!("the keyword {other:?} is not a valid type specification")),
            };
        }
        self.expect(b'(')?;
        let t = match kw.as_str() {
            "list" => Ty::list(self.ty(depth + 1, false)?),
            "set" => Ty::set(self.ty(depth + 1, false)?),
            "map" => Ty::map(self.ty(depth + 1, false)?),
            "optional" if in_object => Ty::Optional(Box::new(self.ty(depth + 1, false)?)),
            "optional" => {
                return Err(
                    "optional attribute modifier is only for attributes in an object type".into(),
                )
            }
            "tuple" => {
                self.expect(b'[')?;
                let mut elems = Vec::new();
                while !self.eat(b']') {
                    elems.push(self.ty(depth + 1, false)?);
                    if !self.eat(b',') {
                        self.expect(b']')?;
                        break;
                    }
                }
                Ty::Tuple(elems)
            }
            "object" => {
                self.expect(b'{')?;
                let mut attrs = BTreeMap::new();
                loop {
                    if self.eat(b'}') {
                        break;
                    }
                    let name = self.ident();
                    if name.is_empty() {
                        return Err("object constructor map keys must be attribute names".into());
                    }
                    if !self.eat(b'=') {
                        self.expect(b':')?;
                    }
                    let t = self.ty(depth + 1, true)?;
                    attrs.insert(name, t);
                    self.eat(b',');
                }
                Ty::Object(attrs)
            }
            other => return Err(format!("keyword {other:?} is not a valid type constructor")),
        };
        self.expect(b')')?;
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_type_constraints() {
        assert_eq!(parse_type("list(string)"), Ok(Ty::list(Ty::Str)));
        assert_eq!(parse_type(" map( any ) "), Ok(Ty::map(Ty::Dyn)));
        assert_eq!(
            parse_type("tuple([number, bool])"),
            Ok(Ty::Tuple(vec![Ty::Num, Ty::Bool]))
        );
        let obj = parse_type("object({a = number, b = optional(string)})").expect("parses");
        let mut want = BTreeMap::new();
        want.insert("a".to_string(), Ty::Num);
        want.insert("b".to_string(), Ty::Optional(Box::new(Ty::Str)));
        assert_eq!(obj, Ty::Object(want));
        assert!(parse_type("list").is_err());
        assert!(parse_type("optional(string)").is_err());
        assert!(parse_type("strin").is_err());
        assert!(parse_type(&"list(".repeat(100)).is_err());
    }
}
