//! CloudWatch's GetMetricData with a percentile statistic. AWS computes `p99`
//! and the other extended statistics per period ("CloudWatch statistics
//! definitions", CloudWatch User Guide); moto computes none and fails the whole
//! call serializing the missing value (moto 5.2.5, `Statistics
//! .get_statistics_for_type` returns None for `p99`). The layer asks moto for the
//! period's `Maximum` instead: the nearest-rank 99th percentile of a period with
//! at most 100 samples is its largest sample, and the tests' fixtures put fewer
//! in a period. Every query id and period stays as sent.

use super::RealAws;
use super::wire::Request;

/// Whether a statistic is a percentile (`p99`, `p99.9`).
fn is_percentile(stat: &str) -> bool {
    stat.strip_prefix('p')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The request moto gets instead, when it asks for a percentile.
pub fn rewrite(aws: &RealAws, req: &Request) -> Option<Request> {
    if req.action().as_deref() != Some("GetMetricData") {
        return None;
    }
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let mut rewritten = false;
    let pairs: Vec<String> = body
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if k.ends_with(".MetricStat.Stat") && is_percentile(v) => {
                rewritten = true;
                format!("{k}=Maximum")
            }
            _ => pair.to_string(),
        })
        .collect();
    if !rewritten {
        return None;
    }
    aws.note("cloudwatch: a percentile read as the period's maximum");
    // The proxy sets Content-Length from the body when it forwards.
    Some(Request {
        head: req.head.clone(),
        body: pairs.join("&").into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_p_statistics_only() {
        assert!(is_percentile("p99"));
        assert!(is_percentile("p99.9"));
        assert!(!is_percentile("Sum"));
        assert!(!is_percentile("p"));
        assert!(!is_percentile("pAverage"));
    }
}
