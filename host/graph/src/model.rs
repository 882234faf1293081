//! The graph of a definition: every state a node, its transitions labelled
//! edges, Map and Parallel states groups holding one scope per branch.
//!
//! Built from the definition's JSON, not from a validated state machine, so a
//! definition that does not validate still draws (transitions to states that
//! do not exist are left out).

use serde_json::{Map, Value};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// The top level's entry marker.
    Start,
    /// The top level's exit marker (every End, Succeed and Fail leads to it).
    End,
    /// A state.
    State,
}

/// What a transition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    /// A Choice rule's Next.
    Choice,
    /// A Choice's Default.
    Default,
    /// A Catch's Next.
    Catch,
    /// Start to StartAt, or a terminal state to End.
    Terminal,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Next => "next",
            EdgeKind::Choice => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch => "catch",
            EdgeKind::Terminal => "terminal",
        }
    }
}

/// A node of a scope; a Map or Parallel state holds its branches' scopes.
#[derive(Debug, Clone)]
pub struct Node {
    /// Unique in the graph: the state names from the top level down, joined by `/`,
    /// a branch's index in brackets (`Fan/[1]/Work`).
    pub id: String,
    pub kind: NodeKind,
    /// The state's name (None for Start and End).
    pub name: Option<String>,
    /// The state's Type (`Task`, `Map`, …); `Start`/`End` for the markers.
    pub ty: String,
    pub branches: Vec<Scope>,
}

/// A transition between two nodes of the same scope (indices into its nodes).
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub label: Option<String>,
}

/// One level of the graph: the top level, or one branch of a Map or Parallel.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The node the scope starts at (Start at the top level, else StartAt's state).
    pub entry: Option<usize>,
}

/// The graph of a definition.
#[derive(Debug, Clone)]
pub struct Graph {
    pub root: Scope,
}

impl Graph {
    /// The graph of `definition` (an ASL document as JSON).
    pub fn from_definition(definition: &Value) -> Graph {
        let mut root = scope("", definition);
        let start = root.nodes.len();
        root.nodes.push(marker(NodeKind::Start));
        let end = root.nodes.len();
        root.nodes.push(marker(NodeKind::End));
        if let Some(first) = root.entry {
            root.edges.push(Edge { from: start, to: first, kind: EdgeKind::Terminal, label: None });
        }
        let states = definition.get("States").and_then(Value::as_object);
        for (i, (_, state)) in states.into_iter().flatten().enumerate() {
            if is_terminal(state) {
                root.edges.push(Edge { from: i, to: end, kind: EdgeKind::Terminal, label: None });
            }
        }
        root.entry = Some(start);
        Graph { root }
    }

    /// Every state node, nested ones included.
    pub fn states(&self) -> Vec<&Node> {
        fn walk<'a>(scope: &'a Scope, out: &mut Vec<&'a Node>) {
            for n in &scope.nodes {
                if n.kind == NodeKind::State {
                    out.push(n);
                }
                for b in &n.branches {
                    walk(b, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

fn marker(kind: NodeKind) -> Node {
    let ty = if kind == NodeKind::Start { "Start" } else { "End" };
    Node { id: format!("#{}", ty.to_lowercase()), kind, name: None, ty: ty.into(), branches: Vec::new() }
}

fn is_terminal(state: &Value) -> bool {
    let ty = state.get("Type").and_then(Value::as_str).unwrap_or("");
    matches!(ty, "Succeed" | "Fail") || state.get("End").and_then(Value::as_bool) == Some(true)
}

/// The scope of a `{StartAt, States}` object, its node ids under `prefix`.
fn scope(prefix: &str, machine: &Value) -> Scope {
    let empty = Map::new();
    let states = machine.get("States").and_then(Value::as_object).unwrap_or(&empty);
    let index = |name: &str| states.keys().position(|k| k == name);
    let mut out = Scope::default();
    for (name, state) in states {
        let id = format!("{prefix}{name}");
        let ty = state.get("Type").and_then(Value::as_str).unwrap_or("?").to_string();
        out.nodes.push(Node { id: id.clone(), kind: NodeKind::State, name: Some(name.clone()), ty, branches: branches(&id, state) });
    }
    for (i, (_, state)) in states.iter().enumerate() {
        for (target, kind, label) in transitions(state) {
            if let Some(to) = index(&target) {
                out.edges.push(Edge { from: i, to, kind, label });
            }
        }
    }
    out.entry = machine.get("StartAt").and_then(Value::as_str).and_then(index);
    out
}

fn branches(id: &str, state: &Value) -> Vec<Scope> {
    match state.get("Type").and_then(Value::as_str) {
        Some("Map") => state
            .get("ItemProcessor")
            .or_else(|| state.get("Iterator"))
            .map(|p| vec![scope(&format!("{id}/"), p)])
            .unwrap_or_default(),
        Some("Parallel") => state
            .get("Branches")
            .and_then(Value::as_array)
            .map(|bs| bs.iter().enumerate().map(|(i, b)| scope(&format!("{id}/[{i}]/"), b)).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A state's outgoing transitions: target, kind and label.
fn transitions(state: &Value) -> Vec<(String, EdgeKind, Option<String>)> {
    let mut out = Vec::new();
    let next = |v: &Value| v.get("Next").and_then(Value::as_str).map(str::to_string);
    if let Some(rules) = state.get("Choices").and_then(Value::as_array) {
        for (i, rule) in rules.iter().enumerate() {
            if let Some(t) = next(rule) {
                out.push((t, EdgeKind::Choice, Some(rule_label(i, rule))));
            }
        }
    }
    if let Some(t) = state.get("Default").and_then(Value::as_str) {
        out.push((t.to_string(), EdgeKind::Default, Some("Default".into())));
    }
    if let Some(t) = next(state) {
        out.push((t, EdgeKind::Next, None));
    }
    if let Some(catchers) = state.get("Catch").and_then(Value::as_array) {
        for c in catchers {
            if let Some(t) = next(c) {
                let errors: Vec<&str> =
                    c.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
                out.push((t, EdgeKind::Catch, Some(format!("Catch {}", errors.join(", ")))));
            }
        }
    }
    out
}

/// A Choice rule's label: its comparison (`$.total > 100`), its JSONata
/// Condition, or `Rule N` for compound rules; at most 40 characters.
fn rule_label(i: usize, rule: &Value) -> String {
    const OPS: [(&str, &str); 8] = [
        ("GreaterThanEquals", ">="),
        ("LessThanEquals", "<="),
        ("GreaterThan", ">"),
        ("LessThan", "<"),
        ("Equals", "=="),
        ("Matches", "matches"),
        ("IsPresent", "is present"),
        ("IsNull", "is null"),
    ];
    let text = if let Some(c) = rule.get("Condition").and_then(Value::as_str) {
        c.trim_start_matches("{%").trim_end_matches("%}").trim().to_string()
    } else if let (Some(var), Some((key, value))) = (
        rule.get("Variable").and_then(Value::as_str),
        rule.as_object().and_then(|o| o.iter().find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Assign" | "Output"))),
    ) {
        let op = OPS.iter().find(|(suffix, _)| key.trim_end_matches("Path").ends_with(suffix)).map_or(key.as_str(), |(_, op)| op);
        format!("{var} {op} {value}")
    } else {
        format!("Rule {}", i + 1)
    };
    shorten(&text, 40)
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}
