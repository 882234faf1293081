//! A store that fails answers through the API as AWS's InternalServerError
//! with the reason: never an empty list, "does not exist", or a success it
//! did not record.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{RoutingConfigurationListItem, StateMachineType, Tag};
use stepbox_server::durable::DurableConfig;
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_store::{Backend, Done, MemoryBackend, Read, StoreError, WriteOp};

use super::{ROLE, wait_closed};

const REASON: &str = "the disk is on fire";

/// Memory whose reads, or writes, fail on demand.
#[derive(Default)]
struct Failing {
    inner: MemoryBackend,
    reads: AtomicBool,
    writes: AtomicBool,
}

impl Backend for Failing {
    fn read(&self, f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>) -> Result<(), StoreError> {
        if self.reads.load(SeqCst) {
            return Err(StoreError::Database(REASON.into()));
        }
        self.inner.read(f)
    }
    fn write(&self, op: WriteOp, done: Done) {
        if self.writes.load(SeqCst) {
            drop(op);
            return done(Err(StoreError::Database(REASON.into())));
        }
        self.inner.write(op, done)
    }
    fn describe(&self) -> String {
        "failing memory".into()
    }
}

/// The answer is InternalServerError, and it says why.
fn internal<T: Debug, E: ProvideErrorMetadata + Debug>(what: &str, r: Result<T, E>) {
    let e = r.expect_err(what);
    assert_eq!(e.code(), Some("InternalServerError"), "{what}: {e:?}");
    assert!(e.message().unwrap_or_default().contains(REASON), "{what}: {e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_read_or_written_is_an_internal_error_with_the_reason() {
    let backend = Arc::new(Failing::default());
    let store = Arc::new(stepbox_store::Store::new(backend.clone()));
    let registry = stepbox_sandbox::Registry::new(stepbox_tests::shared_sandbox().clone());
    let state = AppState::new(ServerConfig::default(), registry, store, DurableConfig::default());
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.unwrap();
    let sfn = crate::clients::sfn(&server.endpoint());
    let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
    let sm = sfn
        .create_state_machine()
        .name("kept")
        .definition(pass)
        .role_arn(ROLE)
        .r#type(StateMachineType::Standard)
        .tags(Tag::builder().key("team").value("a").build())
        .publish(true)
        .send()
        .await
        .unwrap();
    let (sm_arn, version) = (sm.state_machine_arn(), sm.state_machine_version_arn().unwrap_or_default());
    let route = RoutingConfigurationListItem::builder().state_machine_version_arn(version).weight(100).build().unwrap();
    let alias = sfn.create_state_machine_alias().name("live").routing_configuration(route).send().await.unwrap();
    let run = sfn.start_execution().state_machine_arn(sm_arn).name("done").send().await.unwrap();
    let h = super::Harness { server, sfn: sfn.clone(), lambda: crate::clients::lambda("http://127.0.0.1:9") };
    wait_closed(&h, run.execution_arn()).await;

    backend.reads.store(true, SeqCst);
    internal("ListStateMachines", sfn.list_state_machines().send().await);
    internal("ListExecutions", sfn.list_executions().state_machine_arn(sm_arn).send().await);
    internal("ListStateMachineVersions", sfn.list_state_machine_versions().state_machine_arn(sm_arn).send().await);
    internal("ListStateMachineAliases", sfn.list_state_machine_aliases().state_machine_arn(sm_arn).send().await);
    internal("ListTagsForResource", sfn.list_tags_for_resource().resource_arn(sm_arn).send().await);
    internal("DescribeExecution", sfn.describe_execution().execution_arn(run.execution_arn()).send().await);
    internal("GetExecutionHistory", sfn.get_execution_history().execution_arn(run.execution_arn()).send().await);
    let alias_arn = alias.state_machine_alias_arn();
    internal("DescribeStateMachineAlias", sfn.describe_state_machine_alias().state_machine_alias_arn(alias_arn).send().await);
    let unknown = sm_arn.replace(":kept", ":never-created");
    internal("DescribeStateMachine", sfn.describe_state_machine().state_machine_arn(&unknown).send().await);
    backend.reads.store(false, SeqCst);

    backend.writes.store(true, SeqCst);
    let create = sfn.create_state_machine().name("lost").definition(pass).role_arn(ROLE).send().await;
    internal("CreateStateMachine", create);
    let tag = Tag::builder().key("team").value("b").build();
    internal("TagResource", sfn.tag_resource().resource_arn(sm_arn).tags(tag).send().await);
    internal("UntagResource", sfn.untag_resource().resource_arn(sm_arn).tag_keys("team").send().await);
    let changed = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "End": true}}}"#;
    internal("UpdateStateMachine", sfn.update_state_machine().state_machine_arn(sm_arn).definition(changed).send().await);
    internal("DeleteStateMachineAlias", sfn.delete_state_machine_alias().state_machine_alias_arn(alias_arn).send().await);
    internal("DeleteStateMachine", sfn.delete_state_machine().state_machine_arn(sm_arn).send().await);
    backend.writes.store(false, SeqCst);

    // Nothing of what failed was recorded.
    let machines = sfn.list_state_machines().send().await.unwrap();
    let names: Vec<&str> = machines.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["kept"]);
    let tags = sfn.list_tags_for_resource().resource_arn(sm_arn).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [(Some("team"), Some("a"))]);
    let described = sfn.describe_state_machine().state_machine_arn(sm_arn).send().await.unwrap();
    assert_eq!(described.definition(), pass);
    sfn.describe_state_machine_alias().state_machine_alias_arn(alias_arn).send().await.expect("the alias stays");
    h.server.shutdown().await.unwrap();
}
