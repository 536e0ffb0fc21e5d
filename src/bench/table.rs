//! The printed result: one row per figure, with its goal and the command
//! that reproduces it.

use super::*;

/// One row of the results table.
pub(super) struct Figure {
    what: String,
    value: String,
    goal: String,
    /// Which `--only` part reproduces it (`None`: any run).
    part: Option<&'static str>,
}

impl Figure {
    pub(super) fn new(
        what: String,
        value: String,
        goal: &str,
        part: Option<&'static str>,
    ) -> Figure {
        Figure {
            what,
            value,
            goal: goal.to_string(),
            part,
        }
    }
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(super) fn print_table(args: &BenchArgs, figures: &[Figure]) {
    println!("| measurement | result | goal | reproduce |");
    println!("| --- | --- | --- | --- |");
    for figure in figures {
        println!(
            "| {} | {} | {} | `{}` |",
            figure.what,
            figure.value,
            figure.goal,
            args.command(figure.part)
        );
    }
    println!();
    println!("whole run: {}", args.command(None));
}
