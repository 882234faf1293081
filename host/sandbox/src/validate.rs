//! Clear refusals for components that do not fit the `stepbox:task` world.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::RegisterError;

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// A component's preamble has layer 1; a core module's has layer 0.
pub fn check_is_component(wasm: &[u8]) -> Result<(), RegisterError> {
    if wasm.len() < 8 || &wasm[..4] != WASM_MAGIC {
        return Err(RegisterError::NotAComponent(
            "the file does not start with the WebAssembly magic bytes `\\0asm`".into(),
        ));
    }
    if wasm[6..8] == [0, 0] {
        return Err(RegisterError::NotAComponent(
            "this is a core WebAssembly module, not a component; build for \
             `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
                .into(),
        ));
    }
    Ok(())
}

/// The world's one export is `handle: func(input: string, ctx: context) -> result<string, task-error>`.
pub fn check_exports(engine: &Engine, component: &Component) -> Result<(), RegisterError> {
    let ty = component.component_type();
    let exports: Vec<(String, ComponentItem)> =
        ty.exports(engine).map(|(name, item)| (name.to_string(), item.ty)).collect();
    match exports.iter().find(|(name, _)| name == "handle") {
        Some((_, ComponentItem::ComponentFunc(func))) => {
            let params: Vec<_> = func.params().map(|(name, _)| name.to_string()).collect();
            if params.len() != 2 {
                return Err(RegisterError::WrongWorld(format!(
                    "export `handle` takes ({}) but the world expects (input: string, ctx: context)",
                    params.join(", ")
                )));
            }
            Ok(())
        }
        Some((_, other)) => Err(RegisterError::WrongWorld(format!(
            "export `handle` is a {} but must be a function \
             `handle: func(input: string, ctx: context) -> result<string, task-error>`",
            item_kind(other)
        ))),
        None => {
            let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
            Err(RegisterError::WrongWorld(format!(
                "missing export `handle` (the entry point of world stepbox:task/task@0.2.0); \
                 the component exports [{}]",
                names.join(", ")
            )))
        }
    }
}

fn item_kind(item: &ComponentItem) -> &'static str {
    match item {
        ComponentItem::ComponentFunc(_) => "function",
        ComponentItem::CoreFunc(_) => "core function",
        ComponentItem::Module(_) => "core module",
        ComponentItem::Component(_) => "component",
        ComponentItem::ComponentInstance(_) => "instance",
        ComponentItem::Type(_) => "type",
        ComponentItem::Resource(_) => "resource",
    }
}

/// Import mismatches name what the component asked for that the host does not grant.
pub fn describe_import_error(e: &wasmtime::Error) -> String {
    format!(
        "{e:#} (a task may import only `stepbox:task/host` and the WASI interfaces wasm32-wasip2 uses; \
         nothing else is granted)"
    )
}
