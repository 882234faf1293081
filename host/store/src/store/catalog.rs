//! State machines with their versions, aliases and tags; functions with
//! their code, published versions and artifacts; activities and task tokens.

use super::*;

impl Store {

    /// Inserts unless the ARN exists: then returns the existing record.
    pub fn insert_state_machine(
        &self,
        record: StateMachineRecord,
    ) -> Commit<Result<(), StateMachineRecord>> {
        let arn = record.arn.clone();
        self.insert_cached(&self.state_machines, Table::StateMachines, &arn, record, "state machine")
    }
    /// Inserts or replaces.
    pub fn put_state_machine(&self, record: &StateMachineRecord) -> Commit<()> {
        self.put_cached(&self.state_machines, Table::StateMachines, &record.arn, record)
    }
    /// Replaces an existing record; false when there is none.
    pub fn update_state_machine(&self, record: StateMachineRecord) -> Commit<bool> {
        let arn = record.arn.clone();
        self.replace_cached(&self.state_machines, Table::StateMachines, &arn, record)
    }
    pub fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.get_cached(&self.state_machines, Table::StateMachines, arn, "state machine")
    }
    /// A record of `table` by ARN, from `cache` when it holds it.
    fn get_cached<T: DeserializeOwned + Clone>(
        &self,
        cache: &RecordCache<T>,
        table: Table,
        arn: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let generation = match cache.get(arn) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let record: Option<T> = self.get_json(table, arn.as_bytes(), what)?;
        if let Some(record) = &record {
            cache.fill(generation, arn, record);
        }
        Ok(record)
    }
    /// Deletes the state machine with its tags, versions and aliases (executions stay).
    pub fn delete_state_machine(&self, arn: &str) -> Commit<bool> {
        let (machine, versions, aliases) = (
            written(&self.state_machines, arn),
            written(&self.versions, &format!("{arn}:")),
            written(&self.aliases, &format!("{arn}:")),
        );
        let written = move || {
            machine();
            versions();
            aliases();
        };
        let arn = arn.to_string();
        self.submit_then(move |w| {
            w.delete(Table::Tags, arn.as_bytes())?;
            let qualified = format!("{arn}:");
            for table in [Table::Versions, Table::Aliases] {
                for (key, _) in w.scan(table, qualified.as_bytes())? {
                    w.delete(table, &key)?;
                }
            }
            w.delete(
                Table::Meta,
                &keys::children(&format!("version-counter:{arn}")),
            )?;
            w.delete(Table::StateMachines, arn.as_bytes())
        }, written)
    }
    /// All state machines, oldest first.
    pub fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        let mut all: Vec<StateMachineRecord> =
            self.scan_json(Table::StateMachines, b"", "state machine")?;
        all.sort_by(|a, b| {
            a.creation_date
                .cmp(&b.creation_date)
                .then_with(|| a.arn.cmp(&b.arn))
        });
        Ok(all)
    }

    pub fn put_version(&self, record: &VersionRecord) -> Commit<()> {
        self.put_cached(&self.versions, Table::Versions, &record.arn, record)
    }
    /// Publishes `candidate` as its state machine's next version (assigning
    /// `number` and `arn`; numbers are never reused), unless a version of the
    /// same revision exists: then returns that one. The flag: created.
    pub fn publish_version(&self, candidate: VersionRecord) -> Commit<(VersionRecord, bool)> {
        // No cached version to drop: a new version's ARN is new, or (numbers
        // restart once a state machine is deleted and created again) its
        // state machine's deletion dropped it.
        self.submit(move |w| {
            let machine = candidate.state_machine_arn.clone();
            for (_, b) in w.scan(Table::Versions, format!("{machine}:").as_bytes())? {
                let v: VersionRecord = decode("version", &b)?;
                if v.state_machine_arn == machine && v.revision_id == candidate.revision_id {
                    return Ok((v, false));
                }
            }
            let counter_key = keys::children(&format!("version-counter:{machine}"));
            let number = match w.get(Table::Meta, &counter_key)? {
                Some(b) => b.as_slice().try_into().map_or(0, u64::from_be_bytes) + 1,
                None => 1,
            };
            w.put(Table::Meta, &counter_key, &number.to_be_bytes())?;
            let mut v = candidate;
            v.number = number;
            v.arn = format!("{machine}:{number}");
            w.put(Table::Versions, v.arn.as_bytes(), &encode(&v)?)?;
            Ok((v, true))
        })
    }
    pub fn get_version(&self, arn: &str) -> Result<Option<VersionRecord>, StoreError> {
        self.get_cached(&self.versions, Table::Versions, arn, "version")
    }
    pub fn delete_version(&self, arn: &str) -> Commit<bool> {
        self.delete_cached(&self.versions, Table::Versions, arn)
    }
    /// A state machine's versions, highest first.
    pub fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let mut v: Vec<VersionRecord> = self.scan_json(
            Table::Versions,
            format!("{state_machine_arn}:").as_bytes(),
            "version",
        )?;
        v.retain(|r| r.state_machine_arn == state_machine_arn);
        v.sort_by(|a, b| b.number.cmp(&a.number));
        Ok(v)
    }

    pub fn put_alias(&self, record: &AliasRecord) -> Commit<()> {
        self.put_cached(&self.aliases, Table::Aliases, &record.arn, record)
    }
    /// Inserts unless the ARN exists: then returns the existing record.
    pub fn insert_alias(&self, record: AliasRecord) -> Commit<Result<(), AliasRecord>> {
        let arn = record.arn.clone();
        self.insert_cached(&self.aliases, Table::Aliases, &arn, record, "alias")
    }
    /// Replaces an existing alias; false when there is none.
    pub fn update_alias(&self, record: AliasRecord) -> Commit<bool> {
        let arn = record.arn.clone();
        self.replace_cached(&self.aliases, Table::Aliases, &arn, record)
    }
    pub fn get_alias(&self, arn: &str) -> Result<Option<AliasRecord>, StoreError> {
        self.get_cached(&self.aliases, Table::Aliases, arn, "alias")
    }
    pub fn delete_alias(&self, arn: &str) -> Commit<bool> {
        self.delete_cached(&self.aliases, Table::Aliases, arn)
    }
    /// A state machine's aliases, oldest first.
    pub fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRecord>, StoreError> {
        let mut v: Vec<AliasRecord> = self.scan_json(
            Table::Aliases,
            format!("{state_machine_arn}:").as_bytes(),
            "alias",
        )?;
        v.retain(|r| r.state_machine_arn == state_machine_arn);
        v.sort_by(|a, b| {
            a.creation_date
                .cmp(&b.creation_date)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(v)
    }

    /// Replaces a resource's tags (in the order given).
    pub fn set_tags(&self, arn: &str, tags: Vec<(String, String)>) -> Commit<()> {
        self.put_json(Table::Tags, arn.as_bytes().to_vec(), &tags)
    }
    pub fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .get_json(Table::Tags, arn.as_bytes(), "tags")?
            .unwrap_or_default())
    }

    // ---- functions

    /// Stores the function and its wasm bytes together.
    pub fn put_function(&self, record: &FunctionRecord, wasm: Arc<[u8]>) -> Commit<()> {
        let name = record.name.clone();
        let bytes = encode(record);
        self.submit(move |w| {
            w.put(Table::Functions, name.as_bytes(), &bytes?)?;
            w.put(Table::FunctionCode, name.as_bytes(), &wasm)
        })
    }
    /// Replaces the function's record, keeping its code.
    pub fn put_function_record(&self, record: &FunctionRecord) -> Commit<()> {
        self.put_json(Table::Functions, record.name.as_bytes().to_vec(), record)
    }
    pub fn get_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        self.get_json(Table::Functions, name.as_bytes(), "function")
    }
    pub fn function_code(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| r.get(Table::FunctionCode, name.as_bytes()))
    }
    /// All functions, by name.
    pub fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        self.scan_json(Table::Functions, b"", "function")
    }
    pub fn delete_function(&self, name: &str) -> Commit<bool> {
        let name = name.to_string();
        self.submit(move |w| {
            w.delete(Table::FunctionCode, name.as_bytes())?;
            w.delete(Table::Functions, name.as_bytes())
        })
    }
    /// Whether the store's last write failed and none succeeded since.
    pub fn writes_failing(&self) -> bool {
        self.backend.writes_failing()
    }
    /// Resolves once a (tiny) write is durable: whether the store can write
    /// now, after a failed write (a full disk).
    pub fn check_writable(&self) -> Commit<()> {
        self.submit(|w| w.put(Table::Meta, b"writable", b""))
    }
    /// A precompiled artifact (keyed by the caller: wasm hash + engine hash).
    pub fn put_artifact(&self, key: &str, bytes: Arc<[u8]>) -> Commit<()> {
        let key = key.to_string();
        self.submit(move |w| w.put(Table::Artifacts, key.as_bytes(), &bytes))
    }
    pub fn artifact(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| r.get(Table::Artifacts, key.as_bytes()))
    }
    /// The keys of every stored artifact, in order.
    pub fn artifact_keys(&self) -> Result<Vec<String>, StoreError> {
        let keys = self.read(|r| r.keys(Table::Artifacts, b""))?;
        Ok(keys.into_iter().map(|k| String::from_utf8_lossy(&k).into_owned()).collect())
    }
    /// Deletes every artifact whose key is not in `keep` (those of deleted
    /// or updated functions, or of another engine build); returns how many.
    pub fn delete_artifacts_except(&self, keep: std::collections::BTreeSet<String>) -> Commit<usize> {
        self.submit(move |w| {
            let mut deleted = 0;
            for key in w.keys(Table::Artifacts, b"")? {
                if !keep.contains(String::from_utf8_lossy(&key).as_ref()) {
                    w.delete(Table::Artifacts, &key)?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
    }

    // ---- published Lambda versions

    /// Replaces what was published for `function` (the server's own shape),
    /// storing `codes` (`NAME:N`, wasm) beside it.
    pub fn put_function_versions(
        &self,
        function: &str,
        published: &Value,
        codes: Vec<(String, Arc<[u8]>)>,
    ) -> Commit<()> {
        let name = function.to_string();
        let bytes = encode(published);
        self.submit(move |w| {
            for (key, wasm) in &codes {
                w.put(Table::FunctionCode, key.as_bytes(), wasm)?;
            }
            w.put(Table::FunctionVersions, name.as_bytes(), &bytes?)
        })
    }
    /// Every function's published versions and aliases, by function name.
    pub fn function_versions(&self) -> Result<Vec<(String, Value)>, StoreError> {
        self.read(|r| {
            r.scan(Table::FunctionVersions, b"")?
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        String::from_utf8_lossy(&k).into_owned(),
                        decode("function versions", &v)?,
                    ))
                })
                .collect()
        })
    }
    /// Function `function`'s published versions and aliases (None: none published).
    pub fn function_versions_of(&self, function: &str) -> Result<Option<Value>, StoreError> {
        self.get_json(Table::FunctionVersions, function.as_bytes(), "function versions")
    }
    /// Deletes a function's versions with their code (`NAME:1`…`NAME:last`).
    pub fn delete_function_versions(&self, function: &str, last: u64) -> Commit<()> {
        let name = function.to_string();
        self.submit(move |w| {
            for n in 1..=last {
                w.delete(Table::FunctionCode, format!("{name}:{n}").as_bytes())?;
            }
            w.delete(Table::FunctionVersions, name.as_bytes())
                .map(|_| ())
        })
    }

    // ---- activities

    pub fn put_activity(&self, record: &ActivityRecord) -> Commit<()> {
        self.put_json(Table::Activities, record.arn.as_bytes().to_vec(), record)
    }
    pub fn delete_activity(&self, arn: &str) -> Commit<bool> {
        self.delete_key(Table::Activities, arn.as_bytes().to_vec())
    }
    pub fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.scan_json(Table::Activities, b"", "activity")
    }

    pub fn put_task_token(&self, record: &TaskTokenRecord) -> Commit<()> {
        self.put_json(Table::TaskTokens, record.token.as_bytes().to_vec(), record)
    }
    pub fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>, StoreError> {
        self.get_json(Table::TaskTokens, token.as_bytes(), "task token")
    }
    /// Consumes a token: returns it if it was there (so exactly one caller wins).
    pub fn take_task_token(&self, token: &str) -> Commit<Option<TaskTokenRecord>> {
        let token = token.to_string();
        self.submit(move |w| {
            let Some(b) = w.get(Table::TaskTokens, token.as_bytes())? else {
                return Ok(None);
            };
            w.delete(Table::TaskTokens, token.as_bytes())?;
            Ok(Some(decode("task token", &b)?))
        })
    }
    /// Every outstanding token (a restart re-arms their waits).
    pub fn task_tokens(&self) -> Result<Vec<TaskTokenRecord>, StoreError> {
        self.scan_json(Table::TaskTokens, b"", "task token")
    }
}
