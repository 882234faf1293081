//! The type-specific part of a Map state.

use super::builder::Builder;
use super::{MapMode, MapSpec, NumSpec, QueryLanguage, StateKind};
use crate::path::JsonPath;
use crate::template::Template;
use serde_json::{Map, Value};
use std::sync::Arc;

/// An ItemProcessor as a definition of its own: without its
/// ProcessorConfig, with the query language it inherits.
fn standalone(pv: &Value, ql: QueryLanguage) -> Arc<str> {
    let mut m = pv.as_object().cloned().unwrap_or_default();
    m.remove("ProcessorConfig");
    if ql == QueryLanguage::Jsonata && !m.contains_key("QueryLanguage") {
        m.insert("QueryLanguage".into(), Value::String("JSONata".into()));
    }
    Arc::from(Value::Object(m).to_string())
}

impl Builder {
    /// ItemBatcher's limits, checked as AWS checks them (the batches are made
    /// at run time): a `…Path` limit in a JSONata state, both forms of one,
    /// one below 0, a path that is not a reference path.
    fn item_batcher(&mut self, o: &Map<String, Value>, loc: &str, ql: QueryLanguage) {
        let Some(Value::Object(b)) = o.get("ItemBatcher") else { return };
        let bloc = format!("{loc}/ItemBatcher");
        for k in ["MaxItemsPerBatch", "MaxInputBytesPerBatch"] {
            let pk = format!("{k}Path");
            if ql == QueryLanguage::Jsonata && b.contains_key(&pk) {
                self.schema(format!("The QueryLanguage is set to 'JSONata', but field '{pk}' is only supported for the 'JSONPath' QueryLanguage"), bloc.clone());
            } else {
                self.map_num_spec(b, k, &bloc, ql, "0", None);
            }
        }
    }

    /// ItemReader's `ReaderConfig.MaxItems` (or `MaxItemsPath`), checked as
    /// the other Map numbers are, with AWS's bound of 100,000,000 items
    /// (`Maximum value is 100000000`, recorded in floci-io/floci issue 3733).
    fn reader_config(&mut self, o: &Map<String, Value>, loc: &str, ql: QueryLanguage) {
        let Some(Value::Object(c)) = o.get("ItemReader").and_then(|r| r.get("ReaderConfig")) else { return };
        let cloc = format!("{loc}/ItemReader/ReaderConfig");
        if ql == QueryLanguage::Jsonata && c.contains_key("MaxItemsPath") {
            self.schema("The QueryLanguage is set to 'JSONata', but field 'MaxItemsPath' is only supported for the 'JSONPath' QueryLanguage", cloc);
        } else {
            self.map_num_spec(c, "MaxItems", &cloc, ql, "0", Some("100000000"));
        }
    }

    /// `None` when neither or both of ItemProcessor and Iterator are given,
    /// or the processor cannot be built.
    pub(super) fn map_state(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        ql: QueryLanguage,
        uc: &mut bool,
    ) -> Option<StateKind> {
        let (proc_key, legacy) = match (o.get("ItemProcessor"), o.get("Iterator")) {
            (Some(_), None) => ("ItemProcessor", false),
            (None, Some(_)) => ("Iterator", true),
            _ => {
                self.schema(
                    "Exactly one of 'ItemProcessor' or 'Iterator' is required",
                    loc.to_string(),
                );
                return None;
            }
        };
        let pv = &o[proc_key];
        // Its states take the machine's language, and it cannot declare one
        // (AWS's words and place: validate-state-machine-definition, recorded
        // in floci-io/floci issue 2968).
        if pv.get("QueryLanguage").is_some() {
            self.schema("Field 'QueryLanguage' is not supported", format!("{loc}/{proc_key}"));
        }
        let processor = self.machine(pv, &format!("{loc}/{proc_key}"), false, self.top_ql);
        let (mode, execution_type) = self.processor_config(pv, &format!("{loc}/{proc_key}"));
        let item_selector = self.item_selector(o, loc, ql, uc);
        let items_path = self.items_path(o, loc, uc);
        let max_concurrency = self
            .map_num_spec(o, "MaxConcurrency", loc, ql, "0", None)
            .unwrap_or(NumSpec::Value(0.0));
        let tolerated_failure_count = self.map_num_spec(o, "ToleratedFailureCount", loc, ql, "0", None);
        let tolerated_failure_percentage = self.map_num_spec(o, "ToleratedFailurePercentage", loc, ql, "0.0", Some("100.0"));
        self.item_batcher(o, loc, ql);
        self.reader_config(o, loc, ql);
        let processor = processor?;
        let processor_definition = (mode == MapMode::Distributed).then(|| standalone(pv, self.top_ql));
        Some(StateKind::Map(Box::new(MapSpec {
            processor: Arc::new(processor),
            mode,
            execution_type,
            processor_definition,
            items_path,
            item_selector,
            max_concurrency,
            tolerated_failure_count,
            tolerated_failure_percentage,
            items: o.get("Items").cloned(),
            item_reader: o.get("ItemReader").cloned(),
            item_batcher: o.get("ItemBatcher").cloned(),
            result_writer: o.get("ResultWriter").cloned(),
            label: o.get("Label").and_then(|v| v.as_str()).map(str::to_string),
            legacy_iterator: legacy,
        })))
    }

    /// The processor's `ProcessorConfig`: its mode and execution type.
    /// `ploc` is the processor's location.
    fn processor_config(&mut self, pv: &Value, ploc: &str) -> (MapMode, Option<String>) {
        match pv.get("ProcessorConfig") {
            None => (MapMode::Inline, None),
            Some(Value::Object(pc)) => {
                let mode = match pc.get("Mode") {
                    None => MapMode::Inline,
                    Some(Value::String(s)) if s == "INLINE" => MapMode::Inline,
                    Some(Value::String(s)) if s == "DISTRIBUTED" => MapMode::Distributed,
                    Some(_) => {
                        self.schema(
                            "The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]",
                            format!("{ploc}/ProcessorConfig/Mode"),
                        );
                        MapMode::Inline
                    }
                };
                let execution_type = pc
                    .get("ExecutionType")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                (mode, execution_type)
            }
            Some(_) => {
                self.schema(
                    "The value for the field 'ProcessorConfig' must be an OBJECT",
                    format!("{ploc}/ProcessorConfig"),
                );
                (MapMode::Inline, None)
            }
        }
    }

    /// ItemSelector (compiled in JSONPath only) or the legacy Parameters.
    fn item_selector(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        ql: QueryLanguage,
        uc: &mut bool,
    ) -> Option<Template> {
        if o.contains_key("ItemSelector") && o.contains_key("Parameters") {
            self.schema(
                "Only one of 'ItemSelector' or 'Parameters' may be given",
                loc.to_string(),
            );
        }
        if !o.contains_key("ItemSelector") {
            self.template(o, "Parameters", loc, uc)
        } else if ql == QueryLanguage::JsonPath {
            self.template(o, "ItemSelector", loc, uc)
        } else {
            None
        }
    }

    fn items_path(&mut self, o: &Map<String, Value>, loc: &str, uc: &mut bool) -> Option<JsonPath> {
        match o.get("ItemsPath")? {
            Value::String(s) => match JsonPath::parse_reference(s) {
                Ok(p) => {
                    *uc |= matches!(p.root(), crate::path::Root::Context);
                    Some(p)
                }
                Err(_) => {
                    self.schema(
                        "The value for the field 'ItemsPath' must be a valid Reference Path",
                        format!("{loc}/ItemsPath"),
                    );
                    None
                }
            },
            _ => {
                self.schema(
                    "The value for the field 'ItemsPath' must be a STRING",
                    format!("{loc}/ItemsPath"),
                );
                None
            }
        }
    }
}
