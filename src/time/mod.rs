//! Time rules, pure and given a timezone: crontab schedules ([`schedule`]: when a source or a
//! briefing is due) and the working calendar ([`calendar`]: working periods, weekends,
//! public holidays and make-up workdays, for working-hour deadlines and quiet hours).

pub mod calendar;
pub mod schedule;
