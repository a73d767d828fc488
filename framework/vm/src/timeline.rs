//! Recorded runs that can be revisited at any step.

use opml_proof::StepWitness;
use opml_state::Hash;

use crate::{HostError, Machine};

/// A recording given up before its end ([`Timeline::record_until`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// The step the run had reached.
    pub step: u64,
}

/// A run recorded once, with a snapshot every `interval` steps, so that the state at any step
/// can be rebuilt quickly: [`seek`](Timeline::seek) clones the nearest snapshot at or before
/// the step and runs forward in fast mode.
///
/// Snapshots share unchanged memory pages with each other (copy-on-write), so the memory a
/// timeline holds grows with the pages a run writes, not with its length. The default
/// interval, 2^28 steps, keeps a seek under about a second at the fast mode's speed.
#[derive(Clone)]
pub struct Timeline {
    interval: u64,
    /// Snapshots at the recording's first step and every multiple of `interval` after it,
    /// with their state hashes, ascending.
    snapshots: Vec<(Machine, Hash)>,
    /// The machine where the recording stopped.
    end: Machine,
}

impl Timeline {
    /// The default snapshot interval in steps.
    pub const DEFAULT_INTERVAL: u64 = 1 << 28;

    /// Steps between two questions to the `stop` of [`record_until`](Self::record_until):
    /// 2^22, about 10 ms of the fast loop, so the loop itself stays as fast as [`record`]'s.
    ///
    /// [`record`]: Self::record
    pub const STOP_CHECK: u64 = 1 << 22;

    /// Runs `machine` until it halts or `max_steps` more steps have executed, keeping a
    /// snapshot at its current step and at every multiple of `interval` (at least 1) steps.
    pub fn record(machine: Machine, max_steps: u64, interval: u64) -> Timeline {
        Timeline::record_with(machine, max_steps, interval, |_| false).0
    }

    /// Like [`record`](Self::record), but every [`STOP_CHECK`](Self::STOP_CHECK) steps asks
    /// `stop` with the step reached whether to give up; when it says so, the recording ends
    /// there and only the step reached is returned.
    pub fn record_until(
        machine: Machine,
        max_steps: u64,
        interval: u64,
        stop: impl FnMut(u64) -> bool,
    ) -> Result<Timeline, Interrupted> {
        match Timeline::record_with(machine, max_steps, interval, stop) {
            (timeline, false) => Ok(timeline),
            (timeline, true) => Err(Interrupted {
                step: timeline.end.step_count(),
            }),
        }
    }

    /// The recording of [`record_until`](Self::record_until), and whether `stop` ended it.
    fn record_with(
        mut machine: Machine,
        max_steps: u64,
        interval: u64,
        mut stop: impl FnMut(u64) -> bool,
    ) -> (Timeline, bool) {
        let interval = interval.max(1);
        let target = machine.step_count().saturating_add(max_steps);
        let mut snapshots = vec![(machine.clone(), machine.state_hash())];
        let mut stopped = false;
        while !machine.status().is_halted()
            && machine.step_count() < target
            && machine.host_error().is_none()
        {
            let step = machine.step_count();
            let next = (step / interval + 1)
                .saturating_mul(interval)
                .min(target)
                .min(step.saturating_add(Timeline::STOP_CHECK));
            machine.run(next - step);
            if machine.step_count().is_multiple_of(interval) && !machine.status().is_halted() {
                let hash = machine.state_hash();
                snapshots.push((machine.clone(), hash));
            }
            if !machine.status().is_halted() && stop(machine.step_count()) {
                stopped = true;
                break;
            }
        }
        let timeline = Timeline {
            interval,
            snapshots,
            end: machine,
        };
        (timeline, stopped)
    }

    /// The snapshot interval in steps.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The step the recording started at.
    pub fn start_step(&self) -> u64 {
        self.snapshots[0].0.step_count()
    }

    /// The machine where the recording stopped (halted, out of steps, or blocked on a missing
    /// preimage: see [`Machine::host_error`]).
    pub fn end(&self) -> &Machine {
        &self.end
    }

    /// The snapshots' `(step, state hash)` pairs, ascending.
    pub fn snapshot_hashes(&self) -> impl Iterator<Item = (u64, Hash)> + '_ {
        self.snapshots
            .iter()
            .map(|(machine, hash)| (machine.step_count(), *hash))
    }

    /// The machine after `step` steps, clamped to the recorded range.
    pub fn seek(&self, step: u64) -> Machine {
        let step = step.clamp(self.start_step(), self.end.step_count());
        let at = self
            .snapshots
            .partition_point(|(machine, _)| machine.step_count() <= step);
        let mut machine = self.snapshots[at - 1].0.clone();
        machine.run(step - machine.step_count());
        machine
    }

    /// The witness of the step from the state after `step` steps (clamped to the recorded
    /// range), which [`end`](Self::end)'s halted state gives with no items. Fails only at the
    /// end of a recording stopped by a missing preimage.
    pub fn witness(&self, step: u64) -> Result<StepWitness, HostError> {
        self.seek(step).prove_step()
    }
}
