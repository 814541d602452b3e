//! `yuqing policy list` and `yuqing policy report ID`: the `[[policies]]` risk watch (Art. 8)
//! — each policy's window, documents found and current level; one policy's assessment as
//! text, HTML (with the trend chart) or CSV, to stdout or a file. Read-only; usable while the
//! daemon runs (the daemon finds the documents every 10 minutes, `run --once` at its end). A
//! database that does not exist yet gives an assessment without documents (and is not created).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;

use super::report::{Format, emit};
use crate::config::Config;
use crate::report::policy::PolicyAssessment;
use crate::report::policy_render;
use crate::response::policy::PolicyWatch;

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Every watched policy: window, documents found, current level (政策风险监测一览)
    List {
        /// The moment to assess at, "YYYY-MM-DD HH:MM" in the configured timezone or RFC 3339 [default: now]
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// One policy's risk assessment (政策舆情风险评估): baseline, days, level, reasons,
    /// the most engaged documents, the response plan
    Report(PolicyReportArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct PolicyReportArgs {
    /// The policy's id in [[policies]]
    pub id: String,
    /// Output format (格式)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write to this file instead of stdout (an existing file only with --force)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Overwrite the --output file when it exists
    #[arg(long, requires = "output")]
    pub force: bool,
    /// The moment to assess at, "YYYY-MM-DD HH:MM" in the configured timezone or RFC 3339 [default: now]
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

pub(super) fn run(config: &Config, command: &PolicyCommand) -> anyhow::Result<ExitCode> {
    let at = match command {
        PolicyCommand::List { at } | PolicyCommand::Report(PolicyReportArgs { at, .. }) => at,
    };
    let now = match at {
        None => Utc::now(),
        Some(text) => match super::briefing::parse_time(text, config.timezone) {
            Some(t) => t,
            None => {
                eprintln!("--at \"{text}\" 无效：请写 \"YYYY-MM-DD HH:MM\"（本地时间）或 RFC 3339 时间");
                return Ok(ExitCode::from(1));
            }
        },
    };
    let store = super::existing_store(config)?;
    let assess = |p: &PolicyWatch| -> anyhow::Result<PolicyAssessment> {
        match &store {
            Some(s) => PolicyAssessment::load(s, config, p, now).map_err(|e| anyhow::anyhow!(e.describe_zh())),
            None => Ok(PolicyAssessment::build(p, &config.policy_risk, config.timezone, &[], Vec::new(), now)),
        }
    };
    match command {
        PolicyCommand::List { .. } => {
            if config.policies.is_empty() {
                println!("未配置 [[policies]]：在 yuqing.toml 中添加要监测的重大政策（见 README）。");
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = Vec::new();
            for p in &config.policies {
                let a = assess(p)?;
                let found = match &store {
                    Some(s) => s.policy_document_count(&p.id)?,
                    None => 0,
                };
                rows.push(vec![
                    p.id.clone(),
                    p.name.clone(),
                    config.response.org.section_label(&p.section),
                    format!("{} 至 {}", p.first_day(), p.last_day()),
                    p.publish.to_string(),
                    a.status.label_zh().to_string(),
                    found.to_string(),
                    a.current.level.label_zh().to_string(),
                ]);
            }
            print!(
                "{}",
                crate::report::text::table(
                    &["id", "政策", "负责科室", "监测期", "发布日", "状态", "相关信息", "当前等级"],
                    &rows
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Report(args) => {
            let Some(policy) = config.policy(&args.id) else {
                let ids: Vec<&str> = config.policies.iter().map(|p| p.id.as_str()).collect();
                let known = if ids.is_empty() { "（未配置 [[policies]]）".to_string() } else { ids.join("、") };
                eprintln!("没有 id 为 \"{}\" 的政策。已配置的政策：{known}", args.id);
                return Ok(ExitCode::from(1));
            };
            if let Some(s) = &store
                && s.policy_scan(&policy.id)?.is_none_or(|scan| scan.selection != policy.selection_key())
            {
                eprintln!(
                    "注意：政策 {} 的相关信息尚未按当前话题词查找；守护进程每 10 分钟查找一次，也可运行 yuqing run --once",
                    policy.id
                );
            }
            let a = assess(policy)?;
            let bytes = match args.format {
                Format::Text => policy_render::text(&a, config).into_bytes(),
                Format::Html => policy_render::html(&a, config).into_bytes(),
                Format::Csv => policy_render::csv(&a, config).map_err(|e| anyhow::anyhow!(e.describe_zh()))?,
            };
            emit(args.output.as_deref(), &bytes, args.force, |path| {
                format!(
                    "已生成政策“{}”的舆情风险评估（当前等级：{}）：{}",
                    policy.name,
                    a.current.level.label_zh(),
                    path.display()
                )
            })
        }
    }
}
