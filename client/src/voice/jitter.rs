//! A jitter buffer for one speaker's voice: frames arrive over an unreliable channel,
//! late, early, twice or never; playback takes one frame every 20 ms. The buffer holds
//! back as much as the arrivals' jitter needs (adaptive, between [`MIN_DELAY`] and
//! [`MAX_DELAY`] frames), reorders, drops duplicates and frames too late to play, and
//! says when a frame is missing so the decoder conceals it. A speaker who stops (or
//! whose client leaves out silent frames) ends a talk spurt: after [`CONCEAL`] missing
//! frames the buffer goes quiet, its clock running on, so the next spurt plays with the
//! same delay (the pauses between words keep their length); a spurt too late for that
//! delay, or far ahead of it, starts afresh once the buffer has filled.

use std::collections::{BTreeMap, VecDeque};

use tavern_shared::voice::FRAME_MS;

/// Fewest frames held back behind the one playing when a talk spurt starts (40 ms).
pub const MIN_DELAY: u32 = 2;
/// Most frames held back (200 ms); beyond it the oldest are dropped.
pub const MAX_DELAY: u32 = 10;
/// Arrivals a deeper buffer measures its bursts over (2 s of voice).
pub const SPREAD_OF: usize = 100;
/// Missing frames concealed in a row before the speaker counts as silent.
pub const CONCEAL: u32 = 5;

/// What playback gets for the next 20 ms of a speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A frame to decode.
    Frame(Vec<u8>),
    /// The frame is missing: conceal it (the decoder's packet loss concealment).
    Lost,
    /// Nothing to play: the speaker is silent.
    Silent,
}

/// One speaker's buffer. Sequence numbers are the sender's frame count (`u16`,
/// wrapping), taken onto a line that does not wrap.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    frames: BTreeMap<i64, Vec<u8>>,
    /// The last sequence number seen, on the unwrapped line.
    last: Option<i64>,
    /// The next frame to play, while a talk spurt plays.
    next: Option<i64>,
    /// Missing frames in a row.
    missing: u32,
    /// Between talk spurts: the clock (`next`) runs on, nothing plays.
    silent: bool,
    /// Smoothed jitter of arrivals, in milliseconds (RFC 3550's estimate).
    jitter_ms: f64,
    /// The previous arrival's transit (arrival time less the frame's own time).
    transit: Option<f64>,
    /// Most frames held back ([`MAX_DELAY`] unless made [`JitterBuffer::deeper`]).
    max_delay: u32,
    /// A deeper buffer's recent transits (the last [`SPREAD_OF`]), whose spread it
    /// holds back at least: bursts are not jitter the smoothed estimate sees whole.
    transits: VecDeque<f64>,
    /// Frames dropped: too late, duplicated, or beyond the buffer's depth.
    pub late: u64,
    pub duplicates: u64,
    pub overflow: u64,
    /// Frames concealed.
    pub concealed: u64,
}

impl Default for JitterBuffer {
    fn default() -> Self {
        JitterBuffer {
            frames: BTreeMap::new(),
            last: None,
            next: None,
            missing: 0,
            silent: false,
            jitter_ms: 0.0,
            transit: None,
            max_delay: MAX_DELAY,
            transits: VecDeque::new(),
            late: 0,
            duplicates: 0,
            overflow: 0,
            concealed: 0,
        }
    }
}

impl JitterBuffer {
    /// A buffer that may hold back up to `max_delay` frames rather than [`MAX_DELAY`]:
    /// for a listener whose frames arrive in bursts (a browser page takes the network's
    /// packets once a frame of its own, and a busy page draws only a few a second). The
    /// delay still follows the jitter measured.
    pub fn deeper(max_delay: u32) -> Self {
        JitterBuffer {
            max_delay: max_delay.max(MAX_DELAY),
            ..Default::default()
        }
    }

    /// The frames held back before a talk spurt plays, from the jitter measured: enough
    /// to cover three times the smoothed jitter, within [`MIN_DELAY`]..=[`MAX_DELAY`]
    /// (or the deeper buffer's own most).
    pub fn target(&self) -> u32 {
        let (low, high) = self
            .transits
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), t| (l.min(*t), h.max(*t)));
        let spread = (high - low).max(0.0);
        let frames = ((3.0 * self.jitter_ms).max(spread) / f64::from(FRAME_MS)).ceil() as u32 + 1;
        frames.clamp(MIN_DELAY, self.max_delay)
    }

    /// The smoothed jitter of arrivals, in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter_ms
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Whether a talk spurt is playing.
    pub fn playing(&self) -> bool {
        self.next.is_some() && !self.silent
    }

    /// Takes frame `seq`, arrived at `arrival_ms` (any clock that counts milliseconds).
    pub fn push(&mut self, seq: u16, arrival_ms: f64, opus: Vec<u8>) {
        let at = self.unwrap(seq);
        // The jitter estimate: how much the transit time varies between arrivals.
        let transit = arrival_ms - at as f64 * f64::from(FRAME_MS);
        if let Some(before) = self.transit {
            let d = (transit - before).abs();
            self.jitter_ms += (d - self.jitter_ms) / 16.0;
        }
        self.transit = Some(transit);
        if self.max_delay > MAX_DELAY {
            self.transits.push_back(transit);
            if self.transits.len() > SPREAD_OF {
                self.transits.pop_front();
            }
        }
        // Too late to play, unless between talk spurts (when it starts the next anew).
        if !self.silent && self.next.is_some_and(|next| at < next) {
            self.late += 1;
            return;
        }
        if self.frames.insert(at, opus).is_some() {
            self.duplicates += 1;
        }
        // Never more than the deepest delay: the oldest go.
        while self.frames.len() > self.max_delay as usize {
            if let Some((first, _)) = self.frames.pop_first() {
                self.overflow += 1;
                if let Some(next) = &mut self.next {
                    *next = (*next).max(first + 1);
                }
            }
        }
    }

    /// The next 20 ms to play.
    pub fn pop(&mut self) -> Next {
        let Some(mut next) = self.next else {
            return self.start();
        };
        if self.silent {
            // Between talk spurts the clock runs on, so the next spurt plays with the
            // same delay as the last; unless it came too late for that delay, or so far
            // ahead that the sender must have started afresh: then it starts anew.
            if let Some((&first, _)) = self.frames.first_key_value()
                && (first < next || first - next > i64::from(self.max_delay))
            {
                self.next = None;
                return self.start();
            }
        } else {
            // Frames left behind (older than the next) can no longer play.
            while let Some((&first, _)) = self.frames.first_key_value() {
                if first >= next {
                    break;
                }
                self.frames.pop_first();
                self.late += 1;
            }
            // Too much held back (the sender's clock runs fast, or a burst came): skip
            // ahead to the target.
            if let Some((&last, _)) = self.frames.last_key_value()
                && last - next + 1 > i64::from(self.target() + 2)
            {
                let skip_to = last + 1 - i64::from(self.target());
                while let Some((&first, _)) = self.frames.first_key_value() {
                    if first >= skip_to {
                        break;
                    }
                    self.frames.pop_first();
                    self.overflow += 1;
                }
                next = skip_to;
            }
        }
        self.next = Some(next + 1);
        if let Some(opus) = self.frames.remove(&next) {
            self.silent = false;
            self.missing = 0;
            return Next::Frame(opus);
        }
        if self.silent {
            return Next::Silent;
        }
        self.missing += 1;
        if self.missing > CONCEAL {
            // The talk spurt is over.
            self.silent = true;
            self.missing = 0;
            return Next::Silent;
        }
        self.concealed += 1;
        Next::Lost
    }

    /// Starts a talk spurt once the frames held span more than the target delay: what
    /// stays after the first plays covers the target.
    fn start(&mut self) -> Next {
        let (Some(first), Some(last)) =
            (self.frames.first_key_value(), self.frames.last_key_value())
        else {
            return Next::Silent;
        };
        if last.0 - first.0 < i64::from(self.target()) {
            return Next::Silent;
        }
        let first = *first.0;
        self.next = Some(first + 1);
        self.silent = false;
        self.missing = 0;
        Next::Frame(self.frames.remove(&first).unwrap_or_default())
    }

    /// `seq` on the unwrapped line: the one nearest the last seen.
    fn unwrap(&mut self, seq: u16) -> i64 {
        let at = match self.last {
            None => i64::from(seq),
            Some(last) => {
                let delta = i64::from(seq.wrapping_sub(last as u16) as i16);
                last + delta
            }
        };
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u16) -> Vec<u8> {
        seq.to_le_bytes().to_vec()
    }

    /// Plays `n` frames, as numbers (`None` lost, `Some(u16::MAX)` silent).
    fn play(buffer: &mut JitterBuffer, n: usize) -> Vec<Option<u16>> {
        (0..n)
            .map(|_| match buffer.pop() {
                Next::Frame(f) => Some(u16::from_le_bytes([f[0], f[1]])),
                Next::Lost => None,
                Next::Silent => Some(u16::MAX),
            })
            .collect()
    }

    #[test]
    fn frames_in_order_play_in_order_after_the_least_delay() {
        let mut b = JitterBuffer::default();
        b.push(0, 0.0, frame(0));
        b.push(1, 20.0, frame(1));
        assert_eq!(
            b.pop(),
            Next::Silent,
            "two frames are under the least delay"
        );
        b.push(2, 40.0, frame(2));
        let mut played = Vec::new();
        for seq in 3..50u16 {
            played.extend(play(&mut b, 1));
            b.push(seq, f64::from(seq) * 20.0, frame(seq));
        }
        assert_eq!(played[..5], [Some(0), Some(1), Some(2), Some(3), Some(4)]);
        assert!(played.iter().all(Option::is_some), "{played:?}");
        assert_eq!((b.late, b.concealed, b.overflow), (0, 0, 0));
    }

    #[test]
    fn reordered_and_duplicated_frames_play_once_in_order() {
        let mut b = JitterBuffer::default();
        for seq in [0u16, 2, 1, 1, 3, 5, 4] {
            b.push(seq, 0.0, frame(seq));
        }
        assert_eq!(b.duplicates, 1);
        assert_eq!(
            play(&mut b, 6),
            [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]
        );
    }

    #[test]
    fn a_missing_frame_is_concealed_and_a_late_one_dropped() {
        let mut b = JitterBuffer::default();
        for seq in [0u16, 1, 3, 4] {
            b.push(seq, f64::from(seq) * 20.0, frame(seq));
        }
        assert_eq!(play(&mut b, 3), [Some(0), Some(1), None]);
        assert_eq!(b.concealed, 1);
        // Frame 2 turns up after its time: dropped, not played out of order.
        b.push(2, 100.0, frame(2));
        assert_eq!(b.late, 1);
        assert_eq!(play(&mut b, 2), [Some(3), Some(4)]);
    }

    #[test]
    fn a_silent_speaker_ends_the_talk_spurt_and_the_next_one_waits_to_fill() {
        let mut b = JitterBuffer::default();
        for seq in 0..4u16 {
            b.push(seq, f64::from(seq) * 20.0, frame(seq));
        }
        let played = play(&mut b, 4 + CONCEAL as usize + 1);
        assert_eq!(played[..4], [Some(0), Some(1), Some(2), Some(3)]);
        assert!(played[4..4 + CONCEAL as usize].iter().all(Option::is_none));
        assert_eq!(played[4 + CONCEAL as usize], Some(u16::MAX));
        assert!(!b.playing());
        // The next talk spurt, long after (the sender's frame count went on through the
        // silence): it starts afresh once the buffer holds enough.
        b.push(100, 2000.0, frame(100));
        b.push(101, 2020.0, frame(101));
        assert_eq!(b.pop(), Next::Silent);
        b.push(102, 2040.0, frame(102));
        assert_eq!(play(&mut b, 3), [Some(100), Some(101), Some(102)]);
    }

    #[test]
    fn pauses_between_talk_spurts_keep_their_length() {
        let mut b = JitterBuffer::default();
        let mut played = Vec::new();
        // Frames 0 to 4, a pause the sender left out (5 to 19), then 20 to 24, each
        // arriving on time; one pop every 20 ms.
        for tick in 0..40u16 {
            if tick < 5 || (20..25).contains(&tick) {
                b.push(tick, f64::from(tick) * 20.0, frame(tick));
            }
            played.extend(play(&mut b, 1));
        }
        let at = |seq| played.iter().position(|p| *p == Some(seq)).unwrap();
        assert_eq!(at(20) - at(4), 16, "{played:?}");
        assert_eq!(at(24) - at(20), 4);
        assert_eq!(b.late, 0);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut b = JitterBuffer::default();
        for seq in [65534u16, 65535, 0, 1] {
            b.push(seq, 0.0, frame(seq));
        }
        assert_eq!(
            play(&mut b, 4),
            [Some(65534), Some(65535), Some(0), Some(1)]
        );
    }

    #[test]
    fn the_delay_grows_with_jitter_and_stays_within_bounds() {
        let mut calm = JitterBuffer::default();
        for seq in 0..100u16 {
            calm.push(seq, f64::from(seq) * 20.0, frame(seq));
            calm.pop();
        }
        assert_eq!(calm.target(), MIN_DELAY);
        // Arrivals that swing by ±30 ms.
        let mut shaky = JitterBuffer::default();
        for seq in 0..200u16 {
            let swing = if seq % 2 == 0 { 30.0 } else { -30.0 };
            shaky.push(seq, f64::from(seq) * 20.0 + swing, frame(seq));
        }
        assert!(shaky.jitter_ms() > 40.0, "{}", shaky.jitter_ms());
        assert!(shaky.target() > MIN_DELAY + 3, "{}", shaky.target());
        // Arrivals all over the place: never more than 200 ms held back.
        let mut wild = JitterBuffer::default();
        for seq in 0..200u16 {
            wild.push(seq, f64::from(seq % 7) * 400.0, frame(seq));
        }
        assert_eq!(wild.target(), MAX_DELAY);
        assert!(wild.len() <= MAX_DELAY as usize);
    }

    /// A page drawing 4 frames a second takes 12 or 13 frames of voice at once: the
    /// deeper buffer plays nearly all, where the usual one drops many.
    #[test]
    fn a_deeper_buffer_plays_bursts_whole() {
        let run = |mut b: JitterBuffer| {
            let (mut played, mut sent, mut pulled) = (0, 0u16, 0u32);
            // The page's frames, every 250 ms: what arrived meanwhile goes in, then
            // what is due by then is played.
            for tick in 1..=30u32 {
                let now = f64::from(tick) * 250.0;
                while sent < 300 && f64::from(sent) * 20.0 < now {
                    b.push(sent, now, frame(sent));
                    sent += 1;
                }
                while f64::from(pulled) * 20.0 < now {
                    pulled += 1;
                    if matches!(b.pop(), Next::Frame(_)) {
                        played += 1;
                    }
                }
            }
            for _ in 0..40 {
                if matches!(b.pop(), Next::Frame(_)) {
                    played += 1;
                }
            }
            (played, b.target())
        };
        let (usual, _) = run(JitterBuffer::default());
        let (deeper, target) = run(JitterBuffer::deeper(25));
        // What goes is the start of the first spurt, while the bursts are measured.
        assert!(
            deeper >= 285,
            "the deeper buffer played {deeper} of 300 ({usual})"
        );
        assert!(usual < deeper, "{usual} {deeper}");
        assert!(target > MAX_DELAY, "{target}");
    }

    #[test]
    fn a_sender_running_ahead_is_caught_up_without_holding_more_than_the_target() {
        let mut b = JitterBuffer::default();
        for seq in 0..3u16 {
            b.push(seq, 0.0, frame(seq));
        }
        play(&mut b, 1);
        // A burst of 8 frames lands at once.
        for seq in 3..11u16 {
            b.push(seq, 60.0, frame(seq));
        }
        let played = play(&mut b, 3);
        assert!(played.iter().all(Option::is_some), "{played:?}");
        assert!(
            b.len() <= b.target() as usize + 2,
            "{} held, target {}",
            b.len(),
            b.target()
        );
    }
}
