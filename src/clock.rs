//! The wall clock of PrintPark: every stored time is Unix seconds, taken here, so
//! one place decides what "now" is (the database, the agent and the web pages agree).

/// Now, in Unix seconds, the unit of every time column.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
