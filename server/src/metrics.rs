//! What the server counts, exposed at `GET /metrics` in Prometheus text format: every
//! name starts with `tavern_`, plus the standard `process_*` figures (CPU seconds,
//! resident memory, open files) of the server process.

use std::time::Duration;

use bevy::prelude::*;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use tavern_shared::movement::TICK_DT;

use crate::world::{Maps, OnMap};

/// Tick durations, in seconds: fine below the 16.7 ms budget, where they matter.
const TICK_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008, 0.012,
    0.016_667, 0.025, 0.05, 0.1, 0.25,
];
/// Database query durations, in seconds.
const DB_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// Every metric the server keeps; cheap to clone (each handle is shared).
#[derive(Resource, Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `tavern_players_connected{map}`
    pub players: IntGaugeVec,
    /// `tavern_tick_duration_seconds`: one game loop iteration (a 60 Hz tick).
    pub tick_seconds: Histogram,
    /// `tavern_ticks_over_budget_total`: ticks that took longer than 1/60 s.
    pub ticks_over_budget: IntCounter,
    /// `tavern_udp_bytes_total{direction}`, every datagram the game socket sent or
    /// passed on to netcode (headers and encryption included).
    pub udp_bytes: IntCounterVec,
    /// `tavern_udp_packets_total{direction}`
    pub udp_packets: IntCounterVec,
    /// `tavern_udp_dropped_packets_total{reason}`, dropped by the gate before netcode.
    pub udp_dropped: IntCounterVec,
    /// `tavern_connections_total{transport}`: game connections made, by transport.
    pub connections: IntCounterVec,
    /// `tavern_replication_sends_total`: server ticks on which state went out.
    pub replication_sends: IntCounter,
    /// `tavern_inputs_total{outcome}`: inputs applied, batches refused as malformed.
    pub inputs: IntCounterVec,
    /// `tavern_chat_lines_total{outcome}`: accepted or refused.
    pub chat_lines: IntCounterVec,
    /// `tavern_voice_frames_total{outcome}`: relayed (once per listener), or dropped
    /// (`oversize`, `flood`, `no_microphone`, `no_avatar`).
    pub voice_frames: IntCounterVec,
    /// `tavern_voice_bytes_total{outcome}`: voice bytes relayed (once per listener), or
    /// dropped, by the same outcomes.
    pub voice_bytes: IntCounterVec,
    /// `tavern_http_requests_total{route,status}`
    pub http_requests: IntCounterVec,
    /// `tavern_database_query_duration_seconds{query}`
    pub db_seconds: HistogramVec,
    /// `tavern_logins_refused_total`: logins refused for a live-token limit.
    pub logins_refused: IntCounter,
    /// `tavern_api_tokens`: live API tokens.
    pub api_tokens: IntGauge,
    /// `tavern_login_limit_keys{kind}`: addresses and names the login limits remember.
    pub login_limit_keys: IntGaugeVec,
    /// `tavern_rooms`: rooms open (the configured ones included).
    pub rooms: IntGauge,
    /// `tavern_maps_running`: copies of maps running (at most one per room and map).
    pub maps_running: IntGauge,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let metric = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let metric = IntCounter::new(name, help).expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("registered once");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(process::ProcessStats::default()))
            .expect("registered once");
        let tick_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "tavern_tick_duration_seconds",
                "Time one 60 Hz game tick took (simulation, replication and networking).",
            )
            .buckets(TICK_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        registry
            .register(Box::new(tick_seconds.clone()))
            .expect("registered once");
        let db_seconds = HistogramVec::new(
            HistogramOpts::new(
                "tavern_database_query_duration_seconds",
                "Time database queries took, by query.",
            )
            .buckets(DB_BUCKETS.to_vec()),
            &["query"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(db_seconds.clone()))
            .expect("registered once");
        let api_tokens = IntGauge::new("tavern_api_tokens", "Live API tokens.").expect("valid");
        registry
            .register(Box::new(api_tokens.clone()))
            .expect("registered once");
        let rooms = IntGauge::new("tavern_rooms", "Rooms open, the configured ones included.")
            .expect("valid");
        registry
            .register(Box::new(rooms.clone()))
            .expect("registered once");
        let maps_running = IntGauge::new(
            "tavern_maps_running",
            "Copies of maps running (one per room and map someone is on or was lately).",
        )
        .expect("valid");
        registry
            .register(Box::new(maps_running.clone()))
            .expect("registered once");
        Metrics {
            rooms,
            maps_running,
            players: gauge_vec(
                &registry,
                "tavern_players_connected",
                "Players connected, by the map their avatar is on.",
                &["map"],
            ),
            tick_seconds,
            ticks_over_budget: counter(
                &registry,
                "tavern_ticks_over_budget_total",
                "Ticks that took longer than the 1/60 s budget.",
            ),
            udp_bytes: counter_vec(
                &registry,
                "tavern_udp_bytes_total",
                "Bytes of UDP datagrams the game socket sent or accepted.",
                &["direction"],
            ),
            udp_packets: counter_vec(
                &registry,
                "tavern_udp_packets_total",
                "UDP datagrams the game socket sent or accepted.",
                &["direction"],
            ),
            connections: counter_vec(
                &registry,
                "tavern_connections_total",
                "Game connections made, by transport (udp, websocket, webtransport).",
                &["transport"],
            ),
            udp_dropped: counter_vec(
                &registry,
                "tavern_udp_dropped_packets_total",
                "UDP packets dropped before netcode, by reason.",
                &["reason"],
            ),
            replication_sends: counter(
                &registry,
                "tavern_replication_sends_total",
                "Ticks on which replication and messages were sent (--send-hz a second).",
            ),
            inputs: counter_vec(
                &registry,
                "tavern_inputs_total",
                "Player inputs applied, and input batches refused as malformed.",
                &["outcome"],
            ),
            chat_lines: counter_vec(
                &registry,
                "tavern_chat_lines_total",
                "Chat lines accepted or refused.",
                &["outcome"],
            ),
            voice_frames: counter_vec(
                &registry,
                "tavern_voice_frames_total",
                "Voice frames relayed (once per listener) or dropped, by outcome.",
                &["outcome"],
            ),
            voice_bytes: counter_vec(
                &registry,
                "tavern_voice_bytes_total",
                "Voice bytes relayed (once per listener) or dropped, by outcome.",
                &["outcome"],
            ),
            http_requests: counter_vec(
                &registry,
                "tavern_http_requests_total",
                "HTTP requests answered, by route and status.",
                &["route", "status"],
            ),
            db_seconds,
            logins_refused: counter(
                &registry,
                "tavern_logins_refused_total",
                "Logins refused for a live-token limit.",
            ),
            api_tokens,
            login_limit_keys: gauge_vec(
                &registry,
                "tavern_login_limit_keys",
                "Addresses and names the login limits remember.",
                &["kind"],
            ),
            registry,
        }
    }
}

impl Metrics {
    /// Everything in Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into memory fails only for invalid metrics, which are not built.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Records one game tick that took `took`.
    pub fn tick(&self, took: Duration) {
        let secs = took.as_secs_f64();
        self.tick_seconds.observe(secs);
        if secs > f64::from(TICK_DT) {
            self.ticks_over_budget.inc();
        }
    }
}

/// The figures the game thread keeps up to date.
pub fn plugin(app: &mut App) {
    app.init_resource::<Metrics>()
        .add_systems(FixedPostUpdate, count_players);
}

/// Players per map, twice a second (and at once when someone joins, leaves or moves
/// map).
fn count_players(
    metrics: Res<Metrics>,
    maps: Res<Maps>,
    rooms: Option<Res<crate::rooms::RoomDirectory>>,
    avatars: Query<&OnMap, With<tavern_shared::avatar::PlayerId>>,
    changed: Query<(), Changed<OnMap>>,
    mut removed: RemovedComponents<OnMap>,
    mut ticks: Local<u32>,
) {
    *ticks += 1;
    let departed = removed.read().count() > 0;
    if *ticks < 30 && changed.is_empty() && !departed {
        return;
    }
    *ticks = 0;
    // By map file, over every room's copy of it.
    let mut counts = vec![0i64; maps.files.len()];
    for on in &avatars {
        if let Some(place) = maps.try_get(on.0) {
            counts[place.file.0] += 1;
        }
    }
    metrics.maps_running.set(maps.place_count() as i64);
    if let Some(rooms) = rooms {
        metrics.rooms.set(rooms.len() as i64);
    }
    for (map, n) in maps.files.iter().zip(counts) {
        metrics
            .players
            .with_label_values(&[map.data.name.as_str()])
            .set(n);
    }
}

#[cfg(target_os = "linux")]
mod process {
    //! The standard `process_*` metrics, read from `/proc/self` at each scrape. CPU time
    //! is in clock ticks (10 ms), not whole seconds, so short load tests can use it.

    use prometheus::core::{Collector, Desc};
    use prometheus::proto::MetricFamily;
    use prometheus::{Counter, Gauge};

    #[derive(Clone)]
    pub struct ProcessStats {
        cpu: Counter,
        resident: Gauge,
        virtual_bytes: Gauge,
        open_fds: Gauge,
        threads: Gauge,
        start_time: Gauge,
    }

    impl Default for ProcessStats {
        fn default() -> Self {
            let gauge = |name, help| Gauge::new(name, help).expect("valid metric");
            let stats = ProcessStats {
                cpu: Counter::new(
                    "process_cpu_seconds_total",
                    "User and system CPU time the server process has used, in seconds.",
                )
                .expect("valid metric"),
                resident: gauge("process_resident_memory_bytes", "Resident memory in bytes."),
                virtual_bytes: gauge("process_virtual_memory_bytes", "Virtual memory in bytes."),
                open_fds: gauge("process_open_fds", "Open file descriptors."),
                threads: gauge("process_threads", "Threads of the process."),
                start_time: gauge(
                    "process_start_time_seconds",
                    "When the process started, in seconds since the Unix epoch.",
                ),
            };
            if let (Ok(me), Ok(boot)) =
                (procfs::process::Process::myself(), procfs::boot_time_secs())
                && let Ok(stat) = me.stat()
            {
                let secs = stat.starttime as f64 / procfs::ticks_per_second() as f64;
                stats.start_time.set(boot as f64 + secs);
            }
            stats
        }
    }

    impl ProcessStats {
        fn all(&self) -> [&dyn Collector; 6] {
            [
                &self.cpu,
                &self.resident,
                &self.virtual_bytes,
                &self.open_fds,
                &self.threads,
                &self.start_time,
            ]
        }
    }

    impl std::fmt::Debug for ProcessStats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ProcessStats")
        }
    }

    impl Collector for ProcessStats {
        fn desc(&self) -> Vec<&Desc> {
            self.all().into_iter().flat_map(|c| c.desc()).collect()
        }

        fn collect(&self) -> Vec<MetricFamily> {
            if let Ok(me) = procfs::process::Process::myself() {
                if let Ok(stat) = me.stat() {
                    let ticks = (stat.utime + stat.stime) as f64;
                    let total = ticks / procfs::ticks_per_second() as f64;
                    let past = self.cpu.get();
                    if total > past {
                        self.cpu.inc_by(total - past);
                    }
                    self.resident.set((stat.rss * procfs::page_size()) as f64);
                    self.virtual_bytes.set(stat.vsize as f64);
                    self.threads.set(stat.num_threads as f64);
                }
                if let Ok(fds) = me.fd_count() {
                    self.open_fds.set(fds as f64);
                }
            }
            self.all().into_iter().flat_map(|c| c.collect()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_as_prometheus_text_with_tavern_names() {
        let m = Metrics::default();
        m.players.with_label_values(&["town"]).set(3);
        m.tick(Duration::from_millis(2));
        m.tick(Duration::from_millis(20));
        m.chat_lines.with_label_values(&["accepted"]).inc_by(5);
        let text = m.render();
        assert!(
            text.contains("tavern_players_connected{map=\"town\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("tavern_tick_duration_seconds_count 2"),
            "{text}"
        );
        assert!(text.contains("tavern_ticks_over_budget_total 1"), "{text}");
        assert!(
            text.contains("tavern_chat_lines_total{outcome=\"accepted\"} 5"),
            "{text}"
        );
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                line.starts_with("tavern_") || line.starts_with("process_"),
                "{line}"
            );
        }
    }
}
