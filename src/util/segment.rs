//! The jieba word segmenter with its embedded dictionary, built on first use and shared by
//! the rumour model's word features and the viewpoints' top words (one dictionary in memory).

use std::sync::LazyLock;

pub static JIEBA: LazyLock<jieba_rs::Jieba> = LazyLock::new(jieba_rs::Jieba::new);
