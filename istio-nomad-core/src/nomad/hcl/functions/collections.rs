//! Collection functions: go-cty v1.12.1 `cty/function/stdlib/collection.go` (chunklist,
//! coalescelist, compact, contains, distinct, element, flatten, index, keys, length, lookup,
//! merge, setproduct, slice, values, zipmap), `general.go` (coalesce), `sequence.go`
//! (concat, range) and `set.go` (setintersection, setunion).

use std::collections::BTreeMap;

use super::value::{convert, equals, make_set, unify, val_size, Num, Ty, Val};
use super::{int_arg, num, s, Ctx, Fail, Res};

/// cty's `range` refuses to make more values than this.
const RANGE_MAX: usize = 1024;

fn is_seq(v: &Val) -> bool {
    matches!(v, Val::List(..) | Val::Set(..) | Val::Tuple(_))
}

pub(super) fn length(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    match &args[0] {
        Val::List(_, e) | Val::Set(_, e) | Val::Tuple(e) => Ok(len_val(e.len())),
        Val::Map(_, m) => Ok(len_val(m.len())),
        _ => Err(Fail::msg("collection must be a list, a map or a tuple")),
    }
}

fn len_val(n: usize) -> Val {
    Val::int(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(super) fn element(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let index = num(&args[1]);
    if index.cmp(Num::Int(0)).is_lt() {
        return Err(Fail::msg(
            "cannot use element function with a negative index",
        ));
    }
    let i = index
        .to_go_int()
        .map_err(|m| Fail::msg(format!("invalid index: {m}")))?;
    let elems = match &args[0] {
        Val::List(_, e) | Val::Tuple(e) => e,
        other => {
            return Err(Fail::msg(format!(
                "cannot read elements from {}",
                other.ty().friendly()
            )))
        }
    };
    if elems.is_empty() {
        return Err(Fail::msg("cannot use element function with an empty list"));
    }
    let i = usize::try_from(i).unwrap_or(0) % elems.len();
    Ok(elems[i].clone())
}

pub(super) fn index(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let key = &args[1];
    let is_num = matches!(key, Val::Num(_) | Val::Null(Ty::Num) | Val::Null(Ty::Dyn));
    match &args[0] {
        Val::Tuple(e) => {
            if !is_num {
                return Err(Fail::msg("key for tuple must be number"));
            }
            let i = num(key)
                .to_go_int()
                .map_err(|m| Fail::msg(format!("invalid key for tuple: {m}")))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| e.get(i))
                .cloned()
                .ok_or_else(|| {
                    Fail::msg(format!("key must be between 0 and {} inclusive", e.len()))
                })
        }
        Val::List(_, e) => {
            if !is_num {
                return Err(Fail::msg("key for list must be number"));
            }
            num(key)
                .as_int()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| e.get(i))
                .cloned()
                .ok_or_else(|| Fail::msg("invalid index"))
        }
        Val::Map(_, m) => {
            if !matches!(key, Val::Str(_) | Val::Null(Ty::Str) | Val::Null(Ty::Dyn)) {
                return Err(Fail::msg("key for map must be string"));
            }
            m.get(s(key))
                .cloned()
                .ok_or_else(|| Fail::msg("invalid index"))
        }
        _ => Err(Fail::msg("collection must be a list, a map or a tuple")),
    }
}

pub(super) fn coalescelist(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    if args.is_empty() {
        return Err(Fail::msg("at least one argument is required"));
    }
    if args
        .iter()
        .any(|a| !matches!(a, Val::List(..) | Val::Tuple(_)))
    {
        return Err(Fail::msg("coalescelist arguments must be lists or tuples"));
    }
    args.into_iter()
        .find(|a| !a.elements().is_empty())
        .ok_or_else(|| Fail::msg("no non-null arguments"))
}

pub(super) fn coalesce(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let tys: Vec<Ty> = args.iter().map(Val::ty).collect();
    let ret = unify(&tys).ok_or_else(|| Fail::msg("all arguments must have the same type"))?;
    let first = args
        .into_iter()
        .find(|a| !a.is_null())
        .ok_or_else(|| Fail::msg("no non-null arguments"))?;
    convert(first, &ret).map_err(Fail::Msg)
}

pub(super) fn compact(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let out: Vec<Val> = args
        .into_iter()
        .flat_map(Val::into_elements)
        .filter(|v| matches!(v, Val::Str(x) if !x.is_empty()))
        .collect();
    Ok(Val::List(Ty::Str, out))
}

pub(super) fn concat(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    if args.is_empty() {
        return Err(Fail::msg("at least one argument is required"));
    }
    let size = args
        .iter()
        .map(val_size)
        .fold(0usize, usize::saturating_add);
    ctx.check(size)?;
    if args.iter().all(|a| matches!(a, Val::List(..))) {
        let tys: Vec<Ty> = args.iter().map(Val::ty).collect();
        if let Some(common) = unify(&tys) {
            let mut out = Vec::new();
            for (i, a) in args.into_iter().enumerate() {
                let c = convert(a, &common).map_err(|m| Fail::Arg(i, m))?;
                out.extend(c.into_elements());
            }
            let ety = match common {
                Ty::List(e) => *e,
                _ => Ty::Dyn,
            };
            return Ok(Val::List(ety, out));
        }
    }
    let mut out = Vec::new();
    for (i, a) in args.into_iter().enumerate() {
        match a {
            Val::Tuple(e) | Val::List(_, e) => out.extend(e),
            other => {
                return Err(Fail::Arg(
                    i,
                    format!(
                        "all arguments must be lists or tuples; got {}",
                        other.ty().friendly()
                    ),
                ))
            }
        }
    }
    Ok(Val::Tuple(out))
}

pub(super) fn contains(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    if !is_seq(&args[0]) {
        return Err(Fail::msg("argument must be list, tuple, or set"));
    }
    let found = args[0].elements().into_iter().any(|e| equals(&args[1], e));
    Ok(Val::Bool(found))
}

pub(super) fn distinct(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut it = args.into_iter();
    let Some(Val::List(ety, elems)) = it.next() else {
        return Err(Fail::msg("a list is required"));
    };
    let mut out: Vec<Val> = Vec::new();
    for e in elems {
        if !out.iter().any(|o| equals(o, &e)) {
            out.push(e);
        }
    }
    Ok(Val::List(ety, out))
}

pub(super) fn chunklist(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let size = int_arg(&args[1], 1).map_err(|e| match e {
        Fail::Arg(_, m) => Fail::msg(format!("invalid size: {m}")),
        other => other,
    })?;
    let mut it = args.into_iter();
    let Some(list @ Val::List(..)) = it.next() else {
        return Err(Fail::msg("a list is required"));
    };
    let list_ty = list.ty();
    if size < 0 {
        return Err(Fail::msg("the size argument must be positive"));
    }
    let elems = list.into_elements();
    let ety = match &list_ty {
        Ty::List(e) => (**e).clone(),
        _ => Ty::Dyn,
    };
    if elems.is_empty() {
        return Ok(Val::List(list_ty, Vec::new()));
    }
    if size == 0 {
        return Ok(Val::List(list_ty, vec![Val::List(ety, elems)]));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let chunks: Vec<Val> = elems
        .chunks(size)
        .map(|c| Val::List(ety.clone(), c.to_vec()))
        .collect();
    Ok(Val::List(list_ty, chunks))
}

pub(super) fn flatten(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let arg = args.into_iter().next().unwrap_or(Val::Null(Ty::Dyn));
    if !is_seq(&arg) {
        return Err(Fail::msg("can only flatten lists, sets and tuples"));
    }
    let mut out = Vec::new();
    flatten_into(arg, &mut out);
    Ok(Val::Tuple(out))
}

fn flatten_into(v: Val, out: &mut Vec<Val>) {
    for e in v.into_elements() {
        if is_seq(&e) {
            flatten_into(e, out);
        } else {
            out.push(e);
        }
    }
}

pub(super) fn keys(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    match &args[0] {
        Val::Map(_, m) => Ok(Val::List(
            Ty::Str,
            m.keys().map(|k| Val::Str(k.clone())).collect(),
        )),
        Val::Object(m) => Ok(Val::Tuple(m.keys().map(|k| Val::Str(k.clone())).collect())),
        _ => Err(Fail::Arg(0, "must have map or object type".into())),
    }
}

pub(super) fn values(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    match args.into_iter().next() {
        Some(Val::Map(ety, m)) => Ok(Val::List(ety, m.into_values().collect())),
        Some(Val::Object(m)) => Ok(Val::Tuple(m.into_values().collect())),
        _ => Err(Fail::msg("values() requires a map as the first argument")),
    }
}

pub(super) fn lookup(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut it = args.into_iter();
    let (Some(coll), Some(key), Some(default)) = (it.next(), it.next(), it.next()) else {
        return Err(Fail::msg("lookup() needs three arguments"));
    };
    let key = s(&key).to_string();
    match coll {
        Val::Object(mut m) => Ok(m.remove(&key).unwrap_or(default)),
        Val::Map(ety, mut m) => {
            let default = convert(default, &ety).map_err(|_| {
                Fail::Arg(
                    2,
                    "the default value must have the same type as the map elements".into(),
                )
            })?;
            Ok(m.remove(&key).unwrap_or(default))
        }
        _ => Err(Fail::Arg(
            0,
            "lookup() requires a map as the first argument".into(),
        )),
    }
}

pub(super) fn merge(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    if args.is_empty() {
        return Ok(Val::Object(BTreeMap::new()));
    }
    let mut first: Option<Ty> = None;
    let mut matching = true;
    let mut any_dyn = false;
    for a in &args {
        let ty = a.ty();
        if ty == Ty::Dyn {
            any_dyn = true;
            continue;
        }
        if !matches!(ty, Ty::Map(_) | Ty::Object(_)) {
            return Err(Fail::msg(format!(
                "arguments must be maps or objects, got {:?}",
                ty.friendly()
            )));
        }
        match &first {
            None => first = Some(ty),
            Some(f) if *f != ty => matching = false,
            Some(_) => {}
        }
    }
    let size = args
        .iter()
        .map(val_size)
        .fold(0usize, usize::saturating_add);
    ctx.check(size)?;
    let as_map = if any_dyn {
        None
    } else {
        match (&first, matching) {
            (Some(Ty::Map(e)), true) => Some((**e).clone()),
            _ => None,
        }
    };
    let mut out = BTreeMap::new();
    for a in args {
        if let Val::Map(_, m) | Val::Object(m) = a {
            out.extend(m);
        }
    }
    Ok(match as_map {
        Some(ety) => Val::Map(ety, out),
        None => Val::Object(out),
    })
}

/// `range(end)`, `range(start, end)`, `range(start, end, step)`; at most 1,024 values.
pub(super) fn range(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let n: Vec<Num> = args.iter().map(num).collect();
    let zero = Num::Int(0);
    let (start, end, step) = match n.as_slice() {
        [end] => (
            zero,
            *end,
            Num::Int(if end.cmp(zero).is_lt() { -1 } else { 1 }),
        ),
        [start, end] => (
            *start,
            *end,
            Num::Int(if end.cmp(*start).is_lt() { -1 } else { 1 }),
        ),
        [start, end, step] => (*start, *end, *step),
        _ => return Err(Fail::msg("must have one, two, or three arguments")),
    };
    if step.is_zero() {
        return Err(Fail::Arg(2, "step must not be zero".into()));
    }
    let down = step.cmp(zero).is_lt();
    if down && end.cmp(start).is_gt() {
        return Err(Fail::Arg(
            1,
            "end must be less than start when step is negative".into(),
        ));
    }
    if !down && end.cmp(start).is_lt() {
        return Err(Fail::Arg(
            1,
            "end must be greater than start when step is positive".into(),
        ));
    }
    // cty adds in 512-bit floats, exact for decimal literals such as 0.1: count in decimal
    // when the numbers have short decimal forms, so 0, 0.1, ... 0.9 stop before 1.
    if let (Some(s0), Some(e0), Some(st)) = (decimal(start), decimal(end), decimal(step)) {
        let scale = s0.1.max(e0.1).max(st.1);
        if let (Some(a), Some(b), Some(c)) =
            (rescale(s0, scale), rescale(e0, scale), rescale(st, scale))
        {
            let mut vals = Vec::new();
            let mut cur = a;
            while if down { cur > b } else { cur < b } {
                if vals.len() >= RANGE_MAX {
                    return Err(Fail::msg(
                        "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step",
                    ));
                }
                vals.push(Val::Num(from_decimal(cur, scale)));
                cur = cur
                    .checked_add(c)
                    .ok_or_else(|| Fail::msg("range overflows"))?;
            }
            return Ok(Val::List(Ty::Num, vals));
        }
    }
    let mut vals = Vec::new();
    let mut cur = start;
    loop {
        let done = if down {
            cur.cmp(end).is_le()
        } else {
            cur.cmp(end).is_ge()
        };
        if done {
            break;
        }
        if vals.len() >= RANGE_MAX {
            return Err(Fail::msg(
                "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step",
            ));
        }
        vals.push(Val::Num(cur));
        cur = cur
            .add(step)
            .ok_or_else(|| Fail::msg("the range produced a value that is not a number"))?;
    }
    Ok(Val::List(Ty::Num, vals))
}

/// A number as `mantissa x 10^-scale` from its shortest decimal form, when that is short.
fn decimal(n: Num) -> Option<(i128, u32)> {
    match n {
        Num::Int(i) => Some((i, 0)),
        Num::Float(f) if f.is_finite() => {
            let text = format!("{f:e}");
            let (m, e) = text.split_once('e')?;
            let e: i32 = e.parse().ok()?;
            let neg = m.starts_with('-');
            let digits: String = m.chars().filter(char::is_ascii_digit).collect();
            let frac_digits = i32::try_from(digits.len()).ok()? - 1;
            let scale = frac_digits - e;
            let mut mant: i128 = digits.parse().ok()?;
            if neg {
                mant = -mant;
            }
            if scale < 0 {
                let factor = 10i128.checked_pow(u32::try_from(-scale).ok()?)?;
                return Some((mant.checked_mul(factor)?, 0));
            }
            let scale = u32::try_from(scale).ok()?;
            (scale <= 30).then_some((mant, scale))
        }
        Num::Float(_) => None,
    }
}

fn rescale((m, s): (i128, u32), to: u32) -> Option<i128> {
    m.checked_mul(10i128.checked_pow(to - s)?)
}

fn from_decimal(m: i128, scale: u32) -> Num {
    if scale == 0 {
        return Num::Int(m);
    }
    format!("{m}e-{scale}")
        .parse::<f64>()
        .ok()
        .and_then(Num::from_f64)
        .unwrap_or(Num::Int(0))
}

fn set_op(args: Vec<Val>, union: bool) -> Res {
    let mut etys = Vec::new();
    for a in &args {
        if let Val::Set(ety, e) = a {
            if e.is_empty() && *ety == Ty::Dyn {
                continue;
            }
            etys.push(ety.clone());
        }
    }
    let ety = if etys.is_empty() {
        Ty::Dyn
    } else {
        unify(&etys)
            .ok_or_else(|| Fail::msg("given sets must all have compatible element types"))?
    };
    let want = Ty::set(ety.clone());
    let mut sets = Vec::with_capacity(args.len());
    for (i, a) in args.into_iter().enumerate() {
        sets.push(
            convert(a, &want)
                .map_err(|m| Fail::Arg(i, m))?
                .into_elements(),
        );
    }
    let mut it = sets.into_iter();
    let mut acc = it.next().unwrap_or_default();
    for other in it {
        if union {
            acc.extend(other);
        } else {
            acc.retain(|e| other.iter().any(|o| equals(o, e)));
        }
    }
    Ok(make_set(ety, acc))
}

pub(super) fn setunion(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    set_op(args, true)
}

pub(super) fn setintersection(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    set_op(args, false)
}

pub(super) fn setproduct(args: Vec<Val>, ctx: &Ctx<'_>) -> Res {
    if args.len() < 2 {
        return Err(Fail::msg("at least two arguments are required"));
    }
    let mut list_count = 0;
    let mut etys = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match a {
            Val::Set(e, _) => etys.push(e.clone()),
            Val::List(e, _) => {
                list_count += 1;
                etys.push(e.clone());
            }
            Val::Tuple(e) => {
                list_count += 1;
                if e.is_empty() {
                    etys.push(Ty::Dyn);
                } else {
                    let tys: Vec<Ty> = e.iter().map(Val::ty).collect();
                    etys.push(unify(&tys).ok_or_else(|| {
                        Fail::Arg(i, "all elements must be of the same type".into())
                    })?);
                }
            }
            _ => return Err(Fail::Arg(i, "a set or a list is required".into())),
        }
    }
    let as_list = list_count == args.len();
    let ety = Ty::Tuple(etys.clone());
    // The size of the product is known before it is built: every element of argument j
    // appears total/len_j times.
    let lens: Vec<usize> = args.iter().map(|a| a.elements().len()).collect();
    let total = lens
        .iter()
        .try_fold(1usize, |acc, l| acc.checked_mul(*l))
        .ok_or(Fail::TooLarge)?;
    if total == 0 {
        return Ok(if as_list {
            Val::List(ety, Vec::new())
        } else {
            Val::Set(ety, Vec::new())
        });
    }
    let mut size = total.saturating_mul(8).saturating_add(8);
    for (a, len) in args.iter().zip(&lens) {
        let sum = a
            .elements()
            .into_iter()
            .map(val_size)
            .fold(0usize, usize::saturating_add);
        size = size.saturating_add((total / len).saturating_mul(sum));
    }
    ctx.check(size)?;
    let mut cols: Vec<Vec<Val>> = Vec::with_capacity(args.len());
    for (a, t) in args.into_iter().zip(&etys) {
        let mut col = Vec::new();
        for e in a.into_elements() {
            col.push(convert(e, t).map_err(Fail::Msg)?);
        }
        cols.push(col);
    }
    let mut idx = vec![0usize; cols.len()];
    let mut out = Vec::with_capacity(total);
    for _ in 0..total {
        out.push(Val::Tuple(
            idx.iter().zip(&cols).map(|(&i, c)| c[i].clone()).collect(),
        ));
        for j in (0..idx.len()).rev() {
            idx[j] += 1;
            if idx[j] < cols[j].len() {
                break;
            }
            idx[j] = 0;
        }
    }
    Ok(if as_list {
        Val::List(ety, out)
    } else {
        make_set(ety, out)
    })
}

pub(super) fn slice(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let elems_len = match &args[0] {
        Val::Set(..) => {
            return Err(Fail::Arg(0, "cannot slice a set, because its elements do not have indices; explicitly convert to a list if the ordering of the result is not important".into()))
        }
        Val::List(_, e) | Val::Tuple(e) => e.len(),
        _ => return Err(Fail::Arg(0, "must be a list or tuple value".into())),
    };
    let start = int_arg(&args[1], 1).map_err(|e| relabel(e, "invalid start index"))?;
    let end = int_arg(&args[2], 2).map_err(|e| relabel(e, "invalid end index"))?;
    let len = i64::try_from(elems_len).unwrap_or(i64::MAX);
    if start < 0 {
        return Err(Fail::Arg(
            1,
            "start index must not be less than zero".into(),
        ));
    }
    if start > len {
        return Err(Fail::Arg(
            1,
            "start index must not be greater than the length of the list".into(),
        ));
    }
    if end < 0 {
        return Err(Fail::Arg(2, "end index must not be less than zero".into()));
    }
    if end > len {
        return Err(Fail::Arg(
            2,
            "end index must not be greater than the length of the list".into(),
        ));
    }
    if start > end {
        return Err(Fail::Arg(
            1,
            "start index must not be greater than end index".into(),
        ));
    }
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(match args.into_iter().next() {
        Some(Val::List(ety, e)) => Val::List(ety, e[start..end].to_vec()),
        Some(Val::Tuple(e)) => Val::Tuple(e[start..end].to_vec()),
        _ => Val::Tuple(Vec::new()),
    })
}

fn relabel(e: Fail, what: &str) -> Fail {
    match e {
        Fail::Arg(i, m) => Fail::Arg(i, format!("{what}: {m}")),
        other => other,
    }
}

pub(super) fn zipmap(args: Vec<Val>, _: &Ctx<'_>) -> Res {
    let mut it = args.into_iter();
    let (Some(keys), Some(values)) = (it.next(), it.next()) else {
        return Err(Fail::msg("zipmap needs two arguments"));
    };
    let keys = keys.into_elements();
    let (ety, vals, as_map) = match values {
        Val::List(ety, v) => (ety, v, true),
        Val::Tuple(v) => (Ty::Dyn, v, false),
        _ => return Err(Fail::msg("values argument must be a list or tuple value")),
    };
    if keys.len() != vals.len() {
        return Err(Fail::msg(format!(
            "number of keys ({}) does not match number of values ({})",
            keys.len(),
            vals.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (i, (k, v)) in keys.into_iter().zip(vals).enumerate() {
        match k {
            Val::Str(k) => {
                out.insert(k, v);
            }
            _ => return Err(Fail::msg(format!("keys list has null value at index {i}"))),
        }
    }
    Ok(if as_map {
        Val::Map(ety, out)
    } else {
        Val::Object(out)
    })
}
