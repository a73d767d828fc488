//! A small job runner: computations a service must not wait for (a task's run, a player's
//! tree build) run on threads of their own, at most a set number at a time, the most urgent
//! first; a service starts them, collects the finished ones at its next poll, and can cancel
//! them.
//!
//! Long jobs (more than [`LONG_JOB_STEPS`] steps by their estimate, an upper bound: a run is
//! bounded by its task's trace length, a tree build by its range) never take every thread: at
//! most `limit - 1` of them run at a time (one when the limit is 1), and a short job may start
//! whenever no other short job runs. So the runs of huge tasks, which an attacker can post at
//! will, cannot keep a service from checking small tasks or moving in its games.

use std::collections::HashMap;
use std::hash::Hash as StdHash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// What a running job checks to know whether to give up, and where it reports its progress.
#[derive(Clone, Debug)]
pub(crate) struct Stop {
    cancelled: Arc<AtomicBool>,
    deadline: Option<Instant>,
    progress: Arc<AtomicU64>,
}

impl Stop {
    fn new(deadline: Option<Instant>) -> Stop {
        Stop {
            cancelled: Arc::new(AtomicBool::new(false)),
            deadline,
            progress: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether the job was cancelled or its deadline passed.
    pub(crate) fn should_stop(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.deadline_passed()
    }

    /// Whether its wall-clock deadline passed.
    pub(crate) fn deadline_passed(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    /// Reports that the job has done `steps` steps of its work.
    pub(crate) fn report(&self, steps: u64) {
        self.progress.store(steps, Ordering::Relaxed);
    }
}

/// A job's work: runs once, on a thread of its own.
type Work<T> = Box<dyn FnOnce(&Stop) -> T + Send>;

/// Jobs estimated to run more steps than this are long: 2^32 steps, about 20 s at
/// [`STEPS_PER_SECOND`](super::STEPS_PER_SECOND).
pub(crate) const LONG_JOB_STEPS: u64 = 1 << 32;

/// How a job is scheduled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec {
    /// Seconds its clock has left: lower is more urgent.
    pub(crate) urgency: u64,
    /// The estimate of its work in steps, an upper bound.
    pub(crate) steps: u64,
    /// When it must give up.
    pub(crate) deadline: Option<Instant>,
}

impl Spec {
    fn is_long(&self) -> bool {
        self.steps > LONG_JOB_STEPS
    }
}

/// A job waiting for a free thread.
struct Queued<K, T> {
    key: K,
    spec: Spec,
    order: u64,
    work: Work<T>,
}

/// A job on its thread.
struct Running {
    spec: Spec,
    stop: Stop,
}

/// A job that ended: its result, or why it has none (it panicked, or no thread could be
/// started for it).
pub(crate) type Finished<K, T> = (K, Result<T, String>);

/// Jobs by key (one job per key at a time), at most `limit` running.
pub(crate) struct Jobs<K, T> {
    limit: usize,
    order: u64,
    queued: Vec<Queued<K, T>>,
    running: HashMap<K, Running>,
    sender: Sender<Finished<K, T>>,
    receiver: Receiver<Finished<K, T>>,
}

impl<K, T> Jobs<K, T>
where
    K: Copy + Eq + StdHash + Send + 'static,
    T: Send + 'static,
{
    /// A runner of at most `limit` (at least 1) jobs at a time.
    pub(crate) fn new(limit: usize) -> Jobs<K, T> {
        let (sender, receiver) = channel();
        Jobs {
            limit: limit.max(1),
            order: 0,
            queued: Vec::new(),
            running: HashMap::new(),
            sender,
            receiver,
        }
    }

    /// Sets how many jobs may run at a time (at least 1).
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    /// Whether a job of `key` is queued or running.
    pub(crate) fn contains(&self, key: K) -> bool {
        self.running.contains_key(&key) || self.queued.iter().any(|job| job.key == key)
    }

    /// Submits `work` under `key` (unless a job of `key` is already in), scheduled by `spec`:
    /// it starts now if it may ([`Jobs`]), else when it may, before every queued job that is
    /// less urgent. Returns whether it had to queue.
    pub(crate) fn submit(
        &mut self,
        key: K,
        spec: Spec,
        work: impl FnOnce(&Stop) -> T + Send + 'static,
    ) -> bool {
        if self.contains(key) {
            return false;
        }
        self.order += 1;
        self.queued.push(Queued {
            key,
            spec,
            order: self.order,
            work: Box::new(work),
        });
        self.start_queued();
        self.queued.iter().any(|job| job.key == key)
    }

    /// Cancels the job of `key`: a queued one is dropped, a running one is asked to stop.
    pub(crate) fn cancel(&mut self, key: K) {
        self.queued.retain(|job| job.key != key);
        if let Some(job) = self.running.get(&key) {
            job.stop.cancelled.store(true, Ordering::Relaxed);
        }
    }

    /// The jobs that ended since the last call; starts queued jobs on the threads they freed.
    pub(crate) fn collect(&mut self) -> Vec<Finished<K, T>> {
        let finished: Vec<Finished<K, T>> = self.receiver.try_iter().collect();
        for (key, _) in &finished {
            self.running.remove(key);
        }
        self.start_queued();
        finished
    }

    /// Jobs running now.
    pub(crate) fn running(&self) -> usize {
        self.running.len()
    }

    /// Jobs waiting for a thread.
    pub(crate) fn queued(&self) -> usize {
        self.queued.len()
    }

    /// The steps of work still to do, by the jobs' estimates less their progress.
    pub(crate) fn steps_left(&self) -> u64 {
        let running = self.running.values().map(|job| {
            job.spec
                .steps
                .saturating_sub(job.stop.progress.load(Ordering::Relaxed))
        });
        let queued = self.queued.iter().map(|job| job.spec.steps);
        running.chain(queued).fold(0, u64::saturating_add)
    }

    /// Whether a job of `spec` may start now.
    fn may_start(&self, spec: &Spec) -> bool {
        let total = self.running.len();
        let long = self
            .running
            .values()
            .filter(|job| job.spec.is_long())
            .count();
        if spec.is_long() {
            total < self.limit && long < self.limit.saturating_sub(1).max(1)
        } else {
            total < self.limit || long == total
        }
    }

    /// Starts the most urgent queued jobs while they may start.
    fn start_queued(&mut self) {
        while let Some(next) = (0..self.queued.len())
            .filter(|&i| self.may_start(&self.queued[i].spec))
            .min_by_key(|&i| (self.queued[i].spec.urgency, self.queued[i].order))
        {
            let job = self.queued.swap_remove(next);
            self.start(job);
        }
    }

    fn start(&mut self, job: Queued<K, T>) {
        let Queued {
            key, spec, work, ..
        } = job;
        let stop = Stop::new(spec.deadline);
        self.running.insert(
            key,
            Running {
                spec,
                stop: stop.clone(),
            },
        );
        let sender = self.sender.clone();
        let spawned = std::thread::Builder::new()
            .name("opml-job".to_owned())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| work(&stop)))
                    .map_err(|_| "the job panicked (a bug)".to_owned());
                // The service may be gone; then nobody wants the result.
                let _ = sender.send((key, result));
            });
        if let Err(error) = spawned {
            let _ = self
                .sender
                .send((key, Err(format!("no thread for the job: {error}"))));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, mpsc};
    use std::time::Duration;

    use super::*;

    /// A short job's schedule.
    fn short(urgency: u64, steps: u64) -> Spec {
        Spec {
            urgency,
            steps,
            deadline: None,
        }
    }

    /// A long job's schedule.
    fn long(urgency: u64) -> Spec {
        short(urgency, LONG_JOB_STEPS + 1)
    }

    /// Collects until `n` jobs have ended.
    fn wait_for(jobs: &mut Jobs<u32, u32>, n: usize) -> Vec<Finished<u32, u32>> {
        let mut done = Vec::new();
        while done.len() < n {
            done.extend(jobs.collect());
            std::thread::sleep(Duration::from_millis(1));
        }
        done
    }

    /// A job that holds its thread until `gate` is released.
    fn held(gate: mpsc::Receiver<()>, value: u32) -> impl FnOnce(&Stop) -> u32 + Send {
        move |_| {
            let _ = gate.recv();
            value
        }
    }

    #[test]
    fn the_most_urgent_queued_job_starts_first() {
        let mut jobs = Jobs::new(1);
        let (release, gate) = mpsc::channel::<()>();
        // The only thread is busy until released.
        assert!(!jobs.submit(0, short(50, 0), held(gate, 0)));
        let started = Arc::new(Mutex::new(Vec::new()));
        for (key, urgency) in [(1, 300), (2, 100), (3, 200)] {
            let started = Arc::clone(&started);
            assert!(jobs.submit(key, short(urgency, 10), move |_| {
                started.lock().map(|mut s| s.push(key)).unwrap_or(());
                key
            }));
        }
        assert!(!jobs.submit(2, short(0, 0), |_| 99), "one job per key");
        assert_eq!((jobs.running(), jobs.queued()), (1, 3));
        assert_eq!(jobs.steps_left(), 30);
        release.send(()).unwrap();
        let done = wait_for(&mut jobs, 4);
        assert!(done.iter().all(|(key, result)| result == &Ok(*key)));
        assert_eq!(*started.lock().unwrap(), vec![2, 3, 1]);
        assert_eq!((jobs.running(), jobs.queued()), (0, 0));
    }

    #[test]
    fn long_jobs_never_keep_short_ones_waiting() {
        for limit in [1, 3] {
            let mut jobs = Jobs::new(limit);
            let mut releases = Vec::new();
            // Long jobs fill what they may: all threads but one (one when the limit is 1).
            for key in 0..4 {
                let (release, gate) = mpsc::channel::<()>();
                releases.push(release);
                jobs.submit(key, long(0), held(gate, key));
            }
            let runs = limit.saturating_sub(1).max(1);
            assert_eq!((jobs.running(), jobs.queued()), (runs, 4 - runs));
            // A short job starts at once, though less urgent than the long ones queued.
            let (release, gate) = mpsc::channel::<()>();
            releases.push(release);
            assert!(!jobs.submit(10, short(1_000, 0), held(gate, 10)));
            assert_eq!(jobs.running(), runs + 1);
            // A second short job waits for a thread within the limit.
            let queued = jobs.submit(11, short(0, 0), |_| 11);
            assert_eq!(queued, runs + 1 >= limit, "limit {limit}");
            for release in releases {
                release.send(()).unwrap();
            }
            assert_eq!(wait_for(&mut jobs, 6).len(), 6);
        }
    }

    #[test]
    fn a_cancelled_or_late_job_is_told_to_stop() {
        let mut jobs = Jobs::new(2);
        jobs.submit(0, short(0, 0), |stop: &Stop| {
            while !stop.should_stop() {
                std::thread::sleep(Duration::from_millis(1));
            }
            u32::from(stop.deadline_passed())
        });
        let late = Spec {
            deadline: Some(Instant::now()),
            ..short(0, 0)
        };
        jobs.submit(1, late, |stop: &Stop| {
            u32::from(stop.should_stop() && stop.deadline_passed())
        });
        jobs.cancel(0);
        let mut done = wait_for(&mut jobs, 2);
        done.sort_by_key(|(key, _)| *key);
        assert_eq!(done, vec![(0, Ok(0)), (1, Ok(1))]);
    }

    #[test]
    fn a_panicking_job_is_reported() {
        let mut jobs: Jobs<u32, u32> = Jobs::new(1);
        jobs.submit(7, short(0, 0), |_| panic!("boom"));
        let done = wait_for(&mut jobs, 1);
        assert_eq!(done[0].0, 7);
        assert!(done[0].1.is_err());
    }
}
