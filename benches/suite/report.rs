//! Results: rows of (ours, floor or peer, ratio), printed and written into BENCHMARKS.md
//! between the result markers.

use crate::stats::{Sample, fmt};
use std::fmt::Write;

pub struct Row {
    pub suite: &'static str,
    pub case: String,
    pub ours: Sample,
    pub unit: &'static str,
    /// What `ours` is compared with: a floor or a peer, with its own sample.
    pub against: Option<(String, Sample)>,
    /// Whether a higher value is better (throughput) or a lower one (time).
    pub higher_is_better: bool,
    pub target: String,
}

impl Row {
    pub fn new(
        suite: &'static str,
        case: impl Into<String>,
        ours: Sample,
        unit: &'static str,
        higher_is_better: bool,
    ) -> Self {
        Self { suite, case: case.into(), ours, unit, against: None, higher_is_better, target: String::new() }
    }

    pub fn against(mut self, name: impl Into<String>, sample: Sample) -> Self {
        self.against = Some((name.into(), sample));
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = target.into();
        self
    }

    /// How many times better than what it is compared with (>1 is better).
    pub fn advantage(&self) -> Option<f64> {
        let (_, other) = self.against.as_ref()?;
        let (a, b) = (self.ours.median(), other.median());
        let ratio = if self.higher_is_better { a / b } else { b / a };
        ratio.is_finite().then_some(ratio)
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn add(&mut self, row: Row) {
        let against = row.against.as_ref().map(|(n, s)| format!(" vs {n} {}", s.show(row.unit))).unwrap_or_default();
        let ratio = row.advantage().map(|r| format!(" => {r:.2}x")).unwrap_or_default();
        println!("[{}] {}: {}{against}{ratio}", row.suite, row.case, row.ours.show(row.unit));
        self.rows.push(row);
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("note: {text}");
        self.notes.push(text);
    }

    pub fn markdown(&self, header: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}\n");
        let _ = writeln!(
            out,
            "| Suite | Case | Ours: median (min–max) | Compared with: median (min–max) | Ours vs it | Target |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for r in &self.rows {
            let against =
                r.against.as_ref().map(|(n, s)| format!("{n}: {}", s.show(r.unit))).unwrap_or_else(|| "–".into());
            let ratio = r
                .advantage()
                .map(|v| format!("{}x {}", fmt(v), if r.higher_is_better { "the throughput" } else { "as fast" }))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {against} | {ratio} | {} |",
                r.suite,
                r.case,
                r.ours.show(r.unit),
                r.target
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// Replaces the text between the result markers of BENCHMARKS.md.
    pub fn write_into(&self, path: &str, header: &str) -> std::io::Result<()> {
        const START: &str = "<!-- results:start -->";
        const END: &str = "<!-- results:end -->";
        let text = std::fs::read_to_string(path).unwrap_or_else(|_| format!("# Benchmarks\n\n{START}\n{END}\n"));
        let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
            return Err(std::io::Error::other("BENCHMARKS.md has no result markers"));
        };
        let updated = format!("{}{START}\n{}{}", &text[..a], self.markdown(header), &text[b..]);
        std::fs::write(path, updated)
    }
}
