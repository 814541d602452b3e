//! `yuqing user passwd ID`: sets a `[[people]]` person's password for the web console
//! (工作台). The password is read from the terminal twice without echo, or as one line from
//! standard input when that is not a terminal (for scripts); only its argon2id hash is
//! stored, and the person's open sessions end.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use chrono::Utc;
use clap::Subcommand;

use crate::config::Config;
use crate::daemon::console::auth::{MIN_PASSWORD_CHARS, hash_password};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Set a person's web-console password (设置控制台密码): ID is a [[people]] id
    Passwd {
        /// The person's id in [[people]]
        id: String,
    },
}

pub fn run(config: &Config, what: &UserCommand) -> anyhow::Result<ExitCode> {
    let UserCommand::Passwd { id } = what;
    let org = &config.response.org;
    if org.person(id).is_none() {
        eprintln!("错误：没有人员 id \"{id}\"。{}", org.person_hint(id));
        return Ok(ExitCode::from(1));
    }
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("为 {} 设置控制台密码：", org.person_label(id)))?;
        let again = rpassword::prompt_password("再输入一次：")?;
        if first != again {
            eprintln!("错误：两次输入的密码不一致，未作修改。");
            return Ok(ExitCode::from(1));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        eprintln!("错误：密码至少 {MIN_PASSWORD_CHARS} 个字符，未作修改。");
        return Ok(ExitCode::from(1));
    }
    let hash = hash_password(&password)?;
    let mut store = super::open_store(config)?;
    store.set_console_password(id, &hash, Utc::now())?;
    println!("已为 {} 设置控制台密码；其已登录的会话已退出。", org.person_label(id));
    if config.http.is_none() {
        println!(
            "提示：yuqing.toml 中还没有 [http] 小节，守护进程不会提供网页控制台（例如 listen = \"127.0.0.1:8787\"）。"
        );
    }
    Ok(ExitCode::SUCCESS)
}
