//! Per-robot send budgets: whether a message may go out now, or must be merged into a
//! digest sent at a later time. Pure: the caller passes the clock.
//!
//! Each budget is "at most N messages in any period P" (WeCom and DingTalk: 20 a minute;
//! Feishu: 100 a minute and 5 a second). It is a token bucket whose tokens each come
//! back exactly P after they were spent, so no window of length P, sliding or not, ever
//! sees more than N sends: DingTalk mutes a robot for 10 minutes after a 21st message in
//! a minute, so a continuously refilling bucket (which allows a 21st after 3 s) would not
//! do.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RobotKind;

/// What to do with a message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within budget: send it now (the send has been counted).
    SendNow,
    /// Over budget: hold it, merge it with whatever else arrives, and send one digest at
    /// `at` (ask again then).
    Digest { at: DateTime<Utc> },
}

#[derive(Debug, Clone)]
struct Budget {
    capacity: usize,
    period: chrono::Duration,
    /// Times of the sends still inside the period, oldest first.
    sent: VecDeque<DateTime<Utc>>,
}

impl Budget {
    fn forget_before(&mut self, now: DateTime<Utc>) {
        while self.sent.front().is_some_and(|&t| t + self.period <= now) {
            self.sent.pop_front();
        }
    }

    /// When the next send fits (`now` if it fits already).
    fn free_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.sent.len() < self.capacity {
            return now;
        }
        let oldest_that_counts = self.sent[self.sent.len() - self.capacity];
        (oldest_that_counts + self.period).max(now)
    }
}

/// The send budget of one robot.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    budgets: Vec<Budget>,
}

impl RateLimiter {
    /// Budgets as (messages, per period); a zero count or period is ignored.
    pub fn new(limits: &[(u32, Duration)]) -> Self {
        let budgets = limits
            .iter()
            .filter(|(n, p)| *n > 0 && !p.is_zero())
            .map(|&(n, p)| Budget {
                capacity: n as usize,
                period: chrono::Duration::from_std(p).unwrap_or(chrono::Duration::MAX),
                sent: VecDeque::new(),
            })
            .collect();
        Self { budgets }
    }

    /// The platform's budgets; `per_minute` replaces the per-minute one.
    pub fn for_robot(kind: RobotKind, per_minute: Option<u32>) -> Self {
        let limits: Vec<(u32, Duration)> = kind
            .limits()
            .iter()
            .map(|&(n, p)| match per_minute {
                Some(custom) if p == Duration::from_secs(60) => (custom, p),
                _ => (n, p),
            })
            .collect();
        Self::new(&limits)
    }

    /// Whether a message may be sent at `now`; a `SendNow` is counted against the budget.
    pub fn decide(&mut self, now: DateTime<Utc>) -> Decision {
        let at = self.free_at(now);
        if at > now {
            return Decision::Digest { at };
        }
        for b in &mut self.budgets {
            b.sent.push_back(now);
        }
        Decision::SendNow
    }

    /// How many messages could be sent at `now`, one after another, without counting any.
    pub fn available(&mut self, now: DateTime<Utc>) -> usize {
        self.budgets.iter_mut().fold(usize::MAX, |n, b| {
            b.forget_before(now);
            n.min(b.capacity.saturating_sub(b.sent.len()))
        })
    }

    /// The earliest time a message could be sent, without counting anything.
    pub fn free_at(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.budgets.iter_mut().fold(now, |at, b| {
            b.forget_before(now);
            at.max(b.free_at(now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).single().expect("time")
    }

    fn ms(n: i64) -> chrono::Duration {
        chrono::Duration::milliseconds(n)
    }

    #[test]
    fn available_is_the_tightest_budget_left_and_counts_nothing() {
        let mut limiter = RateLimiter::for_robot(RobotKind::Feishu, None);
        assert_eq!(limiter.available(t0()), 5, "five a second binds before a hundred a minute");
        for _ in 0..3 {
            assert_eq!(limiter.decide(t0()), Decision::SendNow);
        }
        assert_eq!(limiter.available(t0()), 2);
        assert_eq!(limiter.available(t0()), 2, "asking spends nothing");
        assert_eq!(limiter.available(t0() + ms(1000)), 5, "the second has passed");
    }

    #[test]
    fn dingtalk_sends_twenty_a_minute_then_digests_until_the_first_slot_frees() {
        let mut limiter = RateLimiter::for_robot(RobotKind::DingTalk, None);
        // 20 messages, one every second: all go out.
        for i in 0..20 {
            assert_eq!(limiter.decide(t0() + ms(i * 1000)), Decision::SendNow, "message {i}");
        }
        // The 21st, 3 s after the 20th, would be the 21st in a minute: digest when the
        // first send is a minute old.
        let at = t0() + ms(60_000);
        assert_eq!(limiter.decide(t0() + ms(22_000)), Decision::Digest { at });
        assert_eq!(limiter.decide(t0() + ms(59_999)), Decision::Digest { at });
        // Asking does not spend: at that time exactly one more fits.
        assert_eq!(limiter.decide(at), Decision::SendNow);
        assert_eq!(limiter.decide(at), Decision::Digest { at: t0() + ms(61_000) });
    }

    #[test]
    fn no_sliding_minute_ever_holds_more_than_the_budget() {
        let mut limiter = RateLimiter::for_robot(RobotKind::WeCom, None);
        let mut sent = Vec::new();
        // A message every 700 ms for ten minutes.
        for i in 0..857 {
            let now = t0() + ms(i * 700);
            if limiter.decide(now) == Decision::SendNow {
                sent.push(now);
            }
        }
        for (i, &start) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&t| t < start + ms(60_000)).count();
            assert!(in_window <= 20, "{in_window} sends in the minute from {start}");
        }
        // And the budget is used: 20 per minute over ten minutes.
        assert!(sent.len() >= 190, "{}", sent.len());
    }

    #[test]
    fn feishu_keeps_both_five_a_second_and_a_hundred_a_minute() {
        let mut limiter = RateLimiter::for_robot(RobotKind::Feishu, None);
        for i in 0..5 {
            assert_eq!(limiter.decide(t0() + ms(i)), Decision::SendNow);
        }
        assert_eq!(limiter.decide(t0() + ms(10)), Decision::Digest { at: t0() + ms(1000) });
        // Five a second for twenty seconds is 100 sends; the 101st waits for the minute.
        let mut now = t0() + ms(1000);
        let mut count = 5;
        while count < 100 {
            match limiter.decide(now) {
                Decision::SendNow => count += 1,
                Decision::Digest { at } => now = at,
            }
        }
        assert!(now < t0() + ms(20_000), "{now}");
        assert_eq!(limiter.decide(now + ms(1000)), Decision::Digest { at: t0() + ms(60_000) });
    }

    #[test]
    fn a_configured_rate_replaces_the_per_minute_budget_only() {
        let mut limiter = RateLimiter::for_robot(RobotKind::Feishu, Some(2));
        assert_eq!(limiter.decide(t0()), Decision::SendNow);
        assert_eq!(limiter.decide(t0()), Decision::SendNow);
        assert_eq!(limiter.decide(t0()), Decision::Digest { at: t0() + ms(60_000) });
        let mut wecom = RateLimiter::for_robot(RobotKind::WeCom, Some(1));
        assert_eq!(wecom.decide(t0()), Decision::SendNow);
        assert_eq!(wecom.free_at(t0() + ms(30_000)), t0() + ms(60_000));
    }

    #[test]
    fn a_clock_stepping_back_does_not_panic_or_free_slots() {
        let mut limiter = RateLimiter::new(&[(1, Duration::from_secs(60))]);
        assert_eq!(limiter.decide(t0()), Decision::SendNow);
        assert_eq!(limiter.decide(t0() - ms(5000)), Decision::Digest { at: t0() + ms(60_000) });
    }
}
