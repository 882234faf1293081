//! The whole graph's layout: each scope laid out by [`crate::sugiyama`],
//! innermost first, so a Map or Parallel node is sized to hold its branches
//! (side by side, each in a box of its own) and the scope around it lays it
//! out as one big node. Coordinates are absolute, in pixels, y downwards.

use serde::Serialize;

use crate::model::{Graph, Node, NodeKind, Scope};
use crate::sugiyama;

/// Width of a character of the node labels (12 px monospace).
pub const CHAR_W: f64 = 7.3;
const STATE_H: f64 = 44.0;
const STATE_MIN_W: f64 = 104.0;
const STATE_MAX_W: f64 = 340.0;
const MARKER_W: f64 = 60.0;
const MARKER_H: f64 = 26.0;
const HEADER_H: f64 = 30.0;
const GROUP_PAD: f64 = 12.0;
const BRANCH_PAD: f64 = 12.0;
const BRANCH_GAP: f64 = 16.0;
/// Margin around the whole drawing.
pub const MARGIN: f64 = 16.0;

/// A drawn box.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub id: String,
    /// `start`, `end`, `state` (no branches), `group` (Map, Parallel) or `branch`.
    pub kind: &'static str,
    /// The state's name (None for markers and branches).
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub ty: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// The enclosing group or branch.
    pub parent: Option<String>,
}

/// A drawn edge: a polyline from `from`'s box to `to`'s.
#[derive(Debug, Clone, Serialize)]
pub struct Routed {
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    pub label: Option<String>,
    pub points: Vec<[f64; 2]>,
    pub label_at: [f64; 2],
}

/// The laid-out graph.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<Placed>,
    pub edges: Vec<Routed>,
}

impl Layout {
    /// Lays out `graph`.
    pub fn of(graph: &Graph) -> Layout {
        let laid = scope(&graph.root, None);
        let mut layout = Layout { width: laid.w + 2.0 * MARGIN, height: laid.h + 2.0 * MARGIN, nodes: laid.nodes, edges: laid.edges };
        layout.shift(MARGIN, MARGIN);
        layout
    }

    /// The layout of an ASL definition.
    pub fn of_definition(definition: &serde_json::Value) -> Layout {
        Layout::of(&Graph::from_definition(definition))
    }

    fn shift(&mut self, dx: f64, dy: f64) {
        for n in &mut self.nodes {
            n.x += dx;
            n.y += dy;
        }
        for e in &mut self.edges {
            for p in &mut e.points {
                p[0] += dx;
                p[1] += dy;
            }
            e.label_at[0] += dx;
            e.label_at[1] += dy;
        }
    }
}

/// A scope laid out at the origin.
struct Laid {
    w: f64,
    h: f64,
    nodes: Vec<Placed>,
    edges: Vec<Routed>,
}

impl Laid {
    fn moved(mut self, dx: f64, dy: f64) -> Laid {
        let mut l = Layout { width: 0.0, height: 0.0, nodes: std::mem::take(&mut self.nodes), edges: std::mem::take(&mut self.edges) };
        l.shift(dx, dy);
        Laid { nodes: l.nodes, edges: l.edges, ..self }
    }
}

/// Width of a text of `chars` characters.
fn text_w(chars: usize) -> f64 {
    chars as f64 * CHAR_W
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// A node's size and, for a group, its inside laid out at the node's origin.
fn node(node: &Node, parent: Option<&str>) -> (f64, f64, Vec<Placed>, Vec<Routed>) {
    let name = node.name.clone();
    match node.kind {
        NodeKind::Start | NodeKind::End => {
            let kind = if node.kind == NodeKind::Start { "start" } else { "end" };
            let p = Placed { id: node.id.clone(), kind, name, ty: node.ty.clone(), x: 0.0, y: 0.0, w: MARKER_W, h: MARKER_H, parent: parent.map(Into::into) };
            (MARKER_W, MARKER_H, vec![p], vec![])
        }
        NodeKind::State if node.branches.is_empty() => {
            let label = chars(name.as_deref().unwrap_or("")).max(chars(&node.ty) + 2);
            let w = (text_w(label) + 28.0).clamp(STATE_MIN_W, STATE_MAX_W);
            let p = Placed { id: node.id.clone(), kind: "state", name, ty: node.ty.clone(), x: 0.0, y: 0.0, w, h: STATE_H, parent: parent.map(Into::into) };
            (w, STATE_H, vec![p], vec![])
        }
        NodeKind::State => group(node, parent),
    }
}

/// A Map or Parallel: a header, then its branches side by side.
fn group(node: &Node, parent: Option<&str>) -> (f64, f64, Vec<Placed>, Vec<Routed>) {
    let inner: Vec<Laid> = node.branches.iter().enumerate().map(|(i, b)| scope(b, Some(&branch_id(node, i)))).collect();
    let box_h = inner.iter().map(|l| l.h).fold(0.0, f64::max) + 2.0 * BRANCH_PAD;
    let boxes_w: f64 = inner.iter().map(|l| l.w + 2.0 * BRANCH_PAD).sum::<f64>() + BRANCH_GAP * (inner.len().saturating_sub(1)) as f64;
    let header_w = text_w(chars(node.name.as_deref().unwrap_or("")) + chars(&node.ty) + 3) + 2.0 * GROUP_PAD;
    let w = (boxes_w + 2.0 * GROUP_PAD).max(header_w).min(f64::MAX);
    let h = HEADER_H + box_h + GROUP_PAD;
    let mut nodes = vec![Placed {
        id: node.id.clone(),
        kind: "group",
        name: node.name.clone(),
        ty: node.ty.clone(),
        x: 0.0,
        y: 0.0,
        w,
        h,
        parent: parent.map(Into::into),
    }];
    let mut edges = Vec::new();
    let mut x = (w - boxes_w) / 2.0;
    for (i, laid) in inner.into_iter().enumerate() {
        let bw = laid.w + 2.0 * BRANCH_PAD;
        nodes.push(Placed {
            id: branch_id(node, i),
            kind: "branch",
            name: None,
            ty: "Branch".into(),
            x,
            y: HEADER_H,
            w: bw,
            h: box_h,
            parent: Some(node.id.clone()),
        });
        let laid = laid.moved(x + BRANCH_PAD, HEADER_H + BRANCH_PAD);
        nodes.extend(laid.nodes);
        edges.extend(laid.edges);
        x += bw + BRANCH_GAP;
    }
    (w, h, nodes, edges)
}

fn branch_id(node: &Node, i: usize) -> String {
    format!("{}/[{i}]", node.id)
}

fn scope(sc: &Scope, parent: Option<&str>) -> Laid {
    let inner: Vec<(f64, f64, Vec<Placed>, Vec<Routed>)> = sc.nodes.iter().map(|n| node(n, parent)).collect();
    let sizes: Vec<(f64, f64)> = inner.iter().map(|n| (n.0, n.1)).collect();
    let edges: Vec<(usize, usize)> = sc.edges.iter().map(|e| (e.from, e.to)).collect();
    let out = sugiyama::layout(&sugiyama::Input { sizes: &sizes, edges: &edges, entry: sc.entry });
    let mut laid = Laid { w: out.width, h: out.height, nodes: Vec::new(), edges: Vec::new() };
    for ((w, h, nodes, edges), (cx, cy)) in inner.into_iter().zip(&out.centers) {
        let placed = Laid { w, h, nodes, edges }.moved(cx - w / 2.0, cy - h / 2.0);
        laid.nodes.extend(placed.nodes);
        laid.edges.extend(placed.edges);
    }
    let labelled: Vec<bool> = sc.edges.iter().map(|e| e.label.is_some()).collect();
    let texts: Vec<usize> = sc.edges.iter().map(|e| e.label.as_deref().map_or(0, chars)).collect();
    let mut routes = out.routes;
    place_labels(&mut routes, &labelled, &texts);
    for (e, r) in sc.edges.iter().zip(routes) {
        laid.edges.push(Routed {
            from: sc.nodes[e.from].id.clone(),
            to: sc.nodes[e.to].id.clone(),
            kind: e.kind.as_str(),
            label: e.label.clone(),
            points: r.points.iter().map(|&(x, y)| [x, y]).collect(),
            label_at: [r.label_at.0, r.label_at.1],
        });
    }
    laid
}

/// Width of a character of the edge labels (10 px monospace).
const LABEL_CHAR_W: f64 = 6.1;
const LABEL_H: f64 = 12.0;

/// Moves labels along their gap stretch (middle first, then towards either
/// end) so that no two of a scope overlap, when there is room.
fn place_labels(routes: &mut [sugiyama::Route], labelled: &[bool], chars: &[usize]) {
    const AT: [f64; 5] = [0.5, 0.3, 0.7, 0.2, 0.8];
    let mut taken: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (i, r) in routes.iter_mut().enumerate() {
        if !labelled[i] {
            continue;
        }
        let w = chars[i] as f64 * LABEL_CHAR_W + 4.0;
        let (a, b) = r.label_span;
        let boxed = |t: f64| {
            let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
            (x - w / 2.0, y - LABEL_H / 2.0, x + w / 2.0, y + LABEL_H / 2.0)
        };
        let free = |bx: &(f64, f64, f64, f64)| taken.iter().all(|t| bx.2 <= t.0 || t.2 <= bx.0 || bx.3 <= t.1 || t.3 <= bx.1);
        let chosen = AT.iter().map(|&t| boxed(t)).find(free).unwrap_or_else(|| boxed(0.5));
        r.label_at = ((chosen.0 + chosen.2) / 2.0, (chosen.1 + chosen.3) / 2.0);
        taken.push(chosen);
    }
}
