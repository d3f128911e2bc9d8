//! What the benches share: timings of repeated batches and the result block they print.
//!
//! A bench times samples: single calls, or batches of operations (a whole scan), each counted
//! as its time per operation. The block reports the median, the fastest and the overall mean
//! of those, and ratios against baselines timed in the same run, which say more than absolute
//! numbers on a shared, noisy machine.

// Compiled into each bench crate, which may not use every helper.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The samples of one measurement. A sample is one timed batch of operations (a single call,
/// or a whole scan of many deposits) and counts as the batch's time divided by its size.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Time per operation of each sample.
    per_op: Vec<Duration>,
    /// All samples' time, for the overall mean.
    total: Duration,
    /// All samples' operations, for the overall mean.
    ops: u64,
}

impl Timings {
    /// Records one sample of `ops` operations that took `elapsed`.
    pub fn add(&mut self, elapsed: Duration, ops: usize) {
        let ops = ops.max(1);
        self.per_op
            .push(elapsed / u32::try_from(ops).unwrap_or(u32::MAX));
        self.total += elapsed;
        self.ops += ops as u64;
    }

    /// Records one sample of `ops` operations started at `started`.
    pub fn add_since(&mut self, started: Instant, ops: usize) {
        self.add(started.elapsed(), ops);
    }

    /// The median sample's time per operation (the upper median for an even count). With one
    /// sample per call it is the typical call, untouched by rare stalls.
    pub fn median(&self) -> Duration {
        let mut sorted = self.per_op.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// The fastest sample's time per operation.
    pub fn min(&self) -> Duration {
        self.per_op.iter().min().copied().unwrap_or_default()
    }

    /// All samples' time over all their operations: what sustained throughput sees, stalls
    /// included.
    pub fn mean(&self) -> Duration {
        self.total / u32::try_from(self.ops.max(1)).unwrap_or(u32::MAX)
    }

    /// How many samples took longer than `limit` per operation.
    pub fn slower_than(&self, limit: Duration) -> usize {
        self.per_op.iter().filter(|d| **d > limit).count()
    }

    /// How many samples were recorded.
    pub fn samples(&self) -> usize {
        self.per_op.len()
    }
}

/// Operations per second when one takes `per_op`.
pub fn per_second(per_op: Duration) -> f64 {
    let secs = per_op.as_secs_f64();
    if secs > 0.0 {
        1.0 / secs
    } else {
        f64::INFINITY
    }
}

/// A duration in the unit that reads best.
pub fn show(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 1.0 {
        format!("{secs:.3} s")
    } else if secs >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else {
        format!("{:.2} µs", secs * 1e6)
    }
}

/// The result block, printed at the end of a bench.
pub struct Report {
    /// The bench's name, in the block's frame.
    name: &'static str,
    /// The lines so far.
    lines: Vec<String>,
}

impl Report {
    /// An empty block for bench `name`.
    pub fn new(name: &'static str) -> Report {
        Report {
            name,
            lines: Vec::new(),
        }
    }

    /// A free-form line (setup facts, notes).
    pub fn note(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// A measurement: median, fastest and mean time per operation, and the rates the median
    /// and the mean give, in `unit` (what one operation handles) per second.
    pub fn timing(&mut self, label: &str, timings: &Timings, unit: &str) {
        self.lines.push(format!(
            "  {label:<46} median {:>10}  min {:>10}  mean {:>10}  ({} samples)",
            show(timings.median()),
            show(timings.min()),
            show(timings.mean()),
            timings.samples(),
        ));
        self.lines.push(format!(
            "  {:<46} => {:>10.1} {unit}/s at the median, {:>10.1} {unit}/s overall (mean)",
            "",
            per_second(timings.median()),
            per_second(timings.mean()),
        ));
    }

    /// The ratio `numerator / denominator` of two times, labelled with what it means.
    pub fn ratio(&mut self, label: &str, numerator: Duration, denominator: Duration) {
        let ratio = numerator.as_secs_f64() / denominator.as_secs_f64().max(f64::MIN_POSITIVE);
        self.lines.push(format!("  {label:<60} = {ratio:>9.2}"));
    }

    /// Prints the block to standard output.
    pub fn print(&self) {
        let rule = "=".repeat(100);
        println!("\n{rule}\nbench {}\n{rule}", self.name);
        for line in &self.lines {
            println!("{line}");
        }
        println!("{rule}");
    }
}
