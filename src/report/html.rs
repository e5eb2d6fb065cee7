//! A report as one self-contained HTML page: styles inline, charts as inline SVG, no scripts,
//! no links, no remote resources. A cell's prompt ids sit in a `<details>` under its figure.

use super::{Block, Report, escape};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;\
padding:0 1em;color:#1d1d1f}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;\
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ddd;padding:.3em .5em;vertical-align:top;text-align:left;\
white-space:pre-wrap;overflow-wrap:anywhere;max-width:32em}th{background:#f4f4f6}details summary{cursor:pointer}\
details div{font-size:.85em;color:#555}pre{background:#f4f4f6;padding:.8em;overflow:auto}\
.chart{display:block;margin:.5em 0}.chart text{font-size:11px;fill:#333}\
.chart .axis{font-size:12px}.frame{fill:none;stroke:#999}.grid{stroke:#e5e5ea}\
.even{stroke:#888;stroke-dasharray:4 3}.series0{fill:#c0392b;stroke:#c0392b}\
.series1{fill:#2471a3;stroke:#2471a3}.bar{stroke-width:2}";

/// The report as an HTML page.
pub fn html(report: &Report) -> String {
    let title = escape(&report.title());
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta \
         http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src \
         'unsafe-inline'\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{title}</h1>\n"
    );
    for block in report.blocks() {
        match block {
            Block::Heading(text) => page.push_str(&format!("<h2>{}</h2>\n", escape(&text))),
            Block::Paragraph(text) => page.push_str(&format!("<p>{}</p>\n", escape(&text))),
            Block::Chart(svg) => page.push_str(&svg),
            Block::Preformatted(text) => {
                page.push_str(&format!("<pre>{}</pre>\n", escape(&text)));
            }
            Block::Table { header, rows } => {
                page.push_str("<table>\n<tr>");
                for name in header {
                    page.push_str(&format!("<th>{}</th>", escape(&name)));
                }
                page.push_str("</tr>\n");
                for row in rows {
                    page.push_str("<tr>");
                    for cell in row {
                        if cell.prompts.is_empty() {
                            page.push_str(&format!("<td>{}</td>", escape(&cell.text)));
                        } else {
                            page.push_str(&format!(
                                "<td><details><summary>{}</summary><div>{}</div></details></td>",
                                escape(&cell.text),
                                escape(&cell.prompts.join(", "))
                            ));
                        }
                    }
                    page.push_str("</tr>\n");
                }
                page.push_str("</table>\n");
            }
        }
    }
    page.push_str("</body>\n</html>\n");
    page
}
