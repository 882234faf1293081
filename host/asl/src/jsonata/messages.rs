//! jsonata-core's evaluation errors in the words AWS writes them. AWS
//! reports a failed expression with jsonata-js's message catalogue
//! (`T0410: Argument 1 of function "abs" does not match function
//! signature`); jsonata-core carries the same codes with its own texts.
//! [`reword`] maps each text it knows to the catalogue's, taking the pieces
//! jsonata-core leaves out (the function's name, the operator) from the
//! expression's source. The differential of tools/oracle (jsonata_diff.py)
//! measures what is left.

/// jsonata-core's `message` (`"CODE: text"` or a bare text) as jsonata-js
/// words it, for the expression `source`.
pub fn reword(message: &str, source: &str) -> String {
    let Some((code, text)) = split_code(message) else {
        return message.to_string();
    };
    // AWS bounds evaluation with jsonata-java's Timebox, whose messages carry
    // no code: its depth refusal is recorded from AWS ("Stack overflow error:
    // Check for non-terminating recursive function. …", floci-io/floci
    // issue 2737), and its time refusal is this one.
    match code {
        "D1012" => return "Expression evaluation timeout: Check for infinite loop".into(),
        // jsonata-core's sequence bound, and a cancel (only the memory watch,
        // `watch`, cancels), stand for AWS's memory bound.
        "D2015" | "U1003" => return "Expression evaluation memory limit exceeded: Check for excessive memory usage".into(),
        _ => {}
    }
    let js = match code {
        "T0410" | "T0412" => signature(code, text, source),
        "T2001" | "T2002" => Some(quote_operator(text)),
        "T2010" => comparison_operator(source)
            .map(|op| format!("The expressions either side of operator \"{op}\" must evaluate to numeric or string values")),
        "T2003" => Some("The left side of the range operator (..) must evaluate to an integer".into()),
        "T2004" => Some("The right side of the range operator (..) must evaluate to an integer".into()),
        "T1006" => Some("Attempted to invoke a non-function".into()),
        "T1010" => called_function(source).map(|name| {
            format!("The matcher function argument passed to function \"{name}\" does not return the correct object structure")
        }),
        "D3001" => Some("Attempting to invoke string function on Infinity or NaN".into()),
        "D3010" => Some("Second argument of replace function cannot be an empty string".into()),
        "D3020" => Some("Third argument of split function must evaluate to a positive number".into()),
        "D3030" => text
            .strip_prefix("Cannot convert '")
            .and_then(|t| t.strip_suffix("' to number"))
            .map(|v| format!("Unable to cast value to a number: {}", serde_json::Value::from(v))),
        "D3061" => power(text),
        // $formatNumber's picture rules: jsonata-core checks each under
        // jsonata-js's code, with its own text (AWS's D3086 recorded in
        // floci-io/floci issue 2737).
        "D3080" => Some("The picture string must only contain a maximum of two sub-pictures".into()),
        "D3081" => Some("The sub-picture must not contain more than one instance of the 'decimal-separator' character".into()),
        "D3082" => Some("The sub-picture must not contain more than one instance of the 'percent' character".into()),
        "D3083" => Some("The sub-picture must not contain more than one instance of the 'per-mille' character".into()),
        "D3084" => Some("The sub-picture must not contain both a 'percent' and a 'per-mille' character".into()),
        "D3085" => Some(
            "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'".into(),
        ),
        "D3086" => Some(
            "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character".into(),
        ),
        "D3087" => Some("The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character".into()),
        "D3088" => Some("The sub-picture must not contain a 'grouping-separator' at the end of the integer part".into()),
        "D3089" => Some("The sub-picture must not contain two adjacent instances of the 'grouping-separator' character".into()),
        "D3090" => Some(
            "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'".into(),
        ),
        "D3091" => Some(
            "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'".into(),
        ),
        "D3092" => Some("A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'".into()),
        "D3093" => Some("The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'".into()),
        "D3100" => text
            .strip_prefix("Radix must be between 2 and 36, got ")
            .map(|r| format!("The radix of the formatBase function must be between 2 and 36.  It was given {r}")),
        "D3130" => Some(format!(
            "Formatting or parsing an integer as a sequence starting with \"{text}\" is not supported by this implementation"
        )),
        "D3137" if text.is_empty() => Some("$error() function evaluated".into()),
        "D3141" if text.is_empty() => Some("$assert() statement failed".into()),
        "D3138" => text.rfind(" (").filter(|_| text.ends_with(" values)")).map(|at| text[..at].to_string()),
        _ => None,
    };
    format!("{code}: {}", js.as_deref().unwrap_or(text))
}

/// A parse error as jsonata-js words it, which AWS reports at validation
/// (`INVALID_JSONATA_EXPRESSION: Expected "]", got ","`, recorded in
/// floci-io/floci issue 2745): jsonata-core names the tokens (`Expected
/// RightBracket, got Comma`); jsonata-js writes each as JSON (a symbol or
/// name quoted, a number as it is). A token it does not know is left.
pub fn reword_parse(message: &str) -> String {
    let (expected, found) = if let Some(rest) = message.strip_prefix("Expected ") {
        match rest.split_once(", got ") {
            Some((e, f)) => (e, Some(f)),
            None => match rest.strip_suffix(" before end of expression") {
                Some(e) => (e, None),
                None => return message.to_string(),
            },
        }
    } else {
        return message.to_string();
    };
    let Some(expected) = token_json(expected) else { return message.to_string() };
    match found.map(token_json) {
        None => format!("Expected {expected} before end of expression"),
        Some(Some(found)) => format!("Expected {expected}, got {found}"),
        Some(None) => message.to_string(),
    }
}

/// A jsonata-core token (its Debug form) as jsonata-js shows it.
fn token_json(token: &str) -> Option<String> {
    let symbol = match token {
        "Plus" => "+",
        "Minus" => "-",
        "Star" => "*",
        "StarStar" => "**",
        "Slash" => "/",
        "Percent" => "%",
        "Equal" => "=",
        "NotEqual" => "!=",
        "LessThan" => "<",
        "LessThanOrEqual" => "<=",
        "GreaterThan" => ">",
        "GreaterThanOrEqual" => ">=",
        "And" => "and",
        "Or" => "or",
        "In" => "in",
        "Ampersand" => "&",
        "Dot" => ".",
        "DotDot" => "..",
        "Question" => "?",
        "QuestionQuestion" => "??",
        "QuestionColon" => "?:",
        "Colon" => ":",
        "ColonEqual" => ":=",
        "TildeArrow" => "~>",
        "LeftParen" => "(",
        "RightParen" => ")",
        "LeftBracket" => "[",
        "RightBracket" => "]",
        "LeftBrace" => "{",
        "RightBrace" => "}",
        "Comma" => ",",
        "Semicolon" => ";",
        "Caret" => "^",
        "Pipe" => "|",
        "Hash" => "#",
        "At" => "@",
        other => {
            let quoted = |inner: &str| serde_json::from_str::<String>(inner).ok().map(|s| serde_json::Value::from(s).to_string());
            if let Some(inner) = other.strip_prefix("Identifier(").and_then(|t| t.strip_suffix(')')) {
                return quoted(inner);
            }
            if let Some(inner) = other.strip_prefix("String(").and_then(|t| t.strip_suffix(')')) {
                return quoted(inner);
            }
            if let Some(n) = other.strip_prefix("Number(").and_then(|t| t.strip_suffix(')')).and_then(|n| n.parse::<f64>().ok()) {
                return Some(js_number(n));
            }
            return None;
        }
    };
    Some(serde_json::Value::from(symbol).to_string())
}

/// Whether a reworded message carries a code: AWS then ends its own
/// sentence before it (`… during evaluation. T0410: …`), and joins a bare
/// message with a colon.
pub fn has_code(message: &str) -> bool {
    split_code(message).is_some()
}

fn split_code(message: &str) -> Option<(&str, &str)> {
    let b = message.as_bytes();
    let coded = b.len() >= 6 && b[0].is_ascii_uppercase() && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b':';
    coded.then(|| (&message[..5], message[6..].strip_prefix(' ').unwrap_or(&message[6..])))
}

/// T0410 and T0412: jsonata-js names the function and the argument that
/// does not fit.
fn signature(code: &str, text: &str, source: &str) -> Option<String> {
    if text.contains(" of function \"") {
        // Already jsonata-js's words (Step Functions' own functions).
        return Some(text.to_string());
    }
    let name = called_function(source)?;
    let (index, rest) = if let Some(counts) = text.strip_prefix("Argument count mismatch: expected ") {
        // Too many arguments: the first one past the function's last
        // parameter; too few: the first one missing.
        let (expected, got) = counts.split_once(", got ")?;
        let (expected, got): (usize, usize) = (expected.parse().ok()?, got.parse().ok()?);
        let index = match max_arity(&name) {
            Some(max) if got > max => max + 1,
            _ if got > expected => expected + 1,
            _ => got + 1,
        };
        (index, None)
    } else {
        let rest = text.strip_prefix("Argument ")?;
        let rest = rest.strip_prefix("1 of function $join ").map(|r| ("1", r)).or_else(|| rest.split_once(' '))?;
        (rest.0.parse().ok()?, Some(rest.1))
    };
    if code == "T0410" {
        return Some(format!("Argument {index} of function \"{name}\" does not match function signature"));
    }
    let element = rest?.strip_prefix("must be an array of ")?;
    let plural = match element {
        "Number" => "numbers",
        "String" => "strings",
        "Boolean" => "booleans",
        "Object" => "objects",
        "Array" => "arrays",
        "Function" => "functions",
        _ => return None,
    };
    Some(format!("Argument {index} of function \"{name}\" must be an array of \"{plural}\""))
}

/// The built-in function an expression calls: the only one it names, or
/// else the last named (the innermost of nested calls is applied first).
fn called_function(source: &str) -> Option<String> {
    let text = super::strip_strings(source);
    let mut last = None;
    let mut rest = text.as_str();
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end > 0 && rest[end..].trim_start().starts_with('(') && max_arity(&rest[..end]).is_some() {
            last = Some(rest[..end].to_string());
        }
    }
    last
}

/// How many parameters each JSONata built-in takes (jsonata-js's
/// signatures); `None` for a name that is not one.
fn max_arity(name: &str) -> Option<usize> {
    Some(match name {
        "random" | "millis" => 0,
        "sum" | "count" | "max" | "min" | "average" | "lowercase" | "uppercase" | "length" | "trim"
        | "number" | "floor" | "ceil" | "abs" | "sqrt" | "boolean" | "not" | "keys" | "exists" | "spread"
        | "merge" | "reverse" | "shuffle" | "distinct" | "base64encode" | "base64decode" | "encodeUrlComponent"
        | "encodeUrl" | "decodeUrlComponent" | "decodeUrl" | "clone" | "type" | "error" => 1,
        "string" | "substringBefore" | "substringAfter" | "contains" | "join" | "formatBase" | "formatInteger"
        | "parseInteger" | "round" | "power" | "map" | "filter" | "single" | "sift" | "lookup" | "append"
        | "each" | "assert" | "sort" | "eval" | "toMillis" | "now" => 2,
        "substring" | "pad" | "match" | "split" | "formatNumber" | "reduce" | "fromMillis" => 3,
        "replace" => 4,
        "zip" => usize::MAX - 1,
        _ => return None,
    })
}

/// `The left side of the + operator …` → `… the "+" operator …`.
fn quote_operator(text: &str) -> String {
    for side in ["The left side of the ", "The right side of the "] {
        if let Some(rest) = text.strip_prefix(side) {
            if let Some((op, tail)) = rest.split_once(" operator") {
                if !op.starts_with('"') {
                    return format!("{side}\"{op}\" operator{tail}");
                }
            }
        }
    }
    text.to_string()
}

/// The ordering operator of an expression (`<`, `<=`, `>`, `>=`), the
/// first written.
fn comparison_operator(source: &str) -> Option<&'static str> {
    let text = super::strip_strings(source);
    let at = text.find(['<', '>'])?;
    let rest = &text[at..];
    Some(match (rest.starts_with('<'), rest[1..].starts_with('=')) {
        (true, true) => "<=",
        (true, false) => "<",
        (false, true) => ">=",
        (false, false) => ">",
    })
}

/// D3061: jsonata-js prints the base and exponent as JavaScript does.
fn power(text: &str) -> Option<String> {
    let (head, numbers) = text.split_once(": base=")?;
    let (base, exponent) = numbers.split_once(", exponent=")?;
    let (base, exponent): (f64, f64) = (base.parse().ok()?, exponent.parse().ok()?);
    Some(format!("{head}: base={}, exponent={}", js_number(base), js_number(exponent)))
}

/// A number as JavaScript's `String(n)` writes it.
pub fn js_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    let abs = n.abs();
    if (1e-6..1e21).contains(&abs) {
        return format!("{n}");
    }
    let e = format!("{n:e}");
    match e.split_once('e') {
        Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
        _ => e,
    }
}

#[cfg(test)]
mod tests {

    /// jsonata-core's token names as jsonata-js writes the tokens; AWS's
    /// `Expected "]", got ","` recorded in floci-io/floci issue 2745.
    #[test]
    fn parse_errors_name_tokens_as_jsonata_js() {
        for (expr, message) in [
            ("a[1,2)", "Expected \"]\", got \",\""),
            ("(1", "Expected \")\" before end of expression"),
            ("{\"a\": 1 2}", "Expected \"}\", got 2"),
        ] {
            let e = crate::jsonata::Expression::parse(expr).unwrap_err();
            assert_eq!(e, message, "{expr}");
        }
        assert_eq!(reword_parse("Expected Something, got Else"), "Expected Something, got Else");
    }

    use super::*;

    #[test]
    fn rewords_as_jsonata_js() {
        let cases = [
            ("$string(1, 0)", "T0410: Argument 2 must be Boolean", "T0410: Argument 2 of function \"string\" does not match function signature"),
            ("$substring('a', 1, 2, 3)", "T0410: Argument count mismatch: expected 1, got 4", "T0410: Argument 4 of function \"substring\" does not match function signature"),
            ("$map(1)", "T0410: Argument count mismatch: expected 2, got 1", "T0410: Argument 2 of function \"map\" does not match function signature"),
            ("$sum([1, 'a'])", "T0412: Argument 1 must be an array of Number", "T0412: Argument 1 of function \"sum\" must be an array of \"numbers\""),
            ("$join([1])", "T0412: Argument 1 of function $join must be an array of String", "T0412: Argument 1 of function \"join\" must be an array of \"strings\""),
            ("1 + 'a'", "T2002: The right side of the + operator must evaluate to a number", "T2002: The right side of the \"+\" operator must evaluate to a number"),
            ("1 > true", "T2010: Cannot compare number and boolean", "T2010: The expressions either side of operator \">\" must evaluate to numeric or string values"),
            ("$number('abc')", "D3030: Cannot convert 'abc' to number", "D3030: Unable to cast value to a number: \"abc\""),
            ("$nope()", "T1006: Attempted to invoke a non-function: $nope", "T1006: Attempted to invoke a non-function"),
            ("$error('')", "D3137: ", "D3137: $error() function evaluated"),
            ("$single([1, 2])", "D3138: The $single() function expected exactly 1 matching result.  Instead it matched more. (2 values)", "D3138: The $single() function expected exactly 1 matching result.  Instead it matched more."),
            ("$power(2, 1e21)", "D3061: The power function has resulted in a value that cannot be represented as a JSON number: base=2, exponent=1000000000000000000000", "D3061: The power function has resulted in a value that cannot be represented as a JSON number: base=2, exponent=1e+21"),
            ("$error(' a')", "D3137:  a", "D3137:  a"),
            ("$match('ab', function($v){$v})", "T1010: The matcher function argument passed to function $split does not return the correct object structure", "T1010: The matcher function argument passed to function \"match\" does not return the correct object structure"),
            ("x", "a message without a code", "a message without a code"),
        ];
        for (source, core, js) in cases {
            assert_eq!(reword(core, source), js, "{source}");
        }
        assert!(has_code("T0410: x") && !has_code("bare"));
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        for (n, s) in [(1e21, "1e+21"), (1e300, "1e+300"), (1e-7, "1e-7"), (0.1, "0.1"), (2.0, "2"), (-0.0, "0"), (1e20, "100000000000000000000")] {
            assert_eq!(js_number(n), s);
        }
    }
}
