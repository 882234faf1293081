//! The graph in Graphviz's DOT language: Map and Parallel states as
//! clusters (a Parallel's branches as clusters inside it).

use std::fmt::Write;

use crate::model::{Graph, NodeKind, Scope};

/// `graph` as a DOT digraph.
pub fn to_dot(graph: &Graph) -> String {
    let mut s = String::from("digraph stepbox {\n  node [shape=box, style=rounded, fontname=monospace];\n");
    scope(&mut s, &graph.root, 1);
    s.push_str("}\n");
    s
}

fn scope(s: &mut String, sc: &Scope, depth: usize) {
    let pad = "  ".repeat(depth);
    for n in &sc.nodes {
        if n.branches.is_empty() {
            let (label, shape) = match n.kind {
                NodeKind::State => (format!("{}\\n{}", q(n.name.as_deref().unwrap_or("")), q(&n.ty)), "box"),
                _ => (n.ty.clone(), "oval"),
            };
            let _ = writeln!(s, "{pad}\"{}\" [label=\"{label}\", shape={shape}];", q(&n.id));
            continue;
        }
        // An edge to a cluster ends at its anchor: a point node inside it.
        let _ = writeln!(s, "{pad}subgraph \"cluster_{}\" {{", q(&n.id));
        let _ = writeln!(s, "{pad}  label=\"{} ({})\";", q(n.name.as_deref().unwrap_or("")), q(&n.ty));
        let _ = writeln!(s, "{pad}  \"{}\" [shape=point, style=invis];", q(&n.id));
        for (i, b) in n.branches.iter().enumerate() {
            if n.branches.len() > 1 {
                let _ = writeln!(s, "{pad}  subgraph \"cluster_{}/[{i}]\" {{ label=\"\"; style=dashed;", q(&n.id));
                scope(s, b, depth + 2);
                let _ = writeln!(s, "{pad}  }}");
            } else {
                scope(s, b, depth + 1);
            }
        }
        let _ = writeln!(s, "{pad}}}");
    }
    for e in &sc.edges {
        let (a, b) = (&sc.nodes[e.from].id, &sc.nodes[e.to].id);
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", q(l)));
        }
        if e.kind == crate::EdgeKind::Catch {
            attrs.push("style=dashed, color=red".into());
        }
        let _ = writeln!(s, "{pad}\"{}\" -> \"{}\" [{}];", q(a), q(b), attrs.join(", "));
    }
}

/// A DOT string's inside.
fn q(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
