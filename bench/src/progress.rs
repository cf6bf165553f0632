//! The progress line on stderr while a scenario runs: only when stderr is a terminal and
//! `--json` is off.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

/// Redraw interval.
const TICK: Duration = Duration::from_millis(250);

/// A running progress line; [`Progress::finish`] clears it.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a line that shows `label` and whatever `status` returns, every [`TICK`].
    pub(crate) fn start(enabled: bool, label: &str, status: impl Fn() -> String + Send + Sync + 'static) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None, ticker: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {msg}").expect("valid template"));
        bar.set_prefix(label.to_owned());
        let status = Arc::new(status);
        let ticker = {
            let bar = bar.clone();
            tokio::spawn(async move {
                loop {
                    bar.set_message(status());
                    bar.tick();
                    tokio::time::sleep(TICK).await;
                }
            })
        };
        Progress { bar: Some(bar), ticker: Some(ticker) }
    }

    /// Stops and clears the line.
    pub(crate) fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
