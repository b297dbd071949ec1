//! The audit log page (`/admin/audit`, issue 20): filtered by person, action, outcome
//! and date range (GET parameters; action and outcome are closed sets, parsed into
//! their enums here at the edge), paged newest first, and exported as CSV
//! (`/admin/audit.csv`, the same filters) with cells that a spreadsheet cannot take for
//! a formula.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::dashboard::AuditLine;
use crate::db::{AuditEntry, AuditFilter};
use crate::identity::{AuditAction, AuditOutcome};
use crate::web::AppState;
use crate::web::auth::Admin;
use crate::web::error::{PageError, Problem};
use crate::web::views::{Page, render};

/// Rows a page shows.
const PAGE: i64 = 50;
/// Rows one CSV export holds at most (the newest; narrow the dates for older ones).
const CSV_MAX_ROWS: i64 = 100_000;
const CSV_BATCH: i64 = 1000;

/// The page's query, as typed; empty fields are "any".
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    #[serde(default)]
    person: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default)]
    to: String,
}

/// The filters once checked: the closed sets as enums, the dates as times.
#[derive(Debug, Default)]
struct Filters {
    person: Option<String>,
    action: Option<AuditAction>,
    outcome: Option<AuditOutcome>,
    from: Option<time::Date>,
    to: Option<time::Date>,
}

fn date(field: &str, text: &str) -> Result<Option<time::Date>, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    // What `<input type="date">` sends; read by hand (the `time` crate is built
    // without its parser).
    ymd(text)
        .map(Some)
        .ok_or_else(|| Problem::bad_request(format!("{field}: a date as YYYY-MM-DD, not “{text}”")))
}

/// `YYYY-MM-DD` as a date.
fn ymd(text: &str) -> Option<time::Date> {
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

impl Filters {
    fn parse(query: &AuditQuery) -> Result<Self, Problem> {
        let person = query.person.trim();
        let action = match query.action.trim() {
            "" => None,
            text => Some(
                AuditAction::parse(text)
                    .ok_or_else(|| Problem::bad_request(format!("unknown action “{text}”")))?,
            ),
        };
        let outcome = match query.outcome.trim() {
            "" => None,
            text => Some(
                AuditOutcome::parse(text)
                    .ok_or_else(|| Problem::bad_request(format!("unknown outcome “{text}”")))?,
            ),
        };
        let from = date("from", &query.from)?;
        let to = date("to", &query.to)?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(Problem::bad_request("the date range ends before it starts"));
        }
        Ok(Self {
            person: (!person.is_empty()).then(|| person.to_lowercase()),
            action,
            outcome,
            from,
            to,
        })
    }

    fn for_db(&self) -> AuditFilter {
        let midnight = |d: time::Date| d.midnight().assume_utc().unix_timestamp();
        AuditFilter {
            person: self.person.clone(),
            action: self.action.map(AuditAction::as_str),
            outcome: self.outcome.map(AuditOutcome::as_str),
            since: self.from.map(midnight),
            // Through the end of the last day.
            until: self.to.map(|d| midnight(d) + 24 * 3600),
        }
    }

    /// The filters as a query string (for the next page and the CSV link).
    fn query(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(p) = &self.person {
            q.append_pair("person", p);
        }
        if let Some(a) = self.action {
            q.append_pair("action", a.as_str());
        }
        if let Some(o) = self.outcome {
            q.append_pair("outcome", o.as_str());
        }
        if let Some(d) = self.from {
            q.append_pair("from", &d.to_string());
        }
        if let Some(d) = self.to {
            q.append_pair("to", &d.to_string());
        }
        q.finish()
    }
}

/// One choice of a filter's list.
pub struct Choice {
    pub value: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    page: Page,
    entries: Vec<AuditLine>,
    /// The query of the next (older) page, when there is one.
    next: Option<String>,
    person: String,
    actions: Vec<Choice>,
    outcomes: Vec<Choice>,
    from: String,
    to: String,
    /// The filters as a query string, for the CSV link.
    query: String,
    filtered: bool,
}

/// `GET /admin/audit`.
pub async fn audit(
    state: web::Data<AppState>,
    who: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let filters = Filters::parse(&query).map_err(PageError)?;
    let rows = state
        .services
        .db
        .audit_search(&filters.for_db(), query.before, PAGE)
        .await?;
    let base = filters.query();
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|before| {
            if base.is_empty() {
                format!("before={before}")
            } else {
                format!("{base}&before={before}")
            }
        });
    let page = Page::for_user("Audit log", &state.services.identity, &who.0);
    render(&AuditPage {
        page,
        entries: rows.into_iter().map(AuditLine::from).collect(),
        next,
        person: filters.person.clone().unwrap_or_default(),
        actions: AuditAction::ALL
            .iter()
            .map(|a| Choice {
                value: a.as_str(),
                selected: filters.action == Some(*a),
            })
            .collect(),
        outcomes: AuditOutcome::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str(),
                selected: filters.outcome == Some(*o),
            })
            .collect(),
        from: filters.from.map(|d| d.to_string()).unwrap_or_default(),
        to: filters.to.map(|d| d.to_string()).unwrap_or_default(),
        filtered: !base.is_empty(),
        query: base,
    })
}

/// `GET /admin/audit.csv`: every row the filters select (newest first, at most
/// `CSV_MAX_ROWS`).
pub async fn audit_csv(
    state: web::Data<AppState>,
    _who: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let filters = Filters::parse(&query).map_err(PageError)?;
    let filter = filters.for_db();
    let mut out = String::from("id,time,actor,action,target,outcome,client,detail\r\n");
    let mut before = None;
    let mut written = 0;
    while written < CSV_MAX_ROWS {
        let rows = state
            .services
            .db
            .audit_search(&filter, before, CSV_BATCH.min(CSV_MAX_ROWS - written))
            .await?;
        let Some(last) = rows.last() else { break };
        before = Some(last.id);
        let batch = rows.len() as i64;
        for row in &rows {
            out.push_str(&csv_line(row));
        }
        written += batch;
        if batch < CSV_BATCH {
            break;
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"printpark-audit.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(out))
}

fn csv_line(e: &AuditEntry) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(e.at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let cells = [
        e.id.to_string(),
        at,
        e.actor.clone(),
        e.action.clone(),
        e.target.clone(),
        e.outcome.clone(),
        e.client_addr.clone(),
        e.detail.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// One CSV cell (RFC 4180 quoting). A cell a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, a tab or a carriage return: a login someone typed,
/// a detail) gets a leading `'`, so it is shown as text and never run.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_text_and_cells_are_quoted() {
        assert_eq!(csv_cell("ann"), "ann");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn filters_parse_closed_sets_and_dates() {
        let query = AuditQuery {
            person: " Ann ".into(),
            action: "auth.password".into(),
            outcome: "failure".into(),
            from: "2026-12-01".into(),
            to: "2026-12-01".into(),
            ..Default::default()
        };
        let filters = Filters::parse(&query).unwrap();
        let db = filters.for_db();
        assert_eq!(db.person.as_deref(), Some("ann"));
        assert_eq!(db.action, Some("auth.password"));
        assert_eq!(db.outcome, Some("failure"));
        assert_eq!(db.until.unwrap() - db.since.unwrap(), 24 * 3600);
        assert_eq!(
            filters.query(),
            "person=ann&action=auth.password&outcome=failure&from=2026-12-01&to=2026-12-01"
        );
        for bad in [
            AuditQuery {
                action: "auth.".into(),
                ..Default::default()
            },
            AuditQuery {
                outcome: "fine".into(),
                ..Default::default()
            },
            AuditQuery {
                from: "1 Dec".into(),
                ..Default::default()
            },
            AuditQuery {
                from: "2026-12-02".into(),
                to: "2026-12-01".into(),
                ..Default::default()
            },
        ] {
            assert!(Filters::parse(&bad).is_err(), "{bad:?}");
        }
        assert!(
            Filters::parse(&AuditQuery::default())
                .unwrap()
                .query()
                .is_empty()
        );
    }
}
