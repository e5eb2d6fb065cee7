//! The statistics behind every figure: a rate with its Wilson interval, and the exact paired
//! tests (McNemar on discordant pairs, the sign test on wins and losses), both two-sided
//! binomial tests at p = 1/2.
//!
//! Exact tests rather than their chi-square approximations: a compare runs on tens of prompts,
//! where the approximations are poor, and the exact sums are cheap at these sizes (computed in
//! log space, so that they hold for any count).

use serde::Serialize;

/// The normal quantile of a two-sided 95% interval.
const Z_95: f64 = 1.959_963_984_540_054;

/// `count` of `total` prompts, with the interval and the prompts counted (the drill-down).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct Rate {
    pub count: usize,
    pub total: usize,
    /// `count / total`; `None` when nothing was counted.
    pub rate: Option<f64>,
    /// The 95% Wilson score interval of the rate.
    pub interval: Option<[f64; 2]>,
    /// The ids of the prompts in `count`, in the run's order; where the figure counts rounds
    /// (per principle, boilerplate), a prompt is listed once per round it counts.
    pub prompts: Vec<String>,
}

impl Rate {
    /// The rate of `prompts` among `total`.
    pub fn new(prompts: Vec<String>, total: usize) -> Self {
        let count = prompts.len();
        debug_assert!(count <= total, "{count} of {total}");
        Self {
            count,
            total,
            rate: (total > 0).then(|| count as f64 / total as f64),
            interval: wilson(count, total),
            prompts,
        }
    }

    /// `12/40 = 30.0% [17.9, 45.6]`, or `0/0` when nothing was counted.
    pub fn display(&self) -> String {
        match (self.rate, self.interval) {
            (Some(rate), Some([low, high])) => format!(
                "{}/{} = {:.1}% [{:.1}, {:.1}]",
                self.count,
                self.total,
                100.0 * rate,
                100.0 * low,
                100.0 * high
            ),
            _ => format!("{}/{}", self.count, self.total),
        }
    }
}

/// The 95% Wilson score interval of `count` successes in `total` trials; `None` for no trials.
/// Unlike the normal (Wald) interval it stays inside [0, 1] and keeps its coverage near 0 and
/// 1, where over-refusal rates usually are.
pub fn wilson(count: usize, total: usize) -> Option<[f64; 2]> {
    if total == 0 {
        return None;
    }
    let n = total as f64;
    let p = count as f64 / n;
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some([(centre - half).max(0.0), (centre + half).min(1.0)])
}

/// The two-sided exact binomial test of `k` successes in `n` trials at p = 1/2: the
/// probability of a split at least as uneven as this one. 1 for no trials.
pub fn binomial_two_sided(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let low = k.min(n - k);
    // P(X <= low) for X ~ Bin(n, 1/2), doubled (the distribution is symmetric); each term in
    // log space, so that 0.5^n does not underflow for large n.
    let ln_half_n = n as f64 * 0.5f64.ln();
    let mut ln_choose = 0.0; // ln C(n, 0)
    let mut tail = 0.0;
    for i in 0..=low {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// A paired test between two sides on the same prompts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "wire-types", derive(ts_rs::TS))]
pub struct PairedTest {
    /// `mcnemar` (a yes/no outcome per prompt on each side) or `sign` (a win or loss per prompt).
    pub test: &'static str,
    /// The prompts that count for A (yes on A only, or A's wins).
    pub for_a: Vec<String>,
    /// The prompts that count for B.
    pub for_b: Vec<String>,
    /// The two-sided exact p-value; small when the split between `for_a` and `for_b` is
    /// unlikely under no difference.
    pub p_value: f64,
}

impl PairedTest {
    /// McNemar's exact test: `a_only` prompts had the outcome on A and not on B, `b_only` the
    /// other way round; prompts with the same outcome on both sides carry no information.
    pub fn mcnemar(a_only: Vec<String>, b_only: Vec<String>) -> Self {
        Self::exact("mcnemar", a_only, b_only)
    }

    /// The sign test: prompts A won and prompts B won (ties left out).
    pub fn sign(a_wins: Vec<String>, b_wins: Vec<String>) -> Self {
        Self::exact("sign", a_wins, b_wins)
    }

    fn exact(test: &'static str, for_a: Vec<String>, for_b: Vec<String>) -> Self {
        let p_value = binomial_two_sided(for_a.len(), for_a.len() + for_b.len());
        Self {
            test,
            for_a,
            for_b,
            p_value,
        }
    }

    /// `3 vs 9, p = 0.146 (mcnemar)`.
    pub fn display(&self) -> String {
        format!(
            "{} vs {}, p = {:.3} ({})",
            self.for_a.len(),
            self.for_b.len(),
            self.p_value,
            self.test
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("p{i}")).collect()
    }

    #[test]
    fn wilson_matches_published_values() {
        // Newcombe (1998), table I: 81/263 -> 0.2553-0.3662; 15/148 -> 0.0624-0.1605;
        // 0/20 -> 0-0.1611; 1/29 -> 0.0061-0.1718.
        for (count, total, low, high) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let [l, h] = wilson(count, total).unwrap();
            assert!(close(l, low) && close(h, high), "{count}/{total}: {l} {h}");
        }
        assert_eq!(wilson(20, 20).unwrap()[1], 1.0);
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn rate_counts_its_prompts() {
        let rate = Rate::new(ids(3), 12);
        assert_eq!((rate.count, rate.total), (3, 12));
        assert_eq!(rate.rate, Some(0.25));
        assert_eq!(rate.prompts, ["p0", "p1", "p2"]);
        assert_eq!(rate.display(), "3/12 = 25.0% [8.9, 53.2]");
        let empty = Rate::new(Vec::new(), 0);
        assert_eq!((empty.rate, empty.interval), (None, None));
        assert_eq!(empty.display(), "0/0");
    }

    #[test]
    fn binomial_test_is_exact() {
        // 2 * P(X <= 1), n = 10: 2 * 11 / 1024.
        assert!(close(binomial_two_sided(1, 10), 22.0 / 1024.0));
        assert!(close(binomial_two_sided(9, 10), 22.0 / 1024.0));
        // An even split is no evidence at all; nor is no data.
        assert_eq!(binomial_two_sided(5, 10), 1.0);
        assert_eq!(binomial_two_sided(0, 0), 1.0);
        // 0 of 5 the other way: 2 / 32.
        assert!(close(binomial_two_sided(0, 5), 0.0625));
        // Large counts do not underflow: 0 of 2,000 is certain evidence, 1,000 of 2,000 none.
        assert!(binomial_two_sided(0, 2000) < 1e-300);
        assert!(close(binomial_two_sided(1000, 2000), 1.0));
    }

    #[test]
    fn paired_tests_count_only_discordant_prompts() {
        // 1 prompt refused on A only, 8 on B only: p = 2 * (1 + 9) / 512.
        let test = PairedTest::mcnemar(ids(1), ids(8));
        assert!(close(test.p_value, 20.0 / 512.0));
        assert_eq!(test.display(), "1 vs 8, p = 0.039 (mcnemar)");
        let sign = PairedTest::sign(ids(6), ids(6));
        assert_eq!((sign.test, sign.p_value), ("sign", 1.0));
    }
}
