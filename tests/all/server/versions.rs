//! Versions, aliases and qualified ARNs through aws-sdk-sfn.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, RoutingConfigurationListItem, StateMachineType};
use serde_json::json;

use super::{Harness, ROLE, create_machine, on_both_stores, wait_closed};

fn pass(result: i64) -> String {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": result}, "End": true}}}).to_string()
}

fn route(version: &str, weight: i32) -> RoutingConfigurationListItem {
    RoutingConfigurationListItem::builder().state_machine_version_arn(version).weight(weight).build().unwrap()
}

async fn run(h: &Harness, arn: &str, name: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let started = h.sfn.start_execution().state_machine_arn(arn).name(name).send().await.expect("StartExecution");
    let done = wait_closed(h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    done
}

// On the durable store version records are cached: every publish and
// delete must be seen by the next start and describe.
on_both_stores!(versions_publish_run_and_delete);
async fn versions_publish_run_and_delete(h: Harness) {
    let created = h
        .sfn
        .create_state_machine()
        .name("versioned")
        .definition(pass(1))
        .role_arn(ROLE)
        .publish(true)
        .version_description("first")
        .send()
        .await
        .unwrap();
    let sm = created.state_machine_arn().to_string();
    let v1 = created.state_machine_version_arn().unwrap().to_string();
    assert_eq!(v1, format!("{sm}:1"));

    // Publishing an unchanged revision returns the same version; an update makes a new revision.
    let again = h.sfn.publish_state_machine_version().state_machine_arn(&sm).send().await.unwrap();
    assert_eq!(again.state_machine_version_arn(), v1);
    let updated = h.sfn.update_state_machine().state_machine_arn(&sm).definition(pass(2)).send().await.unwrap();
    let revision = updated.revision_id().unwrap().to_string();
    assert_eq!(updated.state_machine_version_arn(), None);
    let err = h
        .sfn
        .publish_state_machine_version()
        .state_machine_arn(&sm)
        .revision_id("stale")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");
    assert!(err.message().unwrap().contains(&revision), "{err:?}");
    let v2 = h
        .sfn
        .publish_state_machine_version()
        .state_machine_arn(&sm)
        .revision_id(&revision)
        .description("second")
        .send()
        .await
        .unwrap()
        .state_machine_version_arn()
        .to_string();
    assert_eq!(v2, format!("{sm}:2"));

    // Describe a version: its own definition, ARN and description.
    let d1 = h.sfn.describe_state_machine().state_machine_arn(&v1).send().await.unwrap();
    assert_eq!(d1.state_machine_arn(), v1);
    assert_eq!(d1.definition(), pass(1));
    assert_eq!(d1.description(), Some("first"));
    let d2 = h.sfn.describe_state_machine().state_machine_arn(&v2).send().await.unwrap();
    assert_eq!(d2.revision_id(), Some(revision.as_str()));

    let listed = h.sfn.list_state_machine_versions().state_machine_arn(&sm).send().await.unwrap();
    let arns: Vec<&str> = listed.state_machine_versions().iter().map(|v| v.state_machine_version_arn()).collect();
    assert_eq!(arns, [v2.as_str(), v1.as_str()], "newest first");
    let paged = h.sfn.list_state_machine_versions().state_machine_arn(&sm).max_results(1).send().await.unwrap();
    assert_eq!(paged.state_machine_versions().len(), 1);
    assert!(paged.next_token().is_some());

    // A version runs its own definition whatever the machine has now.
    let done = run(&h, &v1, "from-v1").await;
    assert_eq!(done.output(), Some(r#"{"v":1}"#));
    assert_eq!(done.state_machine_arn(), sm);
    assert_eq!(done.state_machine_version_arn(), Some(v1.as_str()));
    assert_eq!(done.state_machine_alias_arn(), None);
    let for_exec = h.sfn.describe_state_machine_for_execution().execution_arn(done.execution_arn()).send().await.unwrap();
    assert_eq!(for_exec.definition(), pass(1));
    assert_eq!(for_exec.state_machine_arn(), sm);
    let latest = run(&h, &sm, "from-latest").await;
    assert_eq!(latest.output(), Some(r#"{"v":2}"#));

    // ListExecutions of a version lists only what started through it.
    let of_v1 = h.sfn.list_executions().state_machine_arn(&v1).send().await.unwrap();
    let names: Vec<&str> = of_v1.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, ["from-v1"]);
    assert_eq!(of_v1.executions()[0].state_machine_version_arn(), Some(v1.as_str()));
    assert_eq!(of_v1.executions()[0].redrive_count(), Some(0));
    assert_eq!(h.sfn.list_executions().state_machine_arn(&sm).send().await.unwrap().executions().len(), 2);

    // Deleting is idempotent; numbers are never reused.
    h.sfn.delete_state_machine_version().state_machine_version_arn(&v2).send().await.unwrap();
    h.sfn.delete_state_machine_version().state_machine_version_arn(&v2).send().await.unwrap();
    let err = h.sfn.describe_state_machine().state_machine_arn(&v2).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_does_not_exist(), "{err:?}");
    let err = h.sfn.start_execution().state_machine_arn(&v2).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_does_not_exist(), "{err:?}");
    let updated = h.sfn.update_state_machine().state_machine_arn(&sm).definition(pass(3)).publish(true).send().await.unwrap();
    assert_eq!(updated.state_machine_version_arn(), Some(format!("{sm}:3").as_str()));

    // versionDescription needs publish.
    let err = h
        .sfn
        .update_state_machine()
        .state_machine_arn(&sm)
        .definition(pass(4))
        .version_description("lonely")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert_eq!(err.message(), Some("Version description can only be set when publish is true"));

    // Deleting the machine deletes its versions.
    h.sfn.delete_state_machine().state_machine_arn(&sm).send().await.unwrap();
    let err = h.sfn.describe_state_machine().state_machine_arn(&v1).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_does_not_exist(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

// On the durable store alias and version records are cached: a start
// after UpdateStateMachineAlias routes by the new weights, and one after
// DeleteStateMachineAlias fails.
on_both_stores!(aliases_route_executions_by_weight);
async fn aliases_route_executions_by_weight(h: Harness) {
    let sm = create_machine(&h, "aliased", &pass(1), StateMachineType::Standard).await;
    let v1 = h.sfn.publish_state_machine_version().state_machine_arn(&sm).send().await.unwrap().state_machine_version_arn().to_string();
    h.sfn.update_state_machine().state_machine_arn(&sm).definition(pass(2)).send().await.unwrap();
    let v2 = h.sfn.publish_state_machine_version().state_machine_arn(&sm).send().await.unwrap().state_machine_version_arn().to_string();

    let alias = h
        .sfn
        .create_state_machine_alias()
        .name("prod")
        .description("production")
        .routing_configuration(route(&v1, 100))
        .send()
        .await
        .unwrap()
        .state_machine_alias_arn()
        .to_string();
    assert_eq!(alias, format!("{sm}:prod"));
    // Idempotent for the same request, a conflict for another routing.
    let same = h.sfn.create_state_machine_alias().name("prod").description("production").routing_configuration(route(&v1, 100)).send().await.unwrap();
    assert_eq!(same.state_machine_alias_arn(), alias);
    let err = h
        .sfn
        .create_state_machine_alias()
        .name("prod")
        .routing_configuration(route(&v2, 100))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");

    let done = run(&h, &alias, "through-alias").await;
    assert_eq!(done.output(), Some(r#"{"v":1}"#));
    assert_eq!(done.state_machine_alias_arn(), Some(alias.as_str()));
    assert_eq!(done.state_machine_version_arn(), Some(v1.as_str()));
    let listed = h.sfn.list_executions().state_machine_arn(&alias).send().await.unwrap();
    assert_eq!(listed.executions().len(), 1);
    assert_eq!(listed.executions()[0].state_machine_alias_arn(), Some(alias.as_str()));

    // A version an alias routes to cannot be deleted.
    let err = h.sfn.delete_state_machine_version().state_machine_version_arn(&v1).send().await.unwrap_err().into_service_error();
    assert!(err.is_conflict_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("[prod]"), "{err:?}");

    // Split 50/50: over 40 executions both versions run (chance of a miss: 2^-39).
    h.sfn.update_state_machine_alias().state_machine_alias_arn(&alias).routing_configuration(route(&v1, 50)).routing_configuration(route(&v2, 50)).send().await.unwrap();
    let described = h.sfn.describe_state_machine_alias().state_machine_alias_arn(&alias).send().await.unwrap();
    assert_eq!(described.name(), Some("prod"));
    assert_eq!(described.description(), Some("production"));
    let weights: Vec<(&str, i32)> = described.routing_configuration().iter().map(|r| (r.state_machine_version_arn(), r.weight())).collect();
    assert_eq!(weights, [(v1.as_str(), 50), (v2.as_str(), 50)]);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..40 {
        let started = h.sfn.start_execution().state_machine_arn(&alias).name(format!("split-{i}")).send().await.unwrap();
        let d = wait_closed(&h, started.execution_arn()).await;
        seen.insert(d.state_machine_version_arn().unwrap().to_string());
    }
    assert_eq!(seen.len(), 2, "{seen:?}");

    let second = h.sfn.create_state_machine_alias().name("beta").routing_configuration(route(&v2, 100)).send().await.unwrap();
    let aliases = h.sfn.list_state_machine_aliases().state_machine_arn(&sm).send().await.unwrap();
    let arns: Vec<&str> = aliases.state_machine_aliases().iter().map(|a| a.state_machine_alias_arn()).collect();
    assert_eq!(arns, [alias.as_str(), second.state_machine_alias_arn()]);

    h.sfn.delete_state_machine_alias().state_machine_alias_arn(&alias).send().await.unwrap();
    h.sfn.delete_state_machine_alias().state_machine_alias_arn(&alias).send().await.unwrap();
    let err = h.sfn.describe_state_machine_alias().state_machine_alias_arn(&alias).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found(), "{err:?}");
    let err = h.sfn.update_state_machine_alias().state_machine_alias_arn(&alias).description("x").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found(), "{err:?}");
    assert_eq!(err.message(), Some("Request references a resource that does not exist."));
    let err = h.sfn.start_execution().state_machine_arn(&alias).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_does_not_exist(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(alias_routing_errors_have_aws_shapes);
async fn alias_routing_errors_have_aws_shapes(h: Harness) {
    let sm = create_machine(&h, "routes", &pass(1), StateMachineType::Standard).await;
    let v1 = h.sfn.publish_state_machine_version().state_machine_arn(&sm).send().await.unwrap().state_machine_version_arn().to_string();
    let missing = format!("{sm}:9");
    let cases: Vec<(&str, Vec<RoutingConfigurationListItem>, &str)> = vec![
        ("unqualified", vec![route(&sm, 100)], "Routing configuration must contain state machine version ARNs"),
        ("sum", vec![route(&v1, 70), route(&missing, 29)], "Sum of routing configuration weights must equal 100. Received: [70, 29]"),
        ("duplicate", vec![route(&v1, 50), route(&v1, 50)], "Routing configuration must contain distinct state machine version ARNs"),
        ("heavy", vec![route(&v1, 101)], "Member must have value less than or equal to 100"),
        ("three", vec![route(&v1, 50), route(&missing, 30), route(&format!("{sm}:8"), 20)], "length between 1 and 2"),
    ];
    for (what, routes, message) in cases {
        let err = h
            .sfn
            .create_state_machine_alias()
            .name("a")
            .set_routing_configuration(Some(routes))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_validation_exception(), "{what}: {err:?}");
        assert!(err.message().unwrap().contains(message), "{what}: {err:?}");
    }
    let err = h.sfn.create_state_machine_alias().name("a").routing_configuration(route(&missing, 100)).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found(), "{err:?}");
    for name in ["123", "has space", "at@"] {
        let err = h.sfn.create_state_machine_alias().name(name).routing_configuration(route(&v1, 100)).send().await.unwrap_err().into_service_error();
        assert!(err.is_validation_exception(), "{name}: {err:?}");
        assert!(err.message().unwrap().contains("regular expression pattern"), "{name}: {err:?}");
    }
    h.server.shutdown().await.unwrap();
}
