//! The layout as an SVG document. Each state's element is a `<g>` carrying
//! `data-state="NAME"` (and `data-type`), so a page can style it (the
//! console sets `data-status` on it) and find it by name.

use std::fmt::Write;

use crate::layout::{CHAR_W, Layout, Placed, Routed};

const STYLE: &str = "\
.sfn-graph{font:12px monospace}\
.sfn-graph .node rect{fill:#fff;stroke:#5f6b7a;stroke-width:1.2}\
.sfn-graph .node .type{fill:#5f6b7a;font-size:10px}\
.sfn-graph .group>rect{fill:#f4f6f8;stroke-dasharray:5 3}\
.sfn-graph .branch{fill:none;stroke:#b8c0ca;stroke-dasharray:2 3}\
.sfn-graph .marker rect{fill:#e9edf1;stroke:#8a96a3}\
.sfn-graph .edge path{fill:none;stroke:#6c7a89;stroke-width:1.2}\
.sfn-graph .edge[data-kind=catch] path{stroke:#c0392b;stroke-dasharray:4 3}\
.sfn-graph .edge .label{fill:#3d4752;font-size:10px;paint-order:stroke;stroke:#fff;stroke-width:3px}";

/// `layout` as a standalone SVG document (also fit to be inlined in HTML).
pub fn to_svg(layout: &Layout) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="sfn-graph" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><style>{STYLE}</style><defs><marker id="sfn-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6c7a89"/></marker></defs>"##,
        w = num(layout.width),
        h = num(layout.height)
    );
    for n in layout.nodes.iter().filter(|n| matches!(n.kind, "group" | "branch")) {
        container(&mut s, n);
    }
    for e in &layout.edges {
        edge(&mut s, e);
    }
    for n in layout.nodes.iter().filter(|n| !matches!(n.kind, "group" | "branch")) {
        leaf(&mut s, n);
    }
    s.push_str("</svg>");
    s
}

fn container(s: &mut String, n: &Placed) {
    if n.kind == "branch" {
        let _ = write!(s, r#"<rect class="branch" data-id="{}" {}/>"#, esc(&n.id), rect_attrs(n, 4.0));
        return;
    }
    let name = n.name.as_deref().unwrap_or("");
    let _ = write!(
        s,
        r#"<g class="node group" data-state="{}" data-type="{}" data-id="{}"><title>{}</title><rect {}/><text x="{}" y="{}">{}</text><text class="type" x="{}" y="{}">{}</text></g>"#,
        esc(name),
        esc(&n.ty),
        esc(&n.id),
        esc(name),
        rect_attrs(n, 8.0),
        num(n.x + 10.0),
        num(n.y + 19.0),
        esc(&fit(name, n.w - 30.0 - CHAR_W * n.ty.len() as f64)),
        num(n.x + n.w - 10.0 - CHAR_W * n.ty.len() as f64 * 10.0 / 12.0),
        num(n.y + 19.0),
        esc(&n.ty)
    );
}

fn leaf(s: &mut String, n: &Placed) {
    let cx = n.x + n.w / 2.0;
    if matches!(n.kind, "start" | "end") {
        let _ = write!(
            s,
            r#"<g class="marker {}"><rect {}/><text x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
            n.kind,
            rect_attrs(n, n.h / 2.0),
            num(cx),
            num(n.y + n.h / 2.0 + 4.0),
            esc(&n.ty)
        );
        return;
    }
    let name = n.name.as_deref().unwrap_or("");
    let _ = write!(
        s,
        r#"<g class="node state" data-state="{}" data-type="{}" data-id="{}"><title>{}</title><rect {}/><text x="{}" y="{}" text-anchor="middle">{}</text><text class="type" x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
        esc(name),
        esc(&n.ty),
        esc(&n.id),
        esc(name),
        rect_attrs(n, 6.0),
        num(cx),
        num(n.y + 19.0),
        esc(&fit(name, n.w - 16.0)),
        num(cx),
        num(n.y + 34.0),
        esc(&n.ty)
    );
}

fn edge(s: &mut String, e: &Routed) {
    let mut d = String::new();
    for (i, p) in e.points.iter().enumerate() {
        let _ = write!(d, "{}{},{} ", if i == 0 { "M" } else { "L" }, num(p[0]), num(p[1]));
    }
    let _ = write!(
        s,
        r#"<g class="edge" data-kind="{}" data-from="{}" data-to="{}"><path d="{}" marker-end="url(#sfn-arrow)"/>"#,
        e.kind,
        esc(&e.from),
        esc(&e.to),
        d.trim_end()
    );
    if let Some(label) = &e.label {
        let _ = write!(
            s,
            r#"<text class="label" x="{}" y="{}" text-anchor="middle">{}</text>"#,
            num(e.label_at[0]),
            num(e.label_at[1] + 3.0),
            esc(label)
        );
    }
    s.push_str("</g>");
}

fn rect_attrs(n: &Placed, r: f64) -> String {
    format!(r#"x="{}" y="{}" width="{}" height="{}" rx="{}""#, num(n.x), num(n.y), num(n.w), num(n.h), num(r))
}

/// `text` cut to fit `width` pixels, with an ellipsis.
fn fit(text: &str, width: f64) -> String {
    let max = (width / CHAR_W).floor().max(1.0) as usize;
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 { format!("{}", r as i64) } else { format!("{r}") }
}

/// XML text and attribute escaping.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
