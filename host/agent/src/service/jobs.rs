//! A small job runner: computations a service must not wait for (a task's run, a player's
//! tree build) run on threads of their own, at most a set number at a time, the most urgent
//! first; a service starts them, collects the finished ones at its next poll, and can cancel
//! them.

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

/// A job waiting for a free thread.
struct Queued<K, T> {
    key: K,
    urgency: u64,
    order: u64,
    steps: u64,
    stop: Stop,
    work: Work<T>,
}

/// A job on its thread.
struct Running {
    steps: u64,
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

    /// Submits `work` under `key` (unless a job of `key` is already in): it starts now if a
    /// thread is free, else when one is, before every queued job of a higher `urgency` (the
    /// seconds the job's clock has left: lower is more urgent). `steps` is the estimate of its
    /// work, `deadline` when it must give up. Returns whether it had to queue.
    pub(crate) fn submit(
        &mut self,
        key: K,
        urgency: u64,
        steps: u64,
        deadline: Option<Instant>,
        work: impl FnOnce(&Stop) -> T + Send + 'static,
    ) -> bool {
        if self.contains(key) {
            return false;
        }
        self.order += 1;
        self.queued.push(Queued {
            key,
            urgency,
            order: self.order,
            steps,
            stop: Stop::new(deadline),
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
            job.steps
                .saturating_sub(job.stop.progress.load(Ordering::Relaxed))
        });
        let queued = self.queued.iter().map(|job| job.steps);
        running.chain(queued).fold(0, u64::saturating_add)
    }

    /// Starts the most urgent queued jobs while threads are free.
    fn start_queued(&mut self) {
        while self.running.len() < self.limit && !self.queued.is_empty() {
            let next = (0..self.queued.len())
                .min_by_key(|&i| (self.queued[i].urgency, self.queued[i].order))
                .unwrap_or(0);
            let job = self.queued.swap_remove(next);
            self.start(job);
        }
    }

    fn start(&mut self, job: Queued<K, T>) {
        let Queued {
            key,
            steps,
            stop,
            work,
            ..
        } = job;
        self.running.insert(
            key,
            Running {
                steps,
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
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Collects until `n` jobs have ended.
    fn wait_for(jobs: &mut Jobs<u32, u32>, n: usize) -> Vec<Finished<u32, u32>> {
        let mut done = Vec::new();
        while done.len() < n {
            done.extend(jobs.collect());
            std::thread::sleep(Duration::from_millis(1));
        }
        done
    }

    #[test]
    fn the_most_urgent_queued_job_starts_first() {
        let mut jobs = Jobs::new(1);
        let (release, gate) = mpsc::channel::<()>();
        // The only thread is busy until released.
        assert!(!jobs.submit(0, 50, 0, None, move |_| {
            let _ = gate.recv();
            0
        }));
        let started = Arc::new(std::sync::Mutex::new(Vec::new()));
        for (key, urgency) in [(1, 300), (2, 100), (3, 200)] {
            let started = Arc::clone(&started);
            assert!(jobs.submit(key, urgency, 10, None, move |_| {
                started.lock().map(|mut s| s.push(key)).unwrap_or(());
                key
            }));
        }
        assert!(!jobs.submit(2, 0, 0, None, |_| 99), "one job per key");
        assert_eq!((jobs.running(), jobs.queued()), (1, 3));
        assert_eq!(jobs.steps_left(), 30);
        release.send(()).unwrap();
        let done = wait_for(&mut jobs, 4);
        assert!(done.iter().all(|(key, result)| result == &Ok(*key)));
        assert_eq!(*started.lock().unwrap(), vec![2, 3, 1]);
        assert_eq!((jobs.running(), jobs.queued()), (0, 0));
    }

    #[test]
    fn a_cancelled_or_late_job_is_told_to_stop() {
        let mut jobs = Jobs::new(2);
        jobs.submit(0, 0, 0, None, |stop: &Stop| {
            while !stop.should_stop() {
                std::thread::sleep(Duration::from_millis(1));
            }
            u32::from(stop.deadline_passed())
        });
        jobs.submit(1, 0, 0, Some(Instant::now()), |stop: &Stop| {
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
        jobs.submit(7, 0, 0, None, |_| panic!("boom"));
        let done = wait_for(&mut jobs, 1);
        assert_eq!(done[0].0, 7);
        assert!(done[0].1.is_err());
    }
}
