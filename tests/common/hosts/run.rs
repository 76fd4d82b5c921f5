//! Commands with a bound on how long they run.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Reads `from` to its end into a shared buffer, on a thread of its own.
fn drain(
    mut from: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let into = buf.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, reader)
}

/// Waits until `reader` ends, at most until `deadline` (a process left in the background
/// by the command may hold the pipe open for ever: then what was read so far is taken).
fn settle(reader: std::thread::JoinHandle<()>, deadline: Instant) {
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if reader.is_finished() {
        let _ = reader.join();
    }
}

/// Runs `cmd` (`input` on its stdin, else nothing; output captured) in a process group of
/// its own, killed with its group after `timeout`: then its status says SIGKILL and its
/// standard error ends with a line saying so.
pub fn output_within(
    mut cmd: Command,
    input: Option<Vec<u8>>,
    timeout: Duration,
) -> std::io::Result<Output> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let mut child = cmd.spawn()?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // On a thread: a command that does not read it must not block this one.
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
    }
    let (out, out_reader) = drain(child.stdout.take().expect("piped"));
    let (err, err_reader) = drain(child.stderr.take().expect("piped"));
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let group = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.kill();
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let drained = Instant::now() + Duration::from_secs(2);
    settle(out_reader, drained);
    settle(err_reader, drained);
    let stdout = std::mem::take(&mut *out.lock().unwrap());
    let mut stderr = std::mem::take(&mut *err.lock().unwrap());
    if timed_out {
        stderr.extend_from_slice(format!("\n(timed out after {timeout:?}: killed)\n").as_bytes());
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Runs `program args` within `timeout`; an error says what failed, with its standard error.
pub fn checked(program: &str, args: &[&str], timeout: Duration) -> Result<Output, String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out =
        output_within(cmd, None, timeout).map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim(),
            if out.stderr.is_empty() {
                format!(" ({})", out.status)
            } else {
                String::new()
            }
        ))
    }
}

/// Whether `program` is found in PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file()))
    })
}
