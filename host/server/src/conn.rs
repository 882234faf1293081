//! What a connection may cost before the server pays for it: how many are
//! open (in all and per client address), how long a client may take to send
//! a request's headers (also how long a kept-alive connection may sit idle)
//! and its body.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bounds on connections and on how long a request may take to arrive.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Time to receive a request's headers, counted from when the server
    /// starts waiting for them: a new connection's first request, or the
    /// next one on a kept-alive connection (so it is also the idle timeout).
    pub header_read_timeout: Duration,
    /// Time to receive a request's whole body once its headers are in.
    pub body_read_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_ip: 256,
        }
    }
}

/// Open connections, in all and by client address.
#[derive(Default)]
pub(crate) struct OpenConnections {
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place among the open ones, given back when dropped.
pub(crate) struct Slot {
    open: Arc<OpenConnections>,
    ip: IpAddr,
}

/// Why a connection was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Total(usize),
    PerClient(usize),
}

impl OpenConnections {
    /// A slot for a connection from `ip`, unless a limit is reached.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr, limits: &ConnectionLimits) -> Result<Slot, Refused> {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        let total: usize = by_ip.values().sum();
        if total >= limits.max_connections {
            return Err(Refused::Total(limits.max_connections));
        }
        let from_ip = by_ip.entry(ip).or_default();
        if *from_ip >= limits.max_connections_per_ip {
            return Err(Refused::PerClient(limits.max_connections_per_ip));
        }
        *from_ip += 1;
        Ok(Slot { open: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_ip = self.open.by_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_in_all_and_per_client_and_given_back() {
        let limits = ConnectionLimits { max_connections: 3, max_connections_per_ip: 2, ..Default::default() };
        let open = Arc::new(OpenConnections::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let a1 = open.admit(a, &limits).unwrap();
        let _a2 = open.admit(a, &limits).unwrap();
        assert_eq!(open.admit(a, &limits).err(), Some(Refused::PerClient(2)));
        let _b1 = open.admit(b, &limits).unwrap();
        assert_eq!(open.admit(b, &limits).err(), Some(Refused::Total(3)));
        drop(a1);
        assert!(open.admit(b, &limits).is_ok(), "a closed connection frees its slot");
    }
}
