//! Proximity voice on the wire: a client sends its encoded frames (Opus, 20 ms each)
//! with a sequence number; the server relays each one, unchanged and never decoded, to
//! the players who may hear the speaker ([`hears`]), naming the speaker by its
//! avatar's stream id (as the avatar stream does: a few bytes, and the listener finds
//! the avatar, and so where the voice comes from, by it). Who speaks is the connection
//! the frame came on: a frame cannot claim another speaker.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::map::zones::Zone;

/// One frame's length of speech, in milliseconds.
pub const FRAME_MS: u32 = 20;
/// Largest frame relayed, in bytes (Opus at 24 kbit/s makes 60-byte frames; this
/// leaves room up to 80 kbit/s).
pub const MAX_FRAME_BYTES: usize = 200;
/// Frames a speaker may send in a second (50 make real time; the rest is slack for
/// frames that arrive bunched).
pub const MAX_FRAMES_PER_SEC: u32 = 60;

/// Client → server, unreliable: one frame of the player's own voice.
#[derive(Message, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct VoiceFrame {
    pub seq: u16,
    pub opus: Vec<u8>,
}

/// Server → client, unreliable: a frame of `speaker`'s voice (its avatar's stream id),
/// for this listener.
#[derive(Message, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct VoiceRelay {
    pub speaker: crate::stream::StreamId,
    pub seq: u16,
    pub opus: Vec<u8>,
}

/// Client → server, reliable: the player's voice settings. Frames are relayed only from
/// a player whose microphone is on (the player enabled voice and, where asked, granted
/// the microphone), and only to players not deafened. Voice is off until this says
/// otherwise.
#[derive(Message, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoiceStatus {
    pub microphone: bool,
    pub deafened: bool,
}

/// Largest hearing radius a map (`hearingRadius`) or the server may set, in pixels.
pub const MAX_HEARING_RADIUS: f32 = 2000.0;

/// Client → server, reliable: the player stops (or starts again) receiving `speaker`'s
/// voice (its avatar's stream id).
#[derive(Message, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoiceMute {
    pub speaker: crate::stream::StreamId,
    pub muted: bool,
}

/// Where a voice carries, as the zones someone stands in decide it: the silent zones
/// (sorted) and the meeting (`jitsiRoom` zone), if any.
pub type VoiceSpace = (Vec<u16>, Option<u16>);

/// The [`VoiceSpace`] of someone standing in zones `inside` (indices into `zones`).
pub fn voice_space(zones: &[Zone], inside: &[u16]) -> VoiceSpace {
    let is = |z: &u16, f: fn(&Zone) -> bool| zones.get(*z as usize).is_some_and(f);
    let mut silent: Vec<u16> = inside
        .iter()
        .copied()
        .filter(|z| is(z, |z| z.effects.silent))
        .collect();
    silent.sort_unstable();
    let meeting = inside
        .iter()
        .copied()
        .find(|z| is(z, |z| z.effects.jitsi.is_some()));
    (silent, meeting)
}

/// Whether someone standing in zones `listener` hears a speaker whose voice space is
/// `speaker` (worked out once per frame, for all its listeners), the two being near
/// each other and able to see each other (the proximity grid's rule): a voice does not
/// cross a silent zone's edge either way, and one in a meeting is heard by that meeting
/// only, as a listener in a meeting hears only it.
pub fn hears(zones: &[Zone], speaker: &VoiceSpace, listener: &[u16]) -> bool {
    voice_space(zones, listener) == *speaker
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(silent: bool, meeting: bool) -> Zone {
        use crate::map::zones::{Area, Effects, Jitsi, Trigger};
        Zone {
            name: "z".into(),
            place: "test".into(),
            area: Area::Rect(Rect::new(0.0, 0.0, 32.0, 32.0)),
            effects: Effects {
                silent,
                jitsi: meeting.then(|| Jitsi {
                    room: "m".into(),
                    trigger: Trigger::OnEnter,
                    url: None,
                    config: None,
                    message: None,
                }),
                ..Effects::default()
            },
        }
    }

    #[test]
    fn voices_stay_inside_silent_zones_and_meetings() {
        // Zones 0 and 1 are silent, 2 a meeting, 3 plays music (or anything else).
        let zones = [
            zone(true, false),
            zone(true, false),
            zone(false, true),
            zone(false, false),
        ];
        let z = &zones[..];
        let hears =
            |speaker: &[u16], listener: &[u16]| hears(z, &voice_space(z, speaker), listener);
        assert!(hears(&[], &[]));
        assert!(hears(&[3], &[]), "music zones do not matter");
        assert!(!hears(&[0], &[]), "out of a silent zone");
        assert!(!hears(&[], &[0]), "into a silent zone");
        assert!(hears(&[0], &[0]));
        assert!(!hears(&[0], &[1]), "from one silent zone into another");
        assert!(hears(&[0, 1], &[1, 0]));
        assert!(!hears(&[2], &[]), "a meeting is not heard by passers-by");
        assert!(!hears(&[], &[2]), "nor does it hear them");
        assert!(hears(&[2, 3], &[2]));
        assert_eq!(voice_space(z, &[3, 2, 1]), (vec![1], Some(2)));
    }
}
