//! Benchmark of the notes index on a real folder in a temporary directory. Each run
//! generates 10,000 notes (1-3 KB each, YAML frontmatter with a title, tags and a date, a
//! body drawn from a vocabulary where a few hundred words are shared by many notes) and
//! measures (1) a cold index into a new database; (2) a refresh with nothing changed, which
//! should only stat the files; (3) a refresh after one note changed; (4) search latency,
//! p50 and p99 over 200 queries of one to three words; (5) one large note (a 50 MB journal
//! by default) added, then searches that match it near its start, only at its end, and in
//! every paragraph (p50 over 30). Every figure is the median of the runs (3 by default) and
//! is printed beside its target; targets are shown, never asserted.
//!
//! Run it with `cargo run --release -p brain-notes --example notes-bench`. Options:
//! `--json` (one `{"name", "value", "unit"}` object per line on stdout; the rest goes to
//! stderr), `--runs N`, `--notes N`, `--large-mb N`.

#![allow(clippy::print_stdout)]

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use brain_notes::NotesIndex;
use serde_json::Value;

const USAGE: &str = "usage: notes-bench [--json] [--runs N] [--notes N] [--large-mb N]";

const QUERIES: usize = 200;

struct Options {
    json: bool,
    runs: usize,
    notes: usize,
    large_mb: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        json: false,
        runs: 3,
        notes: 10_000,
        large_mb: 50,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|value| value.parse().ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name} needs a positive number\n{USAGE}"))
        };
        match arg.as_str() {
            "--json" => options.json = true,
            "--runs" => options.runs = number("--runs")?,
            "--notes" => options.notes = number("--notes")?,
            "--large-mb" => options.large_mb = number("--large-mb")?,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> Result<(), Box<dyn Error>> {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "notes-bench: {} notes, {} runs, {QUERIES} queries per run",
        options.notes, options.runs
    );
    let mut runs = Vec::new();
    for run in 1..=options.runs {
        let figures = run_once(options.notes, options.large_mb, run as u64)?;
        eprintln!(
            "run {run}: cold {:.2} s, unchanged {:.1} ms, one change {:.1} ms, search p50 {:.2} ms p99 {:.2} ms, {} MB note: indexed in {:.2} s, searched in {:.2} ms (p50)",
            figures.cold.as_secs_f64(),
            ms(figures.unchanged),
            ms(figures.one_change),
            ms(figures.search_p50),
            ms(figures.search_p99),
            options.large_mb,
            figures.large_index.as_secs_f64(),
            ms(figures.large_search_p50),
        );
        runs.push(figures);
    }
    let median = |pick: fn(&Figures) -> Duration| {
        let mut values: Vec<Duration> = runs.iter().map(pick).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    let report = [
        ("cold_index", median(|f| f.cold).as_secs_f64(), "s", "< 5 s"),
        (
            "unchanged_reindex",
            ms(median(|f| f.unchanged)),
            "ms",
            "< 200 ms",
        ),
        (
            "one_change_reindex",
            ms(median(|f| f.one_change)),
            "ms",
            "-",
        ),
        ("search_p50", ms(median(|f| f.search_p50)), "ms", "-"),
        ("search_p99", ms(median(|f| f.search_p99)), "ms", "-"),
        ("large_note_index", ms(median(|f| f.large_index)), "ms", "-"),
        (
            "large_note_search_p50",
            ms(median(|f| f.large_search_p50)),
            "ms",
            "< 50 ms",
        ),
    ];
    for (name, value, unit, target) in report {
        if options.json {
            // Keys in the documented order; a value that is not a number is `null`.
            let value = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
            println!(
                "{{\"name\":{},\"value\":{value},\"unit\":{}}}",
                Value::from(name),
                Value::from(unit)
            );
        } else {
            println!("{name:<20} {value:>10.2} {unit:<3} (target {target})");
        }
    }
    Ok(())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct Figures {
    cold: Duration,
    unchanged: Duration,
    one_change: Duration,
    search_p50: Duration,
    search_p99: Duration,
    large_index: Duration,
    large_search_p50: Duration,
}

fn run_once(notes: usize, large_mb: usize, seed: u64) -> Result<Figures, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let notes_dir = dir.path().join("notes");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
    let vocabulary = vocabulary(&mut rng);
    let generated = Instant::now();
    let bytes = generate(&notes_dir, notes, &vocabulary, &mut rng)?;
    eprintln!(
        "  generated {notes} notes ({:.1} MB) in {:.2} s",
        bytes as f64 / 1e6,
        generated.elapsed().as_secs_f64()
    );

    let index = NotesIndex::open(&dir.path().join("notes.db"), &notes_dir)?;
    let started = Instant::now();
    let report = index.reindex(&mut |_, _, _| {}, &|| false)?;
    let cold = started.elapsed();
    check(
        report.added == notes as u64,
        "the cold index added every note",
    )?;

    let started = Instant::now();
    let report = index.reindex(&mut |_, _, _| {}, &|| false)?;
    let unchanged = started.elapsed();
    check(report.unchanged == notes as u64, "nothing changed")?;

    let changed = notes_dir.join("n00040.md");
    let text = std::fs::read_to_string(&changed)?;
    std::fs::write(&changed, format!("{text}\nAn added line.\n"))?;
    let started = Instant::now();
    let report = index.reindex(&mut |_, _, _| {}, &|| false)?;
    let one_change = started.elapsed();
    check(report.updated == 1, "one note changed")?;

    let mut latencies = Vec::with_capacity(QUERIES);
    let mut hits = 0;
    for _ in 0..QUERIES {
        let words = 1 + rng.below(3);
        let query: Vec<&str> = (0..words).map(|_| vocabulary.pick(&mut rng)).collect();
        let query = query.join(" ");
        let started = Instant::now();
        hits += index.search(&query, 10)?.len();
        latencies.push(started.elapsed());
    }
    latencies.sort_unstable();
    eprintln!("  {hits} hits over {QUERIES} queries");
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let (search_p50, search_p99) = (percentile(50), percentile(99));

    // One large journal: "zeppelin" near its start, "walrus" only at its end, "errands" in
    // every paragraph.
    let paragraph = "Another day of ordinary notes about meetings, errands and small plans.\n";
    let mut journal = String::from("---\ntitle: Journal\n---\nThe zeppelin flew over.\n");
    while journal.len() < large_mb << 20 {
        journal.push_str(paragraph);
    }
    journal.push_str("Finally a walrus appeared.\n");
    std::fs::write(notes_dir.join("journal.md"), &journal)?;
    let started = Instant::now();
    let report = index.reindex(&mut |_, _, _| {}, &|| false)?;
    let large_index = started.elapsed();
    check(report.added == 1, "the journal was added")?;
    let mut latencies = Vec::new();
    for _ in 0..10 {
        for query in ["zeppelin", "walrus", "errands"] {
            let started = Instant::now();
            let hits = index.search(query, 10)?;
            latencies.push(started.elapsed());
            check(
                hits.iter().any(|h| h.path == "journal.md"),
                "the journal is found",
            )?;
        }
    }
    latencies.sort_unstable();
    Ok(Figures {
        cold,
        unchanged,
        one_change,
        search_p50,
        search_p99,
        large_index,
        large_search_p50: latencies[latencies.len() / 2],
    })
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok {
        Ok(())
    } else {
        Err(format!("benchmark sanity check failed: {what}").into())
    }
}

/// Words with a skewed distribution: a few hundred common words most notes share, and a
/// long tail of rarer ones.
struct Vocabulary {
    common: Vec<String>,
    rare: Vec<String>,
    tags: Vec<String>,
}

impl Vocabulary {
    fn pick<'a>(&'a self, rng: &mut Rng) -> &'a str {
        if rng.below(10) < 7 {
            &self.common[rng.below(self.common.len())]
        } else {
            &self.rare[rng.below(self.rare.len())]
        }
    }
}

fn vocabulary(rng: &mut Rng) -> Vocabulary {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "ru", "sta", "ti", "vo", "xe", "zu", "bra", "che", "dri", "fo",
        "gle", "hu", "ji", "kro", "lu", "ma", "no", "pe", "qui", "ra", "se", "to", "un", "ve",
    ];
    // Syllable count `None`: three or four.
    let mut word = |syllables: Option<usize>| -> String {
        let syllables = syllables.unwrap_or_else(|| 3 + rng.below(2));
        (0..syllables)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect()
    };
    Vocabulary {
        common: (0..300).map(|_| word(Some(2))).collect(),
        rare: (0..20_000).map(|_| word(None)).collect(),
        tags: (0..60).map(|_| word(Some(2))).collect(),
    }
}

/// Writes `count` notes, returning the bytes written.
fn generate(
    dir: &Path,
    count: usize,
    vocabulary: &Vocabulary,
    rng: &mut Rng,
) -> Result<usize, Box<dyn Error>> {
    let mut bytes = 0;
    for folder in 0..20 {
        std::fs::create_dir_all(dir.join(format!("area-{folder:02}")))?;
    }
    for n in 0..count {
        let title: Vec<&str> = (0..3 + rng.below(4))
            .map(|_| vocabulary.pick(rng))
            .collect();
        let tags: Vec<&str> = (0..1 + rng.below(4))
            .map(|_| vocabulary.tags[rng.below(vocabulary.tags.len())].as_str())
            .collect();
        let mut text = format!(
            "---\ntitle: {}\ntags: [{}]\ndate: 20{:02}-{:02}-{:02}\n---\n\n# {}\n\n",
            title.join(" "),
            tags.join(", "),
            20 + rng.below(6),
            1 + rng.below(12),
            1 + rng.below(28),
            title.join(" "),
        );
        let target = 1000 + rng.below(2000);
        while text.len() < target {
            let sentence: Vec<&str> = (0..6 + rng.below(12))
                .map(|_| vocabulary.pick(rng))
                .collect();
            text.push_str(&sentence.join(" "));
            text.push_str(if rng.below(6) == 0 { ".\n\n" } else { ". " });
        }
        text.push('\n');
        bytes += text.len();
        // Some notes at the top, most in folders, like a real brain.
        let path = if n % 10 == 0 {
            dir.join(format!("n{n:05}.md"))
        } else {
            dir.join(format!("area-{:02}/n{n:05}.md", n % 20))
        };
        std::fs::write(path, text)?;
    }
    Ok(bytes)
}

/// SplitMix64: deterministic notes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
