//! Headless bot clients: each is a full client app (login, netcode, prediction,
//! interpolation) with a brain instead of a keyboard. `tavern-bots` runs many of them
//! in one process; tests drive them one update at a time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use bevy_replicon_renet2::renet2::RenetClient;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tavern_shared::avatar::{AvatarState, InputAck, PlayerId};
use tavern_shared::chat::ChatChannel;
use tavern_shared::input::{Buttons, InputFrame, Stick};

use crate::PlaySystems;
use crate::connection::{ConnectionStatus, LocalPlayer, ServerTarget};
use crate::interpolation::Interpolated;
use crate::prediction::{Confirmed, DesiredInput, OwnAvatar, Prediction};

/// What a bot does with its stick.
#[derive(Resource, Debug)]
pub enum Brain {
    /// Stands still.
    Idle,
    /// Walks or runs in a random direction, changing every 0.5 to 2 s.
    Wander {
        rng: Box<ChaCha8Rng>,
        ticks_left: u32,
        current: InputFrame,
    },
    /// Plays a fixed list of (ticks, input) steps, then stands still.
    Script(VecDeque<(u32, InputFrame)>),
}

impl Brain {
    pub fn wander(seed: u64) -> Brain {
        Brain::Wander {
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
            ticks_left: 0,
            current: InputFrame::default(),
        }
    }

    fn next(&mut self) -> InputFrame {
        match self {
            Brain::Idle => InputFrame::default(),
            Brain::Wander {
                rng,
                ticks_left,
                current,
            } => {
                if *ticks_left == 0 {
                    *ticks_left = rng.random_range(30..120);
                    let dir = Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU));
                    let magnitude = rng.random_range(0.3..=1.0);
                    let run = rng.random_bool(0.3);
                    *current = InputFrame {
                        stick: Stick::from_vec(dir * magnitude),
                        buttons: if run { Buttons::RUN } else { Buttons::NONE },
                    };
                }
                *ticks_left -= 1;
                *current
            }
            Brain::Script(steps) => {
                let Some((ticks, frame)) = steps.front_mut() else {
                    return InputFrame::default();
                };
                let f = *frame;
                *ticks -= 1;
                if *ticks == 0 {
                    steps.pop_front();
                }
                f
            }
        }
    }

    /// Whether a script has run out (always true for other brains).
    pub fn is_done(&self) -> bool {
        match self {
            Brain::Script(steps) => steps.is_empty(),
            _ => true,
        }
    }
}

/// The brain only acts once the avatar is placed, so scripts start from the spawn point.
fn think(mut brain: ResMut<Brain>, mut desired: ResMut<DesiredInput>, prediction: Res<Prediction>) {
    desired.0 = if prediction.state.is_some() {
        brain.next()
    } else {
        InputFrame::default()
    };
}

/// One headless client.
pub struct Bot {
    pub app: App,
}

/// A bot that goes away says goodbye, so the server frees its place at once instead of
/// after the connection times out.
impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(mut transport) =
            self.app
                .world_mut()
                .get_resource_mut::<bevy_replicon_renet2::netcode::NetcodeClientTransport>()
        {
            transport.disconnect();
        }
    }
}

impl Bot {
    /// A bot that will log in at `url` as `name` on its first update.
    pub fn new(url: &str, name: &str, brain: Brain) -> Bot {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, StatesPlugin))
            .add_plugins(crate::plugin)
            .insert_resource(ServerTarget {
                url: url.to_string(),
                name: name.to_string(),
            })
            .insert_resource(brain)
            .add_systems(FixedUpdate, think.in_set(PlaySystems::Input));
        app.finish();
        app.cleanup();
        Bot { app }
    }

    pub fn update(&mut self) {
        self.app.update();
    }

    pub fn status(&self) -> &ConnectionStatus {
        self.app.world().resource::<ConnectionStatus>()
    }

    pub fn is_connected(&self) -> bool {
        *self.status() == ConnectionStatus::Connected
    }

    pub fn client_id(&self) -> Option<u64> {
        self.app
            .world()
            .get_resource::<LocalPlayer>()
            .map(|l| l.client_id)
    }

    pub fn prediction(&self) -> &Prediction {
        self.app.world().resource::<Prediction>()
    }

    pub fn brain_mut(&mut self) -> Mut<'_, Brain> {
        self.app.world_mut().resource_mut::<Brain>()
    }

    /// The server's last word on the own avatar, if it has arrived.
    pub fn own_server_state(&mut self) -> Option<Confirmed> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<(&AvatarState, &InputAck), With<OwnAvatar>>();
        q.single(self.app.world())
            .ok()
            .map(|(state, ack)| Confirmed {
                motion: state.motion,
                last_input: ack.0,
            })
    }

    /// Other avatars: id, last server state received, and where they are drawn.
    pub fn others(&mut self) -> Vec<(u64, AvatarState, Option<Interpolated>)> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<(&PlayerId, &AvatarState, Option<&Interpolated>), Without<OwnAvatar>>(
            );
        q.iter(self.app.world())
            .map(|(id, s, i)| (id.0, *s, i.copied()))
            .collect()
    }

    /// Sends a chat line.
    pub fn say(&mut self, channel: tavern_shared::chat::ChatChannel, text: &str) {
        crate::chat::say(self.app.world_mut(), channel, text);
    }

    /// Meetings the server invited this bot to.
    pub fn meetings(&self) -> &crate::meetings::Meetings {
        self.app.world().resource::<crate::meetings::Meetings>()
    }

    /// The chat this bot has seen.
    pub fn chat(&self) -> &crate::chat::ChatLog {
        self.app.world().resource::<crate::chat::ChatLog>()
    }

    /// The NPC conversation as this bot knows it.
    pub fn conversation(&self) -> &crate::agents::Conversation {
        self.app.world().resource::<crate::agents::Conversation>()
    }

    /// NPCs this bot has received.
    pub fn npcs(&mut self) -> Vec<tavern_shared::agent::Npc> {
        let mut q = self.app.world_mut().query::<&tavern_shared::agent::Npc>();
        q.iter(self.app.world()).cloned().collect()
    }

    /// Says goodbye to the NPC this bot is talking to.
    pub fn leave_conversation(&mut self) {
        crate::agents::leave(self.app.world_mut());
    }

    /// The token for the HTTP API, once logged in.
    pub fn api_token(&self) -> Option<String> {
        self.app
            .world()
            .get_resource::<LocalPlayer>()
            .map(|l| l.api_token.clone())
    }

    /// Players the server says are near this bot.
    pub fn nearby(&self) -> &crate::proximity::NearbyPlayers {
        self.app
            .world()
            .resource::<crate::proximity::NearbyPlayers>()
    }

    /// The zones (indices into the map's zone list) the server says the own avatar is in.
    pub fn own_zones(&mut self) -> Option<Vec<u16>> {
        let mut q = self
            .app
            .world_mut()
            .query_filtered::<&tavern_shared::avatar::InZones, With<OwnAvatar>>();
        q.single(self.app.world()).ok().map(|z| z.0.clone())
    }

    fn network(&self) -> Option<(f64, f64, f64)> {
        let client = self.app.world().get_resource::<RenetClient>()?;
        client.is_connected().then(|| {
            let info = client.network_info();
            (
                info.rtt,
                info.bytes_received_per_second,
                info.bytes_sent_per_second,
            )
        })
    }
}

/// What `tavern-bots` is asked to do.
#[derive(Debug, Clone)]
pub struct BotOptions {
    pub server: String,
    pub count: usize,
    pub duration: Duration,
    /// Seed of the bots' wandering (bot i uses seed + i).
    pub seed: u64,
    /// How long a bot may take to connect before it counts as failed.
    pub connect_timeout: Duration,
    /// Chat lines each bot sends over the run.
    pub chat_lines: u32,
}

/// Shortest gap between a bot's chat lines: keeps it under the rate limit.
pub const CHAT_GAP: Duration = Duration::from_millis(2100);

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

/// The run's result, printed as JSON by `tavern-bots --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BotReport {
    pub connected: usize,
    pub failed: usize,
    /// Fewest other avatars any connected bot saw at the end.
    pub min_seen_avatars: usize,
    /// Times a replayed prediction differed from the server by more than 1 px, all bots.
    pub corrections_total: u64,
    pub corrections_max_per_bot: u32,
    pub rtt_ms_mean: f64,
    pub down_bytes_per_s_per_bot: f64,
    pub up_bytes_per_s_per_bot: f64,
    pub duration_s: f64,
    /// Proximity enter/leave messages the bots received, all bots.
    pub near_events: u64,
    /// Chat lines the bots sent, received live (their own included) and had refused.
    pub chat_sent: u64,
    pub chat_received: u64,
    pub chat_rejected: u64,
    /// Why bots failed, one line each.
    pub failures: Vec<String>,
}

/// Runs `count` bots against a server for `duration` and reports.
pub fn run_bots(options: &BotOptions) -> BotReport {
    let mut bots: Vec<Bot> = (0..options.count)
        .map(|i| {
            Bot::new(
                &options.server,
                &format!("bot-{i}"),
                Brain::wander(options.seed + i as u64),
            )
        })
        .collect();
    let start = Instant::now();
    let frame = Duration::from_secs_f64(1.0 / 60.0);
    let mut next_sample = start + Duration::from_secs(1);
    let (mut samples, mut rtt, mut down, mut up) = (0u32, 0.0, 0.0, 0.0);
    let mut ever_connected = vec![false; bots.len()];
    let mut chat: Vec<VecDeque<Duration>> = (0..bots.len())
        .map(|i| chat_schedule(i, options.chat_lines, options.duration).into())
        .collect();
    let mut said = vec![0u32; bots.len()];
    let mut connected_at: Vec<Option<Instant>> = vec![None; bots.len()];
    loop {
        let frame_start = Instant::now();
        for (i, bot) in bots.iter_mut().enumerate() {
            bot.update();
            ever_connected[i] |= bot.is_connected();
            if bot.is_connected() {
                let since = *connected_at[i].get_or_insert_with(Instant::now);
                if chat[i].front().is_some_and(|at| since.elapsed() >= *at) {
                    chat[i].pop_front();
                    let channel = if said[i].is_multiple_of(2) {
                        ChatChannel::Proximity
                    } else {
                        ChatChannel::Map
                    };
                    said[i] += 1;
                    bot.say(channel, &format!("bot-{i} line {}", said[i]));
                }
            }
        }
        let elapsed = start.elapsed();
        if Instant::now() >= next_sample {
            next_sample += Duration::from_secs(1);
            for (r, d, u) in bots.iter().filter_map(Bot::network) {
                samples += 1;
                rtt += r;
                down += d;
                up += u;
            }
        }
        let waiting = bots
            .iter()
            .any(|b| !b.is_connected() && !matches!(b.status(), ConnectionStatus::Failed(_)));
        if elapsed >= options.duration && !(waiting && elapsed < options.connect_timeout) {
            break;
        }
        if let Some(rest) = frame.checked_sub(frame_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let mut failures = Vec::new();
    let (mut connected, mut min_seen, mut corrections_total, mut corrections_max) =
        (0, usize::MAX, 0u64, 0u32);
    let near_events = bots.iter().map(|b| b.nearby().events).sum();
    let chat_sent = bots.iter().map(|b| b.chat().sent).sum();
    let chat_received = bots.iter().map(|b| b.chat().received).sum();
    let chat_rejected = bots.iter().map(|b| b.chat().rejections.len() as u64).sum();
    for (i, bot) in bots.iter_mut().enumerate() {
        if bot.is_connected() {
            connected += 1;
            min_seen = min_seen.min(bot.others().len());
        } else {
            let why = if ever_connected[i] {
                format!("bot-{i} lost its connection: {}", bot.status())
            } else {
                format!("bot-{i} did not connect: {}", bot.status())
            };
            failures.push(why);
        }
        let c = bot.prediction().corrections;
        corrections_total += u64::from(c);
        corrections_max = corrections_max.max(c);
    }
    let per = |sum: f64| {
        if samples == 0 {
            0.0
        } else {
            sum / f64::from(samples)
        }
    };
    // Say goodbye so the server frees the slots at once.
    for bot in &mut bots {
        bot.app.world_mut().write_message(AppExit::Success);
        bot.update();
    }
    BotReport {
        connected,
        failed: options.count - connected,
        min_seen_avatars: if connected == 0 { 0 } else { min_seen },
        corrections_total,
        corrections_max_per_bot: corrections_max,
        rtt_ms_mean: per(rtt) * 1000.0,
        down_bytes_per_s_per_bot: per(down),
        up_bytes_per_s_per_bot: per(up),
        duration_s: start.elapsed().as_secs_f64(),
        near_events,
        chat_sent,
        chat_received,
        chat_rejected,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_play_in_order_then_stand_still() {
        let walk = InputFrame {
            stick: Stick::from_vec(Vec2::X),
            buttons: Buttons::NONE,
        };
        let mut brain = Brain::Script(VecDeque::from([(2, walk), (1, InputFrame::default())]));
        assert_eq!(brain.next(), walk);
        assert_eq!(brain.next(), walk);
        assert!(!brain.is_done());
        assert_eq!(brain.next(), InputFrame::default());
        assert!(brain.is_done());
        assert_eq!(brain.next(), InputFrame::default());
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

    #[test]
    fn wandering_is_seeded() {
        let run = |seed| {
            let mut b = Brain::wander(seed);
            (0..300).map(|_| b.next()).collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        assert!(run(3).iter().all(|f| f.stick.is_valid()));
    }
}
