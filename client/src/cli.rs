//! Command lines of `tavern` (the desktop game) and `tavern-bots` (the load and test bots).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::load::{BotOptions, run_bots};

/// Above this many bots, light bots are the default.
const LIGHT_ABOVE: u16 = 50;
use crate::login::normalize_url;

/// Parses a server URL flag, explaining the expected form.
fn server_url(text: &str) -> Result<String, String> {
    normalize_url(text).map_err(|e| e.to_string())
}

#[derive(Parser, Debug)]
#[command(
    name = "tavern-bots",
    version,
    about = "Runs headless bot players against a Tavern server and reports how the connection and prediction held up.",
    after_help = "Each bot logs in over HTTP, connects over UDP and wanders with random analog \
        input. Full bots are whole headless clients: they predict with the game's own code \
        and count corrections (a replayed prediction that missed the server by more than \
        1 px). Light bots (--light, and the default above 50 bots) keep a real connection, \
        send real inputs and decode everything the server sends them, but do not predict, \
        interpolate or chat; --predict-sample of them are full bots. The measured window \
        starts once every bot is connected. The exit code is 1 if any bot failed to connect \
        or lost its connection (or, with --voice, heard a speaker out of its range).\n\n\
        Example: tavern-bots --server http://127.0.0.1:8080 --count 10 --duration 10 --json"
)]
pub struct BotsArgs {
    /// The server's HTTP API.
    #[arg(long, value_name = "URL", value_parser = server_url, default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// How many bots to run [default: 10; --role gm runs one].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=5000))]
    pub count: Option<u16>,
    /// Light bots: a real connection, real inputs and real decoding of what the server
    /// sends, without prediction, interpolation or rendering [default: on above 50 bots].
    #[arg(long, conflicts_with = "full")]
    pub light: bool,
    /// Full bots only (whole headless clients), whatever the count.
    #[arg(long)]
    pub full: bool,
    /// With light bots: how many of them are full bots that predict and count
    /// corrections.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(0..=5000))]
    pub predict_sample: u16,
    /// Bots stand still where they spawn (what the server sends when nobody moves).
    #[arg(long, conflicts_with = "fight")]
    pub still: bool,
    /// Bots fight: each goes for the nearest monster it sees and can reach and uses its hotbar (full
    /// bots only; the content comes from the server's /api/content). The report adds
    /// kills, deaths, damage_dealt and actions_refused.
    #[arg(long)]
    pub fight: bool,
    /// With --fight: bots also try cheats (hits out of reach, during cooldown, through
    /// walls); the report adds cheats_tried and cheats_accepted (which must be 0).
    #[arg(long, requires = "fight")]
    pub cheat: bool,
    /// Bots speak and listen: each says a sentence from espeak-ng (or a tone where it
    /// is missing), encoded with Opus, 3 s of every 10, staggered. The report adds
    /// voice_frames_sent, voice_frames_received, voice_frames_from_out_of_range (frames
    /// from a speaker the bot could not hear: must be 0), the Opus bytes and speaking
    /// neighbours per bot, and the one-way voice delay.
    #[arg(long, conflicts_with = "fight")]
    pub voice: bool,
    /// How long to run once every bot is connected, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = positive_secs)]
    pub duration: f64,
    /// While bots come in: seconds without any bot newly connected after which the run
    /// starts without the rest (they count as failed if still not connected at the end).
    #[arg(long, value_name = "SECS", default_value_t = 15.0, value_parser = positive_secs)]
    pub connect_timeout: f64,
    /// Seed for the bots' wandering.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Chat lines each full bot sends during the run, alternating proximity and map chat,
    /// spaced to stay within the rate limit (5 per 10 s).
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub chat: u32,
    /// The bots join this room (its id, as `GET /api/rooms` lists it) instead of the
    /// server's default room; repeat (or separate with commas) to spread them over
    /// several, bot i in the (i mod n)-th.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "rooms",
        value_delimiter = ','
    )]
    pub room: Vec<String>,
    /// The password of the --room rooms (or of the --campaign).
    #[arg(long, value_name = "PASSWORD")]
    pub room_password: Option<String>,
    /// Play at this campaign's table (its room id) as --role gm (one bot, logged in as
    /// the campaign's GM with --account and --account-password: it starts the session,
    /// narrates and runs an encounter) or --role player (--count guests who take their
    /// turns, roll dice, and every other one strikes out of turn on purpose). The
    /// report: turns_taken, turn_violations_refused, turns_skipped_wrongly (must be 0),
    /// dice_rolled, rounds.
    #[arg(long, value_name = "ROOM", conflicts_with_all = ["room", "rooms", "fight"])]
    pub campaign: Option<String>,
    /// The seat the --campaign bots take: gm or player.
    #[arg(long, value_name = "ROLE", requires = "campaign", value_parser = campaign_role)]
    pub role: Option<crate::campaign::Role>,
    /// The GM's account name (--role gm).
    #[arg(long, value_name = "NAME", requires = "campaign")]
    pub account: Option<String>,
    /// The GM's account password (--role gm).
    #[arg(long, value_name = "PASSWORD", requires = "account")]
    pub account_password: Option<String>,
    /// Make N rooms on the server's start map first (over its HTTP API) and spread the
    /// bots over them, bot i in room i mod N.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=5000))]
    pub rooms: Option<u16>,
    /// Full bots drop their connection every SECS seconds (staggered; as a broken
    /// network would, without a goodbye) and log in again with their session. The
    /// report adds drops, resumed, resume_failures and avatars_lost (which must be 0).
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    pub drop_every: Option<f64>,
    /// How the bots connect: udp, or websocket (as browsers do; the server needs --ws).
    /// WebTransport is for browsers only.
    #[arg(long, value_name = "HOW", default_value = "udp", value_parser = bot_transport)]
    pub transport: tavern_shared::api::Transport,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Bots run when `--count` is left out.
const DEFAULT_COUNT: u16 = 10;

impl BotsArgs {
    /// How many bots to run: `--count`, else [`DEFAULT_COUNT`].
    fn count(&self) -> u16 {
        self.count.unwrap_or(DEFAULT_COUNT)
    }
}

fn campaign_role(text: &str) -> Result<crate::campaign::Role, String> {
    match text {
        "gm" => Ok(crate::campaign::Role::Gm),
        "player" => Ok(crate::campaign::Role::Player),
        other => Err(format!("`{other}` is not a role: gm or player")),
    }
}

fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and 86400"
        )),
    }
}

/// `tavern-bots`: run the bots, print the report.
pub fn bots_main() -> ExitCode {
    let args = BotsArgs::parse();
    init_logging("warn");
    if args.room_password.is_some() && args.room.is_empty() && args.campaign.is_none() {
        eprintln!("tavern-bots: --room-password is for the --room rooms or the --campaign");
        return ExitCode::FAILURE;
    }
    if let Some(room) = &args.campaign {
        return campaign_main(&args, room);
    }
    let fight = if args.fight {
        match crate::http::wait(crate::login::fetch_content(&args.server)) {
            Ok(content) => Some(std::sync::Arc::new(content)),
            Err(e) => {
                eprintln!("tavern-bots: --fight needs the server's content: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let rooms = match (args.room.is_empty(), args.rooms) {
        (false, _) => args
            .room
            .iter()
            .map(|id| (id.clone(), args.room_password.clone()))
            .collect(),
        (true, Some(n)) => match crate::login::make_rooms(&args.server, usize::from(n)) {
            Ok(ids) => ids.into_iter().map(|id| (id, None)).collect(),
            Err(e) => {
                eprintln!("tavern-bots: cannot make the --rooms: {e}");
                return ExitCode::FAILURE;
            }
        },
        (true, None) => Vec::new(),
    };
    let report = run_bots(&BotOptions {
        server: args.server.clone(),
        count: usize::from(args.count()),
        duration: Duration::from_secs_f64(args.duration),
        seed: args.seed,
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        chat_lines: args.chat,
        light: args.light || (!args.full && args.count() > LIGHT_ABOVE),
        predict_sample: usize::from(args.predict_sample),
        still: args.still,
        fight,
        cheat: args.cheat,
        rooms,
        drop_every: args.drop_every.map(Duration::from_secs_f64),
        transport: args.transport,
        voice: args.voice,
    });
    if args.json {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        println!(
            "{} connected, {} failed; fewest avatars seen {}; corrections {} (most per bot {}); \
             RTT {:.1} ms; per bot {:.0} B/s down, {:.0} B/s up; chat {} sent, {} received, \
             {} rejected; {} proximity changes",
            report.connected,
            report.failed,
            report.min_seen_avatars,
            report.corrections_total,
            report.corrections_max_per_bot,
            report.rtt_ms_mean,
            report.down_bytes_per_s_per_bot,
            report.up_bytes_per_s_per_bot,
            report.chat_sent,
            report.chat_received,
            report.chat_rejected,
            report.near_events
        );
        let ms = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v:.2} ms"));
        println!(
            "{} light, {} predicting; mean avatars seen {:.1}; server: tick p50 {}, p99 {}, \
             CPU {}, {} CPU-s per player-minute, RSS {}; bots' own CPU {}",
            report.light_bots,
            report.predicting_bots,
            report.mean_seen_avatars,
            ms(report.server_tick_p50_ms),
            ms(report.server_tick_p99_ms),
            report
                .server_cpu_percent
                .map_or("?".into(), |v| format!("{v:.1} %")),
            report
                .server_cpu_s_per_player_min
                .map_or("?".into(), |v| format!("{v:.4}")),
            report
                .server_rss_bytes
                .map_or("?".into(), |v| format!("{:.0} MB", v / 1e6)),
            report
                .bots_cpu_percent
                .map_or("?".into(), |v| format!("{v:.1} %")),
        );
        println!(
            "join p50 {}, p99 {}; chat delivery p50 {}, p99 {} ({} lines)",
            ms(report.join_ms_p50),
            ms(report.join_ms_p99),
            ms(report.chat_delivery_ms_p50),
            ms(report.chat_delivery_ms_p99),
            report.chat_delivery_samples
        );
        if let Some(v) = &report.voice {
            println!(
                "voice ({}): {} frames sent, {} received, {} from out of range; {:.0} B/s of \
                 Opus per bot from {:.2} speakers at a time; delay mean {}, p99 {}",
                v.voice_source,
                v.voice_frames_sent,
                v.voice_frames_received,
                v.voice_frames_from_out_of_range,
                v.voice_bytes_per_s_per_bot,
                v.voice_speaking_neighbours_mean,
                ms(v.voice_delay_ms_mean),
                ms(v.voice_delay_ms_p99)
            );
        }
        if let Some(d) = &report.drops {
            println!(
                "drops {}: resumed {}, resume failures {}, avatars lost {}, events missed {} of {}",
                d.drops,
                d.resumed,
                d.resume_failures,
                d.avatars_lost,
                d.events_missed_after_resume,
                d.events_received
            );
        }
        for failure in &report.failures {
            println!("  {failure}");
        }
    }
    let misheard = report
        .voice
        .as_ref()
        .is_some_and(|v| v.voice_frames_from_out_of_range > 0);
    if report.failed == 0 && !misheard && (!args.voice || report.voice.is_some()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Logging for the binaries: `RUST_LOG` if set, else `default`.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// A transport bots can connect over: UDP or a WebSocket.
fn bot_transport(text: &str) -> Result<tavern_shared::api::Transport, String> {
    use tavern_shared::api::Transport;
    match text.parse::<Transport>()? {
        Transport::WebTransport => {
            Err("bots cannot use WebTransport (browsers only): use udp or websocket".into())
        }
        other => Ok(other),
    }
}

/// `tavern-bots --campaign ROOM --role gm|player`: bots at a campaign's table.
fn campaign_main(args: &BotsArgs, room: &str) -> ExitCode {
    use crate::campaign::{CampaignOptions, Role, run_campaign};
    let Some(role) = args.role else {
        eprintln!("tavern-bots: --campaign needs --role gm or --role player");
        return ExitCode::FAILURE;
    };
    if role == Role::Gm && args.count.is_some_and(|n| n != 1) {
        eprintln!("tavern-bots: a campaign has one GM: --role gm runs one bot (leave out --count)");
        return ExitCode::FAILURE;
    }
    let account = match (&args.account, &args.account_password) {
        (Some(name), Some(password)) => Some((name.clone(), password.clone())),
        _ if role == Role::Gm => {
            eprintln!(
                "tavern-bots: --role gm logs in as the campaign's GM: give --account NAME --account-password PASSWORD"
            );
            return ExitCode::FAILURE;
        }
        _ => None,
    };
    let options = CampaignOptions {
        server: args.server.clone(),
        room: room.to_string(),
        room_password: args.room_password.clone(),
        role,
        count: if role == Role::Gm {
            1
        } else {
            usize::from(args.count())
        },
        duration: Duration::from_secs_f64(args.duration),
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        account,
    };
    match run_campaign(&options) {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                println!(
                    "{} connected, {} failed; turns taken {}, out-of-turn strikes refused {}, \
                     turns skipped wrongly {}; dice rolled {}; rounds {}; corrections {}",
                    report.connected,
                    report.failed,
                    report.turns_taken,
                    report.turn_violations_refused,
                    report.turns_skipped_wrongly,
                    report.dice_rolled,
                    report.rounds,
                    report.corrections_total
                );
            }
            if report.failed > 0 || report.turns_skipped_wrongly > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("tavern-bots: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_bots_cli_is_well_formed_and_checks_its_flags() {
        BotsArgs::command().debug_assert();
        let ok = BotsArgs::try_parse_from([
            "tavern-bots",
            "--server",
            "http://127.0.0.1:9/",
            "--count",
            "3",
        ])
        .unwrap();
        assert_eq!(ok.server, "http://127.0.0.1:9");
        let err =
            BotsArgs::try_parse_from(["tavern-bots", "--server", "localhost:8080"]).unwrap_err();
        assert!(err.to_string().contains("http://host:port"), "{err}");
        assert!(BotsArgs::try_parse_from(["tavern-bots", "--duration", "-1"]).is_err());
        assert!(BotsArgs::try_parse_from(["tavern-bots", "--count", "0"]).is_err());
        let ws = BotsArgs::try_parse_from(["tavern-bots", "--transport", "ws"]).unwrap();
        assert_eq!(ws.transport, tavern_shared::api::Transport::WebSocket);
        let err = BotsArgs::try_parse_from(["tavern-bots", "--transport", "webtransport"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("browsers only"), "{err}");
    }
}
