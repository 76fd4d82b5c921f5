//! What a command prints reaches the logs in bounded lines, whatever it prints.

use std::time::{Duration, Instant};

use armonic_lifecycle::{CommandRunner, CommandSpec, Interrupt, Stream, Supervision, SystemRunner};

/// Runs `script` with `/bin/sh` and returns its standard output lines.
fn lines_of(script: &str) -> Vec<String> {
    let spec = CommandSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![],
        cwd: None,
        timeout: Duration::from_secs(60),
    };
    let mut lines = Vec::new();
    let out = SystemRunner
        .run(
            &spec,
            &mut Supervision {
                interrupt: &Interrupt::default(),
                started: &mut |_| {},
                output: &mut |s, l| {
                    if s == Stream::Stdout {
                        lines.push(l.to_owned())
                    }
                },
            },
        )
        .unwrap();
    assert_eq!(out.code, Some(0));
    lines
}

#[test]
fn five_megabytes_without_a_newline_come_as_64_kib_pieces() {
    let lines = lines_of("head -c 5000000 /dev/zero | tr '\\0' a");
    assert!(lines.iter().all(|l| l.len() <= 64 * 1024));
    assert_eq!(lines.iter().map(String::len).sum::<usize>(), 5_000_000);
    assert_eq!(lines.len(), 5_000_000usize.div_ceil(64 * 1024));
}

#[test]
fn a_long_line_is_never_split_inside_a_character() {
    // One ASCII byte, then two-byte characters: 64 KiB falls in the middle of one.
    let lines = lines_of("printf a; head -c 50000 /dev/zero | sed 's/\\x0/é/g'; echo");
    assert!(lines.len() >= 2, "{}", lines.len());
    assert!(lines.iter().all(|l| !l.contains('\u{FFFD}')));
    assert_eq!(lines.concat(), format!("a{}", "é".repeat(50000)));
}

#[test]
fn crlf_ends_a_line() {
    assert_eq!(
        lines_of("printf 'one\\r\\ntwo\\r'; sleep 0.1; printf '\\nthree\\n'"),
        ["one", "two", "three"]
    );
}

#[test]
fn progress_output_is_thinned_and_its_last_state_kept() {
    let start = Instant::now();
    let lines =
        lines_of("i=0; while [ $i -le 2000 ]; do printf '%d%%\\r' $i; i=$((i+1)); done; echo done");
    let seconds = start.elapsed().as_secs() as usize;
    // The first state, about one per second after it, the last state, then the line.
    assert!(
        lines.len() <= seconds + 4,
        "{} lines in {seconds}s",
        lines.len()
    );
    assert_eq!(lines.first().map(String::as_str), Some("0%"));
    assert_eq!(&lines[lines.len() - 2..], ["2000%", "done"]);
}

#[test]
fn a_progress_state_left_at_the_end_of_output_is_kept() {
    assert_eq!(
        lines_of("printf '10%%\\r'; printf '50%%\\r'"),
        ["10%", "50%"]
    );
}
