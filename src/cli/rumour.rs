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
use crate::rumour::eval::{Comparison, case_score, evaluate};
use crate::rumour::train::{MIN_PER_CLASS, fit, split_cases};
use crate::rumour::{RumourError, RumourModel, TrainParams, Weighting, model_path};

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
    let mut examples = Vec::new();
    for path in &args.data {
        let data = match read_labelled(path) {
            Ok(data) => data,
            Err(e) => return Ok(refuse(&e, "--data")),
        };
        report_skipped(&data);
        println!("{}", data_line(path, &data));
        examples.extend(data.examples);
    }
    let mut held_back = Vec::new();
    if let Some(path) = &args.cases {
        let data = match read_labelled(path) {
            Ok(data) => data,
            Err(e) => return Ok(refuse(&e, "--cases")),
        };
        report_skipped(&data);
        println!("{}", data_line(path, &data).replacen("数据：", "本局案例：", 1));
        let (trained, held) = split_cases(data.examples, args.case_weight);
        println!(
            "本局案例：{} 条参与训练（每条权重 {}），{} 条留出，用于比较新旧模型",
            trained.len(),
            args.case_weight,
            held.len()
        );
        examples.extend(trained);
        held_back = held;
    }
    let rumours = examples.iter().filter(|e| e.rumour).count();
    let others = examples.len() - rumours;
    if rumours < MIN_PER_CLASS || others < MIN_PER_CLASS {
        let path = args.data.first().cloned().unwrap_or_default();
        let e = RumourError::TooFewExamples { path, min: MIN_PER_CLASS, rumours, others };
        eprintln!("错误：{e}；请补充标注过的样本后再训练");
        return Ok(ExitCode::from(1));
    }
    let min_comments = usize::from(args.min_comments);
    // Posts with no comment at all never count, whatever --min-comments says.
    let enough = min_comments.max(1);
    let with = examples.iter().filter(|e| crate::rumour::text::reply_count(&e.comments) >= enough).count();
    let reaction = match reaction_choice(args, with, examples.len()) {
        ReactionChoice::Asked => {
            println!(
                "评论：{with} 条样本有至少 {enough} 条评论（comments 字段），另训练文本+评论模型（每条读前 {} 条评论）",
                args.max_comments
            );
            true
        }
        // Cross-set and later-year figures (EVALUATION.md, "Public reaction", "Later
        // years"): with replies the model ranks clearly better, so it is the default when
        // the data carry them.
        ReactionChoice::Most => {
            println!(
                "评论：{with} / {} 条样本有至少 {enough} 条评论（comments 字段），过半，另训练文本+评论模型（每条读前 {} 条评论；只要文本模型加 --no-comments）",
                examples.len(),
                args.max_comments
            );
            true
        }
        ReactionChoice::Few => {
            println!(
                "提示：只有 {with} / {} 条样本有至少 {enough} 条评论，不足一半，只训练文本模型；加 --comments 仍可另训练文本+评论模型",
                examples.len()
            );
            false
        }
        ReactionChoice::Declined | ReactionChoice::Absent => false,
    };
    let params = TrainParams {
        bits: args.bits,
        max_n: usize::from(args.max_ngram),
        words: usize::from(args.words),
        style: args.style.max(0.0),
        epochs: args.epochs,
        l2: args.l2,
        min_df: args.min_df,
        learning_rate: args.learning_rate,
        precision: args.precision,
        weighting: match args.weighting.as_str() {
            "nb" => Weighting::Nb,
            "idf" => Weighting::Idf,
            _ => Weighting::None,
        },
        ensemble: args.ensemble,
        comments: if reaction { usize::from(args.max_comments) } else { 0 },
        min_comments,
        folds: usize::from(args.folds),
        fold: !args.no_fold,
        ..TrainParams::default()
    };
    let (model, report) = fit(&examples, &params);
    if params.ensemble {
        println!("模型：普通模型与 NB 加权模型的平均（logit 取平均，存为一组权重）");
    } else if params.weighting != Weighting::None {
        println!("特征加权：{}（训练时按 n-gram 缩放，已并入权重）", params.weighting.name());
    }
    let out = args.out.clone().unwrap_or_else(|| model_path(config_dir));
    // The new model goes to a file of its own; it replaces `out` only when accepted.
    let mut staged = out.clone().into_os_string();
    staged.push(".new");
    let staged = std::path::PathBuf::from(staged);
    model.save(&staged)?;
    let how = if report.held_out_precision >= params.precision {
        format!("精确率达到 {:.2} 的最低阈值", params.precision)
    } else {
        format!("精确率达不到 {:.2}，取 F1 最大", params.precision)
    };
    let held = match params.folds {
        1 => format!("在训练数据中按文本散列留出的 {} 条上", report.held_out),
        5 => format!("训练数据按文本散列分五份、每份由其余四份训练的模型打分，共 {} 条上", report.held_out),
        k => format!("训练数据按文本散列分五份、其中 {k} 份轮流由其余部分训练的模型打分，共 {} 条上", report.held_out),
    };
    println!(
        "阈值：{:.2}（{held}{how}：F1 {:.3}，精确率 {:.3}，召回率 {:.3}）",
        model.threshold, report.held_out_f1, report.held_out_precision, report.held_out_recall
    );
    println!(
        "待核实：{:.2}–{:.2}（自 {:.2} 起：精确率 {:.3}，召回率 {:.3}）",
        model.review, model.threshold, model.review, report.review_precision, report.review_recall
    );
    if let (Some(r), Some(rr)) = (model.reaction.as_deref(), report.reaction.as_deref()) {
        println!(
            "文本+评论模型阈值：{:.2}（留出的 {} 条上：F1 {:.3}，精确率 {:.3}，召回率 {:.3}）；待核实自 {:.2} 起（精确率 {:.3}，召回率 {:.3}）",
            r.threshold,
            rr.held_out,
            rr.held_out_f1,
            rr.held_out_precision,
            rr.held_out_recall,
            r.review,
            rr.review_precision,
            rr.review_recall
        );
    }
    let old = if out.exists() { Some(RumourModel::load(&out)) } else { None };
    match old {
        Some(Ok(old)) if !held_back.is_empty() => {
            let comparison = Comparison::of(&held_back, &old, &model);
            print!("留出的本局案例 {} 条上：\n{}", held_back.len(), comparison.render_zh());
            if !comparison.new_not_worse() {
                if !args.force {
                    eprintln!(
                        "错误：新模型在留出的本局案例上判对的比现有模型少，未替换 {}；新模型留在 {}（确认仍要替换，加 --force 重新训练）",
                        out.display(),
                        staged.display()
                    );
                    return Ok(ExitCode::from(1));
                }
                println!("新模型判对的较少，因 --force 仍替换现有模型");
            }
        }
        Some(Ok(_)) => {
            println!("没有留出的本局案例可供比较（--cases 给出 event feedback 记下的案例文件），直接替换现有模型")
        }
        Some(Err(e)) => println!("现有模型无法读取（{e}），直接替换"),
        None if !held_back.is_empty() => {
            let score = case_score(&held_back, &model);
            println!("留出的本局案例 {} 条上：新模型判对 {} 条，AUC {:.3}", score.total, score.right, score.auc);
        }
        None => {}
    }
    std::fs::rename(&staged, &out).map_err(|source| RumourError::Write { path: out.clone(), source })?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or_default();
    println!("模型已写入 {}（{} 个非零权重，{} KB）", out.display(), model.weights().len(), size.div_ceil(1024));
    Ok(ExitCode::SUCCESS)
}

/// Whether `rumour train` trains a reaction model beside the content model.
#[derive(Debug, PartialEq, Eq)]
enum ReactionChoice {
    /// `--comments`.
    Asked,
    /// `--no-comments`.
    Declined,
    /// At least half the examples carry enough comments.
    Most,
    /// Some do, fewer than half: content only, with a hint.
    Few,
    /// None do.
    Absent,
}

fn reaction_choice(args: &RumourTrainArgs, with: usize, total: usize) -> ReactionChoice {
    if args.comments {
        ReactionChoice::Asked
    } else if args.no_comments {
        ReactionChoice::Declined
    } else if with == 0 {
        ReactionChoice::Absent
    } else if with * 2 >= total {
        ReactionChoice::Most
    } else {
        ReactionChoice::Few
    }
}

/// How `rumour eval` reports.
pub(super) struct EvalArgs<'a> {
    pub json: bool,
    pub scores: Option<&'a Path>,
    /// An older model to compare with.
    pub compare: Option<&'a Path>,
    /// Only the held-back quarter of the data (an office's cases).
    pub held_back: bool,
    /// Use the reaction model from this many comments on (`--min-comments`).
    pub min_comments: Option<usize>,
}

pub(super) fn eval(
    config: &Config,
    data_path: &Path,
    model: Option<&Path>,
    how: &EvalArgs<'_>,
) -> anyhow::Result<ExitCode> {
    let (json, scores) = (how.json, how.scores);
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
    let overridden;
    let model = match (model, how.min_comments) {
        (Some(m), Some(n)) if m.reaction.is_some() => {
            overridden = m.using_reaction_from(n);
            Some(&overridden)
        }
        (_, Some(_)) => {
            eprintln!("错误：--min-comments 需要用 rumour train --comments 训练的模型");
            return Ok(ExitCode::from(1));
        }
        (m, None) => m,
    };
    let older = match how.compare {
        Some(path) => match RumourModel::load(path) {
            Ok(m) => Some(m),
            Err(e) => return Ok(refuse(&e, "--compare")),
        },
        None => None,
    };
    let mut data = match read_labelled(data_path) {
        Ok(data) => data,
        Err(e) => return Ok(refuse(&e, "--data")),
    };
    report_skipped(&data);
    if how.held_back {
        data.examples = split_cases(std::mem::take(&mut data.examples), 1.0).1;
    }
    let comparison = match (&older, model) {
        (Some(old), Some(new)) => Some(Comparison::of(&data.examples, old, new)),
        (Some(_), None) => {
            eprintln!("错误：--compare 需要一个新模型：用 --model 给出，或先用 yuqing rumour train 训练");
            return Ok(ExitCode::from(1));
        }
        _ => None,
    };
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
            "probability": judged.model.as_ref().map(|v| v.probability),
            "fired": judged.model.as_ref().map(|v| v.fired),
            "model_cues": judged.model.as_ref().map(|v| v.cues.clone()),
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
        v["comparison"] = comparison.map_or(serde_json::Value::Null, |c| c.to_json());
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
    if let (Some(c), Some(path)) = (comparison, how.compare) {
        println!("与 {} 对比（模型阈值处判对的条数）：", path.display());
        print!("{}", c.render_zh().replacen("现有模型", "旧模型", 1));
        println!(
            "{}",
            if c.new_not_worse() {
                "结论：新模型不差于旧模型"
            } else {
                "结论：新模型不如旧模型"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
