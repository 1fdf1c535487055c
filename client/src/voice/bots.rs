//! Voice for `tavern-bots --voice`: what the bots say (a sentence from `espeak-ng`,
//! or a voice-like tone where it is missing, encoded once with Opus and looped), when
//! each speaks (3 s of every 10, staggered: 30 % of the time), and what the listeners
//! make of what reaches them: frames, bytes, the one-way delay from the speaker's
//! `speak` to the listener having the frame, and frames from a speaker it could not
//! hear (farther than the hearing radius, or across a silent zone's edge, a meeting's
//! or a room's), which must be none.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use anyhow::Result;
use bevy::math::Vec2;
use serde::Serialize;
use tavern_shared::map::MapData;
use tavern_shared::stream::StreamId;
use tavern_shared::voice::{FRAME_MS, VoiceSpace, hears, voice_space};

use super::FRAME_SAMPLES;
use super::codec::VoiceEncoder;
use super::speech;

/// Of every [`CYCLE`], a bot speaks for [`TALK`].
pub const CYCLE: Duration = Duration::from_secs(10);
pub const TALK: Duration = Duration::from_secs(3);
/// How far beyond the hearing radius a speaker may seem before its frame counts as out
/// of range: both avatars may have moved since the server relayed it (at most 160 px/s
/// each, over the frame's delay and the state's).
pub const SLACK_PX: f32 = 40.0;

/// What the bots say, as Opus frames (`None`: a frame the encoder left out as silent).
pub struct Clip {
    pub frames: Vec<Option<Vec<u8>>>,
    /// `espeak-ng`, or `tone` where it could not run.
    pub source: &'static str,
}

impl Clip {
    pub fn make() -> Result<Clip> {
        let (samples, source) = match speech::espeak(
            "Welcome to the tavern, traveller. The dragon sleeps under the hill, and the ale is cold.",
        ) {
            Ok(s) => (s, "espeak-ng"),
            Err(e) => {
                tracing::warn!("bots speak a tone instead of words: {e:#}");
                (speech::tone(4.0), "tone")
            }
        };
        let mut encoder = VoiceEncoder::new()?;
        let mut frames = Vec::new();
        for chunk in samples.chunks(FRAME_SAMPLES) {
            let mut frame = chunk.to_vec();
            frame.resize(FRAME_SAMPLES, 0.0);
            frames.push(encoder.encode(&frame)?);
        }
        Ok(Clip { frames, source })
    }
}

/// One bot's voice: which frame is due next.
#[derive(Debug, Default, Clone)]
pub struct Talker {
    /// Frames of real time accounted for since the run began.
    frames_done: u64,
}

impl Talker {
    /// The frames bot `index` says up to `since` the run began: each 20 ms of its
    /// talking time gives the clip's next frame (`Some(None)` for a frame left out as
    /// silent), none outside it.
    pub fn due<'a>(
        &mut self,
        index: usize,
        since: Duration,
        clip: &'a Clip,
    ) -> Vec<Option<&'a [u8]>> {
        let now = (since.as_millis() / u128::from(FRAME_MS)) as u64;
        let mut out = Vec::new();
        while self.frames_done < now {
            let at = Duration::from_millis(self.frames_done * u64::from(FRAME_MS));
            self.frames_done += 1;
            if talking(index, at) && !clip.frames.is_empty() {
                let n = self.frames_done as usize % clip.frames.len();
                out.push(clip.frames[n].as_deref());
            }
        }
        out
    }
}

/// Whether bot `index` speaks at `at` into the run: [`TALK`] of every [`CYCLE`], each
/// bot starting 1.3 s after the one before (mod the cycle).
pub fn talking(index: usize, at: Duration) -> bool {
    let offset = Duration::from_millis(index as u64 * 1300).as_millis() % CYCLE.as_millis();
    let phase = (at.as_millis() + CYCLE.as_millis() - offset) % CYCLE.as_millis();
    phase < TALK.as_millis()
}

/// Where a bot stands, for judging whether it could hear a speaker.
#[derive(Debug, Clone)]
pub struct Place {
    pub room: usize,
    pub map: std::sync::Arc<MapData>,
    pub pos: Vec2,
    pub hearing_radius: f32,
}

impl Place {
    fn space(&self) -> (VoiceSpace, Vec<u16>) {
        let zones: Vec<u16> = self.map.zones_at(self.pos).map(|(i, _)| i).collect();
        (voice_space(&self.map.zones, &zones), zones)
    }

    /// Whether a listener here could hear a speaker standing at `speaker`: same room
    /// and map, the same voice space (silent zones, meeting), and within the hearing
    /// radius (with [`SLACK_PX`]) unless both are in the same meeting.
    pub fn could_hear(&self, speaker: &Place) -> bool {
        if self.room != speaker.room || self.map.name != speaker.map.name {
            return false;
        }
        let (speaker_space, _) = speaker.space();
        let (_, zones) = self.space();
        if !hears(&self.map.zones, &speaker_space, &zones) {
            return false;
        }
        speaker_space.1.is_some()
            || self.pos.distance(speaker.pos) <= self.hearing_radius + SLACK_PX
    }
}

/// Where every bot stood, frame by frame, over the last second: a frame is judged
/// against the places between its sending and its arrival, since the server relayed
/// it at some moment in between (a speaker stepping out of a silent zone just after
/// speaking was heard rightly).
#[derive(Default)]
pub struct Whereabouts(VecDeque<(Instant, HashMap<StreamId, Place>)>);

impl Whereabouts {
    /// Takes where everyone stands at `now`, forgetting what is over a second old.
    pub fn push(&mut self, now: Instant, places: HashMap<StreamId, Place>) {
        self.0.push_back((now, places));
        while self
            .0
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > Duration::from_secs(1))
        {
            self.0.pop_front();
        }
    }

    /// Whether `listener` could hear `speaker` at some moment from `from` to `to` (a
    /// frame before `from` included); `None` when the two were never both placed then.
    pub fn could_hear(
        &self,
        listener: StreamId,
        speaker: StreamId,
        from: Instant,
        to: Instant,
    ) -> Option<bool> {
        let first = self.0.iter().rposition(|(at, _)| *at <= from).unwrap_or(0);
        let mut placed = false;
        for (at, places) in self.0.iter().skip(first) {
            if *at > to {
                break;
            }
            if let (Some(l), Some(s)) = (places.get(&listener), places.get(&speaker)) {
                placed = true;
                if l.could_hear(s) {
                    return Some(true);
                }
            }
        }
        placed.then_some(false)
    }
}

/// Frame sent times, per speaker (its avatar's stream id), by sequence number (the last
/// 1024).
#[derive(Default)]
pub struct Stamps(HashMap<StreamId, Vec<Option<(u16, Instant)>>>);

impl Stamps {
    pub fn sent(&mut self, speaker: StreamId, seq: u16, at: Instant) {
        let ring = self.0.entry(speaker).or_insert_with(|| vec![None; 1024]);
        ring[usize::from(seq) % 1024] = Some((seq, at));
    }

    pub fn when(&self, speaker: StreamId, seq: u16) -> Option<Instant> {
        match self.0.get(&speaker)?[usize::from(seq) % 1024] {
            Some((s, at)) if s == seq => Some(at),
            _ => None,
        }
    }
}

/// The voice figures of a run (`--voice`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct VoiceReport {
    /// What the bots said with: `espeak-ng` or `tone`.
    pub voice_source: String,
    pub voice_frames_sent: u64,
    pub voice_frames_received: u64,
    /// Frames from a speaker the listener could not hear (must be 0).
    pub voice_frames_from_out_of_range: u64,
    /// Opus bytes received, per listening bot per second over the window.
    pub voice_bytes_per_s_per_bot: f64,
    /// Speakers each bot heard at a time, on average (frames received a second / 50).
    pub voice_speaking_neighbours_mean: f64,
    /// From a speaker's `speak` to a listener having the frame (both polled 30 to 60
    /// times a second), mean and 99th percentile.
    pub voice_delay_ms_mean: Option<f64>,
    pub voice_delay_ms_p99: Option<f64>,
}

/// Tallies what the listeners got.
#[derive(Default)]
pub struct Tally {
    pub report: VoiceReport,
    bytes: u64,
    delays_ms: Vec<f64>,
}

impl Tally {
    /// One frame `heard` by bot `listener`, judged against where both stood from
    /// its sending (as stamped; else 200 ms before it arrived) to its arrival.
    pub fn heard(
        &mut self,
        listener: StreamId,
        heard: &super::Heard,
        stamps: &Stamps,
        whereabouts: &Whereabouts,
    ) {
        self.report.voice_frames_received += 1;
        self.bytes += heard.opus.len() as u64;
        let sent = stamps.when(heard.speaker, heard.seq);
        if let Some(sent) = sent {
            self.delays_ms
                .push(heard.at.saturating_duration_since(sent).as_secs_f64() * 1000.0);
        }
        let from = sent.unwrap_or_else(|| heard.at - Duration::from_millis(200));
        if whereabouts.could_hear(listener, heard.speaker, from, heard.at) == Some(false) {
            self.report.voice_frames_from_out_of_range += 1;
        }
    }

    /// The report, over `bots` bots and a window of `secs`.
    pub fn finish(mut self, bots: usize, secs: f64) -> VoiceReport {
        let per_bot_s = (bots.max(1) as f64) * secs.max(1e-3);
        self.report.voice_bytes_per_s_per_bot = self.bytes as f64 / per_bot_s;
        self.report.voice_speaking_neighbours_mean =
            self.report.voice_frames_received as f64 / per_bot_s / (1000.0 / f64::from(FRAME_MS));
        if !self.delays_ms.is_empty() {
            self.report.voice_delay_ms_mean =
                Some(self.delays_ms.iter().sum::<f64>() / self.delays_ms.len() as f64);
            self.report.voice_delay_ms_p99 = crate::load::quantile(&self.delays_ms, 0.99);
        }
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_talk_three_seconds_in_ten_and_not_all_at_once() {
        let share = (0..1000)
            .filter(|i| talking(4, Duration::from_millis(i * 10)))
            .count();
        assert_eq!(share, 300);
        let at = Duration::from_millis(500);
        let now: Vec<bool> = (0..5).map(|i| talking(i, at)).collect();
        assert!(now.iter().any(|t| *t) && now.iter().any(|t| !*t), "{now:?}");
    }

    #[test]
    fn a_talker_says_one_frame_per_20_ms_of_its_talking_time() {
        let clip = Clip {
            frames: vec![Some(vec![1]), None, Some(vec![3])],
            source: "test",
        };
        let mut t = Talker::default();
        // Bot 0 talks from 0 to 3 s.
        assert_eq!(t.due(0, Duration::from_millis(100), &clip).len(), 5);
        assert_eq!(t.due(0, Duration::from_millis(100), &clip).len(), 0);
        assert_eq!(t.due(0, Duration::from_millis(3000), &clip).len(), 145);
        assert!(t.due(0, Duration::from_millis(9000), &clip).is_empty());
    }

    #[test]
    fn out_of_range_is_farther_than_hearing_or_another_room() {
        let map = std::sync::Arc::new(MapData::from_ascii("m", 32, &["S........."]));
        let at = |room, x| Place {
            room,
            map: map.clone(),
            pos: Vec2::new(x, 16.0),
            hearing_radius: 100.0,
        };
        assert!(at(0, 0.0).could_hear(&at(0, 90.0)));
        assert!(at(0, 0.0).could_hear(&at(0, 130.0)), "within the slack");
        assert!(!at(0, 0.0).could_hear(&at(0, 150.0)));
        assert!(!at(0, 0.0).could_hear(&at(1, 10.0)));
        // Judged over the time between sending and arrival.
        let t0 = Instant::now();
        let mut whereabouts = Whereabouts::default();
        let step = |ms| t0 + Duration::from_millis(ms);
        for (ms, x) in [(0, 150.0), (20, 120.0), (40, 90.0), (60, 200.0)] {
            whereabouts.push(step(ms), HashMap::from([(1, at(0, 0.0)), (2, at(0, x))]));
        }
        assert_eq!(whereabouts.could_hear(1, 2, step(5), step(50)), Some(true));
        assert_eq!(whereabouts.could_hear(1, 2, step(0), step(10)), Some(false));
        assert_eq!(
            whereabouts.could_hear(1, 2, step(15), step(25)),
            Some(true),
            "120 px: within the slack"
        );
        assert_eq!(
            whereabouts.could_hear(1, 2, step(60), step(70)),
            Some(false)
        );
        assert_eq!(whereabouts.could_hear(1, 3, step(0), step(70)), None);
        let mut stamps = Stamps::default();
        let t = Instant::now();
        stamps.sent(7, 3, t);
        assert_eq!(stamps.when(7, 3), Some(t));
        assert_eq!(stamps.when(7, 1027), None);
        assert_eq!(stamps.when(8, 3), None);
    }
}
