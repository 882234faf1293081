//! Step Functions' own ARNs: state machines (with a version or alias
//! qualifier) and executions (Standard and Express).

use crate::{Arn, ArnError, Identity};
use std::fmt;

/// What follows a state machine ARN's name: `:3` (a version) or `:prod` (an alias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier<'a> {
    /// Digits only.
    Version(&'a str),
    Alias(&'a str),
}

impl<'a> Qualifier<'a> {
    fn of(q: &'a str) -> Qualifier<'a> {
        if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) {
            Qualifier::Version(q)
        } else {
            Qualifier::Alias(q)
        }
    }

    pub fn as_str(self) -> &'a str {
        match self {
            Qualifier::Version(q) | Qualifier::Alias(q) => q,
        }
    }
}

/// `arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME[:QUALIFIER]`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StateMachineArn(Arn);

impl StateMachineArn {
    /// The (unqualified) ARN of state machine `name` in `id`'s region and account.
    pub fn new(id: &Identity, name: &str) -> Self {
        StateMachineArn(Arn::new("states", id, &format!("stateMachine:{name}")))
    }

    pub fn parse(s: &str) -> Result<Self, ArnError> {
        Self::try_from(Arn::parse(s)?)
    }

    /// `s` split into its unqualified ARN and its qualifier, borrowing `s`.
    pub fn split(s: &str) -> Result<(&str, Option<Qualifier<'_>>), ArnError> {
        let base = Self::parse(s)?.unqualified().len();
        Ok((
            &s[..base],
            (base < s.len()).then(|| Qualifier::of(&s[base + 1..])),
        ))
    }

    pub fn name(&self) -> &str {
        self.0.resource_fields().next().unwrap_or_default()
    }

    pub fn qualifier(&self) -> Option<Qualifier<'_>> {
        self.0.resource_fields().nth(1).map(Qualifier::of)
    }

    /// The ARN without its qualifier (the state machine a version or alias belongs to).
    pub fn unqualified(&self) -> &str {
        let s = self.0.as_str();
        match self.qualifier() {
            Some(q) => &s[..s.len() - q.as_str().len() - 1],
            None => s,
        }
    }

    /// The ARN of this machine's execution `name` (AWS drops the qualifier).
    pub fn execution(&self, name: &str) -> ExecutionArn {
        let resource = format!("execution:{}:{name}", self.name());
        ExecutionArn(self.sibling(&resource))
    }

    /// An ARN in this one's partition, region and account.
    fn sibling(&self, resource: &str) -> Arn {
        let a = &self.0;
        Arn::from_string(format!(
            "arn:{}:states:{}:{}:{resource}",
            a.partition(),
            a.region(),
            a.account()
        ))
        .expect("five ':' written above")
    }

    pub fn as_arn(&self) -> &Arn {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<Arn> for StateMachineArn {
    type Error = ArnError;

    fn try_from(arn: Arn) -> Result<Self, ArnError> {
        let n = arn.resource_fields().count();
        if arn.is_states("stateMachine") && (n == 1 || n == 2) {
            Ok(StateMachineArn(arn))
        } else {
            Err(ArnError::WrongResource {
                expected: "a state machine",
                arn: arn.into_string(),
            })
        }
    }
}

/// `arn:PARTITION:states:REGION:ACCOUNT:execution:MACHINE:NAME`, or an Express
/// execution's `…:express:MACHINE:NAME:UUID` (the UUID keeps names reusable).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExecutionArn(Arn);

impl ExecutionArn {
    /// The ARN of execution `name` of state machine `machine` in `id`'s region and account.
    pub fn new(id: &Identity, machine: &str, name: &str) -> Self {
        ExecutionArn(Arn::new(
            "states",
            id,
            &format!("execution:{machine}:{name}"),
        ))
    }

    pub fn express(id: &Identity, machine: &str, name: &str, uuid: &str) -> Self {
        ExecutionArn(Arn::new(
            "states",
            id,
            &format!("express:{machine}:{name}:{uuid}"),
        ))
    }

    pub fn parse(s: &str) -> Result<Self, ArnError> {
        Self::try_from(Arn::parse(s)?)
    }

    pub fn is_express(&self) -> bool {
        self.0.resource_type() == "express"
    }

    /// The name of the state machine the execution runs.
    pub fn state_machine_name(&self) -> &str {
        self.0.resource_fields().next().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.0.resource_fields().nth(1).unwrap_or_default()
    }

    pub fn as_arn(&self) -> &Arn {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl TryFrom<Arn> for ExecutionArn {
    type Error = ArnError;

    fn try_from(arn: Arn) -> Result<Self, ArnError> {
        let n = arn.resource_fields().count();
        if (arn.is_states("execution") && n == 2) || (arn.is_states("express") && n == 3) {
            Ok(ExecutionArn(arn))
        } else {
            Err(ArnError::WrongResource {
                expected: "an execution",
                arn: arn.into_string(),
            })
        }
    }
}

macro_rules! text_traits {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0.as_str())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($t), self.0.as_str())
            }
        }
        impl From<$t> for String {
            fn from(a: $t) -> String {
                a.0.into_string()
            }
        }
        impl From<$t> for Arn {
            fn from(a: $t) -> Arn {
                a.0
            }
        }
    };
}
text_traits!(StateMachineArn);
text_traits!(ExecutionArn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machines_and_qualifiers() {
        let id = Identity::default();
        let m = StateMachineArn::new(&id, "m");
        assert_eq!(
            m.as_str(),
            "arn:aws:states:us-east-1:111111111111:stateMachine:m"
        );
        assert_eq!(
            (m.name(), m.qualifier(), m.unqualified()),
            ("m", None, m.as_str())
        );
        let v = StateMachineArn::parse("arn:aws:states:r:1:stateMachine:m:12").unwrap();
        assert_eq!(v.qualifier(), Some(Qualifier::Version("12")));
        assert_eq!(v.unqualified(), "arn:aws:states:r:1:stateMachine:m");
        assert_eq!(
            StateMachineArn::split("arn:aws:states:r:1:stateMachine:m:12").unwrap(),
            (
                "arn:aws:states:r:1:stateMachine:m",
                Some(Qualifier::Version("12"))
            )
        );
        assert_eq!(
            StateMachineArn::split("arn:aws:states:r:1:stateMachine:m").unwrap(),
            ("arn:aws:states:r:1:stateMachine:m", None)
        );
        let a = StateMachineArn::parse("arn:aws:states:r:1:stateMachine:m:prod").unwrap();
        assert_eq!(a.qualifier(), Some(Qualifier::Alias("prod")));
        assert_eq!(
            a.execution("e").as_str(),
            "arn:aws:states:r:1:execution:m:e"
        );
        for bad in [
            "arn:aws:states:r:1:stateMachine:m:1:x",
            "arn:aws:states:r:1:activity:m",
            "arn:aws:states:r:1:stateMachine/m:1",
            "arn:aws:lambda:r:1:stateMachine:m",
        ] {
            assert!(matches!(
                StateMachineArn::parse(bad),
                Err(ArnError::WrongResource {
                    expected: "a state machine",
                    ..
                })
            ));
        }
    }

    #[test]
    fn executions() {
        let id = Identity::new("r", "1");
        let e = ExecutionArn::new(&id, "m", "e");
        assert_eq!(e.to_string(), "arn:aws:states:r:1:execution:m:e");
        assert_eq!(
            (e.state_machine_name(), e.name(), e.is_express()),
            ("m", "e", false)
        );
        let x = ExecutionArn::express(&id, "m", "e", "u");
        assert_eq!(x.as_str(), "arn:aws:states:r:1:express:m:e:u");
        assert!(x.is_express());
        assert_eq!(ExecutionArn::parse(x.as_str()).unwrap(), x);
        assert!(ExecutionArn::parse("arn:aws:states:r:1:execution:m").is_err());
        assert!(ExecutionArn::parse("arn:aws:states:r:1:express:m:e").is_err());
        assert_eq!(String::from(e), "arn:aws:states:r:1:execution:m:e");
    }
}
