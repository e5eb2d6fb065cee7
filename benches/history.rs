//! Speed of the authoring core on large constitutions: load and validate a 1,000-principle
//! file, diff two 1,000-principle versions, commit one, and list a 10,000-version history.
//! Target: each under 50 ms on the project's 2-core machine. Run: `cargo bench --bench history`.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use preamble::constitution::{self, Constitution};
use preamble::diff;
use preamble::store::Store;

/// A valid constitution with `tiers` tiers of `per_tier` principles each.
fn large(tiers: usize, per_tier: usize) -> Constitution {
    let mut c = constitution::starter("Large");
    let template = c.tiers[0].principles[0].clone();
    c.tiers.truncate(1);
    c.tiers[0].principles.clear();
    let tier_template = c.tiers[0].clone();
    c.tiers = (0..tiers)
        .map(|t| {
            let mut tier = tier_template.clone();
            tier.id = format!("tier-{t}");
            tier.name = format!("Tier {t}");
            tier.principles = (0..per_tier)
                .map(|p| {
                    let mut principle = template.clone();
                    principle.id = format!("principle-{t}-{p}");
                    principle.title = format!("Principle {p} of tier {t}");
                    principle.statement = format!(
                        "Statement {p}: the assistant weighs case {t}.{p} carefully, explains its \
                         reasoning in plain words and avoids needless refusals or hedging."
                    );
                    principle.rationale = format!("Rationale {t}.{p}: ").repeat(8);
                    principle
                })
                .collect();
            tier
        })
        .collect();
    c
}

/// `c` with about 5% of principles edited, a few moved across tiers, one added and one removed.
fn edited(c: &Constitution) -> Constitution {
    let mut new = c.clone();
    for tier in &mut new.tiers {
        for (i, principle) in tier.principles.iter_mut().enumerate() {
            if i % 20 == 0 {
                principle.statement = principle.statement.replace("carefully", "thoughtfully");
            }
        }
    }
    let moved = new.tiers[0].principles.remove(3);
    new.tiers[1].principles.insert(0, moved);
    new.tiers[2].principles.swap(5, 9);
    new.tiers[3].principles.pop();
    let mut added = new.tiers[0].principles[0].clone();
    added.id = "principle-new".into();
    new.tiers[0].principles.push(added);
    new
}

fn benches(criterion: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let big = large(4, 250);
    let file = dir.path().join("large.toml");
    std::fs::write(&file, constitution::to_toml(&big)).unwrap();
    criterion.bench_function("load and validate 1,000 principles", |b| {
        b.iter(|| constitution::load(&file).unwrap())
    });

    let new = edited(&big);
    criterion.bench_function("diff two 1,000-principle versions", |b| {
        b.iter(|| diff::diff(&big, &new))
    });

    let mut store = Store::open(&dir.path().join("commit.sqlite")).unwrap();
    store.create("large", &big).unwrap();
    let mut c = big.clone();
    let mut round = 0u64;
    criterion.bench_function("save and commit 1,000 principles", |b| {
        b.iter(|| {
            round += 1;
            c.description = format!("round {round}");
            store.save_draft("large", &c, None).unwrap();
            store.commit("large", "bench", "bench").unwrap()
        })
    });

    let history = Path::new(env!("CARGO_TARGET_TMPDIR")).join("history-10000.sqlite");
    let mut store = Store::open(&history).unwrap();
    if store.log("small").map(|log| log.len()).unwrap_or(0) < 10_000 {
        drop(store);
        let _ = std::fs::remove_file(&history);
        store = Store::open(&history).unwrap();
        let mut small = constitution::starter("Small");
        store.create("small", &small).unwrap();
        for round in 0..10_000 {
            small.description = format!("round {round}");
            store.save_draft("small", &small, None).unwrap();
            store
                .commit("small", &format!("round {round}"), "bench")
                .unwrap();
        }
    }
    criterion.bench_function("log of 10,000 versions", |b| {
        b.iter(|| store.log("small").unwrap())
    });
}

criterion_group! {
    name = history;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(history);
