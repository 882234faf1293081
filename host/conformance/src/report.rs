//! The result of a conformance run: per-feature table and failure list.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::judge::{ActualResult, Verdict};

/// One judged case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    pub name: String,
    pub features: Vec<String>,
    pub needs: Vec<String>,
    pub expected_status: String,
    pub actual: ActualResult,
    pub verdict: Verdict,
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

/// Cases, passes and failures for one feature tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureRow {
    pub feature: String,
    pub cases: usize,
    pub passed: usize,
    pub failed: usize,
}

impl FeatureRow {
    /// Pass percentage (0 when there are no cases).
    pub fn pass_pct(&self) -> f64 {
        if self.cases == 0 { 0.0 } else { 100.0 * self.passed as f64 / self.cases as f64 }
    }
}

/// All outcomes of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub outcomes: Vec<CaseOutcome>,
}

impl Report {
    pub fn total(&self) -> usize {
        self.outcomes.len()
    }

    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.verdict.pass).count()
    }

    pub fn failed(&self) -> usize {
        self.total() - self.passed()
    }

    pub fn failures(&self) -> impl Iterator<Item = &CaseOutcome> {
        self.outcomes.iter().filter(|o| !o.verdict.pass)
    }

    /// One row per feature tag (a case counts under each of its tags), sorted by tag.
    pub fn by_feature(&self) -> Vec<FeatureRow> {
        let mut rows: BTreeMap<&str, FeatureRow> = BTreeMap::new();
        for o in &self.outcomes {
            for f in &o.features {
                let row = rows.entry(f).or_insert_with(|| FeatureRow {
                    feature: f.clone(),
                    cases: 0,
                    passed: 0,
                    failed: 0,
                });
                row.cases += 1;
                if o.verdict.pass {
                    row.passed += 1;
                } else {
                    row.failed += 1;
                }
            }
        }
        rows.into_values().collect()
    }

    /// The report as markdown: totals, the per-feature table, then each failure
    /// with its reason.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let pct = if self.total() == 0 { 0.0 } else { 100.0 * self.passed() as f64 / self.total() as f64 };
        let _ = writeln!(s, "# Conformance report\n");
        let _ = writeln!(
            s,
            "{} cases: {} passed, {} failed ({pct:.1}% pass)\n",
            self.total(),
            self.passed(),
            self.failed()
        );
        let _ = writeln!(s, "| feature | cases | passed | failed | pass % |");
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for row in self.by_feature() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {:.1} |",
                row.feature,
                row.cases,
                row.passed,
                row.failed,
                row.pass_pct()
            );
        }
        let failures: Vec<_> = self.failures().collect();
        if !failures.is_empty() {
            let _ = writeln!(s, "\n## Failures ({})\n", failures.len());
            for o in failures {
                let reason = o.verdict.reason.as_deref().unwrap_or("failed").replace('\n', "\\n").replace('|', "\\|");
                let _ = writeln!(s, "- `{}`: {}", o.name, reason);
            }
        }
        s
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_markdown())
    }
}
