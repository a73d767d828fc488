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

/// When a recording keeps its snapshots ([`Timeline::record`]).
///
/// A snapshot shares unchanged memory pages with the live machine, so what it holds is the
/// pages the run writes after it, up to the next snapshot. An adaptive policy starts with a
/// short interval and doubles it, dropping every other snapshot, whenever the snapshots
/// outnumber `max_count` or may hold more than `max_bytes`: a run of any length ends with
/// between `max_count / 2` and `max_count` snapshots (seeks of at most `1 / max_count` of the
/// run), and a guest that rewrites a large working set keeps few of them instead of a copy per
/// interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshots {
    first_interval: u64,
    max_count: usize,
    max_bytes: u64,
    hash_stride: Option<u64>,
}

impl Snapshots {
    /// A snapshot every `interval` (at least 1) steps, however many that makes.
    pub const fn every(interval: u64) -> Snapshots {
        Snapshots {
            first_interval: if interval == 0 { 1 } else { interval },
            max_count: usize::MAX,
            max_bytes: u64::MAX,
            hash_stride: None,
        }
    }

    /// The adaptive policy: a first interval of 2^20 steps (a few milliseconds of the fast
    /// mode), at most 64 snapshots after the first, holding at most 512 MiB of copied memory.
    pub const fn adaptive() -> Snapshots {
        Snapshots {
            first_interval: 1 << 20,
            max_count: 64,
            max_bytes: 512 << 20,
            hash_stride: None,
        }
    }

    /// The same policy with at most `count` (at least 1) snapshots after the first.
    pub const fn max_count(self, count: usize) -> Snapshots {
        Snapshots {
            max_count: if count == 0 { 1 } else { count },
            ..self
        }
    }

    /// The same policy with snapshots holding at most about `bytes` of copied memory (the
    /// recording's first snapshot is kept whatever it holds).
    pub const fn max_bytes(self, bytes: u64) -> Snapshots {
        Snapshots {
            max_bytes: bytes,
            ..self
        }
    }

    /// The same policy, also keeping the state hash at every multiple of `stride` (at least 1)
    /// steps that the run passes before its end ([`Timeline::recorded_hash`]), at 32 bytes
    /// each. A party that knows the stride of its top tree's leaves records them with its run,
    /// instead of running again to build the tree.
    pub const fn hashes_every(self, stride: u64) -> Snapshots {
        Snapshots {
            hash_stride: Some(if stride == 0 { 1 } else { stride }),
            ..self
        }
    }
}

impl Default for Snapshots {
    fn default() -> Snapshots {
        Snapshots::adaptive()
    }
}

/// A snapshot of a recording.
#[derive(Clone)]
struct Snapshot {
    machine: Machine,
    hash: Hash,
    /// The memory this snapshot alone holds: the pages (and page directories) the run copied
    /// on write between it and the next snapshot.
    held: u64,
}

/// A run recorded once, with snapshots along it, so that the state at any step can be rebuilt
/// quickly: [`seek`](Timeline::seek) clones the nearest snapshot at or before the step and runs
/// forward in fast mode.
///
/// Snapshots share unchanged memory pages with each other (copy-on-write), so the memory a
/// timeline holds grows with the pages a run writes, not with its length; [`Snapshots`] says
/// how many it keeps.
#[derive(Clone)]
pub struct Timeline {
    interval: u64,
    /// Snapshots at the recording's first step and at multiples of `interval` after it,
    /// ascending.
    snapshots: Vec<Snapshot>,
    /// The machine where the recording stopped.
    end: Machine,
    /// The stride of `hashes`, if the recording kept them.
    hash_stride: Option<u64>,
    /// The state hashes at the multiples of `hash_stride` after the first step and before the
    /// end, ascending.
    hashes: Vec<Hash>,
    /// States the recording hashed (snapshots, kept or not, and `hashes`).
    states_hashed: u64,
}

impl Timeline {
    /// Steps between two questions to the `stop` of [`record_until`](Self::record_until):
    /// 2^22, about 10 ms of the fast loop, so the loop itself stays as fast as [`record`]'s.
    ///
    /// [`record`]: Self::record
    pub const STOP_CHECK: u64 = 1 << 22;

    /// Runs `machine` until it halts or `max_steps` more steps have executed, keeping a
    /// snapshot at its current step and others as `snapshots` says.
    pub fn record(machine: Machine, max_steps: u64, snapshots: Snapshots) -> Timeline {
        Timeline::record_with(machine, max_steps, snapshots, |_| false).0
    }

    /// Like [`record`](Self::record), but every [`STOP_CHECK`](Self::STOP_CHECK) steps asks
    /// `stop` with the step reached whether to give up; when it says so, the recording ends
    /// there and only the step reached is returned.
    pub fn record_until(
        machine: Machine,
        max_steps: u64,
        snapshots: Snapshots,
        stop: impl FnMut(u64) -> bool,
    ) -> Result<Timeline, Interrupted> {
        match Timeline::record_with(machine, max_steps, snapshots, stop) {
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
        policy: Snapshots,
        mut stop: impl FnMut(u64) -> bool,
    ) -> (Timeline, bool) {
        let target = machine.step_count().saturating_add(max_steps);
        let hash = machine.state_hash();
        let mut timeline = Timeline {
            interval: policy.first_interval,
            snapshots: vec![Snapshot {
                machine: machine.clone(),
                hash,
                held: 0,
            }],
            end: machine,
            hash_stride: policy.hash_stride,
            hashes: Vec::new(),
            states_hashed: 1,
        };
        let hash_stride = policy.hash_stride.unwrap_or(u64::MAX);
        let mut copied = timeline.end.core.mem.copied();
        let mut stopped = false;
        let machine = &mut timeline.end;
        while !machine.status().is_halted()
            && machine.step_count() < target
            && machine.host_error().is_none()
        {
            let step = machine.step_count();
            let interval = timeline.interval;
            let next = (step / interval + 1)
                .saturating_mul(interval)
                .min((step / hash_stride + 1).saturating_mul(hash_stride))
                .min(target)
                .min(step.saturating_add(Timeline::STOP_CHECK));
            machine.run(next - step);
            let halted = machine.status().is_halted();
            if machine.step_count().is_multiple_of(hash_stride) && !halted {
                timeline.hashes.push(machine.state_hash());
                timeline.states_hashed += 1;
            }
            if machine.step_count().is_multiple_of(interval) && !halted {
                let last = timeline.snapshots.len() - 1;
                let now = machine.core.mem.copied();
                timeline.snapshots[last].held = now - copied;
                copied = now;
                let hash = match timeline.hashes.last() {
                    Some(&hash) if machine.step_count().is_multiple_of(hash_stride) => hash,
                    _ => {
                        timeline.states_hashed += 1;
                        machine.state_hash()
                    }
                };
                timeline.snapshots.push(Snapshot {
                    machine: machine.clone(),
                    hash,
                    held: 0,
                });
                Timeline::thin(&mut timeline.snapshots, &mut timeline.interval, policy);
            }
            if !machine.status().is_halted() && stop(machine.step_count()) {
                stopped = true;
                break;
            }
        }
        (timeline, stopped)
    }

    /// Doubles `interval`, dropping the snapshots off its new multiples, until `snapshots`
    /// fits `policy` (the first snapshot always stays). A dropped snapshot's pages are charged
    /// to the one before it, which now spans both intervals (an upper bound: a page copied in
    /// both counts twice).
    fn thin(snapshots: &mut Vec<Snapshot>, interval: &mut u64, policy: Snapshots) {
        let fits = |snapshots: &[Snapshot]| {
            snapshots.len() - 1 <= policy.max_count
                && snapshots.iter().map(|s| s.held).sum::<u64>() <= policy.max_bytes
        };
        while !fits(snapshots) && snapshots.len() > 1 {
            let Some(doubled) = interval.checked_mul(2) else {
                return;
            };
            *interval = doubled;
            let mut kept: Vec<Snapshot> = Vec::with_capacity(snapshots.len() / 2 + 1);
            for (i, snapshot) in snapshots.drain(..).enumerate() {
                match kept.last_mut() {
                    Some(last)
                        if i > 0 && !snapshot.machine.step_count().is_multiple_of(doubled) =>
                    {
                        last.held = last.held.saturating_add(snapshot.held);
                    }
                    _ => kept.push(snapshot),
                }
            }
            *snapshots = kept;
        }
    }

    /// The snapshot interval in steps (the last one, for an adaptive recording).
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The state hash after `step` steps, if the recording kept it: `step` is a multiple of
    /// the stride of [`Snapshots::hashes_every`] after the first step and before the end.
    pub fn recorded_hash(&self, step: u64) -> Option<Hash> {
        let stride = self.hash_stride?;
        if !step.is_multiple_of(stride) {
            return None;
        }
        let first = self.start_step() / stride + 1;
        let index = (step / stride).checked_sub(first)?;
        self.hashes.get(usize::try_from(index).ok()?).copied()
    }

    /// The states the recording packed and hashed: its first, its snapshots (dropped ones
    /// included) and the hashes it kept; not its end.
    pub fn states_hashed(&self) -> u64 {
        self.states_hashed
    }

    /// The stride of the hashes the recording kept ([`recorded_hash`](Self::recorded_hash)).
    pub fn hash_stride(&self) -> Option<u64> {
        self.hash_stride
    }

    /// The step the recording started at.
    pub fn start_step(&self) -> u64 {
        self.snapshots[0].machine.step_count()
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
            .map(|snapshot| (snapshot.machine.step_count(), snapshot.hash))
    }

    /// The machine after `step` steps, clamped to the recorded range.
    pub fn seek(&self, step: u64) -> Machine {
        let step = step.clamp(self.start_step(), self.end.step_count());
        let at = self
            .snapshots
            .partition_point(|snapshot| snapshot.machine.step_count() <= step);
        let mut machine = self.snapshots[at - 1].machine.clone();
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
