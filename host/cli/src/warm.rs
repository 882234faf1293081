//! Warming Cranelift's compilation cache when a toolchain is installed.
//!
//! Every Python function's component carries the same CPython, and every
//! JavaScript function's the same SpiderMonkey: ~13,000 functions whose
//! machine code the compilation cache (`--cache-dir`'s `compiled/`) keeps.
//! Without warming, a machine's first upload of a language compiles them all
//! (and pays for filling the cache); `stepbox toolchain install` builds and
//! compiles an echo handler instead, so a first upload takes them from the
//! cache like every later one (host/bench/README.md has the figures).
//!
//! A marker per language names the toolchain and the engine it was warmed
//! for; a new toolchain or a stepbox whose engine compiles differently warms
//! again.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use stepbox_sandbox::{Sandbox, SandboxConfig};
use stepbox_toolchain::{BuildCache, BuildRequest, Installed, Language, Runtime, Source, Toolchains};

/// What warming did.
pub enum Warmed {
    /// The marker was there: nothing to do.
    Already,
    /// Built and compiled: functions compiled and taken from the cache, seconds.
    Now { compiled: u64, reused: u64, seconds: f64 },
}

/// Build an echo handler of `installed`'s language and compile it with the
/// compilation cache under `cache_dir` (`compiled/`), unless its marker says
/// it was done for this toolchain and engine.
/// `progress` hears one line before the work starts.
pub fn warm(toolchains: &Toolchains, installed: &Installed, cache_dir: &Path, progress: &mut dyn Write) -> anyhow::Result<Warmed> {
    let compiled = cache_dir.join("compiled");
    let sandbox = Sandbox::new(SandboxConfig { compile_cache_dir: Some(compiled.clone()), ..SandboxConfig::default() })?;
    let marker = compiled.join(format!(".warmed-{}", installed.language.name()));
    let stamp = stamp(installed, &sandbox);
    if std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == stamp) {
        return Ok(Warmed::Already);
    }
    writeln!(
        progress,
        "{}: warming the compilation cache under {} (an echo handler built and compiled; a minute or two)",
        installed.language.name(),
        compiled.display()
    )?;
    let started = Instant::now();
    let (runtime, handler, file, text) = echo(installed.language);
    let src = compiled.join(format!(".warm-src-{}-{}", installed.language.name(), std::process::id()));
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    std::fs::write(src.join(file), text).with_context(|| format!("writing {}", src.display()))?;
    let source = Source::Dir(src.clone());
    // Not kept in the build cache: nobody uploads this handler.
    let built = toolchains.build(&BuildRequest { runtime, handler, source: &source }, &BuildCache::new(None));
    let _ = std::fs::remove_dir_all(&src);
    let wasm = built.with_context(|| format!("building an echo handler for {}", runtime.id()))?;
    sandbox.compile(&wasm).map_err(|e| anyhow::anyhow!("compiling the echo handler: {e}"))?;
    std::fs::write(&marker, format!("{stamp}\n")).with_context(|| format!("writing {}", marker.display()))?;
    let stats = sandbox.compile_cache_stats();
    Ok(Warmed::Now { compiled: stats.misses, reused: stats.hits, seconds: started.elapsed().as_secs_f64() })
}

/// The toolchain's version and the engine's compatibility hash (what decides
/// the machine code the cache holds).
fn stamp(installed: &Installed, sandbox: &Sandbox) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sandbox.engine().precompile_compatibility_hash().hash(&mut hasher);
    format!("{} engine {:016x}", installed.version, hasher.finish())
}

fn echo(language: Language) -> (Runtime, &'static str, &'static str, &'static str) {
    match language {
        Language::Python => (Runtime::Python312, "app.handler", "app.py", "def handler(event, context):\n    return event\n"),
        Language::Js => (Runtime::Nodejs22, "index.handler", "index.mjs", "export const handler = async (event) => event;\n"),
    }
}

/// Warm the cache for `installed` and say so on `out`.
pub fn warm_and_report(
    toolchains: &Toolchains,
    installed: &Installed,
    cache_dir: Option<PathBuf>,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let Some(cache_dir) = cache_dir.or_else(crate::util::default_cache_dir) else {
        writeln!(err, "no cache directory (set --cache-dir or HOME): the compilation cache was not warmed")?;
        return Ok(());
    };
    match warm(toolchains, installed, &cache_dir, err)? {
        Warmed::Already => writeln!(out, "  compilation cache: already warm")?,
        Warmed::Now { compiled, reused, seconds } => writeln!(
            out,
            "  compilation cache: warmed in {seconds:.1} s ({compiled} functions compiled, {reused} already there); a first upload reuses them"
        )?,
    }
    Ok(())
}
