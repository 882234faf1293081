//! `stepbox graph FILE --format svg|dot`: a definition's graph, offline, as
//! the web console draws it (stepbox-graph's layered layout) or as Graphviz DOT.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// An SVG image laid out like the console's graph.
    Svg,
    /// Graphviz's DOT language (Map and Parallel states as clusters).
    Dot,
}

#[derive(clap::Args)]
pub struct GraphArgs {
    /// The state machine definition (Amazon States Language JSON).
    file: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value = "svg")]
    format: Format,
}

pub fn run(args: GraphArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let definition: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", args.file.display()))?;
    anyhow::ensure!(definition.is_object(), "{} is not a JSON object", args.file.display());
    let graph = stepbox_graph::Graph::from_definition(&definition);
    match args.format {
        Format::Svg => writeln!(out, "{}", stepbox_graph::to_svg(&stepbox_graph::Layout::of(&graph)))?,
        Format::Dot => write!(out, "{}", stepbox_graph::to_dot(&graph))?,
    }
    Ok(ExitCode::SUCCESS)
}
