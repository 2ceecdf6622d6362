//! OCR with Debian's `tesseract-ocr` through its command: the image on stdin, the text (or TSV
//! with each word's confidence) on stdout, the process killed when the node is cancelled or
//! runs out of time. A missing command or language is found when a workflow is saved.

use crate::ports::RunnerError;
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Longest OCR of one image.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// The tesseract command and what it can read.
#[derive(Clone, Debug)]
pub struct Tesseract {
    /// The command (`tesseract`, or a path).
    pub command: String,
    /// Installed language data (`eng`, `osd`, ...); empty when the command is missing.
    pub languages: Vec<String>,
}

impl Tesseract {
    /// Asks `command --list-langs` what is installed (nothing when it cannot be run); once, at
    /// start.
    #[must_use]
    pub fn probe(command: &str) -> Self {
        let listed = std::process::Command::new(command).arg("--list-langs").stdin(Stdio::null()).output();
        let languages = match listed {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .skip(1) // "List of available languages in ...:"
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Self { command: command.to_owned(), languages }
    }

    /// Why `language` (`eng`, `eng+deu`) cannot be read here.
    #[must_use]
    pub fn problem(&self, language: &str) -> Option<String> {
        if self.languages.is_empty() {
            return Some(format!(
                "tesseract is not installed on this server (the command '{}' did not run): apt-get install tesseract-ocr tesseract-ocr-eng",
                self.command
            ));
        }
        let missing: Vec<&str> = language.split('+').filter(|l| !self.languages.iter().any(|k| k == l)).collect();
        (!missing.is_empty()).then(|| {
            format!(
                "tesseract has no language data for {} on this server (installed: {}; Debian packages tesseract-ocr-<lang>)",
                missing.join(", "),
                self.languages.join(", ")
            )
        })
    }

    /// The text of `image`, and its words with their confidence (0 to 100).
    ///
    /// # Errors
    /// Permanent when the command fails or cannot read the image; retryable when it overruns.
    pub async fn read(&self, image: &[u8], language: &str, cancel: &CancellationToken) -> Result<Value, RunnerError> {
        let tsv = self.run(image, language, "tsv", cancel).await?;
        let mut words = Vec::new();
        let mut lines: Vec<Vec<String>> = Vec::new();
        let mut line_key = None;
        for row in tsv.lines().skip(1) {
            let cols: Vec<&str> = row.split('\t').collect();
            if cols.len() < 12 || cols[0] != "5" || cols[11].trim().is_empty() {
                continue;
            }
            let key = (cols[2].to_owned(), cols[3].to_owned(), cols[4].to_owned());
            if line_key.as_ref() != Some(&key) {
                if line_key.as_ref().is_some_and(|(block, _, _)| *block != key.0) {
                    lines.push(Vec::new()); // a blank line between blocks
                }
                lines.push(Vec::new());
                line_key = Some(key);
            }
            let text = cols[11].trim().to_owned();
            let confidence: f64 = cols[10].parse().unwrap_or(0.0);
            let number = |i: usize| cols[i].parse::<u32>().unwrap_or(0);
            words.push(json!({"text": text, "confidence": confidence,
                "box": {"left": number(6), "top": number(7), "width": number(8), "height": number(9)}}));
            if let Some(line) = lines.last_mut() {
                line.push(text);
            }
        }
        let text = lines.iter().map(|l| l.join(" ")).collect::<Vec<_>>().join("\n");
        Ok(json!({"text": text, "words": words}))
    }

    async fn run(
        &self,
        image: &[u8],
        language: &str,
        format: &str,
        cancel: &CancellationToken,
    ) -> Result<String, RunnerError> {
        let mut child = Command::new(&self.command)
            .args(["stdin", "stdout", "-l", language, format])
            // One thread per OCR: Tesseract's OpenMP threads spin against each other and against
            // the server (a page took 50 s with them on a busy 2-core machine, 10 s without);
            // concurrent nodes still read pages in parallel.
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| RunnerError::Permanent(format!("tesseract could not be started: {e}")))?;
        let mut stdin = child.stdin.take().ok_or_else(|| RunnerError::Permanent("tesseract has no stdin".into()))?;
        let image = image.to_vec();
        // Written beside the read, so a large image cannot deadlock on a full pipe.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&image).await;
        });
        let output = tokio::select! {
            out = tokio::time::timeout(TIME_LIMIT, child.wait_with_output()) => out,
            () = cancel.cancelled() => return Err(RunnerError::Permanent("cancelled".into())),
        };
        writer.abort();
        let output = output
            .map_err(|_| RunnerError::retryable(format!("tesseract took longer than {} s", TIME_LIMIT.as_secs())))?
            .map_err(|e| RunnerError::Permanent(format!("tesseract failed: {e}")))?;
        if !output.status.success() {
            let said = String::from_utf8_lossy(&output.stderr);
            let said: String = said.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().join("; ");
            return Err(RunnerError::Permanent(format!("tesseract could not read the image: {said}")));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}
