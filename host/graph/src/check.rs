//! What a layout must never do, checked: two boxes overlapping (unless one
//! holds the other) and an edge passing through a box other than its own
//! ends and the groups around them.

use std::collections::HashMap;

use crate::layout::{Layout, Placed};

/// How far inside a box a line must reach to count as through it.
const TOLERANCE: f64 = 0.5;

/// Every overlap and every edge through a box, as sentences; empty when the
/// layout is clean.
pub fn problems(layout: &Layout) -> Vec<String> {
    let by_id: HashMap<&str, &Placed> = layout.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let ancestors = |id: &str| {
        let mut out = vec![id.to_string()];
        let mut at = by_id.get(id).and_then(|n| n.parent.clone());
        while let Some(p) = at {
            at = by_id.get(p.as_str()).and_then(|n| n.parent.clone());
            out.push(p);
        }
        out
    };
    let mut out = Vec::new();
    for (i, a) in layout.nodes.iter().enumerate() {
        for b in &layout.nodes[i + 1..] {
            if overlap(a, b) && !ancestors(&a.id).contains(&b.id) && !ancestors(&b.id).contains(&a.id) {
                out.push(format!("{} overlaps {}", a.id, b.id));
            }
        }
    }
    for e in &layout.edges {
        let mut own = ancestors(&e.from);
        own.extend(ancestors(&e.to));
        for n in &layout.nodes {
            if own.contains(&n.id) {
                continue;
            }
            if e.points.windows(2).any(|s| crosses(s[0], s[1], n)) {
                out.push(format!("edge {} -> {} passes through {}", e.from, e.to, n.id));
            }
        }
    }
    out
}

fn overlap(a: &Placed, b: &Placed) -> bool {
    a.x + a.w > b.x + TOLERANCE && b.x + b.w > a.x + TOLERANCE && a.y + a.h > b.y + TOLERANCE && b.y + b.h > a.y + TOLERANCE
}

/// Whether segment p-q enters the inside of `n` (Liang-Barsky clipping).
fn crosses(p: [f64; 2], q: [f64; 2], n: &Placed) -> bool {
    let (x0, y0, x1, y1) = (n.x + TOLERANCE, n.y + TOLERANCE, n.x + n.w - TOLERANCE, n.y + n.h - TOLERANCE);
    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [(-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])] {
        if pk == 0.0 {
            if qk < 0.0 {
                return false;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    t0 < t1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Routed;

    fn placed(id: &str, x: f64, y: f64, parent: Option<&str>) -> Placed {
        Placed { id: id.into(), kind: "state", name: Some(id.into()), ty: "Pass".into(), x, y, w: 100.0, h: 40.0, parent: parent.map(Into::into) }
    }

    #[test]
    fn overlaps_and_edges_through_boxes_are_found() {
        let mut group = placed("G", 0.0, 0.0, None);
        (group.w, group.h, group.kind) = (400.0, 400.0, "group");
        let layout = Layout {
            width: 500.0,
            height: 500.0,
            nodes: vec![group, placed("A", 10.0, 10.0, Some("G")), placed("B", 60.0, 20.0, Some("G")), placed("C", 10.0, 200.0, Some("G"))],
            edges: vec![Routed {
                from: "A".into(),
                to: "C".into(),
                kind: "next",
                label: None,
                points: vec![[80.0, 50.0], [80.0, 200.0]],
                label_at: [0.0, 0.0],
            }],
        };
        assert_eq!(problems(&layout), vec!["A overlaps B".to_string(), "edge A -> C passes through B".to_string()]);
    }
}
