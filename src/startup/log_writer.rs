//! Where log lines go: stderr, through a bounded queue that a thread of its own drains, so that
//! whatever happens to stderr (closed by a dead log reader, a full pipe nobody reads, a slow
//! terminal) logging never fails, panics or blocks the server. Lines that do not fit in the
//! queue are dropped and counted; write errors are ignored.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing_subscriber::fmt::MakeWriter;

/// Lines waiting for stderr before new ones are dropped.
const QUEUE_LINES: usize = 4096;

struct Shared {
    /// Lines queued and not yet written (or given up on).
    pending: AtomicUsize,
    dropped: AtomicU64,
}

/// A cheap handle that queues lines for stderr; clones share one queue and one writer thread.
#[derive(Clone)]
pub struct LogWriter {
    tx: SyncSender<Vec<u8>>,
    shared: Arc<Shared>,
}

impl LogWriter {
    /// The process's log writer, started on first use.
    pub fn global() -> &'static Self {
        static WRITER: OnceLock<LogWriter> = OnceLock::new();
        WRITER.get_or_init(|| Self::start(io::stderr))
    }

    /// Starts the thread that writes queued lines to `sink()`'s writer.
    fn start<W: Write, F: Fn() -> W + Send + 'static>(sink: F) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE_LINES);
        let shared = Arc::new(Shared { pending: AtomicUsize::new(0), dropped: AtomicU64::new(0) });
        let counts = shared.clone();
        let spawned = std::thread::Builder::new().name("oxify-log".into()).spawn(move || {
            for line in rx {
                let mut out = sink();
                let lost = counts.dropped.swap(0, Ordering::Relaxed);
                if lost > 0 {
                    let _ = writeln!(out, "oxify-api: {lost} log lines dropped: stderr was not keeping up");
                }
                // Errors (a closed or broken stderr) are ignored: there is nowhere to report them.
                let _ = out.write_all(&line);
                let _ = out.flush();
                counts.pending.fetch_sub(1, Ordering::Relaxed);
            }
        });
        if spawned.is_err() {
            // Without the thread every send fails and lines are dropped: logging still never blocks.
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Self { tx, shared }
    }

    /// Queues one line (or several) for stderr, dropping it when the queue is full.
    pub fn send(&self, bytes: &[u8]) {
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(bytes.to_vec()) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.pending.fetch_sub(1, Ordering::Relaxed);
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits up to `limit` for the queued lines to be written (at exit, so the last lines are
    /// not lost); `false` when stderr did not take them in time.
    pub fn flush(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.shared.pending.load(Ordering::Relaxed) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes one line to stdout, ignoring a closed or broken stdout (`println!` would panic).
pub fn print_line(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A sink that fails every write, like a stderr whose reader is gone.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
    }

    #[test]
    fn a_broken_stderr_neither_fails_nor_panics_the_logger() {
        let mut writer = LogWriter::start(|| Broken);
        for _ in 0..10 {
            assert_eq!(writer.write(b"line\n").unwrap(), 5);
        }
        assert!(writer.flush(Duration::from_secs(5)));
    }

    #[test]
    fn a_stuck_stderr_drops_lines_instead_of_blocking() {
        static GATE: Mutex<()> = Mutex::new(());
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                drop(GATE.lock());
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let held = GATE.lock().unwrap();
        let writer = LogWriter::start(|| Stuck);
        let started = Instant::now();
        for _ in 0..(QUEUE_LINES * 2) {
            writer.send(b"line\n");
        }
        assert!(started.elapsed() < Duration::from_secs(5), "sending never waits for stderr");
        assert!(writer.shared.dropped.load(Ordering::Relaxed) > 0);
        assert!(!writer.flush(Duration::from_millis(20)), "stderr is stuck");
        drop(held);
        assert!(writer.flush(Duration::from_secs(5)));
    }
}
