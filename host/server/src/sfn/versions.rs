//! State machine versions and aliases: PublishStateMachineVersion,
//! List/DeleteStateMachineVersion(s), Create/Describe/Update/Delete/
//! ListStateMachineAlias(es), and resolving a qualified ARN (`…:3`, `…:prod`)
//! to the definition an execution runs.

use chrono::Utc;
use rand::Rng as _;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Params, check_arn, get_sm, page};
use stepbox_store::{AliasRecord, Route, StateMachineRecord, VersionRecord};
use stepbox_types::{Qualifier, StateMachineArn};
use crate::{AppState, epoch};

/// AWS's limits per state machine.
const MAX_VERSIONS: usize = 1000;
const MAX_ALIASES: usize = 100;

/// What a (possibly qualified) state machine ARN starts: the machine and the
/// definition, role and revision to run, with the version and alias it went through.
pub(crate) struct Target {
    pub machine: StateMachineRecord,
    pub definition: String,
    pub role_arn: String,
    pub revision_id: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

impl Target {
    /// The engine's options for execution `name` (ARN `arn`) started on this target.
    pub(crate) fn execution_options(&self, name: String, arn: &str) -> stepbox_engine::ExecutionOptions {
        stepbox_engine::ExecutionOptions {
            name,
            execution_arn: Some(arn.to_string()),
            state_machine_name: self.machine.name.clone(),
            state_machine_arn: Some(self.machine.arn.clone()),
            role_arn: Some(self.role_arn.clone()),
            ..Default::default()
        }
    }
}

/// Split `arn:aws:states:R:A:stateMachine:NAME[:QUALIFIER]` into the unqualified
/// ARN and the qualifier.
pub(crate) fn split_qualifier(arn: &str) -> Result<(&str, Option<Qualifier<'_>>), ApiError> {
    check_arn(arn, "stateMachine")?;
    StateMachineArn::split(arn).map_err(|_| ApiError::new("InvalidArn", format!("Invalid Arn: '{arn}'")))
}

fn no_such_machine(arn: &str) -> ApiError {
    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

async fn get_version(state: &AppState, arn: &str) -> Result<VersionRecord, ApiError> {
    state.store.get_version(arn).await.map_err(ApiError::store_unreadable)?.ok_or_else(|| no_such_machine(arn))
}

/// Resolve a state machine, version or alias ARN for StartExecution and StartSyncExecution.
/// An alias with two routes picks one at random by weight.
pub(crate) async fn resolve(state: &AppState, arn: &str) -> Result<Target, ApiError> {
    let (base, qualifier) = split_qualifier(arn)?;
    let machine = get_sm(state, base).await.map_err(|e| match e.kind {
        "StateMachineDoesNotExist" => no_such_machine(arn),
        _ => e,
    })?;
    let (version, alias_arn) = match qualifier {
        None => {
            return Ok(Target {
                definition: machine.definition.clone(),
                role_arn: machine.role_arn.clone(),
                revision_id: machine.revision_id.clone(),
                machine,
                version_arn: None,
                alias_arn: None,
            });
        }
        Some(Qualifier::Version(_)) => (get_version(state, arn).await?, None),
        Some(Qualifier::Alias(_)) => {
            let alias = state.store.get_alias(arn).await.map_err(ApiError::store_unreadable)?;
            let alias = alias.ok_or_else(|| no_such_machine(arn))?;
            let route = pick_route(&alias.routing, rand::rng().random_range(0..100));
            (get_version(state, &route.version_arn).await?, Some(alias.arn))
        }
    };
    Ok(Target {
        machine,
        definition: version.definition,
        role_arn: version.role_arn,
        revision_id: version.revision_id,
        version_arn: Some(version.arn),
        alias_arn,
    })
}

/// The route a roll in 0..100 lands on: the first route covers [0, w1), the second [w1, 100).
fn pick_route(routes: &[Route], roll: u32) -> &Route {
    let mut upper = 0;
    for route in routes {
        upper += route.weight;
        if roll < upper {
            return route;
        }
    }
    routes.last().expect("an alias has at least one route")
}

/// Publish the machine's current revision (or return the version that already has it).
pub(crate) async fn publish(state: &AppState, machine: &StateMachineRecord, description: &str) -> Result<VersionRecord, ApiError> {
    let versions = state.store.list_versions(&machine.arn).await.map_err(ApiError::store_unreadable)?;
    if versions.len() >= MAX_VERSIONS && !versions.iter().any(|v| v.revision_id == machine.revision_id) {
        let mut e = ApiError::new(
            "ServiceQuotaExceededException",
            format!("Cannot publish more than {MAX_VERSIONS} versions of '{}': delete unused versions first", machine.arn),
        );
        e.status = hyper::StatusCode::PAYMENT_REQUIRED;
        return Err(e);
    }
    let candidate = VersionRecord {
        arn: String::new(),
        state_machine_arn: machine.arn.clone(),
        number: 0,
        definition: machine.definition.clone(),
        role_arn: machine.role_arn.clone(),
        description: description.to_string(),
        revision_id: machine.revision_id.clone(),
        creation_date: Utc::now(),
        extra: Default::default(),
    };
    Ok(state.store.publish_version(candidate).await.map_err(ApiError::store_failure)?.0)
}

fn check_description(description: Option<&str>, member: &str) -> Result<(), ApiError> {
    match description {
        Some(d) if d.chars().count() > 256 => Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length less than or equal to 256"
        ))),
        _ => Ok(()),
    }
}

/// `versionDescription` of CreateStateMachine/UpdateStateMachine, allowed only with `publish`.
pub(crate) fn version_description<'a>(p: Params<'a>) -> Result<(bool, &'a str), ApiError> {
    let publish = p.opt_bool("publish")?.unwrap_or(false);
    let description = p.opt_str("versionDescription")?;
    if description.is_some() && !publish {
        return Err(ApiError::validation("Version description can only be set when publish is true"));
    }
    check_description(description, "versionDescription")?;
    Ok((publish, description.unwrap_or("")))
}

pub(crate) async fn publish_state_machine_version(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    let machine = get_sm(state, arn).await?;
    let description = p.opt_str("description")?;
    check_description(description, "description")?;
    if let Some(expected) = p.opt_str("revisionId")? {
        let current = if machine.revision_id.is_empty() { "INITIAL" } else { &machine.revision_id };
        if expected != current {
            let mut e = ApiError::new(
                "ConflictException",
                format!(
                    "Failed to publish the State Machine version for revision {expected}. \
                     The current State Machine revision is {current}."
                ),
            );
            e.status = hyper::StatusCode::CONFLICT;
            return Err(e);
        }
    }
    let version = publish(state, &machine, description.unwrap_or("")).await?;
    Ok(json!({"stateMachineVersionArn": version.arn, "creationDate": epoch(version.creation_date)}))
}

pub(crate) async fn list_state_machine_versions(state: &AppState, p: Params<'_>) -> ApiResult {
    let machine = get_sm(state, p.str("stateMachineArn")?).await?;
    let versions = state.store.list_versions(&machine.arn).await.map_err(ApiError::store_unreadable)?;
    let (items, next) = page(versions, p, "versions")?;
    let list: Vec<Value> = items
        .iter()
        .map(|v| json!({"stateMachineVersionArn": v.arn, "creationDate": epoch(v.creation_date)}))
        .collect();
    let mut out = json!({"stateMachineVersions": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

fn version_arn_param<'a>(p: &Params<'a>, member: &str) -> Result<&'a str, ApiError> {
    let arn = p.str(member)?;
    match split_qualifier(arn)? {
        (_, Some(Qualifier::Version(_))) => Ok(arn),
        _ => Err(ApiError::validation(format!("'{arn}' is not a state machine version ARN"))),
    }
}

/// Deleting a missing version succeeds (as AWS); one an alias routes to is refused.
pub(crate) async fn delete_state_machine_version(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = version_arn_param(&p, "stateMachineVersionArn")?;
    let (base, _) = split_qualifier(arn)?;
    let aliases = state.store.list_aliases(base).await.map_err(ApiError::store_unreadable)?;
    let referencing: Vec<String> = aliases
        .into_iter()
        .filter(|a| a.routing.iter().any(|r| r.version_arn == arn))
        .map(|a| a.name)
        .collect();
    if !referencing.is_empty() {
        return Err(conflict(format!(
            "Version to be deleted must not be referenced by an alias. \
             Current list of aliases referencing this version: [{}]",
            referencing.join(", ")
        )));
    }
    state.store.delete_version(arn).await.map_err(ApiError::store_failure)?;
    Ok(json!({}))
}

fn conflict(message: String) -> ApiError {
    let mut e = ApiError::new("ConflictException", message);
    e.status = hyper::StatusCode::CONFLICT;
    e
}

/// AWS's alias name rule: 1–80 of `[a-zA-Z0-9_.-]`, not all digits (those are versions).
fn check_alias_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > 80 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must have length less than or equal to 80"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if name.is_empty() || !name.chars().all(allowed) || name.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"
        )));
    }
    Ok(())
}

/// Parse and check `routingConfiguration`: one or two distinct, existing versions of one
/// state machine whose weights sum to 100. Returns the routes and that state machine's ARN.
async fn read_routing(state: &AppState, p: Params<'_>) -> Result<(Vec<Route>, String), ApiError> {
    let bad = || {
        ApiError::new(
            "SerializationException",
            "member 'routingConfiguration' must be a list of {\"stateMachineVersionArn\", \"weight\"} objects",
        )
    };
    let items = p.0.get("routingConfiguration").and_then(Value::as_array).ok_or_else(bad)?;
    let mut routes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let version_arn = item.get("stateMachineVersionArn").and_then(Value::as_str).ok_or_else(bad)?;
        let weight = item.get("weight").and_then(Value::as_u64).ok_or_else(bad)?;
        if weight > 100 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{weight}' at 'routingConfiguration.{}.member.weight' \
                 failed to satisfy constraint: Member must have value less than or equal to 100",
                i + 1
            )));
        }
        routes.push(Route { version_arn: version_arn.to_string(), weight: weight as u32 });
    }
    let arns = || routes.iter().map(|r| r.version_arn.as_str()).collect::<Vec<_>>().join(", ");
    if routes.is_empty() || routes.len() > 2 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'routingConfiguration' failed to satisfy constraint: \
             Member must have length between 1 and 2, got {}",
            routes.len()
        )));
    }
    let mut machines = Vec::new();
    for r in &routes {
        match split_qualifier(&r.version_arn) {
            Ok((base, Some(Qualifier::Version(_)))) => machines.push(base.to_string()),
            _ => {
                return Err(ApiError::validation(format!(
                    "Routing configuration must contain state machine version ARNs. Received: [{}]",
                    arns()
                )));
            }
        }
    }
    if routes.len() == 2 && routes[0].version_arn == routes[1].version_arn {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: [{}]",
            arns()
        )));
    }
    if machines.iter().any(|m| *m != machines[0]) {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain versions of the same state machine. Received: [{}]",
            arns()
        )));
    }
    let total: u32 = routes.iter().map(|r| r.weight).sum();
    if total != 100 {
        let weights: Vec<String> = routes.iter().map(|r| r.weight.to_string()).collect();
        return Err(ApiError::validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    for r in &routes {
        if state.store.get_version(&r.version_arn).await.map_err(ApiError::store_unreadable)?.is_none() {
            return Err(ApiError::new(
                "ResourceNotFound",
                format!("Resource not found: state machine version '{}' does not exist", r.version_arn),
            ));
        }
    }
    Ok((routes, machines.swap_remove(0)))
}

pub(crate) async fn create_state_machine_alias(state: &AppState, p: Params<'_>) -> ApiResult {
    let name = p.str("name")?;
    check_alias_name(name)?;
    let description = p.opt_str("description")?;
    check_description(description, "description")?;
    let (routing, machine_arn) = read_routing(state, p).await?;
    get_sm(state, &machine_arn).await?;
    if state.store.list_aliases(&machine_arn).await.map_err(ApiError::store_unreadable)?.len() >= MAX_ALIASES {
        let mut e = ApiError::new(
            "ServiceQuotaExceededException",
            format!("Cannot create more than {MAX_ALIASES} aliases for '{machine_arn}'"),
        );
        e.status = hyper::StatusCode::PAYMENT_REQUIRED;
        return Err(e);
    }
    let now = Utc::now();
    let record = AliasRecord {
        arn: format!("{machine_arn}:{name}"),
        state_machine_arn: machine_arn,
        name: name.to_string(),
        description: description.unwrap_or("").to_string(),
        routing,
        creation_date: now,
        update_date: now,
        extra: Default::default(),
    };
    match state.store.insert_alias(record.clone()).await.map_err(ApiError::store_failure)? {
        Ok(()) => Ok(json!({"stateMachineAliasArn": record.arn, "creationDate": epoch(record.creation_date)})),
        // Idempotent for an identical request.
        Err(existing) if existing.routing == record.routing && existing.description == record.description => {
            Ok(json!({"stateMachineAliasArn": existing.arn, "creationDate": epoch(existing.creation_date)}))
        }
        Err(_) => Err(conflict(
            "Failed to create alias because an alias with the same name and a different routing configuration already exists."
                .into(),
        )),
    }
}

fn alias_arn_param<'a>(p: &Params<'a>) -> Result<&'a str, ApiError> {
    let arn = p.str("stateMachineAliasArn")?;
    match split_qualifier(arn)? {
        (_, Some(Qualifier::Alias(_))) => Ok(arn),
        _ => Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'not a state machine alias ARN: {arn}'"))),
    }
}

async fn get_alias(state: &AppState, arn: &str) -> Result<AliasRecord, ApiError> {
    state
        .store
        .get_alias(arn)
        .await
        .map_err(ApiError::store_unreadable)?
        .ok_or_else(|| ApiError::new("ResourceNotFound", "Request references a resource that does not exist."))
}

fn routing_json(routes: &[Route]) -> Value {
    routes.iter().map(|r| json!({"stateMachineVersionArn": r.version_arn, "weight": r.weight})).collect()
}

pub(crate) async fn describe_state_machine_alias(state: &AppState, p: Params<'_>) -> ApiResult {
    let alias = get_alias(state, alias_arn_param(&p)?).await?;
    let mut out = json!({
        "stateMachineAliasArn": alias.arn,
        "name": alias.name,
        "routingConfiguration": routing_json(&alias.routing),
        "creationDate": epoch(alias.creation_date),
        "updateDate": epoch(alias.update_date),
    });
    if !alias.description.is_empty() {
        out["description"] = json!(alias.description);
    }
    Ok(out)
}

pub(crate) async fn update_state_machine_alias(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = alias_arn_param(&p)?;
    let description = p.opt_str("description")?;
    check_description(description, "description")?;
    let has_routing = p.0.get("routingConfiguration").is_some_and(|v| !v.is_null());
    if description.is_none() && !has_routing {
        return Err(ApiError::validation(
            "Either the description or the routing configuration must be specified to update an alias",
        ));
    }
    let mut alias = get_alias(state, arn).await?;
    if has_routing {
        let (routing, machine) = read_routing(state, p).await?;
        if machine != alias.state_machine_arn {
            return Err(ApiError::validation(format!(
                "Routing configuration must contain versions of the alias's state machine '{}'",
                alias.state_machine_arn
            )));
        }
        alias.routing = routing;
    }
    if let Some(d) = description {
        alias.description = d.to_string();
    }
    alias.update_date = Utc::now();
    if !state.store.update_alias(alias.clone()).await.map_err(ApiError::store_failure)? {
        return Err(ApiError::new("ResourceNotFound", "Request references a resource that does not exist."));
    }
    Ok(json!({"updateDate": epoch(alias.update_date)}))
}

/// Deleting a missing alias succeeds, as AWS.
pub(crate) async fn delete_state_machine_alias(state: &AppState, p: Params<'_>) -> ApiResult {
    state.store.delete_alias(alias_arn_param(&p)?).await.map_err(ApiError::store_failure)?;
    Ok(json!({}))
}

pub(crate) async fn list_state_machine_aliases(state: &AppState, p: Params<'_>) -> ApiResult {
    let machine = get_sm(state, p.str("stateMachineArn")?).await?;
    let aliases = state.store.list_aliases(&machine.arn).await.map_err(ApiError::store_unreadable)?;
    let (items, next) = page(aliases, p, "aliases")?;
    let list: Vec<Value> = items
        .iter()
        .map(|a| json!({"stateMachineAliasArn": a.arn, "creationDate": epoch(a.creation_date)}))
        .collect();
    let mut out = json!({"stateMachineAliases": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

/// DescribeStateMachine of a version ARN: the version's snapshot under its own ARN.
pub(crate) async fn describe_version(state: &AppState, machine: &StateMachineRecord, arn: &str) -> ApiResult {
    let version = get_version(state, arn).await?;
    let snapshot = StateMachineRecord {
        arn: version.arn,
        definition: version.definition,
        role_arn: version.role_arn,
        description: version.description,
        creation_date: version.creation_date,
        revision_id: version.revision_id,
        ..machine.clone()
    };
    Ok(super::describe_sm_json(&snapshot))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        vec![Route { version_arn: "v1".into(), weight: 30 }, Route { version_arn: "v2".into(), weight: 70 }]
    }

    #[test]
    fn rolls_split_by_weight() {
        let r = routes();
        assert_eq!(pick_route(&r, 0).version_arn, "v1");
        assert_eq!(pick_route(&r, 29).version_arn, "v1");
        assert_eq!(pick_route(&r, 30).version_arn, "v2");
        assert_eq!(pick_route(&r, 99).version_arn, "v2");
        let all = [Route { version_arn: "v3".into(), weight: 100 }];
        assert_eq!(pick_route(&all, 99).version_arn, "v3");
    }

    #[test]
    fn qualifiers_split_off_state_machine_arns() {
        let base = "arn:aws:states:us-east-1:111111111111:stateMachine:m";
        assert_eq!(split_qualifier(base).unwrap(), (base, None));
        assert_eq!(split_qualifier(&format!("{base}:3")).unwrap(), (base, Some(Qualifier::Version("3"))));
        assert_eq!(split_qualifier(&format!("{base}:prod")).unwrap(), (base, Some(Qualifier::Alias("prod"))));
        assert!(split_qualifier(&format!("{base}:a:b")).is_err());
        // Only digits make a version: `v1` and an empty qualifier name aliases.
        assert_eq!(split_qualifier(&format!("{base}:12")).unwrap().1, Some(Qualifier::Version("12")));
        assert_eq!(split_qualifier(&format!("{base}:v1")).unwrap().1, Some(Qualifier::Alias("v1")));
        assert_eq!(split_qualifier(&format!("{base}:")).unwrap().1, Some(Qualifier::Alias("")));
    }

    #[test]
    fn alias_names_follow_aws_rules() {
        assert!(check_alias_name("prod").is_ok());
        assert!(check_alias_name("v1.2_beta-3").is_ok());
        for bad in ["", "123", "INVALID ALIAS", "!INVALID", "ALIAS@", &"A".repeat(81)] {
            assert_eq!(check_alias_name(bad).unwrap_err().kind, "ValidationException", "{bad}");
        }
    }
}
