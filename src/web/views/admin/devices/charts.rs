//! What the device page draws: supplies as bars and the 90-day charts (pages per day,
//! supply levels), as SVG made here from numbers and fixed colours only.

use std::fmt::Write as _;

use super::{DAY, HISTORY_DAYS, LOW_PERCENT, dash};
use crate::db::SupplyRow;
use crate::db::devices::{MeterRow, SupplyPoint};
use crate::web::views::when;

/// A supply as the detail page shows it.
pub struct SupplyView {
    pub description: String,
    pub kind: String,
    pub percent: String,
    pub amount: String,
    pub low: bool,
    /// A bar as an `<svg>` element: generated here, digits and fixed colours only (the
    /// page's CSP allows no inline style, so widths cannot be CSS).
    pub bar: String,
}

pub(super) fn supply_view(x: &SupplyRow) -> SupplyView {
    let percent = x.percent.map(|p| p.clamp(0, 100));
    let amount = match (x.level, x.max_capacity) {
        (Some(-3), _) => "some left".into(),
        (Some(l), Some(m)) if l >= 0 && m > 0 => format!("{l} of {m} {}", x.unit),
        (Some(l), _) if l >= 0 => format!("{l} {}", x.unit),
        _ => "level unknown".into(),
    };
    SupplyView {
        description: dash(&x.description),
        kind: x.kind.clone(),
        percent: percent.map_or("—".into(), |p| format!("{p} %")),
        amount,
        low: percent.is_some_and(|p| p < LOW_PERCENT),
        bar: format!(
            "<svg class=\"bar\" viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect width=\"100\" height=\"10\" fill=\"#e9ecf1\"/><rect width=\"{}\" height=\"10\" fill=\"{}\"/></svg>",
            percent.unwrap_or(0),
            colour_of(x)
        ),
    }
}

/// A fixed colour for a supply: its colorant's for toner and ink, grey otherwise.
pub(super) fn colour_of(x: &SupplyRow) -> &'static str {
    let name = format!("{} {}", x.colorant, x.description).to_lowercase();
    let colorant = crate::devices::mib::is_colorant_kind(&x.kind);
    match () {
        _ if colorant && name.contains("cyan") => "#00a0d8",
        _ if colorant && name.contains("magenta") => "#d40078",
        _ if colorant && name.contains("yellow") => "#e8bd00",
        _ if colorant && name.contains("black") => "#222222",
        _ if colorant => "#1f5fbf",
        _ => "#8a93a3",
    }
}

const W: f64 = 720.0;
const H: f64 = 180.0;

/// Pages per UTC day over the last 90 days: the difference between consecutive reads,
/// counted on the day of the later read (a counter that went back, e.g. a replaced
/// board, counts nothing).
pub(super) fn meter_chart(reads: &[MeterRow], now: i64) -> Option<String> {
    let count = |m: &MeterRow| {
        m.total
            .or(m.mono.zip(m.color).map(|(a, b)| a + b))
            .or(m.mono)
    };
    let points: Vec<(i64, i64)> = reads
        .iter()
        .filter_map(|m| Some((m.at, count(m)?)))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let today = now.div_euclid(DAY);
    let mut days = vec![0i64; HISTORY_DAYS as usize];
    for pair in points.windows(2) {
        let slot = HISTORY_DAYS - 1 - (today - pair[1].0.div_euclid(DAY));
        if let Ok(slot) = usize::try_from(slot)
            && slot < days.len()
        {
            days[slot] += (pair[1].1 - pair[0].1).max(0);
        }
    }
    let top = days.iter().copied().max().unwrap_or(0).max(1);
    let slot_w = W / HISTORY_DAYS as f64;
    let mut svg = chart_frame("Pages per day", &top.to_string());
    for (i, pages) in days.iter().enumerate().filter(|(_, p)| **p > 0) {
        let h = (*pages as f64 / top as f64) * (H - 10.0);
        let day = when((today - (HISTORY_DAYS - 1 - i as i64)) * DAY);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#1f5fbf\"><title>{}: {pages} pages</title></rect>",
            i as f64 * slot_w + 1.0,
            H - h,
            (slot_w - 2.0).max(1.0),
            day.get(..10).unwrap_or(&day),
        );
    }
    Some(chart_end(svg, now))
}

/// Percent per supply over the last 90 days, one polyline each in the supply's colour.
pub(super) fn toner_chart(
    history: &[SupplyPoint],
    supplies: &[SupplyRow],
    now: i64,
) -> Option<String> {
    let since = now - HISTORY_DAYS * DAY;
    let mut svg = chart_frame("Supply levels, percent", "100 %");
    let mut drawn = false;
    for x in supplies {
        let points: Vec<String> = history
            .iter()
            .filter(|p| p.idx == x.idx)
            .filter_map(|p| {
                let percent = p.percent?.clamp(0, 100) as f64;
                let at = (p.at - since).clamp(0, HISTORY_DAYS * DAY) as f64;
                Some(format!(
                    "{:.1},{:.1}",
                    at / (HISTORY_DAYS * DAY) as f64 * W,
                    H - percent / 100.0 * (H - 10.0)
                ))
            })
            .collect();
        let Some(last) = points.last() else { continue };
        let colour = colour_of(x);
        let (cx, cy) = last.split_once(',').unwrap_or(("0", "0"));
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/><circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{colour}\"/>",
            points.join(" ")
        );
        drawn = true;
    }
    drawn.then(|| chart_end(svg, now))
}

fn chart_frame(label: &str, top: &str) -> String {
    format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-50 -20 {} {}\" role=\"img\" aria-label=\"{label}\" font-size=\"12\" font-family=\"system-ui, sans-serif\">\
         <line x1=\"0\" y1=\"{H}\" x2=\"{W}\" y2=\"{H}\" stroke=\"#999\"/><line x1=\"0\" y1=\"10\" x2=\"{W}\" y2=\"10\" stroke=\"#ddd\" stroke-dasharray=\"4 4\"/>\
         <text x=\"-6\" y=\"14\" text-anchor=\"end\" fill=\"#5b6475\">{top}</text><text x=\"-6\" y=\"{H}\" text-anchor=\"end\" fill=\"#5b6475\">0</text>",
        W + 60.0,
        H + 45.0,
    )
}

fn chart_end(mut svg: String, now: i64) -> String {
    let date = |t: i64| when(t).get(..10).map(str::to_owned).unwrap_or_default();
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"{}\" fill=\"#5b6475\">{}</text><text x=\"{W}\" y=\"{}\" text-anchor=\"end\" fill=\"#5b6475\">{}</text></svg>",
        H + 18.0,
        date(now - (HISTORY_DAYS - 1) * DAY),
        H + 18.0,
        date(now),
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(at: i64, total: i64) -> MeterRow {
        MeterRow {
            at,
            total: Some(total),
            mono: None,
            color: None,
        }
    }

    #[test]
    fn pages_per_day_need_two_reads_and_ignore_counters_that_went_back() {
        let now = 100 * DAY + 3600;
        assert!(meter_chart(&[read(now, 10)], now).is_none());
        let svg = meter_chart(&[read(now - DAY, 100), read(now - 60, 250)], now).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("150 pages"), "{svg}");
        let reset = meter_chart(&[read(now - DAY, 900), read(now, 5)], now).unwrap();
        assert!(!reset.contains("<rect"), "{reset}");
    }
}
