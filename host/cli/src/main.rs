//! `opml`: run, check and dispute RISC-V guest programs on the opml fraud-proof VM and its contracts.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod guest_input;
mod image;
mod json;
mod out_path;
mod progress;
mod schema;
mod symbols;

/// Process exit codes of the CLI itself. A guest that exits passes its own code through
/// (`code & 0xff`), so these sit above the codes guests normally use.
pub(crate) mod exit_codes {
    /// The command could not run: bad file, bad arguments, unreadable input.
    pub(crate) const HOST_ERROR: u8 = 2;
    /// The guest trapped (illegal instruction, ebreak, misaligned access).
    pub(crate) const GUEST_TRAP: u8 = 250;
    /// The guest was still running when `--max-steps` ran out.
    pub(crate) const STEP_LIMIT: u8 = 251;
    /// `opml check` found a step where the verifier and the emulator disagree.
    pub(crate) const CHECK_MISMATCH: u8 = 252;
    /// `opml verify-build` built a different program from the one expected.
    pub(crate) const BUILD_MISMATCH: u8 = 253;
}

const EXAMPLES: &str = "\
Examples:
  opml demo                                        a whole opML dispute on an embedded EVM
  opml demo --liar challenger --phases 10,8,8      ... a lying challenger, three phases
  opml demo --json report.json                     ... and a JSON report of the game
  opml tour                                        a narrated tour of the VM on the embedded guests
  opml run guest.elf --input input.bin            run a guest; its output goes to stdout
  opml run guest.elf --max-steps 1000000 --report run.json
  opml codec encode --prefix 00 -s '{text: string, numbers: vec<i32>}' '{\"text\":\"hi\",\"numbers\":[1,2]}' -o in.bin
                                                   a typed input from JSON (echo's: a mode byte, a frame)
  opml run echo.elf -i in.bin --output-schema '{shout: string, sum: i64, count: u32, max: option<i32>}'
                                                   ... and its typed output as JSON
  opml codec decode -s u32 0x0100000007            decode output bytes (one frame per --schema)
  opml codec decode --abi 'uint256,string' 0x…     ... or an ABI-encoded output (commit_abi)
  opml state guest.elf --step 5000                 the state (and its hash) after 5000 steps
  opml witness guest.elf --step 5000 -o w.json     the proof of step 5000 as JSON
  opml check guest.elf --input input.bin           verify every step with the step verifier
  opml check guest.elf --evm                       ... and with the Solidity verifier on an embedded EVM
  opml program-id guest.elf                        the program ID a task names
  opml fixture guest.elf -i input.bin --json fixture.json --disputes
                                                   IDs, states, output and heights for a forge
                                                   test, and two disputes to replay
  opml disasm guest.elf                            disassemble the executable segments
  opml verify-build guest/ 0x3d38…                 rebuild a guest from source, compare program IDs
  opml verify-build guest/ published.elf           ... or ELFs (naming the first differing section)
  opml new my-app                                  a new app: guest, host crate, forge project
  opml demo --workload mnist --image digit.png     classify your own digit, dispute a wrong answer
  opml model info model.opml                       validate and describe a model file
  opml deploy --rpc-url $NODE --key $KEY           deploy the contracts on a node (addresses as JSON)
  opml request --rpc-url $NODE --registry $REG --elf guest.elf --input input.bin
                                                   post a task (the key from OPML_KEY); prints its id
                                                   (phases sized from a dry run: --phases auto)
  opml task 3 --rpc-url $NODE --registry $REG      task 3's record (--json: as JSON)
  opml output 3 --rpc-url $NODE --registry $REG    its output as hex, saying whether it is final
  opml cancel 3 --rpc-url $NODE --registry $REG    cancel an open task past its deadline
  opml withdraw --rpc-url $NODE --registry $REG    pay out the account's credit (fees, bonds)
  opml serve --rpc-url $NODE --registry $REG --elf guest.elf
                                                   a server: run the tasks, defend the results
  opml challenge --rpc-url $NODE --registry $REG --elf guest.elf
                                                   a challenger: check every result, dispute wrong ones
  opml request --rpc-url $NODE --registry $REG --gguf model.gguf --prompt 'Hello' --tokens 8
                                                   post an LLM task (its graph and phases derived)
  opml serve --rpc-url $NODE --registry $REG --gguf model.gguf
                                                   a server of LLM tasks (challenge likewise)

Exit status of `opml run`: the guest's exit code (modulo 256); 250 if the guest trapped;
251 if --max-steps ran out; 2 if the command itself failed. `opml verify-build`: 0 on a match,
253 on a mismatch.";

/// opml: a RISC-V fraud-proof framework for optimistic machine learning.
#[derive(Parser)]
#[command(name = "opml", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A whole opML dispute, narrated: task, wrong result, challenge, bisection, verdict,
    /// bonds (the README's main job; embedded EVM by default, or a node with --rpc-url).
    Demo(commands::demo::DemoArgs),
    /// A narrated tour of the VM on the embedded example guests.
    Tour(commands::tour::TourArgs),
    /// Run a guest ELF in fast mode.
    Run(commands::run::RunArgs),
    /// Encode a guest's typed input from JSON, or decode its typed output to JSON, by a schema
    /// of its types (the wire format of `opml_guest::read` / `commit`).
    Codec(commands::codec::CodecArgs),
    /// Print the VM state (and its hash) after a number of steps.
    State(commands::inspect::StateArgs),
    /// Dump the witness (pre-state and Merkle proofs) of one step as JSON.
    Witness(commands::inspect::WitnessArgs),
    /// Check every step of a run with the step verifier, reporting the first mismatch.
    Check(commands::check::CheckArgs),
    /// Print the program ID of a guest ELF.
    ProgramId(commands::inspect::ProgramIdArgs),
    /// Write what a forge test needs about a run as JSON: program ID, input commitment, packed
    /// initial and final states, output, steps, phase heights; with --disputes, two games
    /// (a lying claimant, a lying challenger) recorded move by move, to replay against the
    /// real contracts (contracts/README.md, "The forge kit").
    Fixture(commands::fixture::FixtureArgs),
    /// Disassemble the executable segments of a guest ELF.
    Disasm(commands::inspect::DisasmArgs),
    /// Rebuild a guest from its source folder, reproducibly (any checkout path gives the same
    /// ELF), and check it against a program ID or an ELF: prints `match`, or the first differing
    /// section; exit status 253 on a mismatch.
    VerifyBuild(commands::verify_build::VerifyBuildArgs),
    /// Create a new app from the template: a guest, a host crate that embeds it and tests it
    /// in the VM, and a forge project with a consumer contract, its tests on the kit's mock
    /// registry and replays of recorded disputes on the real contracts.
    New(commands::new::NewArgs),
    /// Check and describe `.opml` model files.
    Model(commands::model::ModelArgs),
    /// Deploy the opml contracts on a node; print their addresses as JSON.
    Deploy(commands::node::DeployArgs),
    /// As a requester: publish an input and post a task of a program, or post a graph task of
    /// an `.opml` model (--model) on its input, or an LLM task of a GGUF model (--gguf); print
    /// its id.
    Request(commands::node::RequestArgs),
    /// Print a task's record: status, round, kind, program, input, phases, fee, deadline,
    /// and its current round's server, commitment time and final state (--json: as JSON).
    Task(commands::requester::TaskArgs),
    /// Print the output of a task's current round as hex (or write its bytes with --out),
    /// saying on stderr whether it is finalized or only committed and still disputable.
    Output(commands::requester::OutputArgs),
    /// Pay out what the registry credits the account (refunded fees, bonds, fees earned,
    /// rewards); print the amount.
    Withdraw(commands::requester::WithdrawArgs),
    /// Cancel an open task past its deadline: its fee is credited back to its requester.
    Cancel(commands::requester::CancelArgs),
    /// As a server: run the open tasks of the given programs and models (and LLM tasks of a
    /// GGUF model), commit the results
    /// with a bond, defend them in disputes, finalize them and withdraw (a service polling the
    /// node).
    Serve(commands::node::ServeArgs),
    /// As a challenger: re-run every result of the given programs and models (and LLM tasks of
    /// a GGUF model), dispute the wrong
    /// ones, play the games, settle and withdraw (a service polling the node).
    Challenge(commands::node::ServiceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => commands::demo::demo(args),
        Command::Tour(args) => commands::tour::tour(args),
        Command::Run(args) => commands::run::run(args),
        Command::Codec(args) => commands::codec::codec(args),
        Command::State(args) => commands::inspect::state(args),
        Command::Witness(args) => commands::inspect::witness(args),
        Command::Check(args) => commands::check::check(args),
        Command::ProgramId(args) => commands::inspect::program_id(args),
        Command::Fixture(args) => commands::fixture::fixture(args),
        Command::Disasm(args) => commands::inspect::disasm(args),
        Command::VerifyBuild(args) => commands::verify_build::verify_build(args),
        Command::New(args) => commands::new::new(args),
        Command::Model(args) => commands::model::model(args),
        Command::Deploy(args) => commands::node::deploy(args),
        Command::Request(args) => commands::node::request(args),
        Command::Task(args) => commands::requester::task(args),
        Command::Output(args) => commands::requester::output(args),
        Command::Withdraw(args) => commands::requester::withdraw(args),
        Command::Cancel(args) => commands::requester::cancel(args),
        Command::Serve(args) => commands::node::serve(args),
        Command::Challenge(args) => commands::node::challenge(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_codes::HOST_ERROR)
        }
    }
}
