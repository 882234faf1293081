//! A state machine's graph, as the console and `stepbox graph` draw it:
//! [`Graph`] (every state a node, its transitions labelled edges, Map and
//! Parallel states groups of branches), [`Layout`] (a layered layout of it,
//! see [`sugiyama`]'s steps) and [`check::problems`] (overlapping boxes,
//! edges through boxes: what a layout must never have).

pub mod check;
mod dot;
mod layout;
mod model;
mod sugiyama;
mod svg;

pub use dot::to_dot;
pub use layout::{Layout, Placed, Routed};
pub use model::{Edge, EdgeKind, Graph, Node, NodeKind, Scope};
pub use svg::to_svg;
