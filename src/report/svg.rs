//! The report's charts as SVG markup: a scatter of over-refusal against harmful-prompt refusal
//! with interval bars, per-principle attribution bars, and win rates with their intervals.
//! Every text is escaped here; the markup has no scripts, links or external references.

use crate::metrics::Rate;

/// Escapes `text` for SVG text and attributes, line breaks included: the report's Markdown
/// carries the chart markup inline, where a blank line would end the HTML block and let what
/// follows (a prompt id, say) render as Markdown.
fn escape(text: &str) -> String {
    super::escape(text).replace(['\n', '\r'], " ")
}

const WIDTH: f64 = 560.0;
const MARGIN: f64 = 48.0;

/// `value` (0-1) on an axis from `from` to `to` pixels.
fn scale(value: f64, from: f64, to: f64) -> f64 {
    from + value.clamp(0.0, 1.0) * (to - from)
}

fn open(height: f64, title: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" \
         height=\"{height}\" role=\"img\" aria-label=\"{}\">\n",
        escape(title)
    )
}

/// One run's point: its label, over-refusal (x) and harmful-prompt refusal (y).
pub struct ScatterPoint<'a> {
    pub label: &'a str,
    pub x: &'a Rate,
    pub y: &'a Rate,
}

/// Over-refusal of benign prompts (x) against refusal of harmful ones (y), each point with its
/// two intervals. The top left is where a constitution wants to be.
pub fn scatter(points: &[ScatterPoint<'_>]) -> String {
    let size = 320.0;
    let (left, top) = (MARGIN + 16.0, 16.0);
    let (right, bottom) = (left + size, top + size);
    let height = bottom + 48.0;
    let mut svg = open(
        height,
        "Over-refusal of benign prompts against refusal of harmful prompts",
    );
    svg.push_str(&format!(
        "<rect class=\"frame\" x=\"{left}\" y=\"{top}\" width=\"{size}\" height=\"{size}\"/>\n"
    ));
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = scale(tick, left, right);
        let y = scale(tick, bottom, top);
        let percent = tick * 100.0;
        svg.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>\
             <line class=\"grid\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\"/>\
             <text class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{percent:.0}%</text>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{percent:.0}%</text>\n",
            bottom + 14.0,
            left - 4.0,
            y + 4.0
        ));
    }
    svg.push_str(&format!(
        "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">over-refusal of \
         benign prompts</text>\n<text class=\"axis\" transform=\"translate(14 {:.1}) \
         rotate(-90)\" text-anchor=\"middle\">refusal of harmful prompts</text>\n",
        (left + right) / 2.0,
        bottom + 34.0,
        (top + bottom) / 2.0
    ));
    for (index, point) in points.iter().enumerate() {
        let (Some(x), Some(y)) = (point.x.rate, point.y.rate) else {
            continue;
        };
        let (cx, cy) = (scale(x, left, right), scale(y, bottom, top));
        let class = format!("series{}", index % 2);
        if let Some([low, high]) = point.x.interval {
            svg.push_str(&format!(
                "<line class=\"{class} bar\" x1=\"{:.1}\" y1=\"{cy:.1}\" x2=\"{:.1}\" y2=\"{cy:.1}\"/>\n",
                scale(low, left, right),
                scale(high, left, right)
            ));
        }
        if let Some([low, high]) = point.y.interval {
            svg.push_str(&format!(
                "<line class=\"{class} bar\" x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\"/>\n",
                scale(low, bottom, top),
                scale(high, bottom, top)
            ));
        }
        svg.push_str(&format!(
            "<circle class=\"{class}\" cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\"><title>{}: \
             over-refusal {}, harmful refusal {}</title></circle>\n<text class=\"label\" \
             x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            escape(point.label),
            escape(&point.x.display()),
            escape(&point.y.display()),
            cx + 8.0,
            cy - 8.0,
            escape(point.label)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// A principle's bars: its label, and the counts of its rounds that turned an answer into a
/// refusal and into compliance.
pub struct PrincipleBar<'a> {
    pub label: String,
    pub to_refusal: &'a Rate,
    pub to_compliance: &'a Rate,
}

/// Per principle, how many of its rounds flipped an answer each way.
pub fn attribution(bars: &[PrincipleBar<'_>]) -> String {
    let row = 30.0;
    let label_width = 220.0;
    let (left, right) = (label_width, WIDTH - 16.0);
    let height = 36.0 + row * bars.len() as f64;
    let most = bars
        .iter()
        .map(|bar| bar.to_refusal.count.max(bar.to_compliance.count))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut svg = open(height, "Refusal flips per principle");
    svg.push_str(&format!(
        "<rect class=\"series0\" x=\"{left}\" y=\"4\" width=\"10\" height=\"10\"/><text \
         class=\"tick\" x=\"{:.1}\" y=\"13\">compliance → refusal</text><rect class=\"series1\" \
         x=\"{:.1}\" y=\"4\" width=\"10\" height=\"10\"/><text class=\"tick\" x=\"{:.1}\" \
         y=\"13\">refusal → compliance</text>\n",
        left + 14.0,
        left + 160.0,
        left + 174.0
    ));
    for (index, bar) in bars.iter().enumerate() {
        let y = 24.0 + row * index as f64;
        svg.push_str(&format!(
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            left - 6.0,
            y + 16.0,
            escape(&bar.label)
        ));
        for (offset, (class, rate, what)) in [
            ("series0", bar.to_refusal, "to refusal"),
            ("series1", bar.to_compliance, "to compliance"),
        ]
        .into_iter()
        .enumerate()
        {
            let width = (right - left - 40.0) * rate.count as f64 / most;
            let bar_y = y + 3.0 + 12.0 * offset as f64;
            svg.push_str(&format!(
                "<rect class=\"{class}\" x=\"{left}\" y=\"{bar_y:.1}\" width=\"{width:.1}\" \
                 height=\"11\"><title>{} {what}: {} of its rounds ({})</title></rect><text \
                 class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                escape(&bar.label),
                escape(&rate.display()),
                escape(&rate.prompts.join(", ")),
                left + width + 4.0,
                bar_y + 10.0,
                rate.count
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Win rates (B over A), each a point with its interval on a 0-100% axis with the 50% line.
pub fn win_rates(rows: &[(&str, &Rate)]) -> String {
    let row = 28.0;
    let (left, right) = (120.0, WIDTH - 24.0);
    let height = 40.0 + row * rows.len() as f64;
    let bottom = 12.0 + row * rows.len() as f64;
    let mut svg = open(height, "Win rate of B over A");
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = scale(tick, left, right);
        let class = if tick == 0.5 { "even" } else { "grid" };
        svg.push_str(&format!(
            "<line class=\"{class}\" x1=\"{x:.1}\" y1=\"8\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/><text \
             class=\"tick\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}%</text>\n",
            bottom + 14.0,
            tick * 100.0
        ));
    }
    for (index, (label, rate)) in rows.iter().enumerate() {
        let y = 20.0 + row * index as f64;
        svg.push_str(&format!(
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            left - 8.0,
            y + 4.0,
            escape(label)
        ));
        if let (Some(value), Some([low, high])) = (rate.rate, rate.interval) {
            svg.push_str(&format!(
                "<line class=\"series1 bar\" x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
                 <circle class=\"series1\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"5\"><title>{}: B won \
                 {}</title></circle>\n",
                scale(low, left, right),
                scale(high, left, right),
                scale(value, left, right),
                escape(label),
                escape(&rate.display())
            ));
        }
    }
    svg.push_str("</svg>\n");
    svg
}
