//! Hosts wake each other with PostgreSQL's LISTEN/NOTIFY, on channel
//! `stepbox`: a request sent to a host (`r:HOST`), a request answered
//! (`a:ID`), leases taken over (`t`: senders look where their executions
//! went), leases given up (`e`: hosts take them over) and activity tasks
//! offered (`k`: GetActivityTask claims them) and functions changed (`f`:
//! hosts that loaded one load it again). Each host listens
//! on a connection of its own (reconnected when lost); the polling each
//! waiter does anyway, at [`Wakeups::fallback`], covers a notification
//! missed while it was not listening.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::AsyncMessage;

use super::conn::Driver;
use crate::backend::Wakeups;

/// The channel every host listens on.
pub(crate) const CHANNEL: &str = "stepbox";

/// The payload of an activity task offered (GetActivityTask looks again).
pub(crate) const ACTIVITY_TASKS: &str = "k";

/// The payload of a function written (see `functions`).
pub(crate) const FUNCTIONS: &str = "f";

/// How long a lost listening connection waits before connecting again.
const RECONNECT: Duration = Duration::from_secs(1);

/// How long opening a host waits for its first LISTEN (after that, the
/// fallback covers a slow start).
const FIRST_LISTEN: Duration = Duration::from_secs(5);

/// Listens on [`CHANNEL`] for host `me`, waking `wake`'s waiters, until the
/// driver's runtime stops. Returns once listening (or after [`FIRST_LISTEN`]).
pub(crate) fn listen(driver: &Driver, me: String, wake: Arc<Wakeups>) {
    let config = driver.config().clone();
    let (listening, first) = std::sync::mpsc::channel::<()>();
    driver.spawn(async move {
        loop {
            match config.connect(tokio_postgres::NoTls).await {
                Ok((client, mut connection)) => {
                    let (me, woken) = (me.clone(), wake.clone());
                    let messages = tokio::spawn(async move {
                        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(Ok(message)) = stream.next().await {
                            if let AsyncMessage::Notification(n) = message {
                                dispatch(n.payload(), &me, &woken);
                            }
                        }
                    });
                    match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                        // Anything sent while this host was not listening.
                        Ok(()) => wake.all(),
                        Err(e) => tracing::warn!(error = %e, "cannot listen for other hosts"),
                    }
                    let _ = listening.send(());
                    let _ = messages.await;
                    drop(client);
                }
                Err(e) => tracing::warn!(error = %e, "cannot connect to listen for other hosts"),
            }
            let _ = listening.send(());
            tokio::time::sleep(RECONNECT).await;
        }
    });
    let _ = first.recv_timeout(FIRST_LISTEN);
}

fn dispatch(payload: &str, me: &str, wake: &Wakeups) {
    match payload.split_once(':') {
        Some(("r", host)) if host == me => wake.requests.notify_one(),
        Some(("a", _)) => wake.answers.notify_waiters(),
        _ if payload == "t" => wake.moved.notify_waiters(),
        _ if payload == "e" => wake.expired.notify_one(),
        _ if payload == ACTIVITY_TASKS => wake.activity_tasks.notify_waiters(),
        _ if payload == FUNCTIONS => wake.functions.notify_one(),
        _ => {}
    }
}
