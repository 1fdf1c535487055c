//! The load driver against a real server: light bots connect, walk with real inputs and
//! receive the avatars around them; a predicting sample counts no corrections; the
//! report carries the server's own figures from `/metrics`.

use std::time::Duration;

use crate::common::{metric_sum, scrape, server_players, start_server};
use tavern_client::load::{BotOptions, run_bots};

#[test]
fn light_bots_walk_see_each_other_and_the_report_has_the_server_figures() {
    let _turn = crate::common::serial();
    let server = start_server("load", None);
    let before = server_players(&server);
    assert!(before.is_empty());
    let report = run_bots(&BotOptions {
        server: server.http_url(),
        count: 6,
        duration: Duration::from_secs(3),
        seed: 7,
        connect_timeout: Duration::from_secs(15),
        chat_lines: 0,
        light: true,
        predict_sample: 2,
        still: false,
    });
    eprintln!("{report:?}");
    assert_eq!(
        (report.connected, report.failed),
        (6, 0),
        "{:?}",
        report.failures
    );
    assert_eq!((report.light_bots, report.predicting_bots), (4, 2));
    // The town is small: everyone is within the view radius of everyone.
    assert_eq!(report.min_seen_avatars, 5, "{report:?}");
    assert_eq!(report.corrections_total, 0);
    // Light bots send real inputs: about one per 60 Hz tick each, applied by the server.
    assert!(report.up_bytes_per_s_per_bot > 100.0, "{report:?}");
    assert!(report.down_bytes_per_s_per_bot > 100.0, "{report:?}");
    let p50 = report.server_tick_p50_ms.expect("tick p50 from /metrics");
    let p99 = report.server_tick_p99_ms.expect("tick p99 from /metrics");
    assert!(p50 > 0.0 && p99 >= p50, "{p50} {p99}");
    assert!(report.server_cpu_s_per_player_min.is_some());
    assert!(report.server_rss_bytes.unwrap_or(0.0) > 1e6);
    // The server applied the light bots' inputs like anyone's: six players for three
    // seconds at 60 a second, less the first moments.
    let applied = metric_sum(
        &scrape(&server.http_url()),
        "tavern_inputs_total",
        &[("outcome", "applied")],
    );
    assert!(applied > 6.0 * 60.0 * 2.0, "{applied} inputs applied");
    server.stop();
}
