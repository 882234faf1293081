//! Single fields: names, transition targets, paths, templates and values
//! given inline or through a `…Path` field.

use super::builder::{Builder, Names};
use super::{IoPath, NumSpec, QueryLanguage, ResultPath, StrSpec};
use crate::error::codes;
use crate::intrinsics::Intrinsic;
use crate::path::JsonPath;
use crate::template::Template;
use serde_json::{Map, Value};

impl Builder {
    pub(super) fn opt_string(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
    ) -> Option<String> {
        match o.get(k) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                None
            }
        }
    }

    pub(super) fn target(&mut self, name: &str, names: &Names, loc: String) -> Option<usize> {
        match names.get(name) {
            Some(i) => Some(*i),
            None => {
                self.err(
                    codes::MISSING_TRANSITION_TARGET,
                    format!("Missing 'Next' target: {name}"),
                    loc,
                );
                None
            }
        }
    }

    pub(super) fn io_path(&mut self, o: &Map<String, Value>, k: &str, loc: &str) -> IoPath {
        match o.get(k) {
            None => IoPath::Default,
            Some(Value::Null) => IoPath::Null,
            Some(Value::String(s)) => match JsonPath::parse(s) {
                Ok(p) => IoPath::Path(p),
                Err(_) => {
                    self.schema(
                        format!("The value for the field '{k}' must be a valid JSONPath"),
                        format!("{loc}/{k}"),
                    );
                    IoPath::Default
                }
            },
            Some(_) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                IoPath::Default
            }
        }
    }

    pub(super) fn result_path(&mut self, o: &Map<String, Value>, loc: &str) -> ResultPath {
        match o.get("ResultPath") {
            None => ResultPath::Default,
            Some(Value::Null) => ResultPath::Null,
            Some(Value::String(s)) => match JsonPath::parse_reference(s) {
                Ok(p) if matches!(p.root(), crate::path::Root::Input) => {
                    if p.is_root_only() {
                        ResultPath::Default
                    } else {
                        ResultPath::Path(p)
                    }
                }
                _ => {
                    self.schema(
                        "The value for the field 'ResultPath' must be a valid Reference Path",
                        format!("{loc}/ResultPath"),
                    );
                    ResultPath::Default
                }
            },
            Some(_) => {
                self.schema(
                    "The value for the field 'ResultPath' must be a STRING",
                    format!("{loc}/ResultPath"),
                );
                ResultPath::Default
            }
        }
    }

    pub(super) fn template(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        uc: &mut bool,
    ) -> Option<Template> {
        let v = o.get(k)?;
        match Template::compile(v) {
            Ok(t) => {
                *uc |= t.uses_context();
                Some(t)
            }
            Err(e) => {
                self.schema(e.message, format!("{loc}/{k}{}", e.location));
                None
            }
        }
    }

    /// A Map's number field `k` (MaxConcurrency, the tolerated failures,
    /// ItemBatcher's limits) or its `kPath`, refused in AWS's words and
    /// places (validate-state-machine-definition, recorded in
    /// floci-io/floci issue 3733): both given, a literal below its minimum
    /// (`min`, as AWS prints it) or above its maximum, and a path that is not
    /// a reference path (the context object's included).
    pub(super) fn map_num_spec(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        ql: QueryLanguage,
        min: &str,
        max: Option<&str>,
    ) -> Option<NumSpec> {
        let pk = format!("{k}Path");
        match (o.get(k), o.get(&pk)) {
            (Some(_), Some(_)) => {
                self.schema(format!("There should only be one of the following fields: [{k}, {pk}]"), loc.to_string());
                None
            }
            (Some(Value::Number(n)), None) => {
                let x = n.as_f64().unwrap_or(0.0);
                if x < min.parse().unwrap_or(0.0) {
                    self.schema(format!("Minimum value is {min}"), format!("{loc}/{k}"));
                }
                if let Some(max) = max.filter(|m| x > m.parse().unwrap_or(f64::MAX)) {
                    self.schema(format!("Maximum value is {max}"), format!("{loc}/{k}"));
                }
                Some(NumSpec::Value(x))
            }
            (None, Some(Value::String(s))) if !s.starts_with("$$") => match JsonPath::parse_reference(s) {
                Ok(p) => Some(NumSpec::Path(p)),
                Err(_) => {
                    self.schema("Value is not a Reference Path", format!("{loc}/{pk}"));
                    None
                }
            },
            (None, Some(Value::String(_))) => {
                self.schema("Value is not a Reference Path", format!("{loc}/{pk}"));
                None
            }
            _ => self.num_spec(o, k, loc, ql, 0.0),
        }
    }

    pub(super) fn num_spec(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        ql: QueryLanguage,
        min: f64,
    ) -> Option<NumSpec> {
        let pk = format!("{k}Path");
        match (o.get(k), o.get(&pk)) {
            (Some(_), Some(_)) => {
                self.schema(
                    format!("Only one of '{k}' and '{pk}' may be given"),
                    loc.to_string(),
                );
                None
            }
            (Some(Value::Number(n)), None) => {
                let x = n.as_f64().unwrap_or(0.0);
                if x < min {
                    self.schema(
                        format!("The value for the field '{k}' must be at least {min}"),
                        format!("{loc}/{k}"),
                    );
                }
                Some(NumSpec::Value(x))
            }
            (Some(v @ Value::String(s)), None)
                if ql == QueryLanguage::Jsonata && s.starts_with("{%") =>
            {
                Some(NumSpec::Raw(v.clone()))
            }
            (Some(_), None) => {
                self.schema(
                    format!("The value for the field '{k}' must be a NUMBER"),
                    format!("{loc}/{k}"),
                );
                None
            }
            (None, Some(Value::String(s))) => match JsonPath::parse_reference(s) {
                Ok(p) => Some(NumSpec::Path(p)),
                Err(_) => {
                    self.schema(
                        format!("The value for the field '{pk}' must be a valid Reference Path"),
                        format!("{loc}/{pk}"),
                    );
                    None
                }
            },
            (None, Some(_)) => {
                self.schema(
                    format!("The value for the field '{pk}' must be a STRING"),
                    format!("{loc}/{pk}"),
                );
                None
            }
            (None, None) => None,
        }
    }

    /// Compiles `Assign` (JSONPath mode) as a template.
    pub(super) fn assign(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        uc: &mut bool,
    ) -> Option<Template> {
        match o.get("Assign") {
            None => None,
            Some(Value::Object(_)) => self.template(o, "Assign", loc, uc),
            Some(_) => {
                self.schema(
                    "The value for the field 'Assign' must be an OBJECT",
                    format!("{loc}/Assign"),
                );
                None
            }
        }
    }

    pub(super) fn str_spec(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        uc: &mut bool,
    ) -> Option<StrSpec> {
        let pk = format!("{k}Path");
        match (o.get(k), o.get(&pk)) {
            (Some(_), Some(_)) => {
                self.schema(
                    format!("Only one of '{k}' and '{pk}' may be given"),
                    loc.to_string(),
                );
                None
            }
            (Some(Value::String(s)), None) => Some(StrSpec::Value(s.clone())),
            (Some(_), None) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                None
            }
            (None, Some(Value::String(s))) => {
                if s.starts_with('$') {
                    match JsonPath::parse(s) {
                        Ok(p) => {
                            *uc |= matches!(p.root(), crate::path::Root::Context);
                            Some(StrSpec::Path(p))
                        }
                        Err(_) => {
                            self.schema(format!("The value for the field '{pk}' must be a valid JSONPath or a valid intrinsic function call"), format!("{loc}/{pk}"));
                            None
                        }
                    }
                } else {
                    match Intrinsic::parse(s) {
                        Ok(c) => {
                            *uc |= c.uses_context();
                            Some(StrSpec::Call(c))
                        }
                        Err(_) => {
                            self.schema(format!("The value for the field '{pk}' must be a valid JSONPath or a valid intrinsic function call"), format!("{loc}/{pk}"));
                            None
                        }
                    }
                }
            }
            (None, Some(_)) => {
                self.schema(
                    format!("The value for the field '{pk}' must be a STRING"),
                    format!("{loc}/{pk}"),
                );
                None
            }
            (None, None) => None,
        }
    }
}
