//! `yuqing db backup|check|prune|migrate-to`: the database's maintenance, usable while the
//! daemon runs; `migrate-to` copies the SQLite store into PostgreSQL (`store::pg::copy`).
//! With `[storage] url`, `prune` runs on PostgreSQL and `backup` and `check` (of the
//! configured store) are refused, naming the server's tools instead (exit 2).
//!
//! Exit codes: 0 done (check: no problem found); 1 problems found, the target exists, or
//! `--file` names no file, or (migrate-to) the target holds data or the copy did not verify;
//! 2 a database cannot be read or reached.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;

use crate::config::Config;
use crate::store::disk::human;
use crate::store::maintenance;

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Copy the database to PATH with SQLite's online backup, safe while the daemon runs (在线备份);
    /// SQLite only (PostgreSQL: pg_dump)
    Backup {
        /// The new file (must not exist)
        path: PathBuf,
    },
    /// Check the database's integrity and foreign keys; exit 1 on any problem (完整性检查);
    /// SQLite only (PostgreSQL: pg_amcheck)
    Check {
        /// Check this file (e.g. a backup) instead of the configured database
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Delete what [retention] no longer keeps (清理过期数据); the daemon also does this daily
    Prune {
        /// Count what would be deleted, delete nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the SQLite database into an empty PostgreSQL database and verify the row counts
    /// (迁移到 PostgreSQL，试验中)
    MigrateTo {
        /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the database must exist)
        url: String,
        /// Copy this SQLite file instead of the configured [storage] path
        #[arg(long, value_name = "PATH")]
        from: Option<PathBuf>,
        /// Empty the target database first if it already holds data
        #[arg(long)]
        force: bool,
    },
}

pub fn run(config: &Config, command: &DbCommand) -> anyhow::Result<ExitCode> {
    if let Some(url) = &config.storage_url
        && let Some(instead) = sqlite_only(command)
    {
        eprintln!("错误：[storage] url = {url} 选择了 PostgreSQL；{instead}");
        return Ok(ExitCode::from(2));
    }
    match command {
        DbCommand::Backup { path } => backup(config, path),
        DbCommand::Check { file } => check(file.as_ref().unwrap_or(&config.storage_path), file.is_some()),
        DbCommand::Prune { dry_run } => prune(config, *dry_run),
        DbCommand::MigrateTo { url, from, force } => {
            migrate_to(from.as_ref().unwrap_or(&config.storage_path), url, *force)
        }
    }
}

/// What to use instead of a subcommand that works on the SQLite file only, when the store
/// is PostgreSQL; None for those that work on both (prune; check of a given file;
/// migrate-to, which reads SQLite by definition).
fn sqlite_only(command: &DbCommand) -> Option<&'static str> {
    match command {
        DbCommand::Backup { .. } => Some(
            "yuqing db backup 只用于 SQLite 数据库文件。PostgreSQL 请用服务器的工具备份，例如 pg_dump -Fc -f yuqing.dump \"postgres://…\"（可在守护进程运行时进行），用 pg_restore 恢复。",
        ),
        DbCommand::Check { file: None } => Some(
            "yuqing db check 只检查 SQLite 数据库文件（要检查 SQLite 备份请加 --file PATH）。PostgreSQL 请用服务器的工具，例如 pg_amcheck 检查表和索引。",
        ),
        DbCommand::Check { file: Some(_) } | DbCommand::Prune { .. } | DbCommand::MigrateTo { .. } => None,
    }
}

fn backup(config: &Config, target: &Path) -> anyhow::Result<ExitCode> {
    match maintenance::backup(&config.storage_path, target) {
        Ok(report) => {
            println!(
                "备份完成：{} → {}（{} 页，{}），已通过完整性检查。",
                config.storage_path.display(),
                target.display(),
                report.pages,
                human(report.bytes)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::store::StoreError::TargetExists(path)) => {
            eprintln!("备份目标 {} 已存在，未覆盖。请换一个文件名。", path.display());
            Ok(ExitCode::from(1))
        }
        Err(e) if e.is_corruption() => {
            eprintln!("备份失败：{}。请运行 yuqing db check 查看详情。", e.describe_zh());
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(anyhow::anyhow!("备份失败：{}", e.describe_zh())),
    }
}

/// `given`: the path came from `--file` (a missing file is then a mistyped argument).
fn check(path: &Path, given: bool) -> anyhow::Result<ExitCode> {
    match maintenance::integrity_check(path) {
        Ok(problems) if problems.is_empty() => {
            println!("数据库 {} 完整性检查通过，外键一致。", path.display());
            Ok(ExitCode::SUCCESS)
        }
        Ok(problems) => {
            println!("数据库 {} 已损坏：发现 {} 处问题。", path.display(), problems.len());
            for p in problems.iter().take(20) {
                println!("  {p}");
            }
            if problems.len() > 20 {
                println!("  ……另有 {} 处", problems.len() - 20);
            }
            println!("{RECOVERY_HINT}");
            Ok(ExitCode::from(1))
        }
        Err(e) if e.is_corruption() => {
            println!("数据库 {} 已损坏，无法读取：{}", path.display(), e.describe_zh());
            println!("{RECOVERY_HINT}");
            Ok(ExitCode::from(1))
        }
        Err(crate::store::StoreError::Missing(_)) if given => {
            eprintln!("错误：数据库 {} 不存在：请检查 --file 给出的路径（如备份文件名）", path.display());
            Ok(ExitCode::from(1))
        }
        Err(crate::store::StoreError::Missing(_)) => Err(anyhow::anyhow!(
            "数据库 {} 尚未建立，没有可检查的内容：守护进程还没有运行过，或 yuqing.toml 的 [storage] path 写错了",
            path.display()
        )),
        Err(e) => Err(anyhow::anyhow!("无法检查数据库 {}：{}", path.display(), e.describe_zh())),
    }
}

const RECOVERY_HINT: &str = "请停止服务（systemctl stop yuqing），保留损坏的文件，用最近一次通过检查的备份替换它后再启动；详见 README 的运维一节。";

fn prune(config: &Config, dry_run: bool) -> anyhow::Result<ExitCode> {
    let mut store = super::open_store(config)?;
    let r = store.prune(config.retention.retention(), Utc::now(), None, dry_run)?;
    let verb = if dry_run { "将删除" } else { "已删除" };
    println!(
        "{verb}：文档 {} 篇（命中 {} 处，评论 {} 条），事件 {} 件（处置记录 {} 条），提醒 {} 条；保留去重标识 {} 个。",
        r.documents, r.hits, r.comments, r.events, r.actions, r.alerts, r.keys_kept
    );
    println!(
        "保留期限：文档 {} 天，事件、提醒与处置记录 {} 天（[retention]）。{}",
        config.retention.documents_days,
        config.retention.assessment_days,
        if dry_run { "（试运行，未删除任何数据）" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

fn migrate_to(sqlite: &Path, url: &str, force: bool) -> anyhow::Result<ExitCode> {
    use crate::store::pg::{PgError, PgUrl, copy};
    let url = match PgUrl::parse(url) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("错误：PostgreSQL 地址 {} 无效：{}", crate::store::pg::redact(url), e.describe_zh());
            return Ok(ExitCode::from(1));
        }
    };
    let mut client = match url.connect() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("错误：{}", e.describe_zh());
            return Ok(ExitCode::from(2));
        }
    };
    println!("正在把 {} 复制到 PostgreSQL {url} ……", sqlite.display());
    match copy::copy_sqlite(sqlite, &mut client, force) {
        Ok(report) => {
            println!("{:<20} {:>10}", "表", "行数（两边一致）");
            let mut total = 0i64;
            for (table, rows) in &report.tables {
                println!("{table:<20} {rows:>10}");
                total += rows;
            }
            println!(
                "复制完成：{} 张表共 {total} 行，逐表核对行数一致；检索表由事件文档重建 {} 行（{}）。",
                report.tables.len(),
                report.search_rows,
                if report.trigram { "pg_trgm 索引" } else { "未安装 pg_trgm，检索将逐行扫描" }
            );
            println!(
                "改用 PostgreSQL（试验中）：先停止守护进程再复制，然后在 yuqing.toml 的 [storage] 中把 path 换成 url = \"postgres://…\"（即上面的地址），守护进程和各命令即使用它；db backup、db check 只用于 SQLite，PostgreSQL 请用 pg_dump。"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (PgError::NotEmpty { .. } | PgError::CountMismatch { .. } | PgError::SchemaDrift { .. })) => {
            eprintln!("错误：{}", e.describe_zh());
            Ok(ExitCode::from(1))
        }
        Err(PgError::Store(crate::store::StoreError::Missing(path))) => {
            eprintln!("错误：SQLite 数据库 {} 不存在：请检查 [storage] path 或 --from", path.display());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("错误：复制失败，目标数据库未改变：{}", e.describe_zh());
            Ok(ExitCode::from(2))
        }
    }
}
