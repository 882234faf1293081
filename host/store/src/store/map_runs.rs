//! Distributed Map runs as last recorded (DescribeMapRun's and ListMapRuns'
//! answers after a restart): `r ARN` → the record, and `e EXECUTION \0 ARN`
//! (no value) listing an execution's runs; they go with their execution.

use super::*;

fn run_key(arn: &str) -> Vec<u8> {
    let mut k = b"r".to_vec();
    k.extend_from_slice(arn.as_bytes());
    k
}

fn runs_of(execution_arn: &str) -> Vec<u8> {
    let mut k = b"e".to_vec();
    k.extend_from_slice(execution_arn.as_bytes());
    k.push(0);
    k
}

/// Deletes the map runs execution `execution_arn` started.
pub(crate) fn delete_map_runs_of(w: &mut dyn Write, execution_arn: &str) -> Result<(), StoreError> {
    let prefix = runs_of(execution_arn);
    for k in w.keys(Table::MapRuns, &prefix)? {
        let arn = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        w.delete(Table::MapRuns, &run_key(&arn))?;
        w.delete(Table::MapRuns, &k)?;
    }
    Ok(())
}

impl Store {
    pub fn put_map_run(&self, record: &MapRunRecord) -> Commit<()> {
        let (key, mut listed) = (run_key(&record.arn), runs_of(&record.execution_arn));
        listed.extend_from_slice(record.arn.as_bytes());
        let bytes = encode(record);
        self.submit(move |w| {
            w.put(Table::MapRuns, &listed, b"")?;
            w.put(Table::MapRuns, &key, &bytes?)
        })
    }

    pub fn get_map_run(&self, arn: &str) -> Result<Option<MapRunRecord>, StoreError> {
        self.get_json(Table::MapRuns, &run_key(arn), "map run")
    }

    /// The map runs `execution_arn` started, oldest first.
    pub fn map_runs_of(&self, execution_arn: &str) -> Result<Vec<MapRunRecord>, StoreError> {
        let prefix = runs_of(execution_arn);
        let mut runs: Vec<MapRunRecord> = self.read(|r| {
            let mut out = Vec::new();
            for k in r.keys(Table::MapRuns, &prefix)? {
                let arn = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                if let Some(bytes) = r.get(Table::MapRuns, &run_key(&arn))? {
                    out.push(decode("map run", &bytes)?);
                }
            }
            Ok(out)
        })?;
        runs.sort_by_key(|r| r.start_date);
        Ok(runs)
    }
}
