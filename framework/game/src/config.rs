//! The phase configuration of a game.

use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

/// The most phases a game has.
pub const MAX_PHASES: usize = 8;
/// The highest history tree of one phase: `2^24` leaves, which an honest agent hashes in
/// seconds and holds in a few hundred MiB (`DisputeGame.MAX_PHASE_HEIGHT`).
pub const MAX_HEIGHT: u8 = 24;
/// The most the heights of all phases add up to: a game covers at most `2^40` steps, about 12
/// hours of an honest agent's run at [`RUN_RATE`] (`DisputeGame.MAX_TOTAL_HEIGHT`).
pub const MAX_TOTAL_HEIGHT: u32 = 40;
/// `log2` of how many times faster than the VM an honest agent is assumed to compute a
/// program-defined top phase natively (a graph's nodes, on every core): a node's native run
/// is 88 – 35,000 times shorter than the node step program's run re-doing it (BENCHMARKS.md,
/// "α per node"), so 16 leaves a margin of 5 over the slowest node kind measured
/// (`Phases.NATIVE_SPEEDUP_LOG2`).
pub const NATIVE_SPEEDUP_LOG2: u32 = 4;
/// The most the heights add up to over a program-defined top phase: `2^44` steps of VM work,
/// computed natively in the time of `2^40` VM steps. The phases below it still add up to at
/// most [`MAX_TOTAL_HEIGHT`] (`DisputeGame.MAX_PROGRAM_TOTAL_HEIGHT`).
pub const MAX_PROGRAM_TOTAL_HEIGHT: u32 = MAX_TOTAL_HEIGHT + NATIVE_SPEEDUP_LOG2;

/// VM steps per second an honest agent is assumed to run, recording its timeline (a
/// conservative figure for 2 cores; measured ~370-390 million). `TaskRegistry.RUN_RATE`.
pub const RUN_RATE: u64 = 25_000_000;
/// History-tree leaves per second an honest agent is assumed to hash (measured ~800,000 for
/// stride-1 leaves). `TaskRegistry.LEAF_RATE`.
pub const LEAF_RATE: u64 = 100_000;
/// Seconds allowed per move of a game (one transaction). `TaskRegistry.MOVE_SECONDS`.
pub const MOVE_SECONDS: u64 = 30;
/// Seconds of slack on top of every time requirement. `TaskRegistry.MARGIN`.
pub const MARGIN: u64 = 300;

/// The phase heights of a k-phase game, top phase first.
///
/// Phase `i` (0 = top) commits to a history tree of `2^heights[i]` leaves, each leaf one
/// coarse step of `stride(i)` VM steps. The bottom phase has stride 1 (one instruction per
/// leaf); each phase's stride is the product of the tree sizes below it, so one leaf of phase
/// `i` is exactly the range one tree of phase `i + 1` covers. The top phase covers
/// [`total_steps`](Self::total_steps) = `2^(sum of all heights)` steps.
///
/// For example heights `[6, 12, 12]` give strides `[2^24, 2^12, 1]` and cover `2^30` steps:
/// the top tree has 64 leaves of `2^24` steps, the middle one 4096 leaves of 4096 steps, and
/// the bottom one 4096 single instructions.
///
/// Rules: 1 to [`MAX_PHASES`] phases, every height from 1 to [`MAX_HEIGHT`], heights adding up
/// to at most [`MAX_TOTAL_HEIGHT`]. A program-defined top phase ([`Top::Program`]) needs a
/// phase below it, and its coarse steps are computed natively: the heights may then add up to
/// [`MAX_PROGRAM_TOTAL_HEIGHT`], those below the top to [`MAX_TOTAL_HEIGHT`]. Written `20,10`
/// on a command line (see [`Heights`]), and packed into a `bytes32` on chain (see
/// [`pack`](Self::pack)); the kind of top phase is the task's (or the game's), not part of
/// the packed word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PhaseConfig {
    /// The heights, top first, zero after the last phase.
    heights: [u8; MAX_PHASES],
    /// The number of phases.
    len: usize,
    /// What the top phase's coarse steps are.
    top: Top,
}

/// What the top phase's coarse steps are: VM steps, or the steps of a program's own model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Top {
    /// Strides of the one VM trace (a VM task).
    #[default]
    Vm,
    /// The program's own steps, computed natively (a graph task's nodes); the phases below
    /// are the VM run of the step program re-doing one.
    Program,
}

impl PhaseConfig {
    /// The configuration of a VM trace with these heights, top phase first.
    pub fn new(heights: &[u8]) -> Result<PhaseConfig, ConfigError> {
        PhaseConfig::with_top(heights, Top::Vm)
    }

    /// The configuration of a program-defined top phase (a graph task) with these heights.
    pub fn program(heights: &[u8]) -> Result<PhaseConfig, ConfigError> {
        PhaseConfig::with_top(heights, Top::Program)
    }

    /// The configuration with these heights, top phase first, over a `top` phase.
    pub fn with_top(heights: &[u8], top: Top) -> Result<PhaseConfig, ConfigError> {
        if heights.is_empty() {
            return Err(ConfigError::NoPhases);
        }
        if heights.len() > MAX_PHASES {
            return Err(ConfigError::TooManyPhases(heights.len()));
        }
        for (phase, &height) in heights.iter().enumerate() {
            if height == 0 {
                return Err(ConfigError::ZeroHeight { phase });
            }
            if height > MAX_HEIGHT {
                return Err(ConfigError::HeightTooLarge { phase, height });
            }
        }
        let sum: u32 = heights.iter().map(|&h| u32::from(h)).sum();
        let max = match top {
            Top::Vm => MAX_TOTAL_HEIGHT,
            Top::Program => MAX_PROGRAM_TOTAL_HEIGHT,
        };
        if sum > max {
            return Err(ConfigError::TotalTooLarge { sum, max });
        }
        if top == Top::Program {
            if heights.len() < 2 {
                return Err(ConfigError::ProgramPhaseAlone);
            }
            let vm = sum - u32::from(heights[0]);
            if vm > MAX_TOTAL_HEIGHT {
                return Err(ConfigError::VmTooLarge(vm));
            }
        }
        let mut padded = [0; MAX_PHASES];
        padded[..heights.len()].copy_from_slice(heights);
        Ok(PhaseConfig {
            heights: padded,
            len: heights.len(),
            top,
        })
    }

    /// What the top phase's coarse steps are.
    pub fn top(&self) -> Top {
        self.top
    }

    /// The heights, top phase first.
    pub fn heights(&self) -> &[u8] {
        &self.heights[..self.len]
    }

    /// The number of phases, `k` (at least 1).
    #[expect(
        clippy::len_without_is_empty,
        reason = "a configuration always has at least one phase"
    )]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The tree height of `phase` (0 = top), or `None` past the bottom phase.
    pub fn height(&self, phase: usize) -> Option<u8> {
        self.heights().get(phase).copied()
    }

    /// `log2` of the stride of `phase`: the sum of the heights below it (0 for the bottom).
    pub fn stride_log2(&self, phase: usize) -> Option<u32> {
        self.height(phase)?;
        let below = &self.heights()[phase + 1..];
        Some(below.iter().map(|&h| u32::from(h)).sum())
    }

    /// The stride of `phase`: VM steps per leaf of its tree (1 for the bottom phase).
    pub fn stride(&self, phase: usize) -> Option<u64> {
        Some(1 << self.stride_log2(phase)?)
    }

    /// The steps one tree of `phase` covers: `2^height · stride`, which is the stride of the
    /// phase above it, or [`total_steps`](Self::total_steps) for the top phase.
    pub fn span(&self, phase: usize) -> Option<u64> {
        Some(1 << (self.stride_log2(phase)? + u32::from(self.height(phase)?)))
    }

    /// The steps the top phase covers: `2^(sum of all heights)` (of VM work, at most, over a
    /// program-defined top phase).
    pub fn total_steps(&self) -> u64 {
        1 << self.heights().iter().map(|&h| u32::from(h)).sum::<u32>()
    }

    /// Steps per second an honest agent is assumed to cover in `phase`: [`RUN_RATE`], or
    /// `2^NATIVE_SPEEDUP_LOG2` times that over a program-defined top phase (computed natively).
    fn rate(&self, phase: usize) -> u64 {
        match (self.top, phase) {
            (Top::Program, 0) => RUN_RATE << NATIVE_SPEEDUP_LOG2,
            _ => RUN_RATE,
        }
    }

    /// Seconds an honest agent needs to run the whole task (recording its timeline):
    /// `ceil(total_steps / rate(0))`.
    fn run_seconds(&self) -> u64 {
        self.total_steps().div_ceil(self.rate(0))
    }

    /// Seconds an honest agent needs to build one tree of `phase`: re-run its range
    /// (`2^(h + s)` steps) and hash its `2^h` leaves. Zero past the bottom phase.
    fn tree_seconds(&self, phase: usize) -> u64 {
        match (self.span(phase), self.height(phase)) {
            (Some(span), Some(height)) => {
                span.div_ceil(self.rate(phase)) + (1u64 << height).div_ceil(LEAF_RATE)
            }
            _ => 0,
        }
    }

    /// The most moves one side makes in a game: `sum(h) + k + 1`.
    pub fn max_moves(&self) -> u64 {
        u64::from(self.total_height()) + self.len as u64 + 1
    }

    /// The sum of the heights, `log2` of [`total_steps`](Self::total_steps).
    pub fn total_height(&self) -> u32 {
        self.heights().iter().map(|&h| u32::from(h)).sum()
    }

    /// The shortest challenge window (seconds) that lets an honest challenger run the task
    /// and build its top tree before it disputes: `run + tree(0) + MARGIN`. Equal to
    /// `TaskRegistry.requiredWindow` of [`pack`](Self::pack) (`graph` for [`Top::Program`]).
    pub fn required_window(&self) -> u64 {
        self.run_seconds() + self.tree_seconds(0) + MARGIN
    }

    /// The shortest game clock (seconds) that lets an honest defender that starts over run
    /// the task, build one tree per phase and send its moves:
    /// `run + Σ tree(p) + max_moves · MOVE_SECONDS + MARGIN`. Equal to
    /// `TaskRegistry.requiredClock` of [`pack`](Self::pack) (`graph` for [`Top::Program`]).
    pub fn required_clock(&self) -> u64 {
        let trees: u64 = (0..self.len).map(|phase| self.tree_seconds(phase)).sum();
        self.run_seconds() + trees + self.max_moves() * MOVE_SECONDS + MARGIN
    }

    /// The on-chain encoding, a `bytes32`: byte 0 (the most significant) is the top phase's
    /// height, byte 1 the next phase's, and so on; the bytes after the last phase are zero.
    pub fn pack(&self) -> [u8; 32] {
        let mut packed = [0; 32];
        packed[..MAX_PHASES].copy_from_slice(&self.heights);
        packed
    }

    /// Decodes [`pack`](Self::pack)'s encoding over a `top` phase: the heights run up to the
    /// first zero byte, and every byte after it must be zero. Refuses everything
    /// [`with_top`](Self::with_top) refuses.
    pub fn unpack(packed: &[u8; 32], top: Top) -> Result<PhaseConfig, ConfigError> {
        let len = packed.iter().position(|&b| b == 0).unwrap_or(packed.len());
        if let Some(byte) = packed[len..].iter().position(|&b| b != 0) {
            return Err(ConfigError::Padding { byte: len + byte });
        }
        PhaseConfig::with_top(&packed[..len], top)
    }
}

/// The command-line syntax: heights top first, separated by commas, e.g. `20,10`.
impl fmt::Display for PhaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Heights(self.heights().to_vec()).fmt(f)
    }
}

/// Parses the [`Display`](fmt::Display) syntax as a VM trace's configuration.
impl FromStr for PhaseConfig {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<PhaseConfig, ConfigError> {
        PhaseConfig::new(&s.parse::<Heights>()?.0)
    }
}

/// Phase heights as written on a command line, top first, separated by commas (`20,10`;
/// spaces around a height are ignored), before the rules of a kind of game apply to them
/// ([`PhaseConfig::with_top`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heights(pub Vec<u8>);

impl Heights {
    /// The configuration of these heights over a `top` phase.
    pub fn config(&self, top: Top) -> Result<PhaseConfig, ConfigError> {
        PhaseConfig::with_top(&self.0, top)
    }
}

impl fmt::Display for Heights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (phase, height) in self.0.iter().enumerate() {
            if phase > 0 {
                f.write_str(",")?;
            }
            write!(f, "{height}")?;
        }
        Ok(())
    }
}

impl FromStr for Heights {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Heights, ConfigError> {
        s.split(',')
            .map(|item| {
                let item = item.trim();
                item.parse::<u8>()
                    .map_err(|_| ConfigError::Syntax(item.to_owned()))
            })
            .collect::<Result<Vec<u8>, ConfigError>>()
            .map(Heights)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn strides_of_the_documented_example() {
        let config = PhaseConfig::new(&[6, 12, 12]).unwrap();
        assert_eq!(config.len(), 3);
        assert_eq!(config.heights(), &[6, 12, 12]);
        assert_eq!(config.stride(0), Some(1 << 24));
        assert_eq!(config.stride(1), Some(1 << 12));
        assert_eq!(config.stride(2), Some(1));
        assert_eq!(config.stride(3), None);
        assert_eq!(config.height(3), None);
        assert_eq!(config.stride_log2(usize::MAX), None);
        assert_eq!(config.span(3), None);
        assert_eq!(config.span(0), Some(1 << 30));
        assert_eq!(config.span(1), Some(1 << 24));
        assert_eq!(config.span(2), Some(1 << 12));
        assert_eq!(config.total_steps(), 1 << 30);
        assert_eq!(config.to_string(), "6,12,12");
        let mut packed = [0; 32];
        packed[..3].copy_from_slice(&[6, 12, 12]);
        assert_eq!(config.pack(), packed);
    }

    #[test]
    fn refusals() {
        assert_eq!(PhaseConfig::new(&[]), Err(ConfigError::NoPhases));
        assert_eq!(
            PhaseConfig::new(&[1; 9]),
            Err(ConfigError::TooManyPhases(9))
        );
        assert_eq!(
            PhaseConfig::new(&[4, 0, 4]),
            Err(ConfigError::ZeroHeight { phase: 1 })
        );
        assert_eq!(
            PhaseConfig::new(&[25]),
            Err(ConfigError::HeightTooLarge {
                phase: 0,
                height: 25
            })
        );
        // The old caps: `opml demo --phases 32,1` is refused.
        assert_eq!(
            "32,1".parse::<PhaseConfig>(),
            Err(ConfigError::HeightTooLarge {
                phase: 0,
                height: 32
            })
        );
        assert_eq!(
            PhaseConfig::new(&[24, 17]),
            Err(ConfigError::TotalTooLarge { sum: 41, max: 40 })
        );
        assert!(PhaseConfig::new(&[24, 16]).is_ok());
        // Over a program-defined top phase: 44 levels, 40 of them at most in the VM.
        assert!(PhaseConfig::program(&[24, 16, 4]).is_ok());
        assert_eq!(
            PhaseConfig::program(&[24, 17, 4]),
            Err(ConfigError::TotalTooLarge { sum: 45, max: 44 })
        );
        assert_eq!(
            PhaseConfig::program(&[3, 20, 21]),
            Err(ConfigError::VmTooLarge(41))
        );
        assert_eq!(
            PhaseConfig::program(&[16]),
            Err(ConfigError::ProgramPhaseAlone)
        );
        assert_eq!(
            PhaseConfig::unpack(&[0; 32], Top::Vm),
            Err(ConfigError::NoPhases)
        );
        let mut packed = [0; 32];
        packed[..3].copy_from_slice(&[5, 0, 5]);
        assert_eq!(
            PhaseConfig::unpack(&packed, Top::Vm),
            Err(ConfigError::Padding { byte: 2 })
        );
        packed = [0; 32];
        packed[31] = 1;
        assert_eq!(
            PhaseConfig::unpack(&packed, Top::Vm),
            Err(ConfigError::Padding { byte: 31 })
        );
        assert_eq!(
            PhaseConfig::unpack(&[1; 32], Top::Vm),
            Err(ConfigError::TooManyPhases(32))
        );
    }

    #[test]
    fn parsing() {
        let config: PhaseConfig = "14,16".parse().unwrap();
        assert_eq!(config.heights(), &[14, 16]);
        assert_eq!(config.total_steps(), 1 << 30);
        assert_eq!(
            " 20 , 10 ".parse::<PhaseConfig>().unwrap().heights(),
            &[20, 10]
        );
        for bad in ["", "20,", "x", "20;10", "256", "-1"] {
            assert!(
                matches!(bad.parse::<PhaseConfig>(), Err(ConfigError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            "0".parse::<PhaseConfig>(),
            Err(ConfigError::ZeroHeight { phase: 0 })
        );
    }

    /// The time figures, by hand from the documented formula (the same cases as the forge
    /// test `test_requiredTimes`).
    #[test]
    fn required_times() {
        let cases: [(&[u8], u64, u64); 4] = [
            (&[2, 1], 1 + 2 + 300, 1 + 4 + 6 * 30 + 300),
            (&[1], 303, 393),
            (&[11, 8, 8], 6 + 7 + 300, 6 + 11 + 31 * 30 + 300),
            (
                &[24, 16],
                43_981 + 44_149 + 300,
                43_981 + 44_149 + 2 + 43 * 30 + 300,
            ),
        ];
        for (heights, window, clock) in cases {
            let config = PhaseConfig::new(heights).unwrap();
            assert_eq!(config.required_window(), window, "{config}");
            assert_eq!(config.required_clock(), clock, "{config}");
        }
        // A graph task of [16, 14, 13]: the top phase natively (2^43 / (25e6 << 4)).
        let graph = PhaseConfig::program(&[16, 14, 13]).unwrap();
        assert_eq!(graph.required_window(), 21_991 + 21_992 + 300);
        assert_eq!(
            graph.required_clock(),
            21_991 + 21_992 + 7 + 2 + 47 * 30 + 300
        );
    }

    /// Any valid configuration: 1 to 8 heights of 1 to 24, trimmed to a sum of at most 40.
    fn valid_heights() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(1..=MAX_HEIGHT, 1..=MAX_PHASES).prop_map(|mut heights| {
            while heights.iter().map(|&h| u32::from(h)).sum::<u32>() > MAX_TOTAL_HEIGHT {
                heights.pop();
            }
            heights
        })
    }

    proptest! {
        #[test]
        fn pack_and_parse_roundtrip(heights in valid_heights()) {
            let config = PhaseConfig::new(&heights).unwrap();
            prop_assert_eq!(config.heights(), &heights[..]);
            prop_assert_eq!(PhaseConfig::unpack(&config.pack(), Top::Vm), Ok(config));
            prop_assert_eq!(config.to_string().parse::<PhaseConfig>(), Ok(config));
            let sum: u32 = heights.iter().map(|&h| u32::from(h)).sum();
            prop_assert_eq!(config.total_steps(), 1u64 << sum);
            prop_assert_eq!(config.stride(heights.len() - 1), Some(1));
            prop_assert_eq!(config.span(0), Some(config.total_steps()));
            for phase in 1..heights.len() {
                prop_assert_eq!(config.span(phase), config.stride(phase - 1));
            }
        }

        #[test]
        fn unpack_accepts_exactly_what_new_accepts(packed in packed_bytes()) {
            let len = packed.iter().position(|&b| b == 0).unwrap_or(32);
            let padded = packed[len..].iter().all(|&b| b == 0);
            match PhaseConfig::unpack(&packed, Top::Vm) {
                Ok(config) => {
                    prop_assert!(padded);
                    prop_assert_eq!(config.pack(), packed);
                }
                Err(ConfigError::Padding { byte }) => {
                    prop_assert!(!padded);
                    prop_assert!(byte > len && packed[byte] != 0);
                }
                Err(err) => {
                    prop_assert!(padded);
                    prop_assert_eq!(PhaseConfig::new(&packed[..len]), Err(err));
                }
            }
        }
    }

    /// Packed bytes: a short prefix of small heights (valid or not), zeros, and now and then
    /// one stray non-zero byte anywhere; or any bytes at all.
    fn packed_bytes() -> impl Strategy<Value = [u8; 32]> {
        let shaped = (
            prop::collection::vec(0u8..=40, 0..=10),
            prop::option::of((0usize..32, 1u8..=255)),
        )
            .prop_map(|(prefix, stray)| {
                let mut packed = [0; 32];
                packed[..prefix.len()].copy_from_slice(&prefix);
                if let Some((index, byte)) = stray {
                    packed[index] = byte;
                }
                packed
            });
        prop_oneof![3 => shaped, 1 => any::<[u8; 32]>()]
    }
}
