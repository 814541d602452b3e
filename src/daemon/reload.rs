//! Hot reload of the configuration: what triggers it and what it may change.
//!
//! The daemon reloads on SIGHUP and when a file of the config directory changes:
//! `yuqing.toml`, `sources.toml`, another `*.toml` beside them (the holiday calendar),
//! `rumour.model`, or anything under `keywords/`. [`ConfigWatcher`] watches the directory
//! (not the files: editors save by writing a temporary file and renaming it over the old
//! one) and [`ConfigWatcher::changed`] waits until the changes have settled for
//! [`DEBOUNCE`], so one save — or a `cp -r` of a whole directory — is one reload.
//!
//! A new configuration is applied except for the settings a running process cannot change
//! ([`keep_restart_only`]: the database path and the `[http]` listen address); those are
//! reported as needing a restart and keep their running values. A broken configuration is
//! never applied: [`render_config_notice`] is the one notice the admin gets per broken
//! episode (the daemon keeps the flag), the log has every diagnostic with file and line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::config::{Config, Diagnostic, KEYWORDS_DIR};
use crate::model::AlertMessage;
use crate::notify::escape;

/// How long the directory must be quiet before a change is acted upon.
pub const DEBOUNCE: Duration = Duration::from_secs(1);

/// The most diagnostics quoted in the admin notice (the log has all of them).
const NOTICE_DIAGNOSTICS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot watch {path}: {source}")]
    Watch { path: PathBuf, source: notify::Error },
}

/// Watches the config directory (non-recursively) and `keywords/` (recursively).
pub struct ConfigWatcher {
    // Dropping the watcher stops the watch.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<PathBuf>,
}

impl ConfigWatcher {
    pub fn new(dir: &Path) -> Result<Self, ReloadError> {
        let (tx, events) = mpsc::unbounded_channel();
        let root = dir.to_path_buf();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if !is_change(&event.kind) {
                return;
            }
            for path in event.paths.into_iter().filter(|p| is_config_file(&root, p)) {
                let _ = tx.send(path);
            }
        })
        .map_err(|source| ReloadError::Watch { path: dir.to_path_buf(), source })?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|source| ReloadError::Watch { path: dir.to_path_buf(), source })?;
        let keywords = dir.join(KEYWORDS_DIR);
        if keywords.is_dir() {
            watcher
                .watch(&keywords, RecursiveMode::Recursive)
                .map_err(|source| ReloadError::Watch { path: keywords.clone(), source })?;
        }
        Ok(Self { _watcher: watcher, events })
    }

    /// Waits for a change, then until nothing more has changed for [`DEBOUNCE`]; returns
    /// the files that changed (deduplicated, in order), or `None` when the watch ended.
    pub async fn changed(&mut self) -> Option<Vec<PathBuf>> {
        let first = self.events.recv().await?;
        let mut paths = vec![first];
        while let Ok(Some(path)) = tokio::time::timeout(DEBOUNCE, self.events.recv()).await {
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        Some(paths)
    }
}

/// Writes, creations, removals and renames count; reads (our own reload opening the
/// files) do not.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Whether a changed path is part of the configuration: editors' swap, backup and lock
/// files (`.x.swp`, `x~`, `#x#`, `.#x`, vim's `4913`) are not, and neither are the database
/// or the `.eml` outbox should they live under the directory.
pub fn is_config_file(dir: &Path, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    if name.starts_with('.') || name.starts_with('#') || name.ends_with('~') || name.ends_with(".swp") {
        return false;
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
    if path.starts_with(dir.join(KEYWORDS_DIR)) {
        return matches!(ext, "txt" | "toml");
    }
    path.parent() == Some(dir) && (ext == "toml" || name == "rumour.model")
}

/// A setting that changed in the files but keeps its running value until a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRestart {
    /// The setting as written in the file, e.g. `[storage] path`.
    pub setting: &'static str,
    pub running: String,
    pub configured: String,
}

impl NeedsRestart {
    /// One line for the log: what changed, and that it waits for a restart.
    pub fn describe(&self) -> String {
        format!(
            "{} changed from {} to {}: needs a restart to take effect (需要重启才能生效); still using {}",
            self.setting, self.running, self.configured, self.running
        )
    }
}

/// Copies into `new` the settings a running daemon cannot change (the database path; the
/// `[http]` endpoint's existence and listen address), and says which of them differ.
pub fn keep_restart_only(old: &Config, mut new: Config) -> (Config, Vec<NeedsRestart>) {
    let mut changed = Vec::new();
    if new.storage_path != old.storage_path {
        changed.push(NeedsRestart {
            setting: "[storage] path",
            running: old.storage_path.display().to_string(),
            configured: new.storage_path.display().to_string(),
        });
        new.storage_path = old.storage_path.clone();
    }
    if new.storage_url != old.storage_url {
        let shown = |c: &Config| c.storage_url.as_ref().map_or_else(|| "(none)".to_string(), |u| u.to_string());
        changed.push(NeedsRestart { setting: "[storage] url", running: shown(old), configured: shown(&new) });
        new.storage_url = old.storage_url.clone();
    }
    let listen = |c: &Config| c.http.as_ref().map_or_else(|| "(no [http])".to_string(), |h| h.listen.to_string());
    match (&old.http, &mut new.http) {
        (Some(running), Some(configured)) if running.listen != configured.listen => {
            changed.push(NeedsRestart {
                setting: "[http] listen",
                running: running.listen.to_string(),
                configured: configured.listen.to_string(),
            });
            configured.listen = running.listen;
        }
        (Some(_), None) | (None, Some(_)) => {
            changed.push(NeedsRestart { setting: "[http]", running: listen(old), configured: listen(&new) });
            // Without a listener links would point nowhere; with one, keep it as it is.
            new.http = old.http.clone();
        }
        _ => {}
    }
    // The housekeeping task (pruning, the disk check) keeps the settings it started with.
    if new.retention != old.retention {
        let show = |r: &crate::config::RetentionSettings| {
            format!(
                "documents_days = {}, assessment_days = {}, min_free_mb = {}",
                r.documents_days, r.assessment_days, r.min_free_mb
            )
        };
        changed.push(NeedsRestart {
            setting: "[retention]",
            running: show(&old.retention),
            configured: show(&new.retention),
        });
        new.retention = old.retention;
    }
    (new, changed)
}

/// A diagnostic on one line (the hint follows an arrow).
pub fn one_line(d: &Diagnostic) -> String {
    d.to_string().replace('\n', " ")
}

/// The admin's notice that the edited configuration is broken and the old one still runs.
pub fn render_config_notice(
    diagnostics: &[&Diagnostic],
    recipients: Vec<String>,
    dir: &Path,
    tz: Tz,
    now: DateTime<Utc>,
) -> AlertMessage {
    let when = now.with_timezone(&tz).format("%Y-%m-%d %H:%M");
    let subject = format!("【配置错误】配置修改有 {} 处错误，未生效，仍按原配置运行", diagnostics.len());
    let mut lines = vec![
        format!("{when} 重新加载配置（{}）时发现错误，新配置没有生效，系统仍按修改前的配置继续运行。", dir.display()),
        String::new(),
    ];
    lines.extend(diagnostics.iter().take(NOTICE_DIAGNOSTICS).map(|d| one_line(d)));
    if diagnostics.len() > NOTICE_DIAGNOSTICS {
        lines.push(format!("……另有 {} 处错误，详见日志", diagnostics.len() - NOTICE_DIAGNOSTICS));
    }
    lines.push(String::new());
    lines.push(format!(
        "请运行 yuqing --config {} check 查看全部问题并修正；保存后会自动重新加载（也可 systemctl reload yuqing）。",
        dir.display()
    ));
    lines.push("在配置恢复正确之前不再重复提醒。".into());
    let body_text = lines.join("\n") + "\n";
    let body_html = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">{}</body></html>",
        lines.iter().map(|l| format!("<p>{}</p>", escape(l))).collect::<String>()
    );
    AlertMessage { channel: "email".into(), recipients, subject, body_text, body_html }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Severity;

    #[test]
    fn only_config_files_count() {
        let dir = Path::new("/etc/yuqing");
        for yes in [
            "sources.toml",
            "yuqing.toml",
            "calendar.toml",
            "rumour.model",
            "keywords/a.txt",
            "keywords/flags/rumour.txt",
        ] {
            assert!(is_config_file(dir, &dir.join(yes)), "{yes}");
        }
        for no in [
            ".sources.toml.swp",
            "sources.toml~",
            "#sources.toml#",
            ".#sources.toml",
            "4913",
            "state/yuqing.db",
            "yuqing.db-wal",
            "outbox/1.eml",
            "keywords/.a.txt.swp",
            "keywords/notes.md",
        ] {
            assert!(!is_config_file(dir, &dir.join(no)), "{no}");
        }
    }

    #[test]
    fn reads_do_not_trigger_a_reload() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_change(&EventKind::Create(notify::event::CreateKind::File)));
    }

    fn config(dir: &Path, db: &str, http: &str) -> Config {
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap_or_default();
        std::fs::create_dir_all(dir.join(KEYWORDS_DIR)).unwrap_or_default();
        write("keywords/a.txt", "抚恤金\n");
        write("sources.toml", "");
        write("yuqing.toml", &format!("[storage]\npath = \"{db}\"\n{http}"));
        let loaded = Config::load(dir);
        loaded.config.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics.items))
    }

    #[test]
    fn restart_only_settings_keep_their_running_values() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let old = config(dir.path(), "a.db", "[http]\nlisten = \"127.0.0.1:8787\"\n");
        let new = config(dir.path(), "b.db", "[http]\nlisten = \"127.0.0.1:9999\"\nlink_ttl_hours = 24\n");
        let (kept, changed) = keep_restart_only(&old, new);
        let settings: Vec<&str> = changed.iter().map(|c| c.setting).collect();
        assert_eq!(settings, vec!["[storage] path", "[http] listen"]);
        assert_eq!(kept.storage_path, old.storage_path);
        let http = kept.http.unwrap_or_else(|| panic!("http kept"));
        assert_eq!(http.listen.port(), 8787);
        assert_eq!(http.link_ttl, Duration::from_secs(24 * 3600), "the rest is applied");
        assert!(changed[1].describe().contains("需要重启才能生效"));

        // [http] removed while running: the endpoint stays as it is.
        let (kept, changed) = keep_restart_only(&old, config(dir.path(), "a.db", ""));
        assert_eq!(changed.len(), 1);
        assert_eq!(kept.http, old.http);
        let (_, changed) = keep_restart_only(&old, old.clone());
        assert!(changed.is_empty());

        // [retention] is read by the housekeeping task at start: reported, not half-applied.
        let shorter =
            config(dir.path(), "a.db", "[http]\nlisten = \"127.0.0.1:8787\"\n[retention]\ndocuments_days = 30\n");
        let (kept, changed) = keep_restart_only(&old, shorter);
        assert_eq!(changed.iter().map(|c| c.setting).collect::<Vec<_>>(), vec!["[retention]"]);
        assert_eq!(kept.retention, old.retention);
    }

    #[test]
    fn the_notice_quotes_each_diagnostic_with_file_and_line() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: PathBuf::from("/etc/yuqing/sources.toml"),
            line: 7,
            column: 0,
            message: "缺少 url".into(),
            hint: "例如 url = \"https://…\"".into(),
        };
        let n = render_config_notice(
            &[&d],
            vec!["admin@example.gov.cn".into()],
            Path::new("/etc/yuqing"),
            chrono_tz::Asia::Shanghai,
            Utc::now(),
        );
        assert!(n.subject.starts_with("【配置错误】"), "{}", n.subject);
        assert!(n.body_text.contains("/etc/yuqing/sources.toml:7: 错误：缺少 url"), "{}", n.body_text);
        assert_eq!(n.recipients, vec!["admin@example.gov.cn".to_string()]);
    }
}
