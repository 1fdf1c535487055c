//! The load driver behind `tavern-bots`: brings up many bots (light ones, and full
//! clients that predict on a sample), lets them play for a while, and reports what the
//! bots measured together with the server's own figures from its `/metrics`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;
use tavern_shared::chat::ChatChannel;

use crate::bot::{Bot, Brain};
use crate::connection::{ConnectionStatus, ServerTarget, Traffic};
use crate::light::{LIGHT_HZ, LightBot, LightProtocol};
use crate::voice::bots::{Clip, Place, Stamps, Talker, Tally, Whereabouts};
use tavern_shared::stream::StreamId;

/// What `tavern-bots` is asked to do.
#[derive(Debug, Clone)]
pub struct BotOptions {
    pub server: String,
    pub count: usize,
    /// How long the bots play once all are connected (the measured window).
    pub duration: Duration,
    /// Seed of the bots' wandering (bot i uses seed + i).
    pub seed: u64,
    /// While bots come in: how long without a bot newly connected before the run
    /// starts without the rest.
    pub connect_timeout: Duration,
    /// Chat lines each full bot sends over the run.
    pub chat_lines: u32,
    /// Light bots (see [`crate::light`]) instead of full clients...
    pub light: bool,
    /// ...except this many, which are full clients that predict and count corrections.
    pub predict_sample: usize,
    /// Bots stand still instead of wandering.
    pub still: bool,
    /// Bots fight monsters with this content (the server's), all as full bots.
    pub fight: Option<std::sync::Arc<tavern_shared::content::Content>>,
    /// Fighting bots also try cheats.
    pub cheat: bool,
    /// Rooms the bots join, bot i the (i mod n)-th with its password; the server's
    /// default room when empty.
    pub rooms: Vec<(String, Option<String>)>,
    /// Full bots drop their connection this often (staggered) and log in again.
    pub drop_every: Option<Duration>,
    /// How the bots connect: UDP, or a WebSocket as browsers do.
    pub transport: tavern_shared::api::Transport,
    /// Bots speak 30 % of the time and listen ([`crate::voice::bots`]).
    pub voice: bool,
}

impl Default for BotOptions {
    /// Ten full bots wandering for ten seconds, as `tavern-bots` does unless told.
    fn default() -> Self {
        BotOptions {
            server: "http://127.0.0.1:8080".into(),
            count: 10,
            duration: Duration::from_secs(10),
            seed: 1,
            connect_timeout: Duration::from_secs(15),
            chat_lines: 0,
            light: false,
            predict_sample: 0,
            still: false,
            fight: None,
            cheat: false,
            rooms: Vec::new(),
            drop_every: None,
            transport: Default::default(),
            voice: false,
        }
    }
}

/// A dropped bot has this long to be back before its drop counts as failed (the run
/// goes on past its end until every dropped bot is back or out of time).
pub const RESUME_WITHIN: Duration = Duration::from_secs(20);

/// With `--drop-every`: how the dropped connections came back.
#[derive(Serialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct DropReport {
    pub drops: u32,
    /// Back in the avatar they had.
    pub resumed: u32,
    /// Not back in time (or the login was refused).
    pub resume_failures: u32,
    /// Back, but with a new avatar: must be 0.
    pub avatars_lost: u32,
    /// Room events the bots found missing (a gap in their chain, or a catch-up that
    /// could not bring everything back): must be 0.
    pub events_missed_after_resume: u64,
    /// Room events the bots received, live and caught up.
    pub events_received: u64,
}

/// One bot's drops: when the next is due, and the one it is coming back from.
struct Dropping {
    next: Duration,
    waiting: Option<(crate::connection::Arrivals, Instant)>,
    dropped_ever: bool,
}

impl Dropping {
    /// Drops `bot` when due, and scores its coming back.
    fn drive(
        &mut self,
        bot: &mut Bot,
        since: Duration,
        options: &BotOptions,
        report: &mut DropReport,
    ) {
        let Some(every) = options.drop_every else {
            return;
        };
        if let Some((before, at)) = self.waiting {
            let now = bot.arrivals();
            if now.resumed > before.resumed {
                report.resumed += 1;
            } else if now.fresh > before.fresh {
                report.avatars_lost += 1;
            } else if at.elapsed() > RESUME_WITHIN
                || matches!(bot.status(), ConnectionStatus::Failed(_))
            {
                report.resume_failures += 1;
            } else {
                return;
            }
            self.waiting = None;
            return;
        }
        if since >= self.next && since < options.duration && bot.is_connected() {
            self.next += every;
            self.waiting = Some((bot.arrivals(), Instant::now()));
            self.dropped_ever = true;
            report.drops += 1;
            bot.drop_connection();
        }
    }
}

/// Shortest gap between a bot's chat lines: keeps it under the rate limit.
pub const CHAT_GAP: Duration = Duration::from_millis(2100);

/// Bots logging in or connecting at once, at most.
const RAMP_IN_FLIGHT: usize = 48;

/// When bot `index` sends its chat lines: spread over the run, never closer than
/// [`CHAT_GAP`], staggered between bots so they don't all speak at once.
pub fn chat_schedule(index: usize, lines: u32, run: Duration) -> Vec<Duration> {
    if lines == 0 {
        return Vec::new();
    }
    let gap = (run / (lines + 1)).max(CHAT_GAP);
    let offset = Duration::from_millis(1000 + (index as u64 * 137) % 1000);
    (0..lines).map(|i| offset + gap * i).collect()
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Chat lines the full bots received from other bots, and how long each took from the
/// sender's `say` (stamped in the line, `@MS`, same machine clock) to being taken in
/// (to within a frame).
#[derive(Default)]
struct Heard {
    seen: Vec<std::collections::HashSet<i64>>,
    /// Lines each bot had taken in when last looked at.
    taken: Vec<u64>,
    latencies_ms: Vec<f64>,
}

impl Heard {
    fn listen(&mut self, i: usize, bot: &Bot) {
        if self.seen.len() <= i {
            self.seen.resize_with(i + 1, Default::default);
            self.taken.resize(i + 1, 0);
        }
        let taken = bot.chat().received;
        if taken == self.taken[i] {
            return;
        }
        self.taken[i] = taken;
        let me = format!("bot-{i} ");
        let now = unix_ms();
        let caught_up = &bot.events().caught_up_lines;
        for line in &bot.chat().lines {
            // Lines caught up after a drop took as long as the drop: not a delivery time.
            if !self.seen[i].insert(line.id)
                || line.text.starts_with(&me)
                || caught_up.contains(&line.id)
            {
                continue;
            }
            if let Some(sent) = line
                .text
                .rsplit_once(" @")
                .and_then(|(_, ms)| ms.parse::<u64>().ok())
            {
                self.latencies_ms.push(now.saturating_sub(sent) as f64);
            }
        }
    }
}

/// The `q`-quantile (0 to 1) of `values`, if any.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[at])
}

/// The run's result, printed as JSON by `tavern-bots --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BotReport {
    pub connected: usize,
    pub failed: usize,
    /// Light bots and full (predicting) bots in the run.
    pub light_bots: usize,
    pub predicting_bots: usize,
    /// Fewest and mean other avatars the connected bots held at the end.
    pub min_seen_avatars: usize,
    pub mean_seen_avatars: f64,
    /// Times a replayed prediction differed from the server by more than 1 px, over
    /// the predicting bots.
    pub corrections_total: u64,
    pub corrections_max_per_bot: u32,
    pub rtt_ms_mean: f64,
    /// Bytes of UDP datagrams per second each bot received and sent over the window,
    /// counted at its socket (netcode headers included, IP and UDP headers not).
    pub down_bytes_per_s_per_bot: f64,
    pub up_bytes_per_s_per_bot: f64,
    /// Length of the measured window (after everyone connected), seconds.
    pub duration_s: f64,
    /// How long bringing everyone in took, seconds.
    pub ramp_s: f64,
    /// Proximity enter/leave messages the full bots received.
    pub near_events: u64,
    /// Chat lines the full bots sent, received live (their own included) and had refused.
    pub chat_sent: u64,
    pub chat_received: u64,
    pub chat_rejected: u64,
    /// The server's figures over the window, from its `/metrics` (absent when it
    /// cannot be read).
    pub server_tick_p50_ms: Option<f64>,
    pub server_tick_p99_ms: Option<f64>,
    /// Ticks over the 1/60 s budget, as a fraction of all ticks in the window.
    pub server_ticks_over_budget: Option<f64>,
    pub server_cpu_percent: Option<f64>,
    pub server_cpu_s_per_player_min: Option<f64>,
    pub server_rss_bytes: Option<f64>,
    /// Bytes per second the server's UDP socket sent, per connected player.
    pub server_sent_bytes_per_s_per_player: Option<f64>,
    /// CPU the bots' own process used over the window (100 = one core).
    pub bots_cpu_percent: Option<f64>,
    /// With `--fight`: what the fights came to.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub fight: Option<FightReport>,
    /// From a bot's login to its avatar's first state, over the bots that got in.
    pub join_ms_p50: Option<f64>,
    pub join_ms_p99: Option<f64>,
    /// From a bot saying a chat line to another bot of its room having it (`--chat`,
    /// full bots), and how many such lines were measured.
    pub chat_delivery_ms_p50: Option<f64>,
    pub chat_delivery_ms_p99: Option<f64>,
    pub chat_delivery_samples: usize,
    /// With `--drop-every`: how dropped connections came back.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub drops: Option<DropReport>,
    /// With `--voice`: what was said and heard.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub voice: Option<crate::voice::bots::VoiceReport>,
    /// Why bots failed, one line each.
    pub failures: Vec<String>,
}

/// What `--fight` (and `--cheat`) bots did, over the whole run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FightReport {
    /// Monsters that died with at least one bot credited (each counted once).
    pub kills: u64,
    /// Times a bot died.
    pub deaths: u64,
    /// Damage the bots' hits did.
    pub damage_dealt: u64,
    /// Loot picked up, and pickups lost to someone who was there first.
    pub loot_picked: u64,
    pub pickups_lost: u64,
    /// Honest uses and pickups the server refused (cheats not counted; 0 on a clean
    /// link), and the reasons given for the first few.
    pub actions_refused: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<String>,
    /// With `--cheat`: cheats tried, and those the server let through (must be 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheats_tried: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cheats_accepted: Option<u64>,
    /// The kinds of the cheats let through, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cheats_accepted_kinds: Vec<String>,
}

impl FightReport {
    /// Adds one bot's figures; `kills` gathers the monsters it was credited with.
    pub fn add(
        &mut self,
        log: &crate::combat::CombatLog,
        cheats: &crate::fight::CheatBook,
        me: Option<u32>,
        kills: &mut std::collections::BTreeSet<u32>,
    ) {
        for event in &log.events {
            if let tavern_shared::combat::messages::CombatEvent::Died { who, credited, .. } = event
                && me.is_some_and(|me| credited.contains(&me))
            {
                kills.insert(*who);
            }
        }
        self.kills = kills.len() as u64;
        self.deaths += u64::from(log.deaths);
        self.damage_dealt += log.damage_dealt;
        self.loot_picked += u64::from(log.loot_picked);
        self.pickups_lost += u64::from(log.pickups_lost);
        self.actions_refused +=
            u64::from((log.refused + log.pickups_refused).saturating_sub(cheats.refused));
        for answer in &log.answers {
            if let Some(reason) = &answer.refused
                && !cheats.ids.contains(&answer.id)
                && self.refusals.len() < 8
            {
                self.refusals.push(format!("{}: {reason}", answer.ability));
            }
        }
        for pickup in &log.pickups {
            if let (Some(reason), Some(id)) = (&pickup.refused, pickup.id)
                && !cheats.pickup_ids.contains(&id)
                && !reason.starts_with("already taken by")
                && self.refusals.len() < 8
            {
                self.refusals.push(format!("pickup: {reason}"));
            }
        }
        if let (Some(tried), Some(accepted)) = (&mut self.cheats_tried, &mut self.cheats_accepted) {
            *tried += u64::from(cheats.tried);
            *accepted += u64::from(cheats.accepted);
        }
        for kind in &cheats.accepted_kinds {
            let kind = format!("{kind:?}");
            if !self.cheats_accepted_kinds.contains(&kind) {
                self.cheats_accepted_kinds.push(kind);
            }
        }
    }
}

enum AnyBot {
    Light(Box<LightBot>),
    Full(Box<Bot>),
}

impl AnyBot {
    fn update(&mut self) {
        match self {
            AnyBot::Light(b) => b.update(),
            AnyBot::Full(b) => b.update(),
        }
    }

    fn status(&self) -> &ConnectionStatus {
        match self {
            AnyBot::Light(b) => b.status(),
            AnyBot::Full(b) => b.status(),
        }
    }

    fn is_connected(&self) -> bool {
        *self.status() == ConnectionStatus::Connected
    }

    fn is_settled(&self) -> bool {
        self.is_connected() || matches!(self.status(), ConnectionStatus::Failed(_))
    }

    fn network(&self) -> Option<(f64, f64, f64)> {
        match self {
            AnyBot::Light(b) => b.network(),
            AnyBot::Full(b) => b.network(),
        }
    }

    /// Whether its own avatar's state has come.
    fn in_game(&mut self) -> bool {
        match self {
            AnyBot::Light(b) => b.has_own_state(),
            AnyBot::Full(b) => b.own_server_state().is_some(),
        }
    }

    /// Bytes received and sent at the bot's socket so far.
    fn traffic(&self) -> Option<(u64, u64)> {
        match self {
            AnyBot::Light(b) => b.traffic(),
            AnyBot::Full(b) => b.app.world().get_resource::<Traffic>().map(Traffic::totals),
        }
    }

    /// Its avatar (stream id) and where it stands, for judging what it may hear.
    fn place(&mut self, room: usize) -> Option<(StreamId, Place)> {
        let ((map, hearing_radius), id, pos) = match self {
            AnyBot::Light(b) => (b.map()?, b.own_stream_id()?, b.own_position()?),
            AnyBot::Full(b) => (
                b.map()?,
                b.own_stream_id()?,
                b.own_server_state()?.motion.pos,
            ),
        };
        let place = Place {
            room,
            map,
            pos,
            hearing_radius,
        };
        Some((id, place))
    }

    /// Says the frames due (`None`: left out as silent); stamps those sent, and
    /// returns how many there were.
    fn speak(&mut self, frames: &[Option<&[u8]>], stamps: &mut Stamps) -> u64 {
        let now = Instant::now();
        let mut sent = 0;
        for opus in frames {
            let (id, seq) = match self {
                AnyBot::Light(b) => (b.own_stream_id(), b.speak(*opus)),
                AnyBot::Full(b) => (b.own_stream_id(), b.speak(opus.map(<[u8]>::to_vec))),
            };
            if let (Some(id), Some(_)) = (id, opus) {
                stamps.sent(id, seq, now);
                sent += 1;
            }
        }
        sent
    }

    fn own_stream_id(&self) -> Option<StreamId> {
        match self {
            AnyBot::Light(b) => b.own_stream_id(),
            AnyBot::Full(b) => b.own_stream_id(),
        }
    }

    fn take_voice(&mut self) -> Vec<crate::voice::Heard> {
        match self {
            AnyBot::Light(b) => b.take_voice(),
            AnyBot::Full(b) => b.take_voice(),
        }
    }

    fn seen(&mut self) -> usize {
        match self {
            AnyBot::Light(b) => b.seen().avatars,
            AnyBot::Full(b) => b.others().len(),
        }
    }
}

/// Takes in the voice frames the bots got, judging each against where its speaker
/// and its listener stand (the bots of a run share a process, and so their places).
fn listen(
    bots: &mut [AnyBot],
    rooms: usize,
    (stamps, whereabouts): (&Stamps, &mut Whereabouts),
    tally: &mut Tally,
) {
    let places: std::collections::HashMap<StreamId, Place> = bots
        .iter_mut()
        .enumerate()
        .filter_map(|(i, b)| b.place(i % rooms.max(1)))
        .collect();
    whereabouts.push(Instant::now(), places);
    for bot in bots.iter_mut() {
        let heard = bot.take_voice();
        let Some(me) = bot.own_stream_id() else {
            continue;
        };
        for frame in &heard {
            tally.heard(me, frame, stamps, whereabouts);
        }
    }
}

/// The server's cumulative figures at one moment, from `/metrics`.
#[derive(Debug, Clone)]
struct ServerSample {
    at: Instant,
    cpu_s: f64,
    rss: f64,
    sent_bytes: f64,
    /// Cumulative (upper bound, count) of the tick duration histogram.
    tick_buckets: Vec<(f64, f64)>,
    over_budget: f64,
}

fn sample_server(url: &str) -> Option<ServerSample> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .new_agent();
    let text = agent
        .get(&format!("{url}/metrics"))
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).ok()?;
    let mut s = ServerSample {
        at: Instant::now(),
        cpu_s: 0.0,
        rss: 0.0,
        sent_bytes: 0.0,
        tick_buckets: Vec::new(),
        over_budget: 0.0,
    };
    use prometheus_parse::Value;
    for sample in &scrape.samples {
        match (sample.metric.as_str(), &sample.value) {
            ("process_cpu_seconds_total", Value::Counter(v) | Value::Untyped(v)) => s.cpu_s = *v,
            ("process_resident_memory_bytes", Value::Gauge(v) | Value::Untyped(v)) => s.rss = *v,
            ("tavern_udp_bytes_total", Value::Counter(v))
                if sample.labels.get("direction") == Some("sent") =>
            {
                s.sent_bytes = *v;
            }
            ("tavern_ticks_over_budget_total", Value::Counter(v)) => s.over_budget = *v,
            ("tavern_tick_duration_seconds", Value::Histogram(buckets)) => {
                s.tick_buckets = buckets.iter().map(|b| (b.less_than, b.count)).collect();
            }
            _ => {}
        }
    }
    Some(s)
}

/// The server's figures over the measured window, from samples at both ends (all
/// absent when `/metrics` could not be read).
#[derive(Debug, Default)]
struct ServerFigures {
    tick_p50_ms: Option<f64>,
    tick_p99_ms: Option<f64>,
    ticks_over_budget: Option<f64>,
    cpu_percent: Option<f64>,
    cpu_s_per_player_min: Option<f64>,
    rss_bytes: Option<f64>,
    sent_bytes_per_s_per_player: Option<f64>,
}

impl ServerFigures {
    fn between(before: &ServerSample, after: &ServerSample, players: f64) -> Self {
        let secs = (after.at - before.at).as_secs_f64().max(1e-3);
        let ticks = histogram_delta(&before.tick_buckets, &after.tick_buckets);
        let total_ticks = ticks.last().map_or(0.0, |(_, c)| *c);
        let cpu_s = after.cpu_s - before.cpu_s;
        let ms = |q| histogram_quantile(q, &ticks).map(|v| v * 1000.0);
        ServerFigures {
            tick_p50_ms: ms(0.5),
            tick_p99_ms: ms(0.99),
            ticks_over_budget: (total_ticks > 0.0)
                .then(|| (after.over_budget - before.over_budget) / total_ticks),
            cpu_percent: Some(cpu_s / secs * 100.0),
            cpu_s_per_player_min: Some(cpu_s / players / (secs / 60.0)),
            rss_bytes: Some(after.rss),
            sent_bytes_per_s_per_player: Some(
                (after.sent_bytes - before.sent_bytes) / secs / players,
            ),
        }
    }
}

/// The `q` quantile of a cumulative histogram (upper bound, count), interpolating
/// linearly inside the bucket it falls in, as Prometheus' `histogram_quantile` does.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let in_bucket = count - lower.1;
            let f = if in_bucket > 0.0 {
                (rank - lower.1) / in_bucket
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * f);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

/// What changed between two cumulative histograms with the same buckets.
fn histogram_delta(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|&(bound, count)| {
            let was = before
                .iter()
                .find(|(b, _)| *b == bound)
                .map_or(0.0, |(_, c)| *c);
            (bound, count - was)
        })
        .collect()
}

/// CPU seconds this process has used.
fn own_cpu_seconds() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command (which may hold spaces) in parentheses.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        // Linux reports in USER_HZ, 100 on every architecture Tavern runs on.
        Some((utime + stime) / 100.0)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// Runs the bots against a server and reports. Bots come in a few dozen at a time;
/// the measured window starts once every bot is connected (or has failed).
pub fn run_bots(options: &BotOptions) -> BotReport {
    let predicting = if options.light && options.fight.is_none() {
        options.predict_sample.min(options.count)
    } else {
        options.count
    };
    let protocol = std::sync::Arc::new(LightProtocol::new());
    let mut failures = Vec::new();
    let voice = if options.voice {
        match Clip::make() {
            Ok(clip) => Some(clip),
            Err(e) => {
                failures.push(format!("the bots cannot speak: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    let mut talkers: Vec<Talker> = Vec::new();
    let mut stamps = Stamps::default();
    let mut whereabouts = Whereabouts::default();
    let mut tally = Tally::default();
    let make = |i: usize| {
        let name = format!("bot-{i}");
        let brain = if let Some(content) = &options.fight {
            Brain::fight(content, options.cheat)
        } else if options.still {
            Brain::Idle
        } else {
            Brain::wander(options.seed + i as u64)
        };
        let mut target = ServerTarget::guest(&options.server, &name);
        target.only(options.transport);
        if let Some((room, password)) = options.rooms.get(i % options.rooms.len().max(1)) {
            target.room = Some(room.clone());
            target.room_password = password.clone();
        }
        if i < predicting {
            AnyBot::Full(Box::new(Bot::with_target(target, brain)))
        } else {
            let mut bot = LightBot::new(protocol.clone(), target, brain, !options.still);
            if voice.is_some() {
                bot.voice_status(tavern_shared::voice::VoiceStatus {
                    microphone: true,
                    deafened: false,
                });
            }
            AnyBot::Light(Box::new(bot))
        }
    };
    let frame = Duration::from_secs_f64(1.0 / 60.0);
    // Light bots update every `light_every`-th frame, staggered.
    let light_every = (60 / LIGHT_HZ).max(1) as usize;
    let mut bots: Vec<AnyBot> = Vec::with_capacity(options.count);
    let mut ever_connected: Vec<bool> = Vec::with_capacity(options.count);
    let ramp_start = Instant::now();
    let mut last_progress = Instant::now();
    let mut frame_no = 0usize;
    let mut window: Option<(Instant, Option<ServerSample>, Option<f64>)> = None;
    let mut traffic_before: Vec<Option<(u64, u64)>> = Vec::new();
    let mut chat: Vec<VecDeque<Duration>> = Vec::new();
    let mut said: Vec<u32> = Vec::new();
    let mut created: Vec<Instant> = Vec::with_capacity(options.count);
    let mut joined: Vec<Option<Duration>> = Vec::with_capacity(options.count);
    let mut heard = Heard::default();
    let mut dropping: Vec<Dropping> = Vec::new();
    let mut drops = DropReport::default();
    let (mut samples, mut rtt) = (0u32, 0.0);
    let mut next_sample = Instant::now();
    let mut ramp_s = 0.0;
    loop {
        let frame_start = Instant::now();
        frame_no += 1;
        // Bring more bots in while few are still on their way.
        let in_flight = bots.iter().filter(|b| !b.is_settled()).count();
        for _ in in_flight..RAMP_IN_FLIGHT {
            if bots.len() >= options.count {
                break;
            }
            bots.push(make(bots.len()));
            ever_connected.push(false);
            created.push(Instant::now());
            joined.push(None);
        }
        // Lines are said (and drops made) before the bots update, so a line goes out in
        // the frame it is said, as a player's does.
        if let Some((start, ..)) = &window {
            let since = start.elapsed();
            for (i, bot) in bots.iter_mut().enumerate() {
                let AnyBot::Full(bot) = bot else { continue };
                dropping[i].drive(bot, since, options, &mut drops);
                if bot.is_connected() && chat[i].front().is_some_and(|at| since >= *at) {
                    chat[i].pop_front();
                    let channel = if said[i].is_multiple_of(2) {
                        ChatChannel::Proximity
                    } else {
                        ChatChannel::Map
                    };
                    said[i] += 1;
                    bot.say(channel, &format!("bot-{i} line {} @{}", said[i], unix_ms()));
                }
            }
        }
        for (i, bot) in bots.iter_mut().enumerate() {
            let due = match bot {
                AnyBot::Full(_) => true,
                AnyBot::Light(_) => (i + frame_no).is_multiple_of(light_every),
            };
            if due {
                bot.update();
                if !ever_connected[i] && bot.is_connected() {
                    ever_connected[i] = true;
                    last_progress = Instant::now();
                }
                if joined[i].is_none() && bot.in_game() {
                    joined[i] = Some(created[i].elapsed());
                    // A full bot turns its microphone on once in (and again after
                    // each reconnection, as the game does).
                    if let (AnyBot::Full(b), Some(_)) = (&mut *bot, &voice) {
                        b.voice_status(true, false);
                    }
                }
            }
            if let AnyBot::Full(b) = bot {
                heard.listen(i, b);
            }
        }
        if let (Some(clip), Some((start, ..))) = (&voice, &window) {
            listen(
                &mut bots,
                options.rooms.len(),
                (&stamps, &mut whereabouts),
                &mut tally,
            );
            let since = start.elapsed();
            for (i, bot) in bots.iter_mut().enumerate() {
                let frames = talkers[i].due(i, since, clip);
                tally.report.voice_frames_sent += bot.speak(&frames, &mut stamps);
            }
        }
        let all_in = bots.len() == options.count && bots.iter().all(AnyBot::is_settled);
        match &window {
            None if all_in || last_progress.elapsed() > options.connect_timeout => {
                ramp_s = ramp_start.elapsed().as_secs_f64();
                let start = Instant::now();
                window = Some((start, sample_server(&options.server), own_cpu_seconds()));
                traffic_before = bots.iter().map(AnyBot::traffic).collect();
                next_sample = start + Duration::from_secs(1);
                chat = (0..bots.len())
                    .map(|i| chat_schedule(i, options.chat_lines, options.duration).into())
                    .collect();
                said = vec![0; bots.len()];
                talkers = vec![Talker::default(); bots.len()];
                // Staggered over the first period, so drops do not all come at once.
                let every = options.drop_every.unwrap_or_default();
                dropping = (0..bots.len())
                    .map(|i| Dropping {
                        next: every + every.mul_f64(i as f64 / bots.len().max(1) as f64),
                        waiting: None,
                        dropped_ever: false,
                    })
                    .collect();
            }
            Some((start, ..)) => {
                let since = start.elapsed();
                if Instant::now() >= next_sample {
                    next_sample += Duration::from_secs(1);
                    for (r, ..) in bots.iter().filter_map(AnyBot::network) {
                        samples += 1;
                        rtt += r;
                    }
                }
                let waiting = dropping.iter().any(|d| d.waiting.is_some());
                if since >= options.duration && !waiting {
                    break;
                }
            }
            None => {}
        }
        if let Some(rest) = frame.checked_sub(frame_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let (window_start, server_before, cpu_before) = window.unwrap_or((Instant::now(), None, None));
    let server_after = sample_server(&options.server);
    let cpu_after = own_cpu_seconds();
    let window_s = window_start.elapsed().as_secs_f64();

    // Exact bytes at each bot's socket over the window, for bots connected throughout.
    let (mut down, mut up, mut counted) = (0u64, 0u64, 0u32);
    // (A bot that dropped its connection has a new socket: not counted.)
    for (i, (bot, before)) in bots.iter().zip(&traffic_before).enumerate() {
        if dropping.get(i).is_some_and(|d| d.dropped_ever) {
            continue;
        }
        if let (Some((d0, u0)), Some((d1, u1)), true) = (before, bot.traffic(), bot.is_connected())
        {
            down += d1 - d0;
            up += u1 - u0;
            counted += 1;
        }
    }
    let per_bot_per_s = |bytes: u64| {
        if counted == 0 {
            0.0
        } else {
            bytes as f64 / f64::from(counted) / window_s.max(1e-3)
        }
    };
    let (mut connected, mut min_seen, mut seen_sum) = (0, usize::MAX, 0usize);
    let (mut corrections_total, mut corrections_max) = (0u64, 0u32);
    let (mut near_events, mut chat_sent, mut chat_received, mut chat_rejected) = (0, 0, 0, 0);
    let mut fight = options.fight.as_ref().map(|_| FightReport {
        cheats_tried: options.cheat.then_some(0),
        cheats_accepted: options.cheat.then_some(0),
        ..Default::default()
    });
    let mut kills = std::collections::BTreeSet::new();
    for (i, bot) in bots.iter_mut().enumerate() {
        if bot.is_connected() {
            connected += 1;
            let seen = bot.seen();
            min_seen = min_seen.min(seen);
            seen_sum += seen;
        } else {
            let why = if ever_connected[i] {
                format!("bot-{i} lost its connection: {}", bot.status())
            } else {
                format!("bot-{i} did not connect: {}", bot.status())
            };
            failures.push(why);
        }
        if let AnyBot::Full(bot) = bot {
            let c = bot.prediction().corrections;
            corrections_total += u64::from(c);
            corrections_max = corrections_max.max(c);
            near_events += bot.nearby().events;
            chat_sent += bot.chat().sent;
            chat_received += bot.chat().received;
            chat_rejected += bot.chat().rejections.len() as u64;
            if let Some(fight) = &mut fight {
                let me = bot.own_stream_id();
                fight.add(bot.combat(), bot.cheats(), me, &mut kills);
            }
            drops.events_missed_after_resume += bot.events().missed;
            drops.events_received += bot.events().received;
        }
    }
    let join_ms: Vec<f64> = joined
        .iter()
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    let per = |sum: f64| {
        if samples == 0 {
            0.0
        } else {
            sum / f64::from(samples)
        }
    };
    let players = connected.max(1) as f64;
    let server = match (&server_before, &server_after) {
        (Some(before), Some(after)) => ServerFigures::between(before, after, players),
        _ => ServerFigures::default(),
    };
    let report = BotReport {
        connected,
        failed: options.count - connected,
        light_bots: options.count - predicting,
        predicting_bots: predicting,
        min_seen_avatars: if connected == 0 { 0 } else { min_seen },
        mean_seen_avatars: seen_sum as f64 / players,
        corrections_total,
        corrections_max_per_bot: corrections_max,
        rtt_ms_mean: per(rtt) * 1000.0,
        down_bytes_per_s_per_bot: per_bot_per_s(down),
        up_bytes_per_s_per_bot: per_bot_per_s(up),
        duration_s: window_s,
        ramp_s,
        near_events,
        chat_sent,
        chat_received,
        chat_rejected,
        server_tick_p50_ms: server.tick_p50_ms,
        server_tick_p99_ms: server.tick_p99_ms,
        server_ticks_over_budget: server.ticks_over_budget,
        server_cpu_percent: server.cpu_percent,
        server_cpu_s_per_player_min: server.cpu_s_per_player_min,
        server_rss_bytes: server.rss_bytes,
        server_sent_bytes_per_s_per_player: server.sent_bytes_per_s_per_player,
        bots_cpu_percent: cpu_before
            .zip(cpu_after)
            .map(|(a, b)| (b - a) / window_s.max(1e-3) * 100.0),
        fight,
        drops: options.drop_every.map(|_| drops),
        voice: voice.as_ref().map(|clip| {
            let mut report = tally.finish(connected, window_s);
            report.voice_source = clip.source.into();
            report
        }),
        join_ms_p50: quantile(&join_ms, 0.5),
        join_ms_p99: quantile(&join_ms, 0.99),
        chat_delivery_ms_p50: quantile(&heard.latencies_ms, 0.5),
        chat_delivery_ms_p99: quantile(&heard.latencies_ms, 0.99),
        chat_delivery_samples: heard.latencies_ms.len(),
        failures,
    };
    // Say goodbye so the server lets the avatars go at once (not after its reconnect
    // grace), and give the goodbyes a moment to arrive before closing.
    for bot in &mut bots {
        match bot {
            AnyBot::Full(b) => crate::connection::say_goodbye(b.app.world_mut()),
            AnyBot::Light(b) => b.say_goodbye(),
        }
    }
    let farewell = Instant::now();
    while farewell.elapsed() < Duration::from_secs(2) && bots.iter().any(AnyBot::is_connected) {
        for bot in &mut bots {
            bot.update();
        }
        std::thread::sleep(frame);
    }
    drop(bots);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_from_the_sorted_values() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert_eq!(quantile(&v, 0.99), Some(5.0));
        assert_eq!(quantile(&v, 0.0), Some(1.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn server_figures_are_the_differences_over_the_window() {
        let start = Instant::now();
        let sample = |secs: u64, cpu_s, sent_bytes, ticks: f64, over_budget| ServerSample {
            at: start + Duration::from_secs(secs),
            cpu_s,
            rss: 5e7,
            sent_bytes,
            tick_buckets: vec![(0.001, ticks / 2.0), (0.002, ticks), (f64::INFINITY, ticks)],
            over_budget,
        };
        let before = sample(0, 10.0, 1e6, 100.0, 1.0);
        let after = sample(20, 15.0, 3e6, 1300.0, 7.0);
        let f = ServerFigures::between(&before, &after, 100.0);
        let close = |got: Option<f64>, want: f64| {
            assert!(
                got.is_some_and(|g| (g - want).abs() < 1e-9),
                "{got:?} vs {want}"
            )
        };
        close(f.cpu_percent, 25.0);
        close(f.cpu_s_per_player_min, 0.15);
        close(f.sent_bytes_per_s_per_player, 1000.0);
        close(f.ticks_over_budget, 0.005);
        close(f.tick_p50_ms, 1.0);
        close(f.rss_bytes, 5e7);
    }

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        let buckets = [
            (0.001, 50.0),
            (0.002, 90.0),
            (0.004, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(histogram_quantile(0.5, &buckets), Some(0.001));
        let p70 = histogram_quantile(0.7, &buckets).unwrap();
        assert!((p70 - 0.0015).abs() < 1e-12, "{p70}");
        let p99 = histogram_quantile(0.99, &buckets).unwrap();
        assert!((p99 - 0.0038).abs() < 1e-12, "{p99}");
        assert_eq!(histogram_quantile(0.5, &[(0.001, 0.0)]), None);
        // Everything past the last finite bound: the bound is the best answer.
        let slow = [(0.001, 0.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.5, &slow), Some(0.001));
        let delta = histogram_delta(
            &[(0.001, 5.0), (0.002, 7.0)],
            &[(0.001, 8.0), (0.002, 12.0)],
        );
        assert_eq!(delta, vec![(0.001, 3.0), (0.002, 5.0)]);
    }

    #[test]
    fn chat_lines_stay_within_the_rate_limit() {
        use tavern_shared::chat::{RATE_LIMIT, RATE_WINDOW_SECS};
        let at = chat_schedule(3, 12, Duration::from_secs(10));
        assert_eq!(at.len(), 12);
        for w in at.windows(RATE_LIMIT + 1) {
            assert!(
                (w[RATE_LIMIT] - w[0]).as_secs_f64() >= RATE_WINDOW_SECS,
                "{w:?}"
            );
        }
        assert!(chat_schedule(0, 0, Duration::from_secs(5)).is_empty());
    }
}
