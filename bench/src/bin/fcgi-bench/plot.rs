//! A small SVG line chart written by hand: requests/s against kept-alive connections.

use std::fmt::Write as _;

pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub dashed: bool,
    /// One value per x category; `None` leaves a gap.
    pub values: Vec<Option<f64>>,
}

fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if raw <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn svg(title: &str, subtitle: &str, xs: &[&str], xlabel: &str, series: &[Series]) -> String {
    let (w, h) = (720.0, 440.0);
    let (left, right, top, bottom) = (80.0, 190.0, 60.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .fold(0.0, f64::max);
    let step = nice_step(max * 1.05);
    let ymax = (max * 1.05 / step).ceil().max(1.0) * step;
    let x = |i: usize| left + pw * (i as f64 + 0.5) / xs.len() as f64;
    let y = |v: f64| top + ph * (1.0 - v / ymax);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(o, "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>");
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">{}</text>",
        left + pw / 2.0,
        esc(title)
    );
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"42\" fill=\"#555\" text-anchor=\"middle\">{}</text>",
        left + pw / 2.0,
        esc(subtitle)
    );
    let mut v = 0.0;
    while v <= ymax + step / 2.0 {
        let _ = writeln!(
            o,
            "<line x1=\"{left}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4:.0}</text>",
            y(v),
            left + pw,
            left - 8.0,
            y(v) + 4.0,
            v
        );
        v += step;
    }
    for (i, label) in xs.iter().enumerate() {
        let _ = writeln!(
            o,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#999\"/>\
             <text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\">{4}</text>",
            x(i),
            top + ph,
            top + ph + 5.0,
            top + ph + 20.0,
            esc(label)
        );
    }
    let _ = writeln!(
        o,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#333\"/>"
    );
    let _ = writeln!(
        o,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        left + pw / 2.0,
        h - 15.0,
        esc(xlabel)
    );
    let _ = writeln!(
        o,
        "<text transform=\"translate(20 {}) rotate(-90)\" text-anchor=\"middle\">requests/s</text>",
        top + ph / 2.0
    );
    for (k, s) in series.iter().enumerate() {
        let dash = if s.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let pts: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = writeln!(
            o,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>",
            pts.join(" "),
            s.color
        );
        for p in &pts {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                o,
                "<circle cx=\"{px}\" cy=\"{py}\" r=\"3.5\" fill=\"{}\"/>",
                s.color
            );
        }
        let ly = top + 10.0 + 22.0 * k as f64;
        let lx = left + pw + 16.0;
        let _ = writeln!(
            o,
            "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            lx + 24.0,
            s.color,
            lx + 30.0,
            ly + 4.0,
            esc(s.label)
        );
    }
    let _ = writeln!(o, "</svg>");
    o
}
