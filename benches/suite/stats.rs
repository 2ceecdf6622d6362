//! Interleaved rounds and their summary: median with min and max.

/// The values one measurement took over its rounds.
#[derive(Clone, Debug, Default)]
pub struct Sample(pub Vec<f64>);

impl Sample {
    pub fn median(&self) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.0.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn max(&self) -> f64 {
        self.0.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    /// `median (min–max)` with a unit.
    pub fn show(&self, unit: &str) -> String {
        format!("{} {unit} ({}–{})", fmt(self.median()), fmt(self.min()), fmt(self.max()))
    }
}

pub fn fmt(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Percentile of sorted-on-demand values (0..=100).
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// Runs `a` and `b` alternately for `rounds` rounds (A, B, A, B, ...), so that drift in the
/// machine's load hits both alike.
pub async fn interleave<A, B, FA, FB>(rounds: usize, mut a: A, mut b: B) -> (Sample, Sample)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: std::future::Future<Output = f64>,
    FB: std::future::Future<Output = f64>,
{
    let (mut sa, mut sb) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        sa.push(a().await);
        sb.push(b().await);
    }
    (Sample(sa), Sample(sb))
}
