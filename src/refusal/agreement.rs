//! Agreement between the detector and human labels: 3-way and binary agreement, Cohen's kappa,
//! per-label precision and recall, and the confusion matrix.

use super::*;

/// Precision and recall of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelStats {
    /// The label.
    pub label: RefusalLabel,
    /// How many items humans gave this label.
    pub support: usize,
    /// Of the items predicted with this label, the share humans agree on; `None` when none
    /// was predicted.
    pub precision: Option<f64>,
    /// Of the items humans gave this label, the share predicted with it; `None` when humans
    /// gave it to none.
    pub recall: Option<f64>,
}

/// How far predicted labels agree with human ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// Number of items.
    pub total: usize,
    /// Share of items where both agree on the label (3-way); 0 for no items.
    pub accuracy: f64,
    /// Share of items where both agree on compliance vs. any refusal (full or partial); 0 for
    /// no items.
    pub binary_accuracy: f64,
    /// Cohen's kappa: agreement corrected for chance. When chance agreement is total (every
    /// item, human and predicted, has one and the same label) it is 1 if all agree, else 0;
    /// 0 for no items.
    pub kappa: f64,
    /// `confusion[human][predicted]`, indexed in [`RefusalLabel::ALL`] order.
    pub confusion: [[usize; 3]; 3],
    /// Per label, in [`RefusalLabel::ALL`] order.
    pub per_label: [LabelStats; 3],
}

/// Compares `(human, predicted)` label pairs.
pub fn agreement(items: &[(RefusalLabel, RefusalLabel)]) -> Agreement {
    let mut confusion = [[0usize; 3]; 3];
    for (human, predicted) in items {
        confusion[human.index()][predicted.index()] += 1;
    }
    let total = items.len();
    let agree: usize = (0..3).map(|i| confusion[i][i]).sum();
    let row = |i: usize| confusion[i].iter().sum::<usize>();
    let col = |j: usize| confusion.iter().map(|r| r[j]).sum::<usize>();
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);

    let (accuracy, kappa) = if total == 0 {
        (0.0, 0.0)
    } else {
        let n = total as f64;
        let po = agree as f64 / n;
        let pe: f64 = (0..3)
            .map(|i| (row(i) as f64 / n) * (col(i) as f64 / n))
            .sum();
        let kappa = if (1.0 - pe).abs() < f64::EPSILON {
            if agree == total { 1.0 } else { 0.0 }
        } else {
            (po - pe) / (1.0 - pe)
        };
        (po, kappa)
    };
    let complies = RefusalLabel::Compliance.index();
    let binary_agree = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .filter(|&(i, j)| (i == complies) == (j == complies))
        .map(|(i, j)| confusion[i][j])
        .sum::<usize>();
    let binary_accuracy = ratio(binary_agree, total).unwrap_or(0.0);
    let per_label = RefusalLabel::ALL.map(|label| {
        let i = label.index();
        LabelStats {
            label,
            support: row(i),
            precision: ratio(confusion[i][i], col(i)),
            recall: ratio(confusion[i][i], row(i)),
        }
    });
    Agreement {
        total,
        accuracy,
        binary_accuracy,
        kappa,
        confusion,
        per_label,
    }
}

impl fmt::Display for Agreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        writeln!(
            f,
            "n = {}   accuracy = {:.3}   kappa = {:.3}   binary (compliance vs. any refusal) = {:.3}",
            self.total, self.accuracy, self.kappa, self.binary_accuracy
        )?;
        write!(f, "{:<18}", "human \\ predicted")?;
        for label in RefusalLabel::ALL {
            write!(f, "{:>16}", label.as_str())?;
        }
        writeln!(f, "{:>10}{:>10}", "recall", "support")?;
        for stats in &self.per_label {
            write!(f, "{:<18}", stats.label.as_str())?;
            for count in self.confusion[stats.label.index()] {
                write!(f, "{count:>16}")?;
            }
            writeln!(f, "{:>10}{:>10}", opt(stats.recall), stats.support)?;
        }
        write!(f, "{:<18}", "precision")?;
        for stats in &self.per_label {
            write!(f, "{:>16}", opt(stats.precision))?;
        }
        writeln!(f)
    }
}
