//! The console's HTML, server-rendered and in Chinese: the shell with its navigation, the
//! sign-in page, the dashboard (工作台) and the event page (事件页). No script: the
//! dashboard refreshes itself with `<meta http-equiv="refresh">`; the engagement chart and
//! the hourly trend are inline SVG. Every text from the store or the config is escaped here.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::detect::viewpoints::{Viewpoints, truncate};
use crate::notify::escape;
use crate::report::duration_zh;
use crate::report::timeline::{Clock, TREND_HOURS, View, hour_label, local};
use crate::response::deadline::Outcome;
use crate::response::trend::Trend;
use crate::store::{EventSignals, SearchHit};

const STYLE: &str = "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:0;color:#222;line-height:1.5}\
header{background:#8b0000;color:#fff;padding:8px 20px;display:flex;gap:20px;align-items:center}\
header a{color:#fff;text-decoration:none}header .who{margin-left:auto}header form{display:inline}\
header button{background:none;border:1px solid #fff;color:#fff;cursor:pointer}\
main{padding:12px 20px;max-width:1200px}table{border-collapse:collapse;width:100%;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px}th{background:#f4f4f4}\
.late{color:#c00;font-weight:bold}.ok{color:#080}.run{color:#a60}.muted{color:#777}.line{margin:4px 0}\
.g1{background:#fde0e0}.g2{background:#fdeede}.notice{background:#eef6ee;border:1px solid #9c9;padding:6px 10px}\
.error{background:#fdeaea;border:1px solid #d99;padding:6px 10px}fieldset{margin:8px 0;border:1px solid #ccc}\
label{margin-right:12px}input[type=text],input[type=password],select,textarea{font-size:14px}";

/// A complete page: navigation (when signed in) and `body`.
pub fn layout(title: &str, who: Option<(&str, &str)>, body: &str, refresh: bool) -> String {
    let refresh = if refresh { "<meta http-equiv=\"refresh\" content=\"60\">" } else { "" };
    let nav = match who {
        Some((name, logout_token)) => format!(
            "<a href=\"/\">工作台</a><a href=\"/search\">检索</a><a href=\"/report\">舆情通报</a><span class=\"who\">{}</span>\
             <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"form\" value=\"{}\">\
             <button type=\"submit\">退出</button></form>",
            escape(name),
            escape(logout_token)
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">{refresh}<title>{t} - yuqing 舆情监测</title>\
         <style>{STYLE}</style></head><body><header><strong>yuqing 舆情监测与回应</strong>{nav}</header>\
         <main><h2>{t}</h2>{body}</main></body></html>",
        t = escape(title)
    )
}

pub fn login(message: Option<&str>, person: &str) -> String {
    let message = message.map(|m| format!("<p class=\"error\">{}</p>", escape(m))).unwrap_or_default();
    let body = format!(
        "{message}<form method=\"post\" action=\"/login\">\
         <p><label>人员 id<br><input type=\"text\" name=\"person\" value=\"{}\" autocomplete=\"username\" required></label></p>\
         <p><label>密码<br><input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label></p>\
         <p><button type=\"submit\">登录</button></p></form>\
         <p class=\"muted\">人员 id 即 yuqing.toml 中 [[people]] 的 id；密码由管理员用 yuqing user passwd 人员id 设置。</p>",
        escape(person)
    );
    layout("登录", None, &body, false)
}

/// One open event on the dashboard.
pub struct Row {
    pub id: i64,
    pub title: String,
    /// `Ⅲ级 较大` or 未分级; `css` colours grades I and II.
    pub grade: String,
    pub css: &'static str,
    pub owner: String,
    pub accountable: String,
    pub clocks: Vec<(&'static str, DateTime<Utc>, bool)>,
    pub latest: String,
    pub engagement: Option<i64>,
    pub state: String,
}

pub fn dashboard(
    who: (&str, &str),
    sources_line: &str,
    outbox_line: &str,
    rows: &[Row],
    now: DateTime<Utc>,
    tz: Tz,
) -> String {
    let mut body = format!(
        "<p class=\"line\">{}</p><p class=\"line\">{}</p><p class=\"muted\">更新于 {}，每分钟自动刷新</p>",
        escape(sources_line),
        escape(outbox_line),
        local(now, tz)
    );
    if rows.is_empty() {
        body.push_str("<p>目前没有未办结的舆情事件。</p>");
    } else {
        body.push_str(&format!(
            "<h3>未办结事件（{} 件）</h3><table><tr><th>事件</th><th>级别</th><th>牵头科室</th><th>责任领导</th>\
             <th>办理时限</th><th>状态</th><th>最新信息</th><th>互动</th></tr>",
            rows.len()
        ));
        for r in rows {
            let clocks: String = r
                .clocks
                .iter()
                .map(|(kind, due, missed)| {
                    if *missed {
                        format!("<div class=\"late\">{kind}：已超时 {}</div>", duration_zh(now - *due))
                    } else {
                        format!("<div class=\"run\">{kind}：剩 {}</div>", duration_zh(*due - now))
                    }
                })
                .collect();
            let clocks = if clocks.is_empty() { "<span class=\"muted\">—</span>".to_string() } else { clocks };
            body.push_str(&format!(
                "<tr class=\"{css}\"><td><a href=\"/events/{id}\">#{id} {title}</a></td><td>{grade}</td><td>{owner}</td>\
                 <td>{acc}</td><td>{clocks}</td><td>{state}</td><td>{latest}</td><td>{eng}</td></tr>",
                css = r.css,
                id = r.id,
                title = escape(&r.title),
                grade = escape(&r.grade),
                owner = escape(&r.owner),
                acc = escape(&r.accountable),
                state = escape(&r.state),
                latest = escape(&r.latest),
                eng = r.engagement.map_or_else(|| "—".to_string(), |e| e.to_string()),
            ));
        }
        body.push_str("</table>");
    }
    body.push_str(
        "<form method=\"get\" action=\"/report\"><fieldset><legend>舆情通报（第十条、第十五条）</legend>\
         <label>自 <input type=\"date\" name=\"from\"></label><label>至 <input type=\"date\" name=\"to\"></label>\
         <label><select name=\"format\"><option value=\"html\">网页</option><option value=\"csv\">CSV 下载</option></select></label>\
         <button type=\"submit\">生成</button> <span class=\"muted\">不填日期：最近 7 天</span></fieldset></form>",
    );
    layout("工作台", Some(who), &body, true)
}

/// The action forms of an event page, each with its one-time token.
pub struct Forms {
    pub accept: String,
    pub transfer: String,
    pub feedback: String,
    pub close: String,
    pub reopen: String,
    pub downgrade: String,
    pub mute: String,
    pub split: String,
    pub assess: String,
    /// (document id, title): what may be split off.
    pub documents: Vec<(i64, String)>,
    /// (section id, label) to transfer to.
    pub sections: Vec<(String, String)>,
    /// (kind, label).
    pub feedback_kinds: Vec<(&'static str, &'static str)>,
}

#[allow(clippy::too_many_arguments)]
pub fn event(
    who: (&str, &str),
    id: i64,
    view: &View,
    signals: &EventSignals,
    forms: Option<&Forms>,
    notice: Option<&str>,
    error: Option<&str>,
    now: DateTime<Utc>,
    tz: Tz,
) -> String {
    let mut body = String::new();
    if let Some(n) = notice {
        body.push_str(&format!("<p class=\"notice\">{}</p>", escape(n)));
    }
    if let Some(e) = error {
        body.push_str(&format!("<p class=\"error\">{}</p>", escape(e)));
    }
    body.push_str("<table>");
    for (label, text) in &view.facts {
        body.push_str(&format!("<tr><th>{label}</th><td>{}</td></tr>", escape(text)));
    }
    body.push_str("</table>");
    if !view.clocks.is_empty() {
        body.push_str("<h3>办理时限</h3><table><tr><th>时限</th><th>截止</th><th>情况</th></tr>");
        for c in &view.clocks {
            body.push_str(&clock_row(c, now, tz));
        }
        body.push_str("</table>");
    }
    if !signals.flags.is_empty() || !signals.negativity.is_empty() || !signals.to_verify.is_empty() {
        body.push_str("<h3>研判</h3><table><tr><th>文档</th><th>研判</th><th>依据</th></tr>");
        for (doc, kind, reasons) in &signals.flags {
            let label = crate::model::FlagKind::from_name(kind).map_or(kind.as_str(), |k| k.label_zh());
            body.push_str(&format!(
                "<tr><td>#{doc}</td><td>{}</td><td>{}</td></tr>",
                escape(label),
                escape(&reasons.join("；"))
            ));
        }
        for (doc, why) in &signals.to_verify {
            body.push_str(&format!("<tr><td>#{doc}</td><td>待核实</td><td>{}</td></tr>", escape(why)));
        }
        for (doc, score, drivers) in &signals.negativity {
            body.push_str(&format!(
                "<tr><td>#{doc}</td><td>负面程度 {score:.2}</td><td>{}</td></tr>",
                escape(&drivers.join("、"))
            ));
        }
        body.push_str("</table>");
    }
    if !view.trend.hourly.is_empty() {
        body.push_str(&format!("<h3>传播趋势（近 {TREND_HOURS} 小时，每小时新增篇数）</h3>"));
        body.push_str(&trend_section(&view.trend, tz));
    }
    if view.viewpoints.total > 0 {
        body.push_str(&viewpoints_section(&view.viewpoints, tz));
    }
    if view.engagement.len() >= 2 {
        body.push_str("<h3>互动变化（转发+评论+点赞）</h3>");
        body.push_str(&chart(&view.engagement, tz));
    }
    body.push_str("<h3>时间线</h3><table><tr><th>时间</th><th>类别</th><th>内容</th></tr>");
    for e in &view.entries {
        let link = e
            .link
            .as_deref()
            .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
            .map(|l| format!("<br><a href=\"{0}\" rel=\"noreferrer\">{0}</a>", escape(l)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}{link}</td></tr>",
            local(e.at, tz),
            e.kind,
            escape(&e.text)
        ));
    }
    body.push_str("</table>");
    match forms {
        Some(f) => body.push_str(&actions(id, f)),
        None => body.push_str("<p class=\"muted\">只有牵头科室的人员、政务公开办和领导可以办理本事件。</p>"),
    }
    layout(&view.heading, Some(who), &body, false)
}

fn clock_row(c: &Clock, now: DateTime<Utc>, tz: Tz) -> String {
    let (css, text) = match c.outcome {
        Outcome::Missed => ("late", format!("已超时 {}", duration_zh(now - c.due))),
        Outcome::Late(_) => ("late", c.outcome_zh(tz)),
        Outcome::Met(_) => ("ok", c.outcome_zh(tz)),
        Outcome::Running => ("run", format!("计时中，剩 {}", duration_zh(c.due - now))),
    };
    format!(
        "<tr><td>{}（{}）</td><td>{}</td><td class=\"{css}\">{}</td></tr>",
        c.kind,
        escape(&c.span),
        local(c.due, tz),
        escape(&text)
    )
}

/// What netizens say (网民观点, Art. 13): a row per viewpoint with its size, share, leaning,
/// negativity and representative comment, then 其他, and the hourly comment volume.
fn viewpoints_section(v: &Viewpoints, tz: Tz) -> String {
    let mut out = format!(
        "<h3>网民观点</h3><p class=\"line\">共 {} 条评论，{} 条参与归类（{} 条过短或仅表情未计）</p>",
        v.total,
        v.grouped(),
        v.noise
    );
    out.push_str(
        "<table><tr><th>观点</th><th>条数</th><th>占比</th><th>倾向</th><th>负面度</th><th>代表评论</th></tr>",
    );
    for (n, g) in v.groups.iter().enumerate() {
        out.push_str(&format!(
            "<tr><td>观点{}</td><td class=\"n\">{}</td><td class=\"n\">{:.0}%</td><td>{}</td><td class=\"n\">{:.1}</td><td>{}</td></tr>",
            n + 1,
            g.size,
            g.share * 100.0,
            g.leaning.label_zh(),
            g.negativity,
            escape(&truncate(&g.representative, 120))
        ));
    }
    if v.other > 0 {
        out.push_str(&format!(
            "<tr><td>其他</td><td class=\"n\">{}</td><td colspan=\"4\">未形成集中观点</td></tr>",
            v.other
        ));
    }
    out.push_str("</table>");
    if let Some(first) = v.trend_lines_zh(tz).into_iter().next() {
        out.push_str(&format!("<p class=\"line\">评论量：{}</p>", escape(&first)));
    }
    out
}

/// The hourly trend: a bar per hour (copies), the state in words, and a row per hour that
/// had copies or engagement growth.
fn trend_section(trend: &Trend, tz: Tz) -> String {
    let (w, h, pad) = (560.0_f64, 110.0_f64, 20.0_f64);
    let n = trend.hourly.len().max(1) as f64;
    let max = trend.hourly.iter().map(|b| b.documents).max().unwrap_or(0).max(1);
    let slot = (w - 2.0 * pad) / n;
    let mut bars = String::new();
    for (i, b) in trend.hourly.iter().enumerate() {
        let bar = f64::from(b.documents) / f64::from(max) * (h - 2.0 * pad);
        bars.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"#8b0000\"><title>{} {} 篇</title></rect>",
            pad + i as f64 * slot + 1.0,
            h - pad - bar,
            (slot - 2.0).max(1.0),
            hour_label(b.start, tz),
            b.documents
        ));
    }
    let (first, last) = match (trend.hourly.first(), trend.hourly.last()) {
        (Some(f), Some(l)) => (hour_label(f.start, tz), hour_label(l.start, tz)),
        _ => (String::new(), String::new()),
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"每小时新增篇数\">\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\" stroke=\"#ddd\"/>{bars}\
         <text x=\"{pad}\" y=\"14\" font-size=\"11\">最多 {max} 篇/小时</text>\
         <text x=\"{pad}\" y=\"{}\" font-size=\"11\">{first}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{last}</text></svg>",
        h - 6.0,
        w - pad,
        h - 6.0,
    );
    out.push_str(&format!("<p class=\"line\">{}</p>", escape(&trend.summary_zh())));
    out.push_str("<table><tr><th>小时</th><th>新增篇数</th><th>互动增长</th><th>互动合计</th></tr>");
    for b in trend.hourly.iter().filter(|b| b.documents > 0 || b.added != 0) {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:+}</td><td>{}</td></tr>",
            hour_label(b.start, tz),
            b.documents,
            b.added,
            b.interactions.map_or_else(|| "—".to_string(), |v| v.to_string())
        ));
    }
    out.push_str("</table>");
    out
}

/// The engagement series as a small line chart.
fn chart(points: &[(DateTime<Utc>, i64)], tz: Tz) -> String {
    let (w, h, pad) = (560.0_f64, 140.0_f64, 24.0_f64);
    let (t0, t1) = (points[0].0.timestamp() as f64, points[points.len() - 1].0.timestamp() as f64);
    let max = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let span = (t1 - t0).max(1.0);
    let xy: Vec<String> = points
        .iter()
        .map(|(t, v)| {
            let x = pad + (t.timestamp() as f64 - t0) / span * (w - 2.0 * pad);
            let y = h - pad - (*v as f64) / max * (h - 2.0 * pad);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"互动变化\">\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#fafafa\" stroke=\"#ddd\"/>\
         <polyline fill=\"none\" stroke=\"#8b0000\" stroke-width=\"2\" points=\"{}\"/>\
         <text x=\"{pad}\" y=\"14\" font-size=\"11\">最高 {}</text>\
         <text x=\"{pad}\" y=\"{}\" font-size=\"11\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        xy.join(" "),
        max as i64,
        h - 6.0,
        local(points[0].0, tz),
        w - pad,
        h - 6.0,
        local(points[points.len() - 1].0, tz)
    )
}

fn actions(id: i64, f: &Forms) -> String {
    let form = |action: &str, token: &str, label: &str, fields: &str| {
        format!(
            "<form method=\"post\" action=\"/events/{id}/{action}\"><fieldset><legend>{label}</legend>\
             <input type=\"hidden\" name=\"form\" value=\"{}\">{fields} <button type=\"submit\">{label}</button></fieldset></form>",
            escape(token)
        )
    };
    let note = "<label>备注 <input type=\"text\" name=\"note\" size=\"40\"></label>";
    let sections: String = f
        .sections
        .iter()
        .map(|(id, label)| format!("<option value=\"{}\">{}</option>", escape(id), escape(label)))
        .collect();
    let kinds: String =
        f.feedback_kinds.iter().map(|(k, label)| format!("<option value=\"{k}\">{label}</option>")).collect();
    let grades: String = crate::model::Grade::ALL
        .iter()
        .map(|g| format!("<option value=\"{}\">{}</option>", g.as_str(), g.label_zh()))
        .collect();
    [
        "<h3>办理</h3>".to_string(),
        form("accept", &f.accept, "受理", note),
        form(
            "transfer",
            &f.transfer,
            "转办",
            &format!("<label>转至 <select name=\"to\">{sections}</select></label><label>理由 <input type=\"text\" name=\"reason\" size=\"30\" required></label>"),
        ),
        form(
            "feedback",
            &f.feedback,
            "反馈",
            &format!("<label>方式 <select name=\"kind\">{kinds}</select></label><label>发布链接 <input type=\"text\" name=\"link\" size=\"40\" placeholder=\"https://\"></label>{note}"),
        ),
        form(
            "downgrade",
            &f.downgrade,
            "降级",
            &format!("<label>降为 <select name=\"to\">{grades}</select></label><label>理由 <input type=\"text\" name=\"reason\" size=\"30\" required></label>"),
        ),
        form(
            "mute",
            &f.mute,
            "静默",
            "<label>时长（小时） <input type=\"text\" name=\"hours\" size=\"4\" value=\"8\"></label><label>理由 <input type=\"text\" name=\"reason\" size=\"30\" required></label>",
        ),
        if f.documents.len() > 1 {
            let docs: String = f
                .documents
                .iter()
                .map(|(id, title)| format!("<option value=\"{id}\">文档 #{id} {}</option>", escape(title)))
                .collect();
            form(
                "split",
                &f.split,
                "拆分",
                &format!("<label>误并入的文档 <select name=\"doc\">{docs}</select></label><label>理由 <input type=\"text\" name=\"reason\" size=\"30\" required></label>"),
            )
        } else {
            String::new()
        },
        form(
            "assess",
            &f.assess,
            "会商研判",
            &format!(
                "<label>性质 <input type=\"text\" name=\"nature\" size=\"24\" required></label>\
                 <label>趋势 <select name=\"trend\">{}</select></label>\
                 <label>风险 <input type=\"text\" name=\"risk\" size=\"24\" required></label>\
                 <label>处置建议 <input type=\"text\" name=\"plan\" size=\"30\" required></label>",
                crate::workflow::TRENDS.iter().map(|(k, l)| format!("<option value=\"{k}\">{l}</option>")).collect::<String>()
            ),
        ),
        form("close", &f.close, "办结", note),
        form("reopen", &f.reopen, "重新打开", note),
    ]
    .concat()
}

/// The search form as submitted.
pub struct SearchForm {
    pub q: String,
    pub source: Option<String>,
    pub grade: Option<String>,
    pub category: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// From 1.
    pub page: usize,
}

impl SearchForm {
    /// The query string of this search on another page.
    fn on_page(&self, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("q", &self.q);
        for (k, v) in [
            ("source", &self.source),
            ("grade", &self.grade),
            ("category", &self.category),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        q.finish()
    }
}

/// Around the first word found in `text`: at most 60 characters.
fn excerpt(text: &str, words: &[&str]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = words.iter().filter_map(|w| text.find(w)).min().map_or(0, |b| text[..b].chars().count());
    let start = at.saturating_sub(20);
    let end = (start + 60).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

pub fn search(
    who: (&str, &str),
    form: &SearchForm,
    sources: &[(String, String)],
    results: Option<(&[SearchHit], usize, usize)>,
    tz: Tz,
) -> String {
    let selected = |v: &Option<String>, o: &str| if v.as_deref() == Some(o) { " selected" } else { "" };
    let source_options: String = sources
        .iter()
        .map(|(id, name)| {
            format!("<option value=\"{}\"{}>{}</option>", escape(id), selected(&form.source, id), escape(name))
        })
        .collect();
    let grade_options: String = crate::model::Grade::ALL
        .iter()
        .map(|g| {
            format!("<option value=\"{}\"{}>{}</option>", g.as_str(), selected(&form.grade, g.as_str()), g.label_zh())
        })
        .collect();
    let category_options: String = crate::rules::Category::ALL
        .iter()
        .map(|c| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                c.as_str(),
                selected(&form.category, c.as_str()),
                c.label_zh()
            )
        })
        .collect();
    let date = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
    let mut body = format!(
        "<form method=\"get\" action=\"/search\"><fieldset><legend>检索事件中的信息</legend>\
         <label>关键词 <input type=\"text\" name=\"q\" size=\"30\" value=\"{}\"></label>\
         <label>信源 <select name=\"source\"><option value=\"\">全部</option>{source_options}</select></label>\
         <label>级别 <select name=\"grade\"><option value=\"\">全部</option>{grade_options}</select></label>\
         <label>类别 <select name=\"category\"><option value=\"\">全部</option>{category_options}</select></label>\
         <label>自 <input type=\"date\" name=\"from\" value=\"{}\"></label><label>至 <input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <button type=\"submit\">检索</button></fieldset></form>",
        escape(&form.q),
        date(&form.from),
        date(&form.to)
    );
    if let Some((hits, total, per_page)) = results {
        let words: Vec<&str> = form.q.split_whitespace().collect();
        body.push_str(&format!("<p>共找到 {total} 篇。</p>"));
        if !hits.is_empty() {
            body.push_str("<table><tr><th>时间</th><th>信源</th><th>信息</th><th>事件</th><th>级别</th></tr>");
            for h in hits {
                let title = if h.title.is_empty() { "（无标题）" } else { h.title.as_str() };
                let link = h
                    .link
                    .as_deref()
                    .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
                    .map(|l| format!(" <a href=\"{}\" rel=\"noreferrer\">原文</a>", escape(l)))
                    .unwrap_or_default();
                let source =
                    sources.iter().find(|(id, _)| *id == h.source_id).map_or(h.source_id.as_str(), |(_, n)| n.as_str());
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td><strong>{}</strong>{link}<br><span class=\"muted\">{}</span></td>\
                     <td><a href=\"/events/{}\">#{} {}</a></td><td>{}</td></tr>",
                    local(h.seen_at, tz),
                    escape(source),
                    escape(title),
                    escape(&excerpt(&h.text, &words)),
                    h.event_id,
                    h.event_id,
                    escape(&h.event_title),
                    h.grade.map_or("未分级", |g| g.label_zh())
                ));
            }
            body.push_str("</table>");
        }
        let pages = total.div_ceil(per_page.max(1));
        if pages > 1 {
            let mut nav = format!("<p>第 {} / {pages} 页", form.page);
            if form.page > 1 {
                nav.push_str(&format!(" <a href=\"/search?{}\">上一页</a>", escape(&form.on_page(form.page - 1))));
            }
            if form.page < pages {
                nav.push_str(&format!(" <a href=\"/search?{}\">下一页</a>", escape(&form.on_page(form.page + 1))));
            }
            body.push_str(&nav);
            body.push_str("</p>");
        }
    } else {
        body.push_str("<p class=\"muted\">写一个或几个词（空格分开，都要出现），或只选信源、级别、类别、日期。只检索已归入事件的信息。</p>");
    }
    layout("检索", Some(who), &body, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::viewpoints::{HourCount, Leaning, Viewpoint};
    use chrono::TimeZone;

    fn group(text: &str, size: usize, leaning: Leaning) -> Viewpoint {
        Viewpoint {
            representative: text.to_string(),
            size,
            share: size as f64 / 12.0,
            negativity: if leaning == Leaning::Negative { 2.5 } else { 0.0 },
            lean: 0.0,
            leaning,
            likes: 0,
            terms: Vec::new(),
            members: Vec::new(),
        }
    }

    #[test]
    fn the_event_page_shows_each_viewpoint_escaped_and_the_comment_volume() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 6, 0, 0).single().unwrap_or_default();
        let v = Viewpoints {
            total: 14,
            noise: 2,
            groups: vec![
                group("支持<拆迁>，早该改造了", 6, Leaning::Positive),
                group("坚决反对强拆", 5, Leaning::Negative),
            ],
            other: 1,
            hourly: vec![
                HourCount { start, comments: 9 },
                HourCount { start: start + chrono::Duration::hours(1), comments: 5 },
            ],
        };
        let html = viewpoints_section(&v, chrono_tz::Asia::Shanghai);
        assert!(html.contains("共 14 条评论，12 条参与归类（2 条过短或仅表情未计）"), "{html}");
        assert!(html.contains("<td>观点1</td><td class=\"n\">6</td><td class=\"n\">50%</td><td>正面</td>"), "{html}");
        assert!(html.contains("支持&lt;拆迁&gt;，早该改造了"), "comments are escaped: {html}");
        assert!(html.contains("<td>负面</td><td class=\"n\">2.5</td><td>坚决反对强拆</td>"), "{html}");
        assert!(html.contains("<td>其他</td><td class=\"n\">1</td>"), "{html}");
        assert!(html.contains("评论量：") && html.contains("每小时评论数，共 14 条"), "{html}");
    }
}
