//! The region and account stepbox makes ARNs in.

use serde::{Deserialize, Serialize};

/// The region and account of every ARN stepbox makes (`serve --region
/// --account`). One default for every crate: `us-east-1`, `111111111111`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    pub region: String,
    pub account: String,
}

impl Identity {
    pub const DEFAULT_REGION: &'static str = "us-east-1";
    pub const DEFAULT_ACCOUNT: &'static str = "111111111111";

    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Identity {
            region: region.into(),
            account: account.into(),
        }
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity::new(Self::DEFAULT_REGION, Self::DEFAULT_ACCOUNT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_one_documented() {
        let id = Identity::default();
        assert_eq!(id.region, "us-east-1");
        assert_eq!(id.account, "111111111111");
        assert_eq!(
            Identity::new("eu-west-1", "1"),
            Identity {
                region: "eu-west-1".into(),
                account: "1".into()
            }
        );
    }
}
