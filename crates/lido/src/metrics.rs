//! `/metrics`: a server's [`lido::StatsSnapshot`] in the Prometheus (OpenMetrics) text format,
//! encoded by `prometheus-client` at each scrape. The counters themselves live in the server
//! (per-thread shards summed by the snapshot), so the hot path never touches this module.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of [`encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The snapshot as OpenMetrics text (ending in `# EOF`).
pub(crate) fn encode(snapshot: lido::StatsSnapshot) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(snapshot)));
    let mut out = String::with_capacity(8 * 1024);
    prometheus_client::encoding::text::encode(&mut out, &registry)?;
    Ok(out)
}

#[derive(Debug)]
struct Snapshot(lido::StatsSnapshot);

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        {
            let mut family = encoder.encode_descriptor(
                "lido_http_requests",
                "Responses by status code and request method.",
                None,
                MetricType::Counter,
            )?;
            for r in &s.requests {
                let labels = [
                    ("code", r.status.as_u16().to_string()),
                    ("method", r.method.to_owned()),
                ];
                ConstCounter::new(r.count).encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "lido_http_request_duration",
                "Time from a complete request to the last byte of its response handed to the kernel.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            // prometheus-client wants each bucket's own count, the last one +Inf.
            let mut buckets = Vec::with_capacity(s.duration.buckets.len() + 1);
            let mut below = 0;
            for &(upper, cumulative) in &s.duration.buckets {
                buckets.push((upper, cumulative - below));
                below = cumulative;
            }
            buckets.push((f64::INFINITY, s.duration.count - below));
            metric.encode_histogram::<NoLabelSet>(
                s.duration.sum.as_secs_f64(),
                s.duration.count,
                &buckets,
                None,
            )?;
        }
        counter(
            &mut encoder,
            "lido_http_response",
            "Response body bytes.",
            Some(&Unit::Bytes),
            s.response_bytes,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "lido_connections",
                "Open connections by state.",
                None,
                MetricType::Gauge,
            )?;
            let c = s.connections;
            for (state, count) in [
                ("idle", c.idle),
                ("reading", c.reading),
                ("busy", c.busy),
                ("writing", c.writing),
            ] {
                ConstGauge::new(count).encode(family.encode_family(&[("state", state)])?)?;
            }
        }
        counter(
            &mut encoder,
            // Not `lido_connections_total`: OpenMetrics forbids a counter family and the
            // gauge family above sharing the name `lido_connections`.
            "lido_connections_accepted",
            "Connections accepted.",
            None,
            s.connections_total,
        )?;
        counter(
            &mut encoder,
            "lido_shed",
            "Requests refused with 503 because the server was saturated.",
            None,
            s.shed,
        )?;
        {
            let mut family = encoder.encode_descriptor(
                "lido_timeouts",
                "Waits given up, by kind (head, keep_alive, body, queue, write, linger).",
                None,
                MetricType::Counter,
            )?;
            for &(kind, count) in &s.timeouts {
                ConstCounter::new(count)
                    .encode(family.encode_family(&[("kind", kind.as_str())])?)?;
            }
        }
        counter(
            &mut encoder,
            "lido_accept_errors",
            "Failed accept calls (out of file descriptors, ...).",
            None,
            s.accept_errors,
        )?;
        {
            let metric = encoder.encode_descriptor(
                "lido_request_body_memory",
                "Request body bytes held in memory now, across all connections.",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?;
            ConstGauge::new(s.body_memory).encode(metric)?;
        }
        let pool = s.pool;
        gauge(
            &mut encoder,
            "lido_pool_threads",
            "Worker threads.",
            pool.threads as u64,
        )?;
        gauge(
            &mut encoder,
            "lido_pool_active",
            "Jobs running.",
            pool.active as u64,
        )?;
        gauge(
            &mut encoder,
            "lido_pool_queued",
            "Jobs waiting for a worker.",
            pool.queued as u64,
        )?;
        counter(
            &mut encoder,
            "lido_pool_completed",
            "Jobs that returned.",
            None,
            pool.completed,
        )?;
        counter(
            &mut encoder,
            "lido_pool_panicked",
            "Jobs that panicked (the worker lived on).",
            None,
            pool.panicked,
        )?;
        counter(
            &mut encoder,
            "lido_pool_rejected",
            "Jobs refused (queue full or shut down).",
            None,
            pool.rejected,
        )?;
        gauge(
            &mut encoder,
            "lido_draining",
            "1 once a shutdown was asked for (the shutdown delay included).",
            u64::from(s.draining),
        )?;
        {
            let metric = encoder.encode_descriptor(
                "lido_uptime",
                "Time since the server started.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?;
            ConstGauge::new(s.uptime.as_secs_f64()).encode(metric)?;
        }
        {
            let metric = encoder.encode_descriptor(
                "lido_build",
                "The running version.",
                None,
                MetricType::Info,
            )?;
            Info::new([("version", env!("CARGO_PKG_VERSION"))]).encode(metric)?;
        }
        Ok(())
    }
}
