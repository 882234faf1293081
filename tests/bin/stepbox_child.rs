//! The `stepbox` command line as a separate process for tests that must kill
//! a server (`tests/all/crash.rs`): same entry point as the real binary.

#[global_allocator]
static GLOBAL: stepbox::Allocator = stepbox::ALLOCATOR;

fn main() -> std::process::ExitCode {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    stepbox::run(
        std::env::args_os(),
        stepbox::Io {
            out: &mut out,
            err: &mut err,
        },
    )
}
