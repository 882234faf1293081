//! The path parser: a byte cursor over the source.

use super::syntax::{CmpOp, Filter, Operand, PathFn, RegexLit, Seg};
use super::{PathParseError, Root};
use serde_json::Value;

pub(super) struct Parser<'a> {
    pub(super) s: &'a [u8],
    pub(super) src: &'a str,
    pub(super) i: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    pub(super) fn err(&self, what: &str) -> PathParseError {
        PathParseError(format!(
            "Invalid JSONPath '{}': {} at position {}",
            self.src, what, self.i
        ))
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    pub(super) fn root(&mut self) -> Result<Root, PathParseError> {
        if !self.eat(b'$') {
            return Err(self.err("path must start with '$'"));
        }
        if self.eat(b'$') {
            return Ok(Root::Context);
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i > start {
            Ok(Root::Variable(self.src[start..self.i].to_string()))
        } else {
            Ok(Root::Input)
        }
    }
    /// A dot-notation property name. Outside filters it runs, as Jayway
    /// reads it, to the next `.`, `[` or `(` (a blank is an error: such a
    /// name needs brackets); inside a filter it also ends at an operator,
    /// quote, comma or closing bracket.
    fn name(&mut self, in_filter: bool) -> Result<String, PathParseError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let ends = if in_filter {
                matches!(
                    c,
                    b'.' | b'[' | b']' | b' ' | b'(' | b')' | b',' | b'\'' | b'"' | b'=' | b'!' | b'<' | b'>' | b'&'
                        | b'|' | b'\t' | b'\n'
                )
            } else {
                matches!(c, b'.' | b'[' | b'(')
            };
            if ends {
                break;
            }
            if !in_filter && matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                return Err(self.err("a property name with blanks needs bracket notation ['my prop']"));
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a property name"));
        }
        // Only ASCII bytes end a name, so the slice is on a char boundary.
        Ok(self.src[start..self.i].to_string())
    }
    /// Parses segments until end (or, inside filters, until a non-path char).
    pub(super) fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, PathParseError> {
        let mut segs = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    if self.eat(b'.') {
                        // deep scan
                        let inner = if self.peek() == Some(b'[') {
                            self.bracket()?
                        } else if self.eat(b'*') {
                            Seg::Wildcard
                        } else {
                            Seg::Child(self.name(in_filter)?)
                        };
                        segs.push(Seg::Deep(Box::new(inner)));
                    } else if self.eat(b'*') {
                        segs.push(Seg::Wildcard);
                    } else if self.peek() == Some(b'[') {
                        let b = self.bracket()?;
                        segs.push(b);
                    } else {
                        let n = self.name(in_filter)?;
                        if self.peek() == Some(b'(') {
                            self.i += 1;
                            let f = self.function(&n)?;
                            segs.push(Seg::Func(f));
                            if !in_filter && self.i != self.s.len() {
                                return Err(self.err("function must be last"));
                            }
                        } else {
                            segs.push(Seg::Child(n));
                        }
                    }
                }
                Some(b'[') => {
                    let b = self.bracket()?;
                    segs.push(b);
                }
                _ => break,
            }
            if segs.len() > 256 {
                return Err(self.err("path too long"));
            }
        }
        Ok(segs)
    }
    fn quoted(&mut self) -> Result<String, PathParseError> {
        // Anything but a quote here (a name list's next entry) is refused
        // before stepping over it: a multi-byte character's first byte is
        // not a place to cut the text (the fuzzer found a panic there).
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.err("expected quote")),
        };
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.i..];
            let mut chars = rest.char_indices();
            match chars.next() {
                None => return Err(self.err("unterminated string")),
                Some((_, c)) if c as u32 == q as u32 => {
                    self.i += 1;
                    return Ok(out);
                }
                Some((_, '\\')) => {
                    // Only an escaped quote (or backslash) is an escape; any other
                    // backslash is literal (Jayway).
                    self.i += 1;
                    match self.src[self.i..].chars().next() {
                        None => return Err(self.err("unterminated escape")),
                        Some(c) if c as u32 == q as u32 || c == '\\' => {
                            out.push(c);
                            self.i += c.len_utf8();
                        }
                        Some(_) => out.push('\\'),
                    }
                }
                Some((_, c)) => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }
    fn int(&mut self) -> Result<i64, PathParseError> {
        self.ws();
        let start = self.i;
        self.eat(b'-');
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.src[start..self.i]
            .parse::<i64>()
            .map_err(|_| self.err("expected an integer"))
    }
    fn opt_int(&mut self) -> Result<Option<i64>, PathParseError> {
        self.ws();
        if matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            self.int().map(Some)
        } else {
            Ok(None)
        }
    }
    fn bracket(&mut self) -> Result<Seg, PathParseError> {
        self.i += 1; // [
        self.ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Seg::Wildcard
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                self.ws();
                while self.eat(b',') {
                    self.ws();
                    names.push(self.quoted()?);
                    self.ws();
                }
                if names.len() == 1 {
                    Seg::Child(names.pop().unwrap_or_default())
                } else {
                    Seg::Names(names)
                }
            }
            Some(b'?') => {
                self.i += 1;
                self.ws();
                if !self.eat(b'(') {
                    return Err(self.err("expected '(' after '?'"));
                }
                let f = self.filter_or(0)?;
                self.ws();
                if !self.eat(b')') {
                    return Err(self.err("expected ')'"));
                }
                Seg::Filter(Box::new(f))
            }
            Some(b':') => {
                self.i += 1;
                let b = self.opt_int()?;
                self.ws();
                let c = if self.eat(b':') {
                    self.opt_int()?
                } else {
                    None
                };
                Seg::Slice(None, b, c)
            }
            Some(b'-' | b'0'..=b'9') => {
                let a = self.int()?;
                self.ws();
                if self.eat(b':') {
                    let b = self.opt_int()?;
                    self.ws();
                    let c = if self.eat(b':') {
                        self.opt_int()?
                    } else {
                        None
                    };
                    Seg::Slice(Some(a), b, c)
                } else if self.peek() == Some(b',') {
                    let mut v = vec![a];
                    while self.eat(b',') {
                        v.push(self.int()?);
                        self.ws();
                    }
                    Seg::Indices(v)
                } else {
                    Seg::Index(a)
                }
            }
            _ => return Err(self.err("invalid bracket expression")),
        };
        self.ws();
        if !self.eat(b']') {
            return Err(self.err("expected ']'"));
        }
        Ok(seg)
    }
    fn filter_or(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("filter nested too deeply"));
        }
        let mut l = self.filter_and(depth)?;
        loop {
            self.ws();
            if self.s[self.i..].starts_with(b"||") {
                self.i += 2;
                let r = self.filter_and(depth)?;
                l = Filter::Or(Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_and(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        let mut l = self.filter_atom(depth)?;
        loop {
            self.ws();
            if self.s[self.i..].starts_with(b"&&") {
                self.i += 2;
                let r = self.filter_atom(depth)?;
                l = Filter::And(Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_atom(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        self.ws();
        if self.peek() == Some(b'!') && self.s.get(self.i + 1) != Some(&b'=') {
            self.i += 1;
            let f = self.filter_atom(depth + 1)?;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.eat(b'(') {
            let f = self.filter_or(depth + 1)?;
            self.ws();
            if !self.eat(b')') {
                return Err(self.err("expected ')'"));
            }
            return Ok(f);
        }
        let l = self.operand()?;
        self.ws();
        let rest = &self.s[self.i..];
        let (op, n) = if rest.starts_with(b"===") {
            (CmpOp::StrictEq, 3)
        } else if rest.starts_with(b"!==") {
            (CmpOp::StrictNe, 3)
        } else if rest.starts_with(b"==") {
            (CmpOp::Eq, 2)
        } else if rest.starts_with(b"!=") {
            (CmpOp::Ne, 2)
        } else if rest.starts_with(b"<=") {
            (CmpOp::Le, 2)
        } else if rest.starts_with(b">=") {
            (CmpOp::Ge, 2)
        } else if rest.starts_with(b"=~") {
            (CmpOp::Match, 2)
        } else if rest.starts_with(b"<") {
            (CmpOp::Lt, 1)
        } else if rest.starts_with(b">") {
            (CmpOp::Gt, 1)
        } else if let Some(found) = keyword_operator(rest) {
            found
        } else {
            return Ok(Filter::Exists(l));
        };
        self.i += n;
        self.ws();
        let r = if op == CmpOp::Match {
            self.regex()?
        } else {
            self.operand()?
        };
        Ok(Filter::Cmp(l, op, r))
    }
    /// A function's arguments after its `(`, through its `)`: none, or for
    /// `concat` and `append` literals and paths separated by commas.
    fn function(&mut self, name: &str) -> Result<PathFn, PathParseError> {
        let mut args = Vec::new();
        self.ws();
        if !self.eat(b')') {
            loop {
                args.push(self.operand()?);
                self.ws();
                if self.eat(b')') {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.err("expected ',' or ')'"));
                }
            }
        }
        match name {
            "concat" => Ok(PathFn::Concat(args)),
            "append" => Ok(PathFn::Append(args)),
            _ if !args.is_empty() => Err(self.err("functions take no arguments")),
            _ => PathFn::named(name).ok_or_else(|| self.err("unknown function")),
        }
    }
    fn regex(&mut self) -> Result<Operand, PathParseError> {
        if !self.eat(b'/') {
            return Err(self.err("expected regex"));
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if c == b'/' {
                break;
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(self.err("unterminated regex"));
        }
        let body = &self.src[start..self.i];
        self.i += 1;
        let ci = self.eat(b'i');
        let pat = if ci {
            format!("(?i)^(?:{body})$")
        } else {
            format!("^(?:{body})$")
        };
        regex::Regex::new(&pat)
            .map(|r| Operand::Regex(RegexLit(r)))
            .map_err(|_| self.err("invalid regex"))
    }
    fn operand(&mut self) -> Result<Operand, PathParseError> {
        self.ws();
        match self.peek() {
            Some(b'@') => {
                self.i += 1;
                Ok(Operand::Current(self.segments(true)?))
            }
            Some(b'$') => {
                self.i += 1;
                Ok(Operand::Root(self.segments(true)?))
            }
            Some(b'\'' | b'"') => Ok(Operand::Lit(Value::String(self.quoted()?))),
            Some(b'[') => {
                // array literal: parse as JSON up to matching ]
                let start = self.i;
                let mut depth = 0i32;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == b'[' {
                        depth += 1
                    } else if c == b']' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                let txt = self.src[start..self.i].replace('\'', "\"");
                serde_json::from_str(&txt)
                    .map(Operand::Lit)
                    .map_err(|_| self.err("invalid array literal"))
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b'_') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let tok = &self.src[start..self.i];
                match tok {
                    "true" => Ok(Operand::Lit(Value::Bool(true))),
                    "false" => Ok(Operand::Lit(Value::Bool(false))),
                    "null" => Ok(Operand::Lit(Value::Null)),
                    "" => Err(self.err("invalid filter operand")),
                    _ => Ok(match serde_json::from_str::<serde_json::Number>(tok).ok().or_else(|| decimal(tok)) {
                        Some(n) => Operand::Lit(Value::Number(n)),
                        None => Operand::Unreadable(tok.to_string()),
                    }),
                }
            }
        }
    }
}

/// A number as Java's `BigDecimal` reads it, which Jayway's filter
/// literals are: digits with an optional point (`.85`, `1.`), sign and
/// exponent, which JSON's grammar refuses in part.
pub(super) fn decimal(tok: &str) -> Option<serde_json::Number> {
    let unsigned = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) || !exponent_ok {
        return None;
    }
    serde_json::Number::from_f64(tok.parse::<f64>().ok().or_else(|| format!("{tok}0").parse().ok())?)
}

/// Jayway's word operators (`in`, `nin`, `subsetof`, `anyof`, `noneof`,
/// `size`, `empty`, `contains`, `all`, `exists`, in any case, as Jayway
/// reads them), each ended by a blank or the operand's `[`, `'`, `@` or
/// `$`; with its length.
fn keyword_operator(rest: &[u8]) -> Option<(CmpOp, usize)> {
    const WORDS: [(&[u8], CmpOp); 10] = [
        (b"contains", CmpOp::Contains),
        (b"all", CmpOp::All),
        (b"exists", CmpOp::ExistsOp),
        (b"nin", CmpOp::Nin),
        (b"in", CmpOp::In),
        (b"subsetof", CmpOp::SubsetOf),
        (b"anyof", CmpOp::AnyOf),
        (b"noneof", CmpOp::NoneOf),
        (b"size", CmpOp::Size),
        (b"empty", CmpOp::Empty),
    ];
    WORDS.iter().find_map(|(word, op)| {
        let head = rest.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word) {
            return None;
        }
        let after = rest.get(word.len())?;
        (after.is_ascii_whitespace() || matches!(after, b'[' | b'\'' | b'"' | b'@' | b'$')).then_some((*op, word.len()))
    })
}
