//! Host time of sampling one decode step: 32 sequences over a 49,152-token vocabulary (the
//! 135M default model's), with the preview's settings (top-k 40, top-p 0.95, temperature 0.7)
//! and greedily. On a GPU that step's decode takes about 4.5 ms, so sampling has to stay well
//! under 1 ms on one core. Run: `cargo bench --bench sampling`.

use criterion::{Criterion, criterion_group, criterion_main};
use preamble::engine::sampling::{self, Rng, Sampler, Sampling};

const SEQUENCES: usize = 32;
const VOCAB: usize = 49_152;

/// Logits shaped like a model's: most of the vocabulary far down, a few tokens standing out,
/// a different few per sequence.
fn logits() -> Vec<Vec<f32>> {
    let mut rng = Rng::new(5);
    (0..SEQUENCES)
        .map(|_| {
            let mut row: Vec<f32> = (0..VOCAB)
                .map(|_| (rng.next_f64() * 8.0 - 12.0) as f32)
                .collect();
            for _ in 0..20 {
                let at = (rng.next_u64() % VOCAB as u64) as usize;
                row[at] = (rng.next_f64() * 6.0 + 4.0) as f32;
            }
            row
        })
        .collect()
}

fn step(c: &mut Criterion) {
    let rows = logits();
    for (name, settings) in [
        ("sample 32 x 49152, top-k 40", Sampling::default()),
        (
            "sample 32 x 49152, greedy",
            Sampling {
                temperature: 0.0,
                ..Sampling::default()
            },
        ),
    ] {
        let mut samplers: Vec<Sampler> = (0..SEQUENCES as u64)
            .map(|seed| Sampler::new(settings, seed))
            .collect();
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut jobs: Vec<(&[f32], &mut Sampler)> = rows
                    .iter()
                    .map(Vec::as_slice)
                    .zip(samplers.iter_mut())
                    .collect();
                sampling::sample_all(&mut jobs)
            })
        });
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
