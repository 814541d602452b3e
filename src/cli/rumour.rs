//! `yuqing rumour train` and `yuqing rumour eval`: the command-line side of
//! [`crate::rumour`] — reading the data, reporting skipped lines, printing in Chinese.
//! Part of `cli`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::RumourTrainArgs;
use crate::config::Config;
use crate::detect::flags::Flagger;
use crate::rumour::data::{Dataset, read_labelled};
use crate::rumour::eval::evaluate;
use crate::rumour::train::{MIN_PER_CLASS, fit};
use crate::rumour::{RumourError, RumourModel, TrainParams, model_path};

/// At most this many skipped lines are listed; the rest are counted.
const SHOWN_PROBLEMS: usize = 10;

fn report_skipped(data: &Dataset) {
    for p in data.problems.iter().take(SHOWN_PROBLEMS) {
        eprintln!("跳过 {p}");
    }
    if data.problems.len() > SHOWN_PROBLEMS {
        eprintln!("……另有 {} 行被跳过", data.problems.len() - SHOWN_PROBLEMS);
    }
}

fn data_line(path: &Path, data: &Dataset) -> String {
    format!(
        "数据：{}：可用样本 {} 条（谣言 {} 条，非谣言 {} 条），无标签跳过 {} 条，无效行跳过 {} 条",
        path.display(),
        data.examples.len(),
        data.rumours(),
        data.examples.len() - data.rumours(),
        data.unlabelled,
        data.problems.len()
    )
}

/// A file named on the command line that cannot be used: invalid input, exit 1, with what
/// to check (`option`: the flag that named it) before the system's words.
fn refuse(e: &RumourError, option: &str) -> ExitCode {
    match e {
        RumourError::Read { path, source } => {
            eprintln!("错误：无法读取 {}：请检查 {option} 给出的文件路径（{source}）", path.display());
        }
        other => eprintln!("错误：{other}"),
    }
    ExitCode::from(1)
}

pub(super) fn train(config_dir: &Path, args: &RumourTrainArgs) -> anyhow::Result<ExitCode> {
    let data = match read_labelled(&args.data) {
        Ok(data) => data,
        Err(e) => return Ok(refuse(&e, "--data")),
    };
    report_skipped(&data);
    println!("{}", data_line(&args.data, &data));
    let (rumours, others) = (data.rumours(), data.examples.len() - data.rumours());
    if rumours < MIN_PER_CLASS || others < MIN_PER_CLASS {
        let e = RumourError::TooFewExamples { path: args.data.clone(), min: MIN_PER_CLASS, rumours, others };
        eprintln!("错误：{e}；请补充标注过的样本后再训练");
        return Ok(ExitCode::from(1));
    }
    let params = TrainParams {
        bits: args.bits,
        max_n: usize::from(args.max_ngram),
        epochs: args.epochs,
        l2: args.l2,
        min_df: args.min_df,
        learning_rate: args.learning_rate,
        precision: args.precision,
        ..TrainParams::default()
    };
    let (model, report) = fit(&data.examples, &params);
    let out = args.out.clone().unwrap_or_else(|| model_path(config_dir));
    model.save(&out)?;
    let how = if report.held_out_precision >= params.precision {
        format!("精确率达到 {:.2} 的最低阈值", params.precision)
    } else {
        format!("精确率达不到 {:.2}，取 F1 最大", params.precision)
    };
    println!(
        "阈值：{:.2}（在训练数据中按文本散列留出的 {} 条上{how}：F1 {:.3}，精确率 {:.3}，召回率 {:.3}）",
        model.threshold, report.held_out, report.held_out_f1, report.held_out_precision, report.held_out_recall
    );
    println!(
        "待核实：{:.2}–{:.2}（自 {:.2} 起：精确率 {:.3}，召回率 {:.3}）",
        model.review, model.threshold, model.review, report.review_precision, report.review_recall
    );
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or_default();
    println!("模型已写入 {}（{} 个非零权重，{} KB）", out.display(), model.weights().len(), size.div_ceil(1024));
    Ok(ExitCode::SUCCESS)
}

pub(super) fn eval(
    config: &Config,
    data_path: &Path,
    model: Option<&Path>,
    json: bool,
    scores: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let loaded;
    let (model, model_file) = match model {
        Some(path) => {
            loaded = match RumourModel::load(path) {
                Ok(model) => model,
                Err(e) => return Ok(refuse(&e, "--model")),
            };
            (Some(&loaded), Some(path.to_path_buf()))
        }
        None => (config.rumour_model.as_deref(), config.rumour_model.as_ref().map(|_| model_path(&config.dir))),
    };
    let data = match read_labelled(data_path) {
        Ok(data) => data,
        Err(e) => return Ok(refuse(&e, "--data")),
    };
    report_skipped(&data);
    let flagger = Flagger::new(&config.cue_lists, config.detection.fold_traditional)?;
    let mut scores_out = match scores {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some((path, std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("错误：无法写入 {}：请检查 --scores 给出的路径（{e}）", path.display());
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };
    let mut write_error = None;
    let result = evaluate(&data.examples, &flagger, model, |example, judged| {
        let Some((_, out)) = scores_out.as_mut() else { return };
        let line = serde_json::json!({
            "label": i32::from(example.rumour),
            "probability": judged.model.map(|v| v.probability),
            "fired": judged.model.map(|v| v.fired),
            "cues": judged.cues,
        });
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{line}")
        {
            write_error = Some(e);
        }
    });
    if let Some((path, mut out)) = scores_out
        && let Some(e) = write_error.or_else(|| out.flush().err())
    {
        eprintln!("错误：无法写入 {}：{e}", path.display());
        return Ok(ExitCode::from(1));
    }
    if json {
        let mut v = result.to_json();
        v["data"] = serde_json::json!(data_path.display().to_string());
        v["model_file"] = serde_json::json!(model_file.map(|p| p.display().to_string()));
        v["unlabelled"] = serde_json::json!(data.unlabelled);
        v["invalid_lines"] = serde_json::json!(data.problems.len());
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", data_line(data_path, &data));
    match &model_file {
        Some(p) => println!("模型：{}", p.display()),
        None => println!(
            "模型：无（{} 不存在），只评测线索词表；先用 yuqing rumour train --data 文件.jsonl 训练",
            model_path(&config.dir).display()
        ),
    }
    print!("{}", result.render_zh());
    Ok(ExitCode::SUCCESS)
}
