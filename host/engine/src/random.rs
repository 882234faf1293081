//! Randomness the interpreter draws (Retry's `JitterStrategy: FULL`),
//! abstracted like time so tests can make it repeatable.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

/// A source of random fractions.
pub trait Random: Send + Sync {
    /// A number in `[0, 1)`.
    fn fraction(&self) -> f64;
}

/// The thread's own generator ([`rand::random`]): no lock, not repeatable.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn fraction(&self) -> f64 {
        rand::random::<f64>()
    }
}

/// A seeded generator: the same seed draws the same fractions.
pub struct SeededRandom(Mutex<StdRng>);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fraction(&self) -> f64 {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).random::<f64>()
    }
}
