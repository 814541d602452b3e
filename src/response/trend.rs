//! An event's trend (Art. 8, 传播速度; issue 15): how many of its copies appeared and how
//! its engagement grew in each hour of its life, and a simple, explainable forecast — is it
//! still growing? Pure: the copies' times, the engagement series and `now` come in.
//!
//! **The rule.** Two rolling windows before `now`: the last two hours `(now − 2 h, now]` and
//! the two before `(now − 4 h, now − 2 h]`; a copy counts at its time on the propagation path
//! (published, or found when that is unknown or later). The state is
//!
//! - [`State::Growing`] (传播加速) when the last two hours have at least two copies and more
//!   than the two before;
//! - [`State::Falling`] (传播趋缓) when they have fewer than the two before;
//! - [`State::Quiet`] (传播平息) when neither window has a copy;
//! - [`State::Steady`] (传播平稳) otherwise (as many, or a single copy after none).
//!
//! Copies later than `now` count nowhere. The hourly buckets start on the hour of the
//! configured timezone, from the hour of the first copy (at most `hours` of them) to the
//! hour of `now`; a bucket holds the copies of `[start, start + 1 h)`. Engagement is the
//! latest reposts + comments + likes total at each moment; a bucket's growth is its total at
//! the end less its total at the start, counted once the counts were first observed (the
//! first import sets the level, it is not growth).
//!
//! Whether an acceleration is a grading reason is [`super::grade::Acceleration`]'s
//! business (stricter by default: at least 5 copies and twice the previous window).

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// One hour of an event's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourBucket {
    /// The hour's start (on the hour in the configured timezone).
    pub start: DateTime<Utc>,
    /// Copies that appeared in the hour.
    pub documents: u32,
    /// Reposts + comments + likes at the hour's end (at `now` for the current hour), once
    /// known.
    pub interactions: Option<i64>,
    /// Their growth within the hour.
    pub added: i64,
}

/// Is the story still spreading?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Growing,
    Steady,
    Falling,
    Quiet,
}

impl State {
    /// The state of the two windows (the rule in the module's documentation).
    pub fn of(last_2h: u32, prev_2h: u32) -> Self {
        match (last_2h, prev_2h) {
            (0, 0) => State::Quiet,
            (l, p) if l >= 2 && l > p => State::Growing,
            (l, p) if l < p => State::Falling,
            _ => State::Steady,
        }
    }

    /// 加速, 平稳, 趋缓, 平息.
    pub fn word_zh(self) -> &'static str {
        match self {
            State::Growing => "加速",
            State::Steady => "平稳",
            State::Falling => "趋缓",
            State::Quiet => "平息",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Growing => "growing",
            State::Steady => "steady",
            State::Falling => "falling",
            State::Quiet => "quiet",
        }
    }
}

/// Copies in the last two hours before `now` and in the two hours before those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    pub last_2h: u32,
    pub prev_2h: u32,
}

impl Spread {
    /// Counts `times` into the two windows before `now`.
    pub fn of(times: impl IntoIterator<Item = DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        let (two, four) = (now - Duration::hours(2), now - Duration::hours(4));
        let mut s = Spread::default();
        for t in times {
            if t > two && t <= now {
                s.last_2h = s.last_2h.saturating_add(1);
            } else if t > four && t <= two {
                s.prev_2h = s.prev_2h.saturating_add(1);
            }
        }
        s
    }

    /// Both windows summed (stored copies and those of a batch not yet stored).
    pub fn plus(self, other: Spread) -> Spread {
        Spread {
            last_2h: self.last_2h.saturating_add(other.last_2h),
            prev_2h: self.prev_2h.saturating_add(other.prev_2h),
        }
    }

    pub fn state(self) -> State {
        State::of(self.last_2h, self.prev_2h)
    }
}

/// An event's trend at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trend {
    /// Oldest first; empty when the event has no copy up to `now`.
    pub hourly: Vec<HourBucket>,
    pub last_2h: u32,
    pub prev_2h: u32,
    /// Engagement growth over the last two hours, when the counts were known two hours ago.
    pub interactions_2h: Option<i64>,
    pub state: State,
}

/// The start of the hour holding `t` in `tz`.
pub fn hour_start(t: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let offset = i64::from(tz.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc());
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - (secs + offset).rem_euclid(3600), 0).unwrap_or(t)
}

/// The event's trend: `copies` are its copies' times, `engagement` its (observed at, total)
/// series; at most the last `hours` hourly buckets.
pub fn trend(
    copies: &[DateTime<Utc>],
    engagement: &[(DateTime<Utc>, i64)],
    now: DateTime<Utc>,
    tz: Tz,
    hours: usize,
) -> Trend {
    let spread = Spread::of(copies.iter().copied(), now);
    let mut series: Vec<(DateTime<Utc>, i64)> = engagement.iter().copied().filter(|(t, _)| *t <= now).collect();
    series.sort_by_key(|(t, _)| *t);
    // The total at `at`: the latest observation before it (`inclusive`: or at it).
    let level = |at: DateTime<Utc>, inclusive: bool| {
        series.iter().rev().find(|(t, _)| if inclusive { *t <= at } else { *t < at }).map(|(_, v)| *v)
    };
    let interactions_2h = match (level(now - Duration::hours(2), true), level(now, true)) {
        (Some(then), Some(latest)) => Some(latest - then),
        _ => None,
    };
    let mut hourly = Vec::new();
    if let Some(first) = copies.iter().copied().filter(|t| *t <= now).min() {
        let last = hour_start(now, tz);
        let span = i64::try_from(hours.saturating_sub(1)).unwrap_or(i64::MAX / 7200);
        let mut start = hour_start(first, tz).max(last - Duration::hours(span));
        while start <= last && hours > 0 {
            let end = start + Duration::hours(1);
            let documents = copies.iter().filter(|t| **t >= start && **t < end && **t <= now).count();
            let (at_start, at_end) =
                (level(start, false), if end > now { level(now, true) } else { level(end, false) });
            hourly.push(HourBucket {
                start,
                documents: u32::try_from(documents).unwrap_or(u32::MAX),
                interactions: at_end,
                added: match (at_start, at_end) {
                    (Some(s), Some(e)) => e - s,
                    _ => 0,
                },
            });
            start = end;
        }
    }
    Trend { hourly, last_2h: spread.last_2h, prev_2h: spread.prev_2h, interactions_2h, state: spread.state() }
}

impl Trend {
    pub fn spread(&self) -> Spread {
        Spread { last_2h: self.last_2h, prev_2h: self.prev_2h }
    }

    /// `传播加速：过去 2 小时新增 3 篇（此前 2 小时 1 篇）；互动 +240`, or `传播平息：4 小时内无新增`.
    pub fn summary_zh(&self) -> String {
        let mut text = match self.state {
            State::Quiet => "传播平息：4 小时内无新增".to_string(),
            s => format!("传播{}：过去 2 小时新增 {} 篇（此前 2 小时 {} 篇）", s.word_zh(), self.last_2h, self.prev_2h),
        };
        if let Some(d) = self.interactions_2h.filter(|d| *d != 0) {
            text.push_str(&format!("；互动 {d:+}"));
        }
        text
    }

    /// One character per hourly bucket: `·` for none, `▁`…`█` relative to the busiest hour.
    pub fn sparkline(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let max = self.hourly.iter().map(|b| b.documents).max().unwrap_or(0).max(1);
        self.hourly
            .iter()
            .map(|b| match b.documents {
                0 => '·',
                n => BARS[((n as usize * BARS.len()).div_ceil(max as usize)).clamp(1, BARS.len()) - 1],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::Asia::Shanghai;

    /// 2026-11-27 10:00 Beijing time.
    fn base() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_744_800, 0).unwrap_or_default()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        base() + Duration::minutes(minutes)
    }

    #[test]
    fn the_base_time_is_on_the_hour_in_beijing() {
        assert_eq!(base().with_timezone(&TZ).format("%Y-%m-%d %H:%M:%S").to_string(), "2026-11-27 10:00:00");
    }

    #[test]
    fn an_event_without_copies_is_quiet_and_has_no_hours() {
        let t = trend(&[], &[], at(0), TZ, 24);
        assert_eq!((t.hourly.len(), t.last_2h, t.prev_2h, t.state), (0, 0, 0, State::Quiet));
        assert_eq!(t.summary_zh(), "传播平息：4 小时内无新增");
        assert_eq!(t.sparkline(), "");
    }

    #[test]
    fn one_copy_is_steady_not_growing() {
        let t = trend(&[at(10)], &[], at(30), TZ, 24);
        assert_eq!((t.last_2h, t.prev_2h, t.state), (1, 0, State::Steady));
        assert_eq!(t.hourly, vec![HourBucket { start: at(0), documents: 1, interactions: None, added: 0 }]);
        assert_eq!(t.summary_zh(), "传播平稳：过去 2 小时新增 1 篇（此前 2 小时 0 篇）");
    }

    #[test]
    fn more_copies_now_than_before_is_growing_fewer_is_falling() {
        let now = at(240);
        let rising = [at(100), at(150), at(200), at(230)];
        let t = trend(&rising, &[], now, TZ, 24);
        assert_eq!((t.last_2h, t.prev_2h, t.state), (3, 1, State::Growing), "{t:?}");
        let counts: Vec<u32> = t.hourly.iter().map(|b| b.documents).collect();
        assert_eq!(counts, vec![1, 1, 2, 0], "11:00 … 14:00");
        assert_eq!(t.sparkline(), "▄▄█·");
        let falling = [at(10), at(20), at(50), at(200)];
        assert_eq!(trend(&falling, &[], now, TZ, 24).state, State::Falling);
        let steady = [at(30), at(60), at(150), at(160)];
        assert_eq!(trend(&steady, &[], now, TZ, 24).state, State::Steady);
        let quiet = [at(-600)];
        assert_eq!(trend(&quiet, &[], now, TZ, 24).state, State::Quiet);
    }

    #[test]
    fn window_edges_are_exclusive_at_the_start_and_inclusive_at_now() {
        let now = at(240);
        let copies = [at(0), at(120), at(240), at(241)];
        let s = Spread::of(copies, now);
        // at(0) is exactly now − 4 h (out), at(120) exactly now − 2 h (previous window),
        // at(240) is now (in), at(241) is in the future (nowhere).
        assert_eq!((s.last_2h, s.prev_2h), (1, 1));
        let t = trend(&copies, &[], now, TZ, 24);
        assert_eq!(t.hourly.iter().map(|b| b.documents).sum::<u32>(), 3, "the future copy is in no hour");
        assert_eq!(t.hourly.last().map(|b| (b.start, b.documents)), Some((at(240), 1)));
    }

    #[test]
    fn hours_are_capped_and_start_on_the_local_hour() {
        let copies = [at(-48 * 60 + 5), at(-30), at(15)];
        let t = trend(&copies, &[], at(59), TZ, 24);
        assert_eq!(t.hourly.len(), 24);
        assert_eq!(t.hourly.first().map(|b| b.start), Some(at(-23 * 60)));
        assert_eq!(t.hourly.iter().map(|b| b.documents).collect::<Vec<_>>()[22..], [1, 1]);
        // A zone half an hour off the hour: buckets start at :00 local time there too.
        let kolkata: Tz = chrono_tz::Asia::Kolkata;
        let t = trend(&[at(10)], &[], at(20), kolkata, 24);
        let start = t.hourly.first().map(|b| b.start.with_timezone(&kolkata).format("%M:%S").to_string());
        assert_eq!(start.as_deref(), Some("00:00"));
        assert_eq!(trend(&copies, &[], at(59), TZ, 0).hourly, Vec::new());
    }

    #[test]
    fn engagement_growth_is_counted_from_the_first_observation() {
        let copies = [at(0)];
        let engagement = [(at(30), 100), (at(90), 160), (at(100), 150), (at(170), 400)];
        let t = trend(&copies, &engagement, at(179), TZ, 24);
        let hours: Vec<(Option<i64>, i64)> = t.hourly.iter().map(|b| (b.interactions, b.added)).collect();
        assert_eq!(hours, vec![(Some(100), 0), (Some(150), 50), (Some(400), 250)]);
        assert_eq!(t.interactions_2h, Some(300), "400 now against 100 at now − 2 h");
        assert_eq!(t.summary_zh(), "传播趋缓：过去 2 小时新增 0 篇（此前 2 小时 1 篇）；互动 +300");
        let unknown = trend(&copies, &[(at(170), 400)], at(179), TZ, 24);
        assert_eq!(unknown.interactions_2h, None, "nothing known two hours ago");
    }

    #[test]
    fn a_spread_adds_a_batch_to_what_is_stored() {
        let stored = Spread { last_2h: 3, prev_2h: 1 };
        let batch = Spread::of([at(-10), at(-200)], at(0));
        assert_eq!(stored.plus(batch), Spread { last_2h: 4, prev_2h: 2 });
        assert_eq!(stored.plus(batch).state(), State::Growing);
    }
}
