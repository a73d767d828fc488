//! Traces: a party's view of a run as a sequence of state hashes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opml_state::{ExitStatus, Hash, VmState};
use opml_vm::{Machine, PreimageSource, Snapshots, Timeline};

use crate::TraceError;
use crate::config::{MAX_HEIGHT, PhaseConfig, Top};

/// A party's view of a run as the state hashes `S(0), S(1), …`, where `S(step)` is the state
/// after `step` steps. After the halting step `T` a halted state is a fixed point, so
/// `S(i) = S(T)` for every `i > T`: every step has a state, and padding a tree past the end of
/// a run needs no special case.
pub trait Trace {
    /// `S(step)`.
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError>;

    /// Calls `f` with each leaf of a history tree over the range from the agreed state
    /// `S(start)`, in order: `S(start + stride), S(start + 2·stride), …,
    /// S(start + count·stride)`. The start itself is not a leaf. Nothing is kept: a tree of any
    /// height is built from one pass in bounded memory ([`HistoryTree::build`]).
    ///
    /// Refuses stride zero, more than `2^`[`MAX_HEIGHT`] leaves, and a range that ends past step
    /// `u64::MAX`; stops at the first error of `f`. The provided implementation asks
    /// [`state_hash`](Self::state_hash) for each leaf.
    ///
    /// [`HistoryTree::build`]: crate::HistoryTree::build
    fn for_each_leaf(
        &mut self,
        start: u64,
        stride: u64,
        count: u64,
        f: &mut dyn FnMut(Hash) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        check_leaf_range(start, stride, count)?;
        for i in 1..=count {
            f(self.state_hash(start + i * stride)?)?;
        }
        Ok(())
    }

    /// The leaves [`for_each_leaf`](Self::for_each_leaf) gives, collected: for small ranges
    /// (tests, tools); history trees stream them instead.
    fn leaves(&mut self, start: u64, stride: u64, count: u64) -> Result<Vec<Hash>, TraceError> {
        let mut leaves = Vec::new();
        self.for_each_leaf(start, stride, count, &mut |leaf| {
            leaves.push(leaf);
            Ok(())
        })?;
        Ok(leaves)
    }

    /// The one-step proof of the step from `S(step)` to `S(step + 1)`: the packed pre-state
    /// (whose SHA-256 is `S(step)`) and the encoded proof, the two arguments of
    /// `opml_proof::verify_step` and of the on-chain `RiscvStep.step`.
    fn step_witness(&mut self, step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError>;

    /// For a program-defined trace: the data oracle's preimages that the step program reads to
    /// re-do coarse step `step` (`S(step − 1)` to `S(step)`). None for a trace whose step
    /// program reads no data, and for VM traces.
    fn step_preimages(&mut self, step: u64) -> Result<Option<Arc<dyn PreimageSource>>, TraceError> {
        let _ = step;
        Ok(None)
    }

    /// A copy of this trace for another thread, when building a range of `span` steps in
    /// parallel pays off: history trees then build their ranges on every core
    /// ([`HistoryTree::build`]). The copy must give the same leaves. None (the default): one
    /// pass on the caller's thread.
    ///
    /// [`HistoryTree::build`]: crate::HistoryTree::build
    fn fork(&self, span: u64) -> Option<Box<dyn Trace + Send>> {
        let _ = span;
        None
    }
}

/// A boxed trace is a trace (so a [`fork`](Trace::fork) can be wrapped, as a lie wraps its
/// truth).
impl<T: Trace + ?Sized> Trace for Box<T> {
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
        (**self).state_hash(step)
    }

    fn for_each_leaf(
        &mut self,
        start: u64,
        stride: u64,
        count: u64,
        f: &mut dyn FnMut(Hash) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        (**self).for_each_leaf(start, stride, count, f)
    }

    fn step_witness(&mut self, step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
        (**self).step_witness(step)
    }

    fn step_preimages(&mut self, step: u64) -> Result<Option<Arc<dyn PreimageSource>>, TraceError> {
        (**self).step_preimages(step)
    }

    fn fork(&self, span: u64) -> Option<Box<dyn Trace + Send>> {
        (**self).fork(span)
    }
}

/// Checks the arguments of [`Trace::for_each_leaf`]; returns the range's last step.
pub(crate) fn check_leaf_range(start: u64, stride: u64, count: u64) -> Result<u64, TraceError> {
    if stride == 0 {
        return Err(TraceError::ZeroStride);
    }
    if count > 1 << MAX_HEIGHT {
        return Err(TraceError::TooManyLeaves(count));
    }
    stride
        .checked_mul(count)
        .and_then(|len| start.checked_add(len))
        .ok_or(TraceError::RangeOverflow {
            start,
            stride,
            count,
        })
}

/// The highest top phase whose leaves a party records with its run
/// ([`VmTrace::snapshots_for`]): 2^20 leaves, 32 MiB of hashes.
pub const RECORDED_TOP_HEIGHT: u8 = 20;

/// A segment of a history tree built on another thread spans at least this many snapshot
/// intervals of a [`VmTrace`] ([`Trace::fork`]).
const FORK_SPANS: u64 = 8;

/// The off-chain work a [`VmTrace`] and its clones have done ([`VmTrace::work`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Work {
    /// VM instructions executed: the recording run (one per step from the first step to where
    /// it stopped), and every replay: a seek runs from the snapshot at or before its step to
    /// that step, a range of leaves then runs `stride` steps per leaf (until the halt), and a
    /// step witness executes the proven step (none at or after the halt).
    pub steps_run: u64,
    /// VM states packed and hashed (the memory root over the pages written since the machine's
    /// last hash, then the SHA-256 of the packed state): the recording's snapshots (the initial
    /// state is the first) and its final state; one per [`Trace::state_hash`] before the run's
    /// end; one per leaf before the halt (leaves at or after it are the stored final hash); one
    /// per step witness (its packed pre-state, whose SHA-256 the verifier computes).
    pub states_hashed: u64,
}

impl Work {
    /// The work done since `earlier`, an earlier reading of the same trace's [`VmTrace::work`].
    pub fn since(self, earlier: Work) -> Work {
        Work {
            steps_run: self.steps_run.saturating_sub(earlier.steps_run),
            states_hashed: self.states_hashed.saturating_sub(earlier.states_hashed),
        }
    }
}

/// The counters behind [`Work`], shared by a trace's clones.
#[derive(Debug, Default)]
struct Counters {
    steps_run: AtomicU64,
    states_hashed: AtomicU64,
}

impl Counters {
    fn add(&self, steps_run: u64, states_hashed: u64) {
        self.steps_run.fetch_add(steps_run, Ordering::Relaxed);
        self.states_hashed
            .fetch_add(states_hashed, Ordering::Relaxed);
    }
}

/// The honest trace of a VM run, computed on demand.
///
/// [`new`](Self::new) runs the machine once to its halt or step limit, recording a
/// [`Timeline`] with [adaptive snapshots](Snapshots::adaptive): 32 to 64 along any run long
/// enough, fewer when the guest rewrites a large working set.
/// [`for_each_leaf`](Trace::for_each_leaf) then seeks the snapshot at or before the range's
/// start and runs forward once, hashing only the states it returns: a range costs one seek (at
/// most one snapshot interval, 1/32 of the run) and its own execution, and ranges of at least
/// [`FORK_SPANS`] intervals build on every core ([`fork`](Trace::fork)). A fixed interval
/// ([`with_interval`](Self::with_interval)) is for tests and tuning.
///
/// The trace knows the steps from the machine's first step to its last one: the halting step
/// and, since a halted state is a fixed point, every step after it; or, for a run that did not
/// halt within its limit, only the steps up to the limit ([`TraceError::OutOfRange`] past it).
///
/// It counts the work it does ([`work`](Self::work)), together with its clones: clones are how
/// one run is shared by every game on a task.
#[derive(Clone)]
pub struct VmTrace {
    /// The recorded run.
    timeline: Timeline,
    /// The initial state hash.
    initial_hash: Hash,
    /// The packed state where the recording stopped.
    final_state: VmState,
    /// Its hash.
    final_hash: Hash,
    /// The work done by this trace and its clones.
    work: Arc<Counters>,
}

impl VmTrace {
    /// Runs `machine` (already loaded with its input) until it halts or `max_steps` more steps
    /// have executed, recording the run.
    pub fn new(machine: Machine, max_steps: u64) -> VmTrace {
        VmTrace::from_timeline(Timeline::record(machine, max_steps, Snapshots::adaptive()))
    }

    /// Like [`new`](Self::new), with a snapshot every `interval` (at least 1) steps.
    pub fn with_interval(machine: Machine, max_steps: u64, interval: u64) -> VmTrace {
        let snapshots = Snapshots::every(interval);
        VmTrace::from_timeline(Timeline::record(machine, max_steps, snapshots))
    }

    /// Like [`new`](Self::new), recording as `snapshots` says.
    pub fn record(machine: Machine, max_steps: u64, snapshots: Snapshots) -> VmTrace {
        VmTrace::from_timeline(Timeline::record(machine, max_steps, snapshots))
    }

    /// Like [`record`](Self::record), but every [`Timeline::STOP_CHECK`] steps asks `stop` with
    /// the step reached whether to give up (a cancelled job, a passed deadline).
    pub fn record_until(
        machine: Machine,
        max_steps: u64,
        snapshots: Snapshots,
        stop: impl FnMut(u64) -> bool,
    ) -> Result<VmTrace, opml_vm::Interrupted> {
        Timeline::record_until(machine, max_steps, snapshots, stop).map(VmTrace::from_timeline)
    }

    /// How a party to the games of `config` records its run: adaptive snapshots, and, when the
    /// top phase is a VM phase of at most 2^[`RECORDED_TOP_HEIGHT`] leaves, the top tree's
    /// leaves too, so that building it takes no second run.
    pub fn snapshots_for(config: &PhaseConfig) -> Snapshots {
        let snapshots = Snapshots::adaptive();
        match (config.top(), config.heights()[0], config.stride(0)) {
            (Top::Vm, height, Some(stride)) if height <= RECORDED_TOP_HEIGHT => {
                snapshots.hashes_every(stride)
            }
            _ => snapshots,
        }
    }

    /// The trace of a recorded run, its recording counted as work.
    fn from_timeline(timeline: Timeline) -> VmTrace {
        let first = timeline.start_step();
        let initial_hash = timeline.snapshot_hashes().next().unwrap_or_default().1;
        let mut end = timeline.end().clone();
        let final_state = end.state();
        let work = Counters::default();
        work.add(end.step_count() - first, timeline.states_hashed() + 1);
        VmTrace {
            timeline,
            initial_hash,
            final_hash: final_state.hash(),
            final_state,
            work: Arc::new(work),
        }
    }

    /// The work done so far by this trace and every clone of it, the recording run included.
    pub fn work(&self) -> Work {
        Work {
            steps_run: self.work.steps_run.load(Ordering::Relaxed),
            states_hashed: self.work.states_hashed.load(Ordering::Relaxed),
        }
    }

    /// The machine after `step` steps (clamped to the recorded range), counting the steps the
    /// seek runs from its snapshot.
    fn seek(&self, step: u64) -> Machine {
        let machine = self.timeline.seek(step);
        let target = machine.step_count();
        let snapshot = self
            .timeline
            .snapshot_hashes()
            .map(|(at, _)| at)
            .take_while(|&at| at <= target)
            .last()
            .unwrap_or(target);
        self.work.add(target - snapshot, 0);
        machine
    }

    /// The recorded run.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The step the run started at (0 for a freshly loaded machine).
    pub fn first_step(&self) -> u64 {
        self.timeline.start_step()
    }

    /// `S(first_step)`, the state hash before the run.
    pub fn initial_state_hash(&self) -> Hash {
        self.initial_hash
    }

    /// The machine where the run stopped: halted, or out of steps.
    pub fn final_machine(&self) -> &Machine {
        self.timeline.end()
    }

    /// The state where the run stopped; [`VmState::encode`] gives its packed bytes.
    pub fn final_state(&self) -> &VmState {
        &self.final_state
    }

    /// The hash of [`final_state`](Self::final_state).
    pub fn final_state_hash(&self) -> Hash {
        self.final_hash
    }

    /// The public output the run wrote.
    pub fn output(&self) -> &[u8] {
        self.final_machine().output()
    }

    /// How the run ended: [`ExitStatus::Running`] if it did not halt within its step limit.
    pub fn status(&self) -> ExitStatus {
        self.final_state.status
    }

    /// Whether the run halted within its step limit.
    pub fn halted(&self) -> bool {
        self.status().is_halted()
    }

    /// The step the run stopped at: the halting step (the one that executed the halting
    /// instruction counts), or the step limit.
    pub fn end_step(&self) -> u64 {
        self.final_state.step
    }

    /// Whether the recording kept the hashes at `start + stride`, `start + 2·stride`, … before
    /// the run's end.
    fn recorded(&self, start: u64, stride: u64) -> bool {
        self.timeline.hash_stride().is_some_and(|kept| {
            stride.is_multiple_of(kept) && start.is_multiple_of(kept) && start >= self.first_step()
        })
    }

    /// Fails unless the trace knows `S(step)`.
    fn check_step(&self, step: u64) -> Result<(), TraceError> {
        let (first, last) = (self.first_step(), self.end_step());
        if step < first || (step > last && !self.halted()) {
            return Err(TraceError::OutOfRange { step, first, last });
        }
        Ok(())
    }
}

impl Trace for VmTrace {
    fn state_hash(&mut self, step: u64) -> Result<Hash, TraceError> {
        self.check_step(step)?;
        if step >= self.end_step() {
            return Ok(self.final_hash);
        }
        if let Some(hash) = self.timeline.recorded_hash(step) {
            return Ok(hash);
        }
        self.work.add(0, 1);
        Ok(self.seek(step).state_hash())
    }

    /// Seeks `start` once and runs forward `stride` steps at a time, hashing after each; once
    /// the machine halts, the remaining leaves are its (fixed-point) final hash. The start
    /// need not be a multiple of the stride.
    fn for_each_leaf(
        &mut self,
        start: u64,
        stride: u64,
        count: u64,
        f: &mut dyn FnMut(Hash) -> Result<(), TraceError>,
    ) -> Result<(), TraceError> {
        let end = check_leaf_range(start, stride, count)?;
        self.check_step(start)?;
        self.check_step(end)?;
        if self.recorded(start, stride) {
            // Every leaf is a recorded hash, or the final one.
            for i in 1..=count {
                f(self.state_hash(start + i * stride)?)?;
            }
            return Ok(());
        }
        let mut done = 0;
        if count > 0 && start < self.end_step() {
            let mut machine = self.seek(start);
            while done < count && !machine.status().is_halted() {
                let before = machine.step_count();
                machine.run(stride);
                self.work.add(machine.step_count() - before, 1);
                f(machine.state_hash())?;
                done += 1;
            }
        }
        // Past the halting step every state is the final one.
        for _ in done..count {
            f(self.final_hash)?;
        }
        Ok(())
    }

    /// A clone (sharing the timeline and the work counters) when `span` is at least
    /// [`FORK_SPANS`] snapshot intervals, so that a segment's seek to its start (at most one
    /// interval of steps) is small against the segment.
    fn fork(&self, span: u64) -> Option<Box<dyn Trace + Send>> {
        (span / FORK_SPANS >= self.timeline.interval()).then(|| Box::new(self.clone()) as _)
    }

    fn step_witness(&mut self, step: u64) -> Result<(Vec<u8>, Vec<u8>), TraceError> {
        self.check_step(step)?;
        self.check_step(step.saturating_add(1))?;
        let mut machine = self.seek(step);
        let proven = u64::from(!machine.status().is_halted());
        let witness = machine.prove_step().map_err(TraceError::Host)?;
        self.work.add(proven, 1);
        Ok((witness.state_data().to_vec(), witness.encode_proof()))
    }
}
