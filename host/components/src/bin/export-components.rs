//! `cargo run -p stepbox-components -- DIR`: copy every example and test
//! component into DIR as `NAME.wasm`, ready for `stepbox run --functions DIR`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "target/functions".into());
    let names = stepbox_components::export_to(std::path::Path::new(&dir))?;
    eprintln!("exported {} components to {dir}: {}", names.len(), names.join(", "));
    Ok(())
}
