//! The layered layout of one scope (Sugiyama, Tagawa and Toda's method):
//! cycles broken by reversing DFS back edges, longest-path layering, long
//! edges split by dummy nodes, crossings reduced by barycenter sweeps with
//! adjacent transpositions, x coordinates by repeated least-squares placement
//! towards neighbours under separation constraints (exact per layer, by pool
//! adjacent violators), rows stacked top-down. An edge is routed through its
//! dummies' slots: vertical inside rows (its own slot or column), straight
//! across the gaps between rows, where no node is, so it never crosses one.

/// A scope's nodes (width, height) and edges (from, to), indices into sizes.
pub(crate) struct Input<'a> {
    pub sizes: &'a [(f64, f64)],
    pub edges: &'a [(usize, usize)],
    /// Where the depth-first search that breaks cycles starts.
    pub entry: Option<usize>,
}

/// Centers of the nodes, and each edge's polyline with its label's anchor.
pub(crate) struct Output {
    pub width: f64,
    pub height: f64,
    pub centers: Vec<(f64, f64)>,
    pub routes: Vec<Route>,
}

pub(crate) struct Route {
    pub points: Vec<(f64, f64)>,
    pub label_at: (f64, f64),
    /// The stretch of the edge, across a gap between rows, its label may sit on.
    pub label_span: ((f64, f64), (f64, f64)),
}

/// Room between rows (edges and their labels cross it).
pub(crate) const ROW_GAP: f64 = 56.0;
const NODE_SEP: f64 = 32.0;
const DUMMY_SEP: f64 = 14.0;
const DUMMY_W: f64 = 8.0;
/// Extra room on a node's right for an edge from the node to itself.
const LOOP_W: f64 = 22.0;
const ORDER_SWEEPS: usize = 12;
const PLACE_ROUNDS: usize = 8;

struct Layered {
    layer: Vec<usize>,
    /// Per layer, its nodes in order (dummies are indices >= real count).
    order: Vec<Vec<usize>>,
    /// Edges between adjacent layers (upper, lower).
    segments: Vec<(usize, usize)>,
    /// Per input edge: its chain from upper to lower node, and whether it was reversed.
    chains: Vec<Option<(Vec<usize>, bool)>>,
    width: Vec<f64>,
}

pub(crate) fn layout(input: &Input) -> Output {
    let n = input.sizes.len();
    if n == 0 {
        return Output { width: 0.0, height: 0.0, centers: vec![], routes: vec![] };
    }
    let (dag, reversed) = break_cycles(n, input.edges, input.entry);
    let layer = longest_path(n, &dag);
    let mut g = split_long_edges(input, &dag, &reversed, layer);
    order_layers(&mut g);
    let x = place(&g);
    let rows = rows(&g, input);
    route(&g, input, &x, &rows)
}

/// The edges with back edges reversed (self loops left out), and which were.
fn break_cycles(n: usize, edges: &[(usize, usize)], entry: Option<usize>) -> (Vec<Option<(usize, usize)>>, Vec<bool>) {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(a, _)) in edges.iter().enumerate() {
        out[a].push(i);
    }
    let mut seen = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut reversed = vec![false; edges.len()];
    let roots = entry.into_iter().chain(0..n);
    for root in roots {
        if seen[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        seen[root] = 1;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if let Some(&e) = out[v].get(*k) {
                *k += 1;
                let w = edges[e].1;
                match seen[w] {
                    0 => {
                        seen[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => reversed[e] = true,
                    _ => {}
                }
            } else {
                seen[v] = 2;
                stack.pop();
            }
        }
    }
    let dag = edges
        .iter()
        .zip(&reversed)
        .map(|(&(a, b), &r)| if a == b { None } else if r { Some((b, a)) } else { Some((a, b)) })
        .collect();
    (dag, reversed)
}

/// Each node's layer: one below its lowest predecessor (Kahn's order).
fn longest_path(n: usize, dag: &[Option<(usize, usize)>]) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in dag.iter().flatten() {
        indeg[b] += 1;
        succ[a].push(b);
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).rev().collect();
    while let Some(v) = ready.pop() {
        for &w in &succ[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                ready.push(w);
            }
        }
    }
    layer
}

fn split_long_edges(input: &Input, dag: &[Option<(usize, usize)>], reversed: &[bool], mut layer: Vec<usize>) -> Layered {
    let n = input.sizes.len();
    let loops: Vec<bool> = (0..n).map(|v| input.edges.iter().any(|&(a, b)| a == v && b == v)).collect();
    let mut width: Vec<f64> = (0..n).map(|v| input.sizes[v].0 + if loops[v] { LOOP_W } else { 0.0 }).collect();
    let mut segments = Vec::new();
    let mut chains = Vec::new();
    for (i, e) in dag.iter().enumerate() {
        let Some((a, b)) = *e else {
            chains.push(None);
            continue;
        };
        let mut chain = vec![a];
        for l in layer[a] + 1..layer[b] {
            let d = layer.len();
            layer.push(l);
            width.push(DUMMY_W);
            chain.push(d);
        }
        chain.push(b);
        for w in chain.windows(2) {
            segments.push((w[0], w[1]));
        }
        chains.push(Some((chain, reversed[i])));
    }
    let depth = layer.iter().max().map_or(0, |m| m + 1);
    let mut order = vec![Vec::new(); depth];
    // First order: depth-first from the top, so a branch's nodes start together.
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); layer.len()];
    for &(a, b) in &segments {
        succ[a].push(b);
    }
    let mut seen = vec![false; layer.len()];
    let mut starts: Vec<usize> = input.entry.into_iter().chain(0..n).collect();
    starts.sort_by_key(|&v| layer[v]);
    for s in starts {
        let mut stack = vec![s];
        while let Some(v) = stack.pop() {
            if std::mem::replace(&mut seen[v], true) {
                continue;
            }
            order[layer[v]].push(v);
            stack.extend(succ[v].iter().rev().copied().filter(|&w| !seen[w]));
        }
    }
    Layered { layer, order, segments, chains, width }
}

fn is_dummy(input: &Input, v: usize) -> bool {
    v >= input.sizes.len()
}

fn positions(g: &Layered) -> Vec<usize> {
    let mut pos = vec![0; g.layer.len()];
    for row in &g.order {
        for (i, &v) in row.iter().enumerate() {
            pos[v] = i;
        }
    }
    pos
}

/// Crossings between layer `l` and `l + 1`.
fn crossings_below(g: &Layered, pos: &[usize], l: usize) -> usize {
    let segs: Vec<(usize, usize)> =
        g.segments.iter().filter(|&&(a, _)| g.layer[a] == l).map(|&(a, b)| (pos[a], pos[b])).collect();
    let mut c = 0;
    for i in 0..segs.len() {
        for j in i + 1..segs.len() {
            let (a1, b1) = segs[i];
            let (a2, b2) = segs[j];
            if (a1 < a2 && b1 > b2) || (a1 > a2 && b1 < b2) {
                c += 1;
            }
        }
    }
    c
}

fn crossings(g: &Layered) -> usize {
    let pos = positions(g);
    (0..g.order.len().saturating_sub(1)).map(|l| crossings_below(g, &pos, l)).sum()
}

/// Barycenter sweeps, down then up, each followed by transpositions; the
/// order with the fewest crossings wins.
fn order_layers(g: &mut Layered) {
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); g.layer.len()];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); g.layer.len()];
    for &(a, b) in &g.segments {
        succ[a].push(b);
        pred[b].push(a);
    }
    let mut best = g.order.clone();
    let mut best_c = crossings(g);
    for sweep in 0..ORDER_SWEEPS {
        if best_c == 0 {
            break;
        }
        let down = sweep % 2 == 0;
        let layers: Vec<usize> = if down { (1..g.order.len()).collect() } else { (0..g.order.len().saturating_sub(1)).rev().collect() };
        for l in layers {
            let pos = positions(g);
            let nbrs = if down { &pred } else { &succ };
            let mut keyed: Vec<(f64, usize)> = g.order[l]
                .iter()
                .map(|&v| {
                    let ns = &nbrs[v];
                    let key = if ns.is_empty() { pos[v] as f64 } else { ns.iter().map(|&u| pos[u] as f64).sum::<f64>() / ns.len() as f64 };
                    (key, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            g.order[l] = keyed.into_iter().map(|(_, v)| v).collect();
        }
        transpose(g);
        let c = crossings(g);
        if c < best_c {
            best_c = c;
            best = g.order.clone();
        }
    }
    g.order = best;
}

/// Swaps neighbours in a layer while that removes crossings.
fn transpose(g: &mut Layered) {
    for _ in 0..4 {
        let mut improved = false;
        for l in 0..g.order.len() {
            for i in 0..g.order[l].len().saturating_sub(1) {
                let local = |g: &Layered| {
                    let pos = positions(g);
                    let above = if l > 0 { crossings_below(g, &pos, l - 1) } else { 0 };
                    above + crossings_below(g, &pos, l)
                };
                let before = local(g);
                g.order[l].swap(i, i + 1);
                if local(g) < before {
                    improved = true;
                } else {
                    g.order[l].swap(i, i + 1);
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// The x of each node's center: layers packed, then moved towards their
/// neighbours' mean (down, up, both) keeping the separations.
fn place(g: &Layered) -> Vec<f64> {
    let n = g.layer.len();
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &g.segments {
        succ[a].push(b);
        pred[b].push(a);
    }
    let mut x = vec![0.0; n];
    for row in &g.order {
        let mut at = 0.0;
        for (i, &v) in row.iter().enumerate() {
            if i > 0 {
                at += gap(g, row[i - 1], v);
            }
            x[v] = at;
        }
    }
    for round in 0..PLACE_ROUNDS {
        let layers: Vec<usize> = match round % 3 {
            0 => (1..g.order.len()).collect(),
            1 => (0..g.order.len().saturating_sub(1)).rev().collect(),
            _ => (0..g.order.len()).collect(),
        };
        for l in layers {
            let row = &g.order[l];
            let wanted: Vec<(f64, f64)> = row
                .iter()
                .map(|&v| {
                    let ns: Vec<usize> = match round % 3 {
                        0 => pred[v].clone(),
                        1 => succ[v].clone(),
                        _ => pred[v].iter().chain(&succ[v]).copied().collect(),
                    };
                    let weight = if g.width[v] == DUMMY_W { 2.0 } else { 1.0 };
                    if ns.is_empty() { (x[v], 0.25) } else { (ns.iter().map(|&u| x[u]).sum::<f64>() / ns.len() as f64, weight) }
                })
                .collect();
            let gaps: Vec<f64> = row.windows(2).map(|w| gap(g, w[0], w[1])).collect();
            for (v, nx) in row.iter().zip(constrained_fit(&wanted, &gaps)) {
                x[*v] = nx;
            }
        }
    }
    x
}

/// The least distance between the centers of neighbours `a` and `b`.
fn gap(g: &Layered, a: usize, b: usize) -> f64 {
    let sep = if g.width[a] == DUMMY_W || g.width[b] == DUMMY_W { DUMMY_SEP } else { NODE_SEP };
    (g.width[a] + g.width[b]) / 2.0 + sep
}

/// x minimising the weighted squared distance to `wanted` with
/// x[i+1] - x[i] >= gaps[i]: pool adjacent violators on x[i] - offset[i].
fn constrained_fit(wanted: &[(f64, f64)], gaps: &[f64]) -> Vec<f64> {
    let mut offset = vec![0.0; wanted.len()];
    for i in 1..wanted.len() {
        offset[i] = offset[i - 1] + gaps[i - 1];
    }
    // Blocks of (weighted mean, weight, count).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for (i, &(want, w)) in wanted.iter().enumerate() {
        blocks.push((want - offset[i], w, 1));
        while blocks.len() > 1 && blocks[blocks.len() - 2].0 > blocks[blocks.len() - 1].0 {
            let (m2, w2, c2) = blocks.pop().unwrap_or_default();
            let (m1, w1, c1) = blocks.pop().unwrap_or_default();
            blocks.push(((m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2));
        }
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (m, _, c) in blocks {
        for _ in 0..c {
            out.push(m + offset[out.len()]);
        }
    }
    out
}

/// Each layer's top and height.
fn rows(g: &Layered, input: &Input) -> Vec<(f64, f64)> {
    let mut heights = vec![0.0f64; g.order.len()];
    for (v, &l) in g.layer.iter().enumerate() {
        if !is_dummy(input, v) {
            heights[l] = heights[l].max(input.sizes[v].1);
        }
    }
    let mut top = 0.0;
    heights
        .into_iter()
        .map(|h| {
            let row = (top, h);
            top += h + ROW_GAP;
            row
        })
        .collect()
}

fn route(g: &Layered, input: &Input, x: &[f64], rows: &[(f64, f64)]) -> Output {
    let n = input.sizes.len();
    let left = g.layer.iter().enumerate().map(|(v, _)| x[v] - g.width[v] / 2.0).fold(f64::INFINITY, f64::min);
    let right = g.layer.iter().enumerate().map(|(v, _)| x[v] + g.width[v] / 2.0).fold(f64::NEG_INFINITY, f64::max);
    // A node drawn in its slot leaves the loop's room on its right.
    let cx = |v: usize| if v < n { x[v] - left - (g.width[v] - input.sizes[v].0) / 2.0 } else { x[v] - left };
    let centers: Vec<(f64, f64)> = (0..n).map(|v| (cx(v), rows[g.layer[v]].0 + rows[g.layer[v]].1 / 2.0)).collect();
    let ports = ports(g, input, &cx);
    let mut routes = Vec::new();
    for (i, chain) in g.chains.iter().enumerate() {
        let Some((chain, reversed)) = chain else {
            let (c, (w, _)) = (centers[input.edges[i].0], input.sizes[input.edges[i].0]);
            let (px, top, bottom) = (c.0 + w / 2.0, c.1 - 8.0, c.1 + 8.0);
            let points = vec![(px, top), (px + LOOP_W - 6.0, top), (px + LOOP_W - 6.0, bottom), (px, bottom)];
            let at = (px + LOOP_W, c.1);
            routes.push(Route { label_at: at, label_span: (at, at), points });
            continue;
        };
        let (a, b) = (chain[0], chain[chain.len() - 1]);
        let (ra, rb) = (rows[g.layer[a]], rows[g.layer[b]]);
        let out_x = ports.get(&(i, true)).copied().unwrap_or(cx(a));
        let in_x = ports.get(&(i, false)).copied().unwrap_or(cx(b));
        let mut pts = vec![(out_x, centers[a].1 + input.sizes[a].1 / 2.0), (out_x, ra.0 + ra.1)];
        for &d in &chain[1..chain.len() - 1] {
            let r = rows[g.layer[d]];
            pts.push((cx(d), r.0));
            pts.push((cx(d), r.0 + r.1));
        }
        pts.push((in_x, rb.0));
        pts.push((in_x, centers[b].1 - input.sizes[b].1 / 2.0));
        pts.dedup_by(|p, q| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() < 1e-9);
        // The label sits in the gap next to the edge's own source.
        let gap_segment = if *reversed {
            let k = pts.iter().rposition(|p| (p.1 - rb.0).abs() < 1e-9).unwrap_or(pts.len() - 1);
            (pts[k.saturating_sub(1)], pts[k])
        } else {
            let k = pts.iter().position(|p| (p.1 - (ra.0 + ra.1)).abs() < 1e-9).unwrap_or(0);
            (pts[k], pts[(k + 1).min(pts.len() - 1)])
        };
        if *reversed {
            pts.reverse();
        }
        let label_at = ((gap_segment.0.0 + gap_segment.1.0) / 2.0, (gap_segment.0.1 + gap_segment.1.1) / 2.0);
        routes.push(Route { points: pts, label_at, label_span: gap_segment });
    }
    let height = rows.last().map_or(0.0, |r| r.0 + r.1);
    Output { width: right - left, height, centers, routes }
}

/// Where each edge leaves its upper node's bottom (key (edge, true)) and
/// enters its lower node's top (key (edge, false)): spread over the middle
/// of the side, in the order of the far ends, so parallel edges stay apart.
fn ports(g: &Layered, input: &Input, cx: &dyn Fn(usize) -> f64) -> std::collections::HashMap<(usize, bool), f64> {
    let n = input.sizes.len();
    let mut sides: std::collections::HashMap<(usize, bool), Vec<(f64, usize)>> = Default::default();
    for (i, chain) in g.chains.iter().enumerate() {
        if let Some((chain, _)) = chain {
            sides.entry((chain[0], true)).or_default().push((cx(chain[1]), i));
            sides.entry((chain[chain.len() - 1], false)).or_default().push((cx(chain[chain.len() - 2]), i));
        }
    }
    let mut out = std::collections::HashMap::new();
    for ((v, bottom), mut ends) in sides {
        if v >= n {
            continue;
        }
        ends.sort_by(|a, b| a.0.total_cmp(&b.0));
        let k = ends.len();
        let span = input.sizes[v].0 * 0.6;
        let step = if k > 1 { (span / (k - 1) as f64).min(16.0) } else { 0.0 };
        for (j, (_, e)) in ends.into_iter().enumerate() {
            out.insert((e, bottom), cx(v) + (j as f64 - (k as f64 - 1.0) / 2.0) * step);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constrained_fit_keeps_gaps_and_pulls_towards_wanted() {
        let x = constrained_fit(&[(0.0, 1.0), (0.0, 1.0), (100.0, 1.0)], &[10.0, 10.0]);
        assert_eq!(x, vec![-5.0, 5.0, 100.0]);
    }

    #[test]
    fn a_cycle_is_layered_downwards_with_one_reversed_edge() {
        let sizes = [(50.0, 20.0); 3];
        let edges = [(0, 1), (1, 2), (2, 0)];
        let out = layout(&Input { sizes: &sizes, edges: &edges, entry: Some(0) });
        assert!(out.centers[0].1 < out.centers[1].1 && out.centers[1].1 < out.centers[2].1);
        // The back edge leaves state 2 upwards and ends at state 0.
        let back = &out.routes[2].points;
        assert!(back[0].1 < out.centers[2].1 && back[back.len() - 1].1 > out.centers[0].1);
    }
}
