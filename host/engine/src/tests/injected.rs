//! Time and randomness only through what the engine is given: Retry's full
//! jitter draws from the engine's [`Random`], an activity poll waits on its
//! activities' [`Clock`].

use super::*;

/// The back-offs of a Task failing until its Retry (full jitter) gives up,
/// on an engine drawing from `random`.
async fn jittered_sleeps(random: Arc<dyn Random>) -> Vec<Duration> {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("flaky"), "End": true,
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 10, "BackoffRate": 2, "JitterStrategy": "FULL", "MaxAttempts": 4}]}}});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let clock = ManualClock::auto(t0());
    let fake = Fake::new(clock.clone(), &[("flaky", Behaviour::FailTimes(10, "Flaky"))]);
    let engine = Engine::new(fake, clock.clone()).with_random(random);
    let opts = ExecutionOptions { name: "ex1".into(), state_machine_name: "sm1".into(), ..Default::default() };
    let outcome = engine.start(sm, json!({}), opts, Arc::new(NullSink)).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    clock.sleeps()
}

#[tokio::test]
async fn full_jitter_draws_from_the_engines_random() {
    let first = jittered_sleeps(Arc::new(SeededRandom::new(7))).await;
    let again = jittered_sleeps(Arc::new(SeededRandom::new(7))).await;
    assert_eq!(first.len(), 4);
    assert_eq!(first, again, "the same seed, the same back-offs");
    // Each back-off is a fraction of 10 s × 2^n, and jittered (not the full delay).
    for (n, d) in first.iter().enumerate() {
        let full = Duration::from_secs(10 << n);
        assert!(*d < full, "back-off {n}: {d:?} of {full:?}");
    }
    let other = jittered_sleeps(Arc::new(SeededRandom::new(8))).await;
    assert_ne!(first, other, "another seed, other back-offs");
}

#[tokio::test]
async fn an_activity_poll_times_out_on_its_clock() {
    const ARN: &str = "arn:aws:states:us-east-1:111111111111:activity:a";
    let clock = ManualClock::new(t0());
    let activities = Arc::new(MemoryActivities::with_clock(clock.clone()));
    activities.create(ARN, "a", t0());
    let poll = tokio::spawn({
        let activities = activities.clone();
        async move { activities.poll(ARN, Duration::from_secs(60)).await }
    });
    // The poll waits on the clock (not on real time)...
    for _ in 0..1000 {
        if clock.pending() > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(60)]);
    clock.advance(Duration::from_secs(59));
    tokio::task::yield_now().await;
    assert!(!poll.is_finished(), "59 of 60 s");
    // ...and ends empty-handed once the clock has moved past its wait.
    clock.advance(Duration::from_secs(1));
    let got = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("ended on the clock").expect("poll");
    assert_eq!(got, None);

    // A task that arrives meanwhile is taken at once.
    let poll = tokio::spawn({
        let activities = activities.clone();
        async move { activities.poll(ARN, Duration::from_secs(60)).await }
    });
    tokio::task::yield_now().await;
    let task = ActivityTask { token: "t".into(), input: "{}".into() };
    assert!(activities.schedule(ARN, task.clone()).await);
    let got = tokio::time::timeout(Duration::from_secs(10), poll).await.expect("woken by the task").expect("poll");
    assert_eq!(got, Some(task));
}
