//! Random RV32IM programs on the opml VM and under qemu: byte-identical output, same exit code.

use std::sync::Mutex;
use std::thread;

use opml_tests::RandomProgram;
use opml_tests::differential::compare;
use opml_tests::generator::OUTPUT_LEN;

const PROGRAMS: u64 = 1000;
const OPERATIONS: usize = 300;

#[test]
fn random_programs_agree_with_qemu() {
    let threads = thread::available_parallelism().map_or(2, |n| n.get()) as u64;
    let failures = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for first in 0..threads {
            let failures = &failures;
            scope.spawn(move || {
                for seed in (first..PROGRAMS).step_by(threads as usize) {
                    let program = RandomProgram::new(seed, OPERATIONS);
                    let failure = match compare(&program.elf(), &[]) {
                        Ok(run) if run.stdout.len() == OUTPUT_LEN => continue,
                        Ok(run) => format!("both machines: {run}"),
                        Err(err) => err.to_string(),
                    };
                    let report = format!("seed {seed}: {failure}\n{}", program.listing());
                    failures.lock().unwrap().push((seed, report));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    if let Some((_, first)) = failures.first() {
        let seeds: Vec<u64> = failures.iter().map(|(seed, _)| *seed).collect();
        panic!(
            "{} of {PROGRAMS} programs failed (seeds {seeds:?}); the first:\n{first}",
            failures.len()
        );
    }
}
