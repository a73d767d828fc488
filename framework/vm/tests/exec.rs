//! The typed host API (`Executor`, `Session`) on the embedded `echo` guest.

use opml_methods::{ECHO_ELF, ECHO_ID, GUESTS_BUILT};
use opml_platform::exit_code;
use opml_state::{ExitStatus, input};
use opml_vm::{ExecError, Executor};

fn request() -> echo::Request {
    echo::Request {
        text: "typed".into(),
        numbers: vec![3, -1, 40],
    }
}

#[test]
fn typed_input_gives_typed_output_and_the_report() {
    if !GUESTS_BUILT {
        return;
    }
    let executor = Executor::new(ECHO_ELF)
        .write_slice(&[echo::MODE_TYPED])
        .write(&request())
        .unwrap();
    // The builder writes what the guest's own input helper does.
    assert_eq!(executor.input(), echo::typed_input(&request()).unwrap());
    let session = executor.run().unwrap();
    assert_eq!(
        session.decode::<echo::Reply>().unwrap(),
        echo::reply(&request())
    );
    assert_eq!(session.program_id, ECHO_ID);
    assert_eq!(
        session.input_commitment,
        input::commitment(&echo::typed_input(&request()).unwrap())
    );
    assert_eq!(session.status, ExitStatus::Exited(0));
    assert_eq!(session.exit_code(), Some(0));
    assert!(session.steps > 100);
    assert!(session.log_text().contains("echo: 5 chars, 3 numbers"));
    assert_eq!(
        session.frames().value::<echo::Reply>().unwrap(),
        echo::reply(&request())
    );

    // The same run as the machine does it, step for step.
    let mut machine =
        opml_vm::Machine::load(ECHO_ELF, echo::typed_input(&request()).unwrap()).unwrap();
    machine.run(u64::MAX);
    assert_eq!(session.steps, machine.step_count());
    assert_eq!(session.final_state_hash, machine.state_hash());
    assert_eq!(session.output, machine.output());
}

#[test]
fn raw_frames_and_slices() {
    if !GUESTS_BUILT {
        return;
    }
    let session = Executor::new(ECHO_ELF)
        .write_slice(&[echo::MODE_RAW])
        .write_frame(b"ab")
        .unwrap()
        .run()
        .unwrap();
    // The raw mode reverses everything after the mode byte: the frame header included.
    assert_eq!(session.output, b"ba\0\0\0\x02");
    assert!(session.decode::<echo::Reply>().is_err());
}

#[test]
fn failures_carry_the_status_and_the_log() {
    if !GUESTS_BUILT {
        return;
    }
    let error = Executor::new(ECHO_ELF).write_slice(&[7]).run().unwrap_err();
    let ExecError::Failed(session) = &error else {
        panic!("{error}");
    };
    assert_eq!(session.exit_code(), Some(exit_code::BAD_INPUT));
    let message = error.to_string();
    assert!(message.contains("echo: unknown mode 7"), "{message}");

    // `execute` returns the session of any run; a step limit leaves it running.
    let session = Executor::new(ECHO_ELF)
        .write_slice(&[echo::MODE_TYPED])
        .write(&request())
        .unwrap()
        .max_steps(10)
        .execute()
        .unwrap();
    assert_eq!((session.status, session.steps), (ExitStatus::Running, 10));

    assert!(matches!(
        Executor::new(b"not an elf").run(),
        Err(ExecError::Load(_))
    ));
}
