//! AWS ARNs: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.

use crate::Identity;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Why a string is not the ARN asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("not an ARN (it does not start with 'arn:'): '{0}'")]
    NotAnArn(String),
    #[error("an ARN has six ':'-separated fields at least: '{0}'")]
    TooFewFields(String),
    /// An ARN, but not of the service and resource type wanted.
    #[error("not {expected} ARN: '{arn}'")]
    WrongResource { expected: &'static str, arn: String },
}

/// An ARN, kept as its text (it formats back unchanged) with the positions of
/// its fields. The resource is everything after the account: `function:f:prod`,
/// `stateMachine:m`, `execution:m:e`, `role/NAME`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arn {
    text: String,
    /// Byte offsets of the five ':' that end `arn`, the partition, the
    /// service, the region and the account.
    colons: [usize; 5],
}

impl Arn {
    pub fn parse(s: &str) -> Result<Arn, ArnError> {
        Self::from_string(s.to_string())
    }

    /// Parses without copying the text.
    pub fn from_string(text: String) -> Result<Arn, ArnError> {
        if !text.starts_with("arn:") {
            return Err(ArnError::NotAnArn(text));
        }
        let mut colons = [0; 5];
        let mut found = text.match_indices(':').map(|(i, _)| i);
        for slot in &mut colons {
            match found.next() {
                Some(i) => *slot = i,
                None => return Err(ArnError::TooFewFields(text)),
            }
        }
        Ok(Arn { text, colons })
    }

    /// `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` in `id`'s region and account.
    pub fn new(service: &str, id: &Identity, resource: &str) -> Arn {
        let text = format!("arn:aws:{service}:{}:{}:{resource}", id.region, id.account);
        Self::from_string(text).expect("five ':' written above")
    }

    fn field(&self, i: usize) -> &str {
        &self.text[self.colons[i] + 1..self.colons[i + 1]]
    }

    pub fn partition(&self) -> &str {
        self.field(0)
    }
    pub fn service(&self) -> &str {
        self.field(1)
    }
    pub fn region(&self) -> &str {
        self.field(2)
    }
    pub fn account(&self) -> &str {
        self.field(3)
    }
    pub fn resource(&self) -> &str {
        &self.text[self.colons[4] + 1..]
    }

    /// The resource's type: what precedes its first ':' (`stateMachine`,
    /// `execution`, `function`), or the whole resource (`role/NAME`, `bucket`).
    pub fn resource_type(&self) -> &str {
        let r = self.resource();
        r.split_once(':').map_or(r, |(t, _)| t)
    }

    /// The ':'-separated fields after the resource type: `["m", "e"]` for
    /// `execution:m:e`, `["f", "prod"]` for `function:f:prod`; none for a
    /// resource without ':'.
    pub fn resource_fields(&self) -> impl Iterator<Item = &str> {
        let mut parts = self.resource().split(':');
        let typed = self.resource().contains(':');
        if typed {
            parts.next();
        }
        parts.filter(move |_| typed)
    }

    /// Whether this is a Step Functions ARN of resource type `resource_type`.
    pub fn is_states(&self, resource_type: &str) -> bool {
        self.service() == "states" && self.resource_type() == resource_type
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Arn({:?})", self.text)
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arn::parse(s)
    }
}

impl AsRef<str> for Arn {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl From<Arn> for String {
    fn from(arn: Arn) -> String {
        arn.text
    }
}

impl Serialize for Arn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Arn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Arn::from_string(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let a = Arn::parse("arn:aws:lambda:us-east-1:111111111111:function:f:prod").unwrap();
        assert_eq!(a.partition(), "aws");
        assert_eq!(a.service(), "lambda");
        assert_eq!(a.region(), "us-east-1");
        assert_eq!(a.account(), "111111111111");
        assert_eq!(a.resource(), "function:f:prod");
        assert_eq!(a.resource_type(), "function");
        assert_eq!(a.resource_fields().collect::<Vec<_>>(), ["f", "prod"]);
        assert_eq!(
            a.to_string(),
            "arn:aws:lambda:us-east-1:111111111111:function:f:prod"
        );
        assert!(!a.is_states("function"));
    }

    #[test]
    fn resource_forms() {
        let role = Arn::parse("arn:aws:iam::111111111111:role/service-role/x").unwrap();
        assert_eq!(role.region(), "");
        assert_eq!(role.resource_type(), "role/service-role/x");
        assert_eq!(role.resource_fields().count(), 0);
        let bucket = Arn::parse("arn:aws:s3:::bucket").unwrap();
        assert_eq!(bucket.resource_type(), "bucket");
        let empty = Arn::parse("arn:aws:states:r:a:stateMachine:").unwrap();
        assert!(empty.is_states("stateMachine"));
        assert_eq!(empty.resource_fields().collect::<Vec<_>>(), [""]);
        let http = Arn::parse("arn:aws:states:::http:invoke").unwrap();
        assert!(http.is_states("http"));
        assert_eq!(http.resource_fields().collect::<Vec<_>>(), ["invoke"]);
    }

    #[test]
    fn errors() {
        assert_eq!(Arn::parse("nope"), Err(ArnError::NotAnArn("nope".into())));
        assert_eq!(
            Arn::parse("arn:aws:states:r:a"),
            Err(ArnError::TooFewFields("arn:aws:states:r:a".into()))
        );
        assert_eq!(
            ArnError::TooFewFields("arn:x".into()).to_string(),
            "an ARN has six ':'-separated fields at least: 'arn:x'"
        );
        assert!("arn:aws:states:r:a:activity:x".parse::<Arn>().is_ok());
    }

    #[test]
    fn made_in_an_identity_and_serialized_as_text() {
        let a = Arn::new("states", &Identity::new("eu-west-1", "1"), "activity:work");
        assert_eq!(a.as_str(), "arn:aws:states:eu-west-1:1:activity:work");
        assert!(a.is_states("activity"));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"arn:aws:states:eu-west-1:1:activity:work\"");
        assert_eq!(serde_json::from_str::<Arn>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Arn>("\"arn:x\"").is_err());
    }
}
