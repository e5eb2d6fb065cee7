//! Token sampling over raw logits, cheap enough to run for every sequence of a batch each step.
//!
//! llama.cpp's sampler chain copies the whole vocabulary into a candidate array per sequence
//! and sorts it; with many sequences and a large vocabulary that work rivals the decode itself.
//! [`Sampler::sample`] instead scans the logits once, keeping only the `top_k` best in a small
//! sorted buffer, and does temperature, top-p and the draw over those few. Greedy sampling is
//! one arg-max scan. [`sample_all`] spreads the sequences of a step over threads.
//!
//! Every sequence draws from its own [`Rng`], seeded by the caller, so a sequence's tokens do
//! not depend on which other sequences share its batch.

/// How a turn's tokens are drawn.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampling {
    /// Softmax temperature; `0` or less samples greedily.
    pub temperature: f32,
    /// Only the `top_k` most likely tokens can be drawn (at least 1).
    pub top_k: usize,
    /// Then only the smallest set of those whose probabilities add up to `top_p`.
    pub top_p: f32,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
        }
    }
}

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same numbers on
/// every machine and version.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one purpose of one item, e.g. (run seed, prompt index, step): streams of
    /// different keys are unrelated.
    pub fn derived(seed: u64, keys: &[u64]) -> Self {
        let mut state = Self(seed);
        let mut mixed = state.next_u64();
        for key in keys {
            mixed = Self(mixed ^ key.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64();
        }
        state.0 = mixed;
        state
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// One sequence's sampling state: its settings and its own random stream.
#[derive(Debug, Clone)]
pub struct Sampler {
    settings: Sampling,
    rng: Rng,
}

impl Sampler {
    pub fn new(settings: Sampling, seed: u64) -> Self {
        Self {
            settings,
            rng: Rng::new(seed),
        }
    }

    /// Draws a token id from `logits` (one per vocabulary entry). NaN logits are never drawn;
    /// when every logit is NaN or -inf, token 0 is returned.
    pub fn sample(&mut self, logits: &[f32]) -> usize {
        if self.settings.temperature <= 0.0 || self.settings.top_k <= 1 {
            return arg_max(logits);
        }
        let best = top_k(logits, self.settings.top_k);
        let Some(&(max, _)) = best.first() else {
            return 0;
        };
        let temperature = f64::from(self.settings.temperature);
        let weights: Vec<f64> = best
            .iter()
            .map(|&(logit, _)| ((f64::from(logit) - f64::from(max)) / temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let top_p = f64::from(self.settings.top_p.clamp(0.0, 1.0));
        let mut kept = 0;
        let mut mass = 0.0;
        for weight in &weights {
            kept += 1;
            mass += weight / total;
            if mass >= top_p {
                break;
            }
        }
        let kept_total: f64 = weights[..kept].iter().sum();
        let mut target = self.rng.next_f64() * kept_total;
        for (weight, &(_, token)) in weights[..kept].iter().zip(&best) {
            if target < *weight {
                return token;
            }
            target -= weight;
        }
        best[kept - 1].1
    }
}

/// Samples one token for each `(logits, sampler)` job, in order, on up to `threads` threads.
pub fn sample_all(jobs: &mut [(&[f32], &mut Sampler)], threads: usize) -> Vec<usize> {
    let threads = threads.clamp(1, jobs.len().max(1));
    if threads == 1 || jobs.len() < 4 {
        return jobs
            .iter_mut()
            .map(|(logits, sampler)| sampler.sample(logits))
            .collect();
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter_mut()
                        .map(|(logits, sampler)| sampler.sample(logits))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The index of the largest logit (NaN never wins; 0 when none is a number).
pub fn arg_max(logits: &[f32]) -> usize {
    let mut best = 0;
    let mut best_value = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if value > best_value {
            best = index;
            best_value = value;
        }
    }
    best
}

/// The `k` largest finite-or-infinite (not NaN) logits with their indices, largest first.
fn top_k(logits: &[f32], k: usize) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
    let mut floor = f32::NEG_INFINITY;
    for (index, &value) in logits.iter().enumerate() {
        if !(value > floor || best.len() < k && value >= floor) {
            continue;
        }
        let at = best.partition_point(|&(other, _)| other >= value);
        best.insert(at, (value, index));
        if best.len() > k {
            best.pop();
        }
        if best.len() == k {
            floor = best[k - 1].0;
        }
    }
    best
}

/// `ln(sum(exp(logits)))`, computed stably; NaN logits are skipped.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits
        .iter()
        .copied()
        .filter(|value| !value.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    let sum: f64 = logits
        .iter()
        .filter(|value| !value.is_nan())
        .map(|&value| f64::from(value - max).exp())
        .sum();
    f64::from(max) + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_largest_and_skips_nan() {
        let mut sampler = Sampler::new(
            Sampling {
                temperature: 0.0,
                ..Sampling::default()
            },
            1,
        );
        assert_eq!(sampler.sample(&[0.1, f32::NAN, 3.0, 2.0]), 2);
        assert_eq!(arg_max(&[f32::NAN, f32::NAN]), 0);
    }

    #[test]
    fn top_k_keeps_the_k_best_in_order() {
        let logits = [0.5, 9.0, -1.0, 7.0, 7.0, f32::NAN, 3.0];
        let best = top_k(&logits, 3);
        assert_eq!(best, vec![(9.0, 1), (7.0, 3), (7.0, 4)]);
        assert_eq!(top_k(&[1.0], 5), vec![(1.0, 0)]);
        assert!(top_k(&[f32::NAN], 2).is_empty());
    }

    #[test]
    fn draws_follow_the_distribution_and_the_seed() {
        // Logits ln(3) and ln(1): the first token should come up about three times in four.
        let logits = [3f32.ln(), 0.0, f32::NEG_INFINITY];
        let settings = Sampling {
            temperature: 1.0,
            top_k: 3,
            top_p: 1.0,
        };
        let mut sampler = Sampler::new(settings, 7);
        let draws: Vec<usize> = (0..4000).map(|_| sampler.sample(&logits)).collect();
        let first = draws.iter().filter(|&&token| token == 0).count() as f64 / 4000.0;
        assert!((first - 0.75).abs() < 0.03, "{first}");
        assert!(!draws.contains(&2));

        let mut again = Sampler::new(settings, 7);
        let repeat: Vec<usize> = (0..4000).map(|_| again.sample(&logits)).collect();
        assert_eq!(draws, repeat);
    }

    #[test]
    fn top_p_cuts_the_tail() {
        let logits = [10.0, 0.0, 0.0, 0.0];
        let mut sampler = Sampler::new(
            Sampling {
                temperature: 1.0,
                top_k: 4,
                top_p: 0.5,
            },
            3,
        );
        assert!((0..500).all(|_| sampler.sample(&logits) == 0));
    }

    #[test]
    fn sampling_in_threads_matches_sampling_in_order() {
        let logits: Vec<Vec<f32>> = (0..9)
            .map(|row| {
                (0..1000)
                    .map(|i| ((i * 7 + row * 13) % 101) as f32 / 10.0)
                    .collect()
            })
            .collect();
        let run = |threads| {
            let mut samplers: Vec<Sampler> = (0..9)
                .map(|seed| Sampler::new(Sampling::default(), seed))
                .collect();
            let mut jobs: Vec<(&[f32], &mut Sampler)> = logits
                .iter()
                .map(Vec::as_slice)
                .zip(samplers.iter_mut())
                .collect();
            sample_all(&mut jobs, threads)
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn derived_streams_differ_by_key_and_repeat_by_seed() {
        let a = Rng::derived(1, &[0, 1]).next_u64();
        assert_eq!(a, Rng::derived(1, &[0, 1]).next_u64());
        assert_ne!(a, Rng::derived(1, &[1, 0]).next_u64());
        assert_ne!(a, Rng::derived(2, &[0, 1]).next_u64());
        let uniform = Rng::new(5).next_f64();
        assert!((0.0..1.0).contains(&uniform));
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let value = log_sum_exp(&[1000.0, 1000.0]);
        assert!((value - (1000.0 + 2f64.ln())).abs() < 1e-9);
        assert_eq!(log_sum_exp(&[f32::NAN]), f64::NEG_INFINITY);
    }
}
