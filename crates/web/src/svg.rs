//! Pictures drawn on the server as SVG: no chart library, no script. Each picture has a
//! text alternative (`role="img"` and a `<title>`), and its numbers are also in the page's text.

use maud::{Markup, html};
use medguard_fleet::OverallStatus;

fn colour(s: OverallStatus) -> &'static str {
    match s {
        OverallStatus::Ok => "#1a7f37",
        OverallStatus::Attention => "#b3261e",
        OverallStatus::Stale => "#8a5a00",
        OverallStatus::Unknown => "#4a5560",
        OverallStatus::Revoked => "#6e3fa3",
    }
}

/// Devices by status: one horizontal bar per status, with its count.
#[must_use]
pub fn status_bars(counts: &[(OverallStatus, u64)]) -> Markup {
    let order = [
        OverallStatus::Attention,
        OverallStatus::Stale,
        OverallStatus::Unknown,
        OverallStatus::Ok,
        OverallStatus::Revoked,
    ];
    let count = |s: OverallStatus| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
    let max = order.iter().map(|s| count(*s)).max().unwrap_or(0).max(1);
    let width = 480u64;
    let label: String = order
        .iter()
        .map(|s| format!("{} {}", count(*s), s.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg xmlns="http://www.w3.org/2000/svg" role="img" width="640" height="150" viewBox="0 0 640 150" {
            title { "Devices by status: " (label) }
            @for (i, s) in order.iter().enumerate() {
                @let y = 8 + i * 28;
                @let n = count(*s);
                @let w = if n == 0 { 0 } else { (n * width / max).max(2) };
                text x="0" y=(y + 15) { (s.as_str()) }
                rect x="90" y=(y) width=(w) height="20" fill=(colour(*s)) {}
                text x=(95 + w) y=(y + 15) { (n) }
            }
        }
    }
}

/// A series over time as a line (e.g. a device's deviations per verification).
#[must_use]
pub fn timeline(title: &str, points: &[(String, u64)]) -> Markup {
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = points.len().max(2) as u64 - 1;
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{},{}", 40 + (i as u64) * 560 / n, 130 - v * 110 / max))
        .collect();
    html! {
        svg xmlns="http://www.w3.org/2000/svg" role="img" width="640" height="160" viewBox="0 0 640 160" {
            title { (title) }
            line x1="40" y1="130" x2="600" y2="130" stroke="#7a8794" {}
            text x="0" y="25" { (max) }
            text x="0" y="134" { "0" }
            polyline points=(coords.join(" ")) fill="none" stroke="#0b5cad" stroke-width="2" {}
        }
    }
}
