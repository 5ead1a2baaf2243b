//! The platform lines Lambda writes around every invocation.

use std::time::Duration;

pub(crate) fn start_line(request_id: &str) -> String {
    format!("START RequestId: {request_id} Version: $LATEST")
}

pub(crate) fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// The line Lambda logs when it stops a function that ran too long.
pub(crate) fn timeout_line(request_id: &str, seconds: f64) -> String {
    timeout_line_at(time::OffsetDateTime::now_utc(), request_id, seconds)
}

fn timeout_line_at(now: time::OffsetDateTime, request_id: &str, seconds: f64) -> String {
    // Lambda stamps its log lines in UTC to the millisecond.
    let now = now
        .to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    format!("{now} {request_id} Task timed out after {seconds:.2} seconds")
}

pub(crate) struct Report<'a> {
    pub request_id: &'a str,
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: Option<u64>,
    /// Present on an instance's first invocation (a cold start).
    pub init_duration: Option<Duration>,
}

/// `REPORT RequestId: … Duration: … Billed Duration: … Memory Size: …
/// Max Memory Used: … [Init Duration: …]`, tab-separated as in CloudWatch.
pub(crate) fn report_line(report: &Report<'_>) -> String {
    let millis = report.duration.as_secs_f64() * 1000.0;
    // Lambda bills in whole milliseconds, rounding up, with a 1 ms minimum.
    let billed = (report.duration.as_micros().div_ceil(1000)).max(1);
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {millis:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        report.request_id,
        report.memory_size_mb,
        report.max_memory_used_mb.unwrap_or(0),
    );
    if let Some(init) = report.init_duration {
        line.push_str(&format!(
            "\tInit Duration: {:.2} ms",
            init.as_secs_f64() * 1000.0
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn timeout_lines_have_lambdas_shape() {
        let at = time::macros::datetime!(2026-11-29 21:24:54.160216307 UTC);
        assert_eq!(
            timeout_line_at(at, "8f5c", 3.0),
            "2026-11-29T21:24:54.160Z 8f5c Task timed out after 3.00 seconds"
        );
    }

    #[test]
    fn report_lines_have_lambdas_shape() {
        let report = Report {
            request_id: "8f5c",
            duration: Duration::from_micros(2_151),
            memory_size_mb: 128,
            max_memory_used_mb: Some(17),
            init_duration: Some(Duration::from_micros(10_310)),
        };
        expect![[r#"REPORT RequestId: 8f5c	Duration: 2.15 ms	Billed Duration: 3 ms	Memory Size: 128 MB	Max Memory Used: 17 MB	Init Duration: 10.31 ms"#]]
            .assert_eq(&report_line(&report));
        let warm = Report {
            init_duration: None,
            duration: Duration::from_micros(40),
            ..report
        };
        expect![[r#"REPORT RequestId: 8f5c	Duration: 0.04 ms	Billed Duration: 1 ms	Memory Size: 128 MB	Max Memory Used: 17 MB"#]]
            .assert_eq(&report_line(&warm));
        assert_eq!(start_line("8f5c"), "START RequestId: 8f5c Version: $LATEST");
        assert_eq!(end_line("8f5c"), "END RequestId: 8f5c");
    }
}
