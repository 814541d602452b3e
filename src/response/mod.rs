//! The response the regulation demands: the organisation (people, sections, leaders, the
//! openness office, outside departments), the grade of an event over the three axes of
//! Art. 8, and who owns it, answers for it, is told at each escalation step and receives a
//! report (Art. 3, 4, 9), and an event's hourly trend (is it still growing?). Pure: config
//! comes in parsed, facts come in measured.

pub mod deadline;
pub mod grade;
pub mod org;
pub mod policy;
pub mod route;
pub mod trend;

pub use grade::{Acceleration, Facts, Grade, GradeRule, Grading, Reaction, Tier};
pub use org::{Department, Organisation, Person, Section};
pub use route::{Decision, EventKey, Ladder, Ladders, Role, Route, Routing, Step};
