//! The console's files, compiled into the binary (`assets/`, served as they
//! are: no build step).

/// The page shell every console path answers.
pub(super) const INDEX: &str = include_str!("assets/index.html");

/// The files under `/console/assets/`, with their content types.
const FILES: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("assets/style.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("assets/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("assets/api.js")),
    ("sigv4.js", "text/javascript; charset=utf-8", include_str!("assets/sigv4.js")),
    ("ui.js", "text/javascript; charset=utf-8", include_str!("assets/ui.js")),
    ("status.js", "text/javascript; charset=utf-8", include_str!("assets/status.js")),
    ("graph.js", "text/javascript; charset=utf-8", include_str!("assets/graph.js")),
    ("home.js", "text/javascript; charset=utf-8", include_str!("assets/home.js")),
    ("machine.js", "text/javascript; charset=utf-8", include_str!("assets/machine.js")),
    ("execution.js", "text/javascript; charset=utf-8", include_str!("assets/execution.js")),
    ("maprun.js", "text/javascript; charset=utf-8", include_str!("assets/maprun.js")),
    ("function.js", "text/javascript; charset=utf-8", include_str!("assets/function.js")),
    ("monitor.js", "text/javascript; charset=utf-8", include_str!("assets/monitor.js")),
    ("cost.js", "text/javascript; charset=utf-8", include_str!("assets/cost.js")),
];

/// A file's text and content type.
pub(super) fn get(name: &str) -> Option<(&'static str, &'static str)> {
    FILES.iter().find(|(n, _, _)| *n == name).map(|(_, ct, body)| (*body, *ct))
}
