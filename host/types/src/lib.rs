//! The domain types every stepbox crate shares, at the bottom of the layering
//! (no other stepbox crate): ARNs ([`Arn`], [`StateMachineArn`],
//! [`ExecutionArn`]), [`ExecutionStatus`], [`MachineType`] and the
//! [`Identity`] (region and account) ARNs are made in.
//!
//! Statuses and machine types serialize as AWS's strings (`"RUNNING"`,
//! `"EXPRESS"`), so JSON answers and stored records keep their encoding.

mod arn;
mod identity;
mod states_arn;
mod status;

pub use arn::{Arn, ArnError};
pub use identity::Identity;
pub use states_arn::{ExecutionArn, Qualifier, StateMachineArn};
pub use status::{ExecutionStatus, MachineType, UnknownValue};
