//! Parsing, evaluation, writing and canonical forms of paths.

use super::*;
use serde_json::json;

fn ev(p: &str, v: &Value) -> Option<Value> {
    JsonPath::parse(p).unwrap().eval(v).map(|c| c.into_owned())
}

#[test]
fn basics() {
    let v = json!({"a": {"b": [1, 2, 3], "c d": true}, "x": [{"y": 1}, {"y": 5}, {"z": 0}]});
    assert_eq!(ev("$", &v), Some(v.clone()));
    assert_eq!(ev("$.a.b[0]", &v), Some(json!(1)));
    assert_eq!(ev("$.a.b[-1]", &v), Some(json!(3)));
    assert_eq!(ev("$['a']['c d']", &v), Some(json!(true)));
    assert_eq!(ev("$.a.b[1:3]", &v), Some(json!([2, 3])));
    assert_eq!(ev("$.a.b[0,2]", &v), Some(json!([1, 3])));
    assert_eq!(ev("$.a.b[*]", &v), Some(json!([1, 2, 3])));
    assert_eq!(ev("$.x[*].y", &v), Some(json!([1, 5])));
    assert_eq!(ev("$..y", &v), Some(json!([1, 5])));
    assert_eq!(ev("$.x[?(@.y > 1)]", &v), Some(json!([{"y": 5}])));
    assert_eq!(ev("$.x[?(@.z)]", &v), Some(json!([{"z": 0}])));
    assert_eq!(ev("$.x[?(@.y == 1 || @.z == 0)].y", &v), Some(json!([1])));
    assert_eq!(ev("$.a.b.length()", &v), Some(json!(3)));
    assert_eq!(ev("$.nope", &v), None);
    assert_eq!(ev("$.nope[*]", &v), Some(json!([])));
    assert!(JsonPath::parse("$.x[?(@.y =~ /a.*/)]").is_ok());
}

#[test]
fn roots() {
    assert_eq!(
        JsonPath::parse("$$.Execution.Id").unwrap().root(),
        &Root::Context
    );
    assert_eq!(
        JsonPath::parse("$var.x").unwrap().root(),
        &Root::Variable("var".into())
    );
    assert!(JsonPath::parse("a.b").is_err());
    assert!(JsonPath::parse("$.").is_err());
    assert!(JsonPath::parse("$[").is_err());
    assert!(JsonPath::parse("$.a[?(@.b").is_err());
    assert!(JsonPath::parse_reference("$.a[*]").is_err());
    assert!(JsonPath::parse_reference("$.a[0].b").is_ok());
}

#[test]
fn set_creates_objects() {
    let mut v = json!({"a": 1});
    JsonPath::parse("$.b.c")
        .unwrap()
        .set(&mut v, json!(2))
        .unwrap();
    assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
    JsonPath::parse("$").unwrap().set(&mut v, json!(3)).unwrap();
    assert_eq!(v, json!(3));
    let mut v = json!({"a": [1, 2]});
    JsonPath::parse("$.a[1]")
        .unwrap()
        .set(&mut v, json!(9))
        .unwrap();
    assert_eq!(v, json!({"a": [1, 9]}));
    let mut v = json!("str");
    assert!(
        JsonPath::parse("$.a")
            .unwrap()
            .set(&mut v, json!(9))
            .is_err()
    );
}

#[test]
fn canonical() {
    assert_eq!(
        JsonPath::parse("$.NoSuchOutputPath").unwrap().canonical(),
        "$['NoSuchOutputPath']"
    );
}

#[test]
fn slices_unions_filters() {
    let v = json!({"a": [0, 1, 2, 3, 4, 5], "o": {"x": 1, "y": 2}, "limit": 2,
        "books": [{"p": 8, "t": "a"}, {"p": 12, "t": "b"}, {"p": 30, "t": "c", "tags": ["x"]}]});
    assert_eq!(ev("$.a[-2:]", &v), Some(json!([4, 5])));
    assert_eq!(ev("$.a[:2]", &v), Some(json!([0, 1])));
    assert_eq!(ev("$.a[::2]", &v), Some(json!([0, 2, 4])));
    assert_eq!(ev("$.a[10:]", &v), Some(json!([])));
    assert_eq!(ev("$.o['x','y']", &v), Some(json!([1, 2])));
    assert_eq!(ev("$.o.*", &v), Some(json!([1, 2])));
    assert_eq!(
        ev("$.books[?(@.p < 10 || @.t == 'c')].t", &v),
        Some(json!(["a", "c"]))
    );
    assert_eq!(
        ev("$.books[?(@.p > $.limit && !(@.t == 'a'))].t", &v),
        Some(json!(["b", "c"]))
    );
    assert_eq!(ev("$.books[?(@.t =~ /[ab]/)].p", &v), Some(json!([8, 12])));
    assert_eq!(
        ev("$.books[?(@.t in ['a', 'c'])].p", &v),
        Some(json!([8, 30]))
    );
    assert_eq!(ev("$.books[?(@.tags)].t", &v), Some(json!(["c"])));
    assert_eq!(ev("$..t", &v), Some(json!(["a", "b", "c"])));
    assert_eq!(ev("$.books.length()", &v), Some(json!(3)));
    assert_eq!(ev("$.a[99]", &v), None);
    assert_eq!(ev("$.o.x.y", &v), None);
}

#[test]
fn take_moves_out() {
    let p = JsonPath::parse("$.a.b").unwrap();
    let mut v = json!({"a": {"b": [1, 2]}});
    assert_eq!(p.take(&mut v), Some(json!([1, 2])));
    assert_eq!(v, json!({"a": {"b": null}}));
    assert_eq!(p.take(&mut json!({})), None);
}

#[test]
fn quoted_names() {
    let v = json!({"a b": 1, "it's": 2, "q\"x": 3});
    assert_eq!(ev("$['a b']", &v), Some(json!(1)));
    assert_eq!(ev("$['it\\'s']", &v), Some(json!(2)));
    assert_eq!(ev("$[\"q\\\"x\"]", &v), Some(json!(3)));
}

/// Forms Jayway's compiler (AWS's path library) takes that a strict
/// grammar refuses, and what they select.
mod jayway_leniencies {
    use super::*;

    #[test]
    fn blanks_around_a_path_are_ignored() {
        let v = json!({"a": {"b": 1}});
        assert_eq!(ev(" $.a.b ", &v), Some(json!(1)));
        assert_eq!(ev("\t$.a\n", &v), Some(json!({"b": 1})));
        assert_eq!(JsonPath::parse(" $.a.b ").unwrap().canonical(), "$['a']['b']");
    }

    /// Filter numbers as Java's BigDecimal reads them (`.85`, published in
    /// aws-samples/aws-stepfunctions-examples), and a bare word, which AWS
    /// takes at creation (aws-samples/step-functions-workflows-collection's
    /// parallel-translate: `@.TargetLanguageCode==es`) and which equals
    /// nothing.
    #[test]
    fn filter_literals_are_read_as_jayway_reads_them() {
        let v = json!({"e": [{"s": 0.9, "l": "es"}, {"s": 0.5, "l": "fr"}]});
        assert_eq!(ev("$.e[?(@.s > .85)].l", &v), Some(json!(["es"])));
        assert_eq!(ev("$.e[?(@.s < 1.)].l", &v), Some(json!(["es", "fr"])));
        assert_eq!(ev("$.e[?(@.s > -.5e1)].l", &v), Some(json!(["es", "fr"])));
        assert_eq!(ev("$.e[?(@.l==es)].l", &v), Some(json!([])));
        assert_eq!(ev("$.e[?(@.l!=es)].l", &v), Some(json!(["es", "fr"])));
        assert_eq!(ev("$..e[?(@.l==Failure)]", &v), Some(json!([])));
        assert!(JsonPath::parse("$.e[?(@.l==)]").is_err());
    }

    /// Jayway's `==` between a string and a number: the left side's text
    /// or number decides (its value nodes' `equals`).
    #[test]
    fn a_string_and_a_number_compare_as_jayway_compares_them() {
        let v = json!({"e": [{"id": "7", "n": 7}, {"id": "8", "n": 8.5}, {"id": "x", "n": 9}]});
        assert_eq!(ev("$.e[?(@.id == 7)].n", &v), Some(json!([7])));
        assert_eq!(ev("$.e[?(@.n == '8.5')].id", &v), Some(json!(["8"])));
        // Read as Java's BigDecimal reads it: no blanks.
        assert_eq!(ev("$.e[?(@.n == ' 9 ')].id", &v), Some(json!([])));
        assert_eq!(ev("$.e[?(@.id != 7)].n", &v), Some(json!([8.5, 9])));
        assert_eq!(ev("$.e[?(@.id in [7, 8])].n", &v), Some(json!([7, 8.5])));
        // Ordering stays within one type.
        assert_eq!(ev("$.e[?(@.id < 9)].n", &v), Some(json!([])));
        // `===` and `!==` compare types too.
        assert_eq!(ev("$.e[?(@.id === 7)].n", &v), Some(json!([])));
        assert_eq!(ev("$.e[?(@.id === '7')].n", &v), Some(json!([7])));
        assert_eq!(ev("$.e[?(@.id !== 7)].n", &v), Some(json!([7, 8.5, 9])));
    }

    /// Jayway's `contains`, `all` and `exists`, in any case.
    #[test]
    fn contains_all_and_exists_filter_as_jayway_filters() {
        let v = json!({"e": [{"t": ["a", "b"], "s": "hello", "o": 1}, {"t": ["b"], "s": "bye"}]});
        assert_eq!(ev("$.e[?(@.s contains 'ell')].s", &v), Some(json!(["hello"])));
        assert_eq!(ev("$.e[?(@.t CONTAINS 'a')].s", &v), Some(json!(["hello"])));
        assert_eq!(ev("$.e[?(@.t all ['b', 'a'])].s", &v), Some(json!(["hello"])));
        assert_eq!(ev("$.e[?(@.t all ['b'])].s", &v), Some(json!(["hello", "bye"])));
        assert_eq!(ev("$.e[?(@.o exists true)].s", &v), Some(json!(["hello"])));
        assert_eq!(ev("$.e[?(@.o exists false)].s", &v), Some(json!(["bye"])));
        assert_eq!(ev("$.e[?(@.s In ['bye'])].s", &v), Some(json!(["bye"])));
    }

    #[test]
    fn dot_names_run_to_the_next_dot_bracket_or_parenthesis() {
        let v = json!({"a'b": 1, "x,y": 2, "k=v": 3, "p|q&r": 4, "it's": {"<tag>": 5}, "a]": 6, "!": 7});
        assert_eq!(ev("$.a'b", &v), Some(json!(1)));
        assert_eq!(ev("$.x,y", &v), Some(json!(2)));
        assert_eq!(ev("$.k=v", &v), Some(json!(3)));
        assert_eq!(ev("$.p|q&r", &v), Some(json!(4)));
        assert_eq!(ev("$.it's.<tag>", &v), Some(json!(5)));
        assert_eq!(ev("$.a]", &v), Some(json!(6)));
        assert_eq!(ev("$.!", &v), Some(json!(7)));
        // A blank inside a dot name needs brackets, in Jayway as here.
        assert!(JsonPath::parse("$.a b").is_err());
        assert_eq!(ev("$['a b']", &json!({"a b": 8})), Some(json!(8)));
    }

    #[test]
    fn a_bracket_may_follow_a_dot_and_blanks_sit_inside_brackets() {
        let v = json!({"a": [10, 20, 30], "b c": 1});
        assert_eq!(ev("$.a.[1]", &v), Some(json!(20)));
        assert_eq!(ev("$.['b c']", &v), Some(json!(1)));
        assert_eq!(ev("$.a[ 0 , 2 ]", &v), Some(json!([10, 30])));
        assert_eq!(ev("$[ 'a' ][ -1 ]", &v), Some(json!(30)));
        assert_eq!(ev("$.a[ * ]", &v), Some(json!([10, 20, 30])));
    }

    #[test]
    fn functions_end_a_path() {
        let v = json!({"n": [3, 1, "x", 2], "o": {"k": 1, "j": 2}, "e": [], "items": [{"p": 2}, {"p": 4}]});
        assert_eq!(ev("$.n.length()", &v), Some(json!(4)));
        assert_eq!(ev("$.n.min()", &v), Some(json!(1.0)));
        assert_eq!(ev("$.n.max()", &v), Some(json!(3.0)));
        assert_eq!(ev("$.n.sum()", &v), Some(json!(6.0)));
        assert_eq!(ev("$.n.avg()", &v), Some(json!(2.0)));
        assert_eq!(ev("$.n.stddev()", &v).and_then(|x| x.as_f64()).map(|x| (x * 1e6).round()), Some(816497.0));
        assert_eq!(ev("$.o.keys()", &v), Some(json!(["k", "j"])));
        assert_eq!(ev("$.n.first()", &v), Some(json!(3)));
        assert_eq!(ev("$.n.last()", &v), Some(json!(2)));
        // Over what an indefinite path selects.
        assert_eq!(ev("$.items[*].p.sum()", &v), Some(json!(6.0)));
        assert_eq!(ev("$..p.length()", &v), Some(json!(2)));
        // An aggregation of no numbers selects nothing.
        assert_eq!(ev("$.e.sum()", &v), None);
        assert!(JsonPath::parse("$.n.median()").is_err());
        assert!(JsonPath::parse_reference("$.n.sum()").is_err());
    }
}

/// Found by fuzzing (host/fuzzing/regressions/intrinsic): a name list whose
/// next entry starts with a multi-byte character panicked the parser.
#[test]
fn a_name_list_entry_that_is_not_quoted_is_an_error() {
    for src in ["$[' ,é", "$['a',é']", "$['a', 7]", "$['a',"] {
        assert!(JsonPath::parse(src).is_err(), "{src}");
    }
    assert!(JsonPath::parse("$['a','é']").is_ok());
}

/// Jayway's word operators in filters, as its evaluators define them.
#[test]
fn jayway_word_operators() {
    let v = json!({"books": [
        {"t": "a", "tags": ["x", "y"], "n": "ab"},
        {"t": "b", "tags": ["z"], "n": ""},
        {"t": "c", "tags": [], "n": "abc"}]});
    let t = |p: &str| ev(p, &v);
    assert_eq!(t("$.books[?(@.tags subsetof ['x', 'y', 'w'])].t"), Some(json!(["a", "c"])));
    assert_eq!(t("$.books[?(@.tags anyof ['y', 'z'])].t"), Some(json!(["a", "b"])));
    assert_eq!(t("$.books[?(@.tags noneof ['y'])].t"), Some(json!(["b", "c"])));
    assert_eq!(t("$.books[?(@.tags size 2)].t"), Some(json!(["a"])));
    assert_eq!(t("$.books[?(@.n size 3)].t"), Some(json!(["c"])));
    assert_eq!(t("$.books[?(@.tags empty true)].t"), Some(json!(["c"])));
    assert_eq!(t("$.books[?(@.n empty false)].t"), Some(json!(["a", "c"])));
    assert_eq!(t("$.books[?(@.t nin ['a'])].t"), Some(json!(["b", "c"])));
    assert_eq!(t("$.books[?(@.t in['a'])].t"), Some(json!(["a"])));
    // Not an array or a string: no match.
    assert_eq!(t("$.books[?(@.t.x size 0)].t"), Some(json!([])));
}

/// Jayway's `concat(…)` and `append(…)`: arguments are literals or paths
/// (read from the document's root).
#[test]
fn jayway_functions_with_arguments() {
    let v = json!({"names": ["a", "b", 1], "n": "x", "k": 7, "arr": [1]});
    let t = |p: &str| ev(p, &v);
    assert_eq!(t("$.names.concat('-', \"z\")"), Some(json!("ab-z")));
    assert_eq!(t("$.names.concat($.n, $.k, 1.5, true)"), Some(json!("abx71.5true")));
    // A node that is not an array adds nothing (Jayway's Concatenate).
    assert_eq!(t("$.n.concat('!')"), Some(json!("!")));
    assert_eq!(t("$.arr.append(2, 'c', $.k)"), Some(json!([1, 2, "c", 7])));
    assert_eq!(t("$.n.append(2)"), Some(json!("x")));
    assert_eq!(t("$.names[*].concat()"), Some(json!("ab")));
    assert!(JsonPath::parse("$.a.length(1)").is_err());
    assert!(JsonPath::parse("$.a.concat(1").is_err());
}
