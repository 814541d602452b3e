//! `yuqing report`: the periodic briefing (Art. 10 定期通报) and the yearly assessment
//! (Art. 15) as text, CSV or printable HTML, to stdout or a file. Read-only; usable while the
//! daemon runs. A database that does not exist yet gives a report with no events (and is
//! not created).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};

use crate::config::Config;
use crate::report::{Period, Report, ReportError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// 纯文本（终端、邮件正文）
    Text,
    /// 网页，含图表，可打印（年度考核）
    Html,
    /// 每个事件一行，UTF-8 带 BOM（Excel）
    Csv,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// First day, YYYY-MM-DD in the configured timezone [default: six days before --to]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day, included [default: today]
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Output format (格式)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to this file instead of stdout (an existing file only with --force)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the --output file when it exists
    #[arg(long, requires = "output")]
    pub force: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| format!("日期应写成 YYYY-MM-DD，例如 2025-01-31：{s}"))
}

/// Writes a rendered report to `output` (a new file, or over an existing one with `force`)
/// or, without it, to standard output; `done` words the line printed once a file is
/// written. An existing file without `force` is refused (exit 1).
pub(super) fn emit(
    output: Option<&std::path::Path>,
    bytes: &[u8],
    force: bool,
    done: impl FnOnce(&std::path::Path) -> String,
) -> anyhow::Result<ExitCode> {
    let Some(path) = output else {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    if !write_output(path, bytes, force)? {
        eprintln!("输出文件 {} 已存在，未覆盖。请换一个文件名，或加 --force 覆盖它。", path.display());
        return Ok(ExitCode::from(1));
    }
    eprintln!("{}", done(path));
    Ok(ExitCode::SUCCESS)
}

/// Writes the report to `path`: a new file, or with `force` over an existing one. `false`
/// when the file exists and `force` is not given (checked and created in one step).
fn write_output(path: &std::path::Path, bytes: &[u8], force: bool) -> anyhow::Result<bool> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "无法写入 {}：请确认 --output 所在的目录存在、可以写入（{e}）",
                path.display()
            ));
        }
    };
    file.write_all(bytes).map_err(|e| anyhow::anyhow!("无法写入 {}：{e}", path.display()))?;
    Ok(true)
}

pub(super) fn report(config: &Config, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let now = Utc::now();
    let period = match Period::resolve(args.from, args.to, now, config.timezone) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("统计期间无效：{}", e.describe_zh());
            return Ok(ExitCode::from(1));
        }
    };
    let report = match super::existing_store(config)? {
        Some(store) => Report::load(&store, config, period, now).map_err(|e| anyhow::anyhow!(e.describe_zh()))?,
        None => Report::build(config, period, Vec::new(), now),
    };
    let bytes = match args.format {
        Format::Text => crate::report::text::render(&report, config).into_bytes(),
        Format::Html => crate::report::html::render(&report, config).into_bytes(),
        Format::Csv => {
            crate::report::csv::render(&report, config).map_err(|e: ReportError| anyhow::anyhow!(e.describe_zh()))?
        }
    };
    emit(args.output.as_deref(), &bytes, args.force, |path| {
        format!(
            "已生成 {} 至 {} 的舆情通报（{} 件事件）：{}",
            period.from,
            period.to,
            report.totals.events,
            path.display()
        )
    })
}
