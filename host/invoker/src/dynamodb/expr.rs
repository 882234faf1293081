//! DynamoDB's expression language, parsed: condition expressions (also key
//! conditions), update expressions and document paths. Placeholders are
//! resolved while parsing: `#n` from ExpressionAttributeNames, `:v` from
//! ExpressionAttributeValues ([`Placeholders`] records which were used, as
//! DynamoDB refuses unused ones).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::DynamoError;

/// One step of a document path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Name(String),
    Index(usize),
}

pub type Path = Vec<Step>;

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Value),
    Size(Path),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Cmp(Operand, Cmp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Set(Path, Operand),
    Remove(Path),
    Add(Path, Value),
    Delete(Path, Value),
}

/// ExpressionAttributeNames and ExpressionAttributeValues, and which of them
/// the request's expressions used.
pub struct Placeholders<'a> {
    names: Option<&'a Map<String, Value>>,
    values: Option<&'a Map<String, Value>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl<'a> Placeholders<'a> {
    pub fn new(names: Option<&'a Map<String, Value>>, values: Option<&'a Map<String, Value>>) -> Self {
        Placeholders { names, values, used_names: BTreeSet::new(), used_values: BTreeSet::new() }
    }

    /// Refuses placeholders no expression used, as DynamoDB does.
    pub fn check_all_used(&self) -> Result<(), DynamoError> {
        let unused = |given: Option<&Map<String, Value>>, used: &BTreeSet<String>| -> Vec<String> {
            given.map(|m| m.keys().filter(|k| !used.contains(*k)).cloned().collect()).unwrap_or_default()
        };
        let names = unused(self.names, &self.used_names);
        if !names.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = unused(self.values, &self.used_values);
        if !values.is_empty() {
            return Err(DynamoError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }

    fn name(&mut self, token: &str, what: &str) -> Result<String, DynamoError> {
        match self.names.and_then(|m| m.get(token)).and_then(Value::as_str) {
            Some(n) => {
                self.used_names.insert(token.to_string());
                Ok(n.to_string())
            }
            None => Err(DynamoError::validation(format!(
                "Invalid {what}: An expression attribute name used in the document path is not defined; attribute name: {token}"
            ))),
        }
    }

    fn value(&mut self, token: &str, what: &str) -> Result<Value, DynamoError> {
        match self.values.and_then(|m| m.get(token)) {
            Some(v) => {
                super::value::check(v)?;
                self.used_values.insert(token.to_string());
                Ok(v.clone())
            }
            None => Err(DynamoError::validation(format!(
                "Invalid {what}: An expression attribute value used in expression is not defined; attribute value: {token}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Name(String),
    Value(String),
    Index(usize),
    Punct(&'static str),
}

fn lex(text: &str, what: &str) -> Result<Vec<Token>, DynamoError> {
    const PUNCT: [&str; 13] = ["<>", "<=", ">=", "(", ")", ",", ".", "=", "<", ">", "+", "-", "]"];
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '[' {
            let end = rest.find(']').ok_or_else(|| syntax(what, "[", rest))?;
            let index = rest[1..end].trim().parse().map_err(|_| syntax(what, &rest[..=end], rest))?;
            out.push(Token::Index(index));
            rest = &rest[end + 1..];
            continue;
        }
        if let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) {
            out.push(Token::Punct(p));
            rest = &rest[p.len()..];
            continue;
        }
        let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#' || c == ':')).unwrap_or(rest.len());
        if len == 0 {
            return Err(syntax(what, &rest[..c.len_utf8()], rest));
        }
        let word = &rest[..len];
        out.push(match c {
            '#' => Token::Name(word.to_string()),
            ':' => Token::Value(word.to_string()),
            _ => Token::Word(word.to_string()),
        });
        rest = &rest[len..];
    }
    Ok(out)
}

fn syntax(what: &str, token: &str, near: &str) -> DynamoError {
    let near: String = near.chars().take(12).collect();
    DynamoError::validation(format!("Invalid {what}: Syntax error; token: \"{token}\", near: \"{near}\""))
}

struct Parser<'p, 'a> {
    tokens: Vec<Token>,
    at: usize,
    what: &'static str,
    ph: &'p mut Placeholders<'a>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token::Punct(q)) if *q == p)
    }

    fn error(&self) -> DynamoError {
        let token = match self.peek() {
            None => "<EOF>".to_string(),
            Some(Token::Word(w) | Token::Name(w) | Token::Value(w)) => w.clone(),
            Some(Token::Index(i)) => format!("[{i}]"),
            Some(Token::Punct(p)) => p.to_string(),
        };
        DynamoError::validation(format!("Invalid {}: Syntax error; token: \"{token}\"", self.what))
    }

    fn expect(&mut self, p: &str) -> Result<(), DynamoError> {
        if self.punct(p) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn path(&mut self) -> Result<Path, DynamoError> {
        let mut path = vec![self.path_name()?];
        loop {
            match self.peek() {
                Some(Token::Index(i)) => {
                    path.push(Step::Index(*i));
                    self.at += 1;
                }
                Some(Token::Punct(".")) => {
                    self.at += 1;
                    path.push(self.path_name()?);
                }
                _ => return Ok(path),
            }
        }
    }

    fn path_name(&mut self) -> Result<Step, DynamoError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(Step::Name(w)),
            Some(Token::Name(n)) => Ok(Step::Name(self.ph.name(&n, self.what)?)),
            _ => {
                self.at -= 1;
                Err(self.error())
            }
        }
    }

    /// An operand, with `+`/`-` where `arithmetic` (update SET values).
    fn operand(&mut self, arithmetic: bool) -> Result<Operand, DynamoError> {
        let first = self.term()?;
        if !arithmetic {
            return Ok(first);
        }
        if self.punct("+") || self.punct("-") {
            let plus = self.punct("+");
            self.at += 1;
            let second = self.term()?;
            return Ok(if plus { Operand::Plus(first.into(), second.into()) } else { Operand::Minus(first.into(), second.into()) });
        }
        Ok(first)
    }

    fn term(&mut self) -> Result<Operand, DynamoError> {
        match self.peek().cloned() {
            Some(Token::Value(v)) => {
                self.at += 1;
                Ok(Operand::Value(self.ph.value(&v, self.what)?))
            }
            Some(Token::Word(w)) if self.tokens.get(self.at + 1) == Some(&Token::Punct("(")) => {
                self.at += 2;
                let f = w.as_str();
                let operand = match f {
                    "size" => Operand::Size(self.path()?),
                    "if_not_exists" => {
                        let p = self.path()?;
                        self.expect(",")?;
                        Operand::IfNotExists(p, self.term()?.into())
                    }
                    "list_append" => {
                        let a = self.term()?;
                        self.expect(",")?;
                        Operand::ListAppend(a.into(), self.term()?.into())
                    }
                    _ => {
                        return Err(DynamoError::validation(format!(
                            "Invalid {}: Invalid function name; function: {f}",
                            self.what
                        )));
                    }
                };
                self.expect(")")?;
                Ok(operand)
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn condition(&mut self) -> Result<Cond, DynamoError> {
        let mut left = self.conjunction()?;
        while self.keyword("OR") {
            self.at += 1;
            left = Cond::Or(left.into(), self.conjunction()?.into());
        }
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Cond, DynamoError> {
        let mut left = self.negation()?;
        while self.keyword("AND") {
            self.at += 1;
            left = Cond::And(left.into(), self.negation()?.into());
        }
        Ok(left)
    }

    fn negation(&mut self) -> Result<Cond, DynamoError> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Cond::Not(self.negation()?.into()));
        }
        if self.punct("(") {
            self.at += 1;
            let c = self.condition()?;
            self.expect(")")?;
            return Ok(c);
        }
        if let Some(c) = self.function_condition()? {
            return Ok(c);
        }
        let left = self.operand(false)?;
        self.comparison(left)
    }

    fn function_condition(&mut self) -> Result<Option<Cond>, DynamoError> {
        let Some(Token::Word(w)) = self.peek().cloned() else { return Ok(None) };
        if self.tokens.get(self.at + 1) != Some(&Token::Punct("(")) || matches!(w.as_str(), "size") {
            return Ok(None);
        }
        self.at += 2;
        let c = match w.as_str() {
            "attribute_exists" => Cond::Exists(self.path()?),
            "attribute_not_exists" => Cond::NotExists(self.path()?),
            "attribute_type" => {
                let p = self.path()?;
                self.expect(",")?;
                Cond::Type(p, self.term()?)
            }
            "begins_with" | "contains" => {
                let a = self.term()?;
                self.expect(",")?;
                let b = self.term()?;
                if w == "contains" { Cond::Contains(a, b) } else { Cond::BeginsWith(a, b) }
            }
            f => {
                return Err(DynamoError::validation(format!("Invalid {}: Invalid function name; function: {f}", self.what)));
            }
        };
        self.expect(")")?;
        Ok(Some(c))
    }

    fn comparison(&mut self, left: Operand) -> Result<Cond, DynamoError> {
        let op = match self.peek() {
            Some(Token::Punct("=")) => Cmp::Eq,
            Some(Token::Punct("<>")) => Cmp::Ne,
            Some(Token::Punct("<")) => Cmp::Lt,
            Some(Token::Punct("<=")) => Cmp::Le,
            Some(Token::Punct(">")) => Cmp::Gt,
            Some(Token::Punct(">=")) => Cmp::Ge,
            _ if self.keyword("BETWEEN") => {
                self.at += 1;
                let low = self.operand(false)?;
                if !self.keyword("AND") {
                    return Err(self.error());
                }
                self.at += 1;
                return Ok(Cond::Between(left, low, self.operand(false)?));
            }
            _ if self.keyword("IN") => {
                self.at += 1;
                self.expect("(")?;
                let mut list = vec![self.operand(false)?];
                while self.punct(",") {
                    self.at += 1;
                    list.push(self.operand(false)?);
                }
                self.expect(")")?;
                return Ok(Cond::In(left, list));
            }
            _ => return Err(self.error()),
        };
        self.at += 1;
        Ok(Cond::Cmp(left, op, self.operand(false)?))
    }

    fn update(&mut self) -> Result<Vec<Action>, DynamoError> {
        let mut actions = Vec::new();
        let mut seen = BTreeSet::new();
        while self.peek().is_some() {
            let Some(Token::Word(clause)) = self.next() else {
                self.at -= 1;
                return Err(self.error());
            };
            let clause = clause.to_ascii_uppercase();
            if !seen.insert(clause.clone()) {
                return Err(DynamoError::validation(format!(
                    "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;"
                )));
            }
            loop {
                let path = self.path()?;
                actions.push(match clause.as_str() {
                    "SET" => {
                        self.expect("=")?;
                        Action::Set(path, self.operand(true)?)
                    }
                    "REMOVE" => Action::Remove(path),
                    "ADD" | "DELETE" => {
                        let Operand::Value(v) = self.term()? else { return Err(self.error()) };
                        if clause == "ADD" { Action::Add(path, v) } else { Action::Delete(path, v) }
                    }
                    _ => {
                        self.at -= 1;
                        return Err(self.error());
                    }
                });
                if !self.punct(",") {
                    break;
                }
                self.at += 1;
            }
        }
        if actions.is_empty() {
            return Err(DynamoError::validation("Invalid UpdateExpression: The expression can not be empty;"));
        }
        Ok(actions)
    }
}

fn parser<'p, 'a>(text: &str, what: &'static str, ph: &'p mut Placeholders<'a>) -> Result<Parser<'p, 'a>, DynamoError> {
    if text.trim().is_empty() {
        return Err(DynamoError::validation(format!("Invalid {what}: The expression can not be empty;")));
    }
    Ok(Parser { tokens: lex(text, what)?, at: 0, what, ph })
}

/// Parses a condition expression (`what` names it in errors:
/// `ConditionExpression`, `KeyConditionExpression`, `FilterExpression`).
pub fn condition(text: &str, what: &'static str, ph: &mut Placeholders) -> Result<Cond, DynamoError> {
    let mut p = parser(text, what, ph)?;
    let c = p.condition()?;
    if p.peek().is_some() {
        return Err(p.error());
    }
    Ok(c)
}

/// Parses a projection expression: document paths separated by commas.
pub fn projection(text: &str, ph: &mut Placeholders) -> Result<Vec<Path>, DynamoError> {
    let mut p = parser(text, "ProjectionExpression", ph)?;
    let mut paths = vec![p.path()?];
    while p.punct(",") {
        p.at += 1;
        paths.push(p.path()?);
    }
    if p.peek().is_some() {
        return Err(p.error());
    }
    Ok(paths)
}

/// Parses an update expression.
pub fn update(text: &str, ph: &mut Placeholders) -> Result<Vec<Action>, DynamoError> {
    parser(text, "UpdateExpression", ph)?.update()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_cond(text: &str, values: Value) -> Result<Cond, DynamoError> {
        let names = json!({"#s": "status"});
        let mut ph = Placeholders::new(names.as_object(), values.as_object());
        condition(text, "ConditionExpression", &mut ph)
    }

    #[test]
    fn conditions_parse_with_precedence() {
        let c = parse_cond("attribute_not_exists(id) OR #s = :a AND NOT size(tags) > :n", json!({":a": {"S": "x"}, ":n": {"N": "2"}}))
            .unwrap();
        let Cond::Or(left, right) = c else { panic!("{c:?}") };
        assert_eq!(*left, Cond::NotExists(vec![Step::Name("id".into())]));
        assert!(matches!(*right, Cond::And(_, _)));
    }

    #[test]
    fn paths_have_names_indexes_and_placeholders() {
        let c = parse_cond("a.b[2].#s BETWEEN :lo AND :hi", json!({":lo": {"N": "1"}, ":hi": {"N": "3"}})).unwrap();
        let Cond::Between(Operand::Path(p), _, _) = c else { panic!() };
        assert_eq!(p, vec![Step::Name("a".into()), Step::Name("b".into()), Step::Index(2), Step::Name("status".into())]);
    }

    #[test]
    fn undefined_placeholders_and_syntax_errors_are_named() {
        let e = parse_cond("a = :nope", json!({})).unwrap_err();
        assert!(e.to_string().contains("attribute value: :nope"), "{e}");
        let e = parse_cond("a = = b", json!({})).unwrap_err();
        assert!(e.to_string().starts_with("Invalid ConditionExpression: Syntax error; token: \"=\""), "{e}");
        let e = parse_cond("frobnicate(a)", json!({})).unwrap_err();
        assert!(e.to_string().contains("function: frobnicate"), "{e}");
    }

    #[test]
    fn updates_parse_every_clause() {
        let values = json!({":one": {"N": "1"}, ":l": {"L": []}, ":t": {"SS": ["x"]}});
        let mut ph = Placeholders::new(None, values.as_object());
        let actions = update("SET n = if_not_exists(n, :one) + :one, l = list_append(l, :l) REMOVE old ADD c :one DELETE t :t", &mut ph).unwrap();
        assert_eq!(actions.len(), 5);
        ph.check_all_used().unwrap();
        let mut ph = Placeholders::new(None, values.as_object());
        let e = update("SET a = :one SET b = :one", &mut ph).unwrap_err();
        assert!(e.to_string().contains("\"SET\" section can only be used once"), "{e}");
    }

    #[test]
    fn unused_values_are_refused() {
        let values = json!({":a": {"S": "x"}, ":b": {"S": "y"}});
        let mut ph = Placeholders::new(None, values.as_object());
        condition("x = :a", "ConditionExpression", &mut ph).unwrap();
        let e = ph.check_all_used().unwrap_err();
        assert_eq!(e.to_string(), "Value provided in ExpressionAttributeValues unused in expressions: keys: {:b}");
    }
}
