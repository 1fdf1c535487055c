//! Avatar components: who an avatar belongs to, its name, and where it stands. The
//! server holds them on its avatars; a client holds them on the avatars the avatar
//! stream ([`crate::stream`]) gave it.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

use crate::movement::{Facing, MoveState, POS_STEPS_PER_PX};

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 24;

/// The netcode client id of the player who controls this avatar.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlayerId(pub u64);

/// The name shown above an avatar.
#[derive(Component, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(pub String);

/// How a player's avatar looks: one of [`LOOKS`], chosen at login (0 unless chosen).
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Look(pub u8);

/// The looks an avatar can have, by number: rows of `assets/sprites/avatar.png`.
pub const LOOKS: [&str; 4] = ["traveller", "ranger", "scholar", "smith"];

impl Look {
    /// The look numbered `n`, or why there is none.
    pub fn new(n: u8) -> Result<Look, String> {
        if usize::from(n) < LOOKS.len() {
            Ok(Look(n))
        } else {
            Err(format!(
                "look {n} does not exist: choose 0 to {} ({})",
                LOOKS.len() - 1,
                LOOKS.join(", ")
            ))
        }
    }

    pub fn name(self) -> &'static str {
        LOOKS.get(usize::from(self.0)).copied().unwrap_or(LOOKS[0])
    }
}

/// The server's state of an avatar, sent to every player who can see it.
///
/// Monsters are sent the same way (their intro says what they are).
///
/// On the wire it is compact: the position as two fixed-point integers (1/64 px, which
/// the simulation keeps it on, so it arrives exact), facing, moving and running in
/// one byte and the health bar in another; with varint encoding a moving avatar costs
/// 8 bytes on a map up to 16,384 px across. It changes only when the avatar moves,
/// turns, stops or is hurt or healed, so an avatar standing still costs nothing after
/// its last change.
#[derive(Component, Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireState", from = "WireState")]
pub struct AvatarState {
    pub motion: MoveState,
    /// Health as a fraction of full, in 255ths ([`health_bar`]): 0 only when dead.
    pub health: u8,
}

/// [`AvatarState::health`] when unhurt.
pub const FULL_HEALTH: u8 = u8::MAX;

impl Default for AvatarState {
    fn default() -> Self {
        AvatarState::new(MoveState::default())
    }
}

impl AvatarState {
    /// Moving like this, unhurt.
    pub fn new(motion: MoveState) -> Self {
        AvatarState {
            motion,
            health: FULL_HEALTH,
        }
    }

    /// Standing still at `pos`, unhurt.
    pub fn at(pos: Vec2) -> Self {
        AvatarState::new(MoveState::at(pos))
    }
}

/// `health` of `max` as a bar of 255ths, rounded up so that only 0 health shows empty.
pub fn health_bar(health: u32, max: u32) -> u8 {
    if max == 0 || health >= max {
        return FULL_HEALTH;
    }
    (u64::from(health) * 255).div_ceil(u64::from(max)) as u8
}

/// The sequence number of the last of its owner's inputs the server applied to this
/// avatar (0 before any). Sent only to the owner, with [`AvatarState`] in the same
/// [`crate::stream::OwnState`]: prediction replays the inputs after this one from that
/// state.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAck(pub u32);

/// [`AvatarState`] as sent: fixed-point position, one byte of flags, the health bar.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct WireState(i32, i32, u8, u8);

const MOVING: u8 = 1 << 2;
const RUNNING: u8 = 1 << 3;

impl From<AvatarState> for WireState {
    fn from(state: AvatarState) -> Self {
        let m = state.motion;
        let fixed = |v: f32| (v * POS_STEPS_PER_PX).round() as i32;
        let facing = match m.facing {
            Facing::Down => 0,
            Facing::Up => 1,
            Facing::Left => 2,
            Facing::Right => 3,
        };
        let flags =
            facing | if m.moving { MOVING } else { 0 } | if m.running { RUNNING } else { 0 };
        WireState(fixed(m.pos.x), fixed(m.pos.y), flags, state.health)
    }
}

impl From<WireState> for AvatarState {
    fn from(WireState(x, y, flags, health): WireState) -> Self {
        let facing = match flags & 3 {
            0 => Facing::Down,
            1 => Facing::Up,
            2 => Facing::Left,
            _ => Facing::Right,
        };
        AvatarState {
            motion: MoveState {
                pos: Vec2::new(x as f32, y as f32) / POS_STEPS_PER_PX,
                facing,
                moving: flags & MOVING != 0,
                running: flags & RUNNING != 0,
            },
            health,
        }
    }
}

/// The zones of its map an avatar stands in (indices into the map's zone list), as the
/// server sees it. The server holds it on each avatar and sends it to the avatar's
/// owner only (reliable, when it changes), who keeps it on the own avatar and shows
/// prompts and plays audio from it, never from its own idea of where the avatar is.
#[derive(Component, Message, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InZones(pub Vec<u16>);

/// Why a display name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {0} characters long; at most {MAX_NAME_CHARS} are allowed")]
    TooLong(usize),
    #[error("the name contains a control character at position {0}")]
    ControlChar(usize),
    #[error("the name starts or ends with whitespace")]
    Untrimmed,
}

/// Checks a display name: 1 to 24 characters, no control characters, no surrounding spaces.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let count = name.chars().count();
    if count > MAX_NAME_CHARS {
        return Err(NameError::TooLong(count));
    }
    if let Some(i) = name.chars().position(char::is_control) {
        return Err(NameError::ControlChar(i + 1));
    }
    if name.trim() != name {
        return Err(NameError::Untrimmed);
    }
    Ok(())
}

/// `text` with its first letter upper-cased ("slime" -> "Slime"), for a name at the
/// start of a sentence or a title made from a map's name.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The form names are compared in: Unicode-normalised (NFKC, so "Ａｄａ" and a
/// composed or decomposed "Zoë" compare alike) and lower-cased. Two names with one key
/// are the same name: a registered one cannot be taken by anyone else.
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_or_unicode_form() {
        assert_eq!(name_key("Ada"), name_key("ADA"));
        assert_eq!(name_key("Ada"), name_key("\u{ff21}\u{ff44}\u{ff41}")); // fullwidth
        assert_eq!(name_key("Zo\u{eb}"), name_key("Zoe\u{308}")); // composed, decomposed
        assert_ne!(name_key("Ada"), name_key("Adam"));
    }

    #[test]
    fn avatar_state_goes_over_the_wire_exactly_and_compactly() {
        use crate::movement::quantize;
        let state = AvatarState {
            motion: MoveState {
                pos: quantize(Vec2::new(6399.3, 16000.7)),
                facing: Facing::Left,
                moving: true,
                running: true,
            },
            health: 17,
        };
        let bytes = postcard::to_allocvec(&state).unwrap();
        assert_eq!(bytes.len(), 8, "{bytes:?}");
        let back: AvatarState = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, state);
        for facing in [Facing::Down, Facing::Up, Facing::Left, Facing::Right] {
            let s = AvatarState::new(MoveState {
                facing,
                ..MoveState::at(Vec2::new(-3.5, 2.25))
            });
            let back: AvatarState =
                postcard::from_bytes(&postcard::to_allocvec(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn only_no_health_shows_an_empty_bar() {
        assert_eq!(health_bar(100, 100), FULL_HEALTH);
        assert_eq!(health_bar(0, 100), 0);
        assert_eq!(health_bar(1, 1000), 1);
        assert_eq!(health_bar(50, 100), 128);
        assert_eq!(health_bar(999, 1000), 255);
        assert_eq!(health_bar(5, 0), FULL_HEALTH);
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(validate_name("Ada"), Ok(()));
        assert_eq!(validate_name("Zoë the Bard 🎻"), Ok(()));
        assert_eq!(validate_name(&"x".repeat(24)), Ok(()));
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name(&"é".repeat(25)), Err(NameError::TooLong(25)));
        assert_eq!(validate_name("a\u{7}b"), Err(NameError::ControlChar(2)));
        assert_eq!(validate_name(" Ada"), Err(NameError::Untrimmed));
    }
}
