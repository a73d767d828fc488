//! What a service says besides its moves: its backlog, and that it waits for chain time that
//! does not move.

use super::Backlog;
use super::desk::Desk;
use super::task_work::{RunState, STEPS_PER_SECOND};

/// What the narration said last, so that it says things once.
#[derive(Default)]
pub(crate) struct Said {
    /// The backlog's counts (and node failures) at the last backlog line.
    backlog: (usize, usize, usize, usize, u32),
    /// The chain's timestamp at the last poll.
    timestamp: Option<u64>,
    /// Whether it said it waits for chain time since the timestamp last moved.
    waiting: bool,
}

impl Desk {
    /// Its backlog now.
    pub(crate) fn backlog(&self) -> Backlog {
        let steps_left = self.jobs.steps_left();
        let threads = self.jobs.running().max(1) as u64;
        Backlog {
            tasks_running: self
                .work
                .values()
                .filter(|work| matches!(work.run, RunState::Running))
                .count(),
            games_waiting: self.games_waiting,
            jobs_running: self.jobs.running(),
            jobs_queued: self.jobs.queued(),
            steps_left,
            seconds_left: steps_left.div_ceil(STEPS_PER_SECOND.saturating_mul(threads)),
            node_failures: self.node_failures,
        }
    }

    /// Says the backlog when its counts or the node's failures changed (and are not all
    /// zero).
    pub(crate) fn note_backlog(&mut self, lines: &mut Vec<String>) {
        let backlog = self.backlog();
        let counts = (
            backlog.tasks_running,
            backlog.games_waiting,
            backlog.jobs_running,
            backlog.jobs_queued,
            backlog.node_failures,
        );
        if counts != self.said.backlog && counts != (0, 0, 0, 0, 0) {
            lines.push(backlog.to_string());
        }
        self.said.backlog = counts;
    }

    /// Says, once, that everything left waits for chain time (`waits`) that did not move since
    /// the last poll: nothing was done in this poll and no job runs.
    pub(crate) fn note_chain_time(&mut self, now: u64, waits: &[String], lines: &mut Vec<String>) {
        let still = self.said.timestamp == Some(now);
        if !still {
            self.said.waiting = false;
        }
        self.said.timestamp = Some(now);
        let busy = self.jobs.running() + self.jobs.queued() > 0;
        if still && !self.said.waiting && !waits.is_empty() && lines.is_empty() && !busy {
            lines.push(format!(
                "waiting for chain time: {}, the node's clock is at {now} and has not moved \
                 since the last poll; on anvil, start it with `--block-time 1`",
                waits.join("; ")
            ));
            self.said.waiting = true;
        }
    }
}
