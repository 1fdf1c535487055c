//! Player input as it travels from client to server: a quantized analog stick, buttons,
//! and a sequence number, sent redundantly so a lost packet loses nothing.

use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Most inputs one packet may carry; a client sends its oldest unacknowledged ones.
pub const MAX_FRAMES_PER_BATCH: usize = 32;
/// How far past the next expected input a batch may reach (10 s of inputs).
pub const MAX_SEQ_AHEAD: u32 = 600;
/// After the avatar is moved to another map, the client skips this many sequence numbers,
/// so the server can tell inputs meant for the old map (still in flight) from new ones.
/// Larger than the most inputs a client ever has unacknowledged.
pub const ARRIVAL_SEQ_GAP: u32 = 1000;

/// An analog stick quantized to one signed byte per axis, in map directions (+y is down).
///
/// Valid sticks have `x² + y² ≤ 127²`, so magnitude never exceeds 1 and diagonals are
/// never faster. A float on the wire could be NaN or huge; this cannot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stick {
    pub x: i8,
    pub y: i8,
}

impl Stick {
    const FULL: i32 = 127;

    /// Quantizes a direction; anything longer than 1 is shortened to 1, NaN becomes zero.
    pub fn from_vec(v: Vec2) -> Stick {
        if !v.is_finite() {
            return Stick::default();
        }
        let v = v.clamp_length_max(1.0) * Self::FULL as f32;
        let (mut x, mut y) = (v.x.round() as i32, v.y.round() as i32);
        // Rounding can push a unit diagonal just past the circle: pull the larger axis in.
        while x * x + y * y > Self::FULL * Self::FULL {
            if x.abs() >= y.abs() {
                x -= x.signum();
            } else {
                y -= y.signum();
            }
        }
        Stick {
            x: x as i8,
            y: y as i8,
        }
    }

    /// Whether the stick lies inside the unit circle (what an honest client sends).
    pub fn is_valid(self) -> bool {
        let (x, y) = (self.x as i32, self.y as i32);
        x * x + y * y <= Self::FULL * Self::FULL
    }

    pub fn to_vec(self) -> Vec2 {
        Vec2::new(self.x as f32, self.y as f32) / Self::FULL as f32
    }

    pub fn is_zero(self) -> bool {
        self.x == 0 && self.y == 0
    }
}

/// Button bits of one input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buttons(pub u8);

impl Buttons {
    pub const NONE: Buttons = Buttons(0);
    pub const RUN: Buttons = Buttons(1);
    pub const INTERACT: Buttons = Buttons(2);
    const KNOWN: u8 = 0b11;

    pub fn contains(self, other: Buttons) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Buttons {
    type Output = Buttons;
    fn bitor(self, rhs: Buttons) -> Buttons {
        Buttons(self.0 | rhs.0)
    }
}

/// One tick of one player's input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InputFrame {
    pub stick: Stick,
    pub buttons: Buttons,
}

impl InputFrame {
    pub fn run(self) -> bool {
        self.buttons.contains(Buttons::RUN)
    }

    /// An input that changes nothing when the avatar is already standing.
    pub fn is_idle(self) -> bool {
        self.stick.is_zero() && self.buttons == Buttons::NONE
    }
}

/// Client → server, unreliable, every tick: consecutive inputs starting at `first_seq`.
#[derive(Message, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputBatch {
    pub first_seq: u32,
    pub frames: Vec<InputFrame>,
}

/// Why a batch of inputs was refused. Honest clients never send these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("empty input batch")]
    Empty,
    #[error("{0} inputs in one batch (at most {MAX_FRAMES_PER_BATCH})")]
    TooMany(usize),
    #[error("sequence number 0 is reserved")]
    ZeroSeq,
    #[error("sequence numbers overflow")]
    SeqOverflow,
    #[error("input {seq}: stick ({x}, {y}) is longer than 1")]
    StickTooLong { seq: u32, x: i8, y: i8 },
    #[error("input {seq}: unknown button bits {bits:#04x}")]
    UnknownButtons { seq: u32, bits: u8 },
    #[error("input {seq} is more than {MAX_SEQ_AHEAD} ahead of the next expected ({expected})")]
    TooFarAhead { seq: u32, expected: u32 },
}

impl InputBatch {
    /// Checks what can be checked without knowing the sender's state.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.frames.is_empty() {
            return Err(InputError::Empty);
        }
        if self.frames.len() > MAX_FRAMES_PER_BATCH {
            return Err(InputError::TooMany(self.frames.len()));
        }
        if self.first_seq == 0 {
            return Err(InputError::ZeroSeq);
        }
        if self
            .first_seq
            .checked_add(self.frames.len() as u32)
            .is_none()
        {
            return Err(InputError::SeqOverflow);
        }
        for (seq, frame) in self.iter() {
            if !frame.stick.is_valid() {
                return Err(InputError::StickTooLong {
                    seq,
                    x: frame.stick.x,
                    y: frame.stick.y,
                });
            }
            if frame.buttons.0 & !Buttons::KNOWN != 0 {
                return Err(InputError::UnknownButtons {
                    seq,
                    bits: frame.buttons.0,
                });
            }
        }
        Ok(())
    }

    /// The inputs with their sequence numbers.
    pub fn iter(&self) -> impl Iterator<Item = (u32, InputFrame)> + '_ {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| (self.first_seq.wrapping_add(i as u32), *f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_sticks_never_exceed_magnitude_one() {
        for i in 0..3600 {
            let v = Vec2::from_angle(i as f32 * std::f32::consts::TAU / 3600.0);
            let s = Stick::from_vec(v);
            assert!(s.is_valid(), "{v} -> {s:?}");
            assert!(s.to_vec().length() <= 1.0 + 1e-6);
            assert!(s.to_vec().length() > 0.98, "{v} -> {s:?}");
        }
        assert_eq!(Stick::from_vec(Vec2::new(5.0, 0.0)), Stick { x: 127, y: 0 });
        assert_eq!(Stick::from_vec(Vec2::NAN), Stick::default());
    }

    #[test]
    fn malformed_batches_are_refused_with_a_reason() {
        let ok = InputFrame::default();
        let batch = |first_seq, frames: Vec<InputFrame>| InputBatch { first_seq, frames };
        assert_eq!(batch(1, vec![]).validate(), Err(InputError::Empty));
        assert_eq!(
            batch(1, vec![ok; 33]).validate(),
            Err(InputError::TooMany(33))
        );
        assert_eq!(batch(0, vec![ok]).validate(), Err(InputError::ZeroSeq));
        assert_eq!(
            batch(u32::MAX, vec![ok; 2]).validate(),
            Err(InputError::SeqOverflow)
        );
        let long = InputFrame {
            stick: Stick { x: 127, y: 127 },
            buttons: Buttons::NONE,
        };
        assert!(matches!(
            batch(5, vec![ok, long]).validate(),
            Err(InputError::StickTooLong { seq: 6, .. })
        ));
        let odd = InputFrame {
            stick: Stick::default(),
            buttons: Buttons(0x80),
        };
        assert!(matches!(
            batch(5, vec![odd]).validate(),
            Err(InputError::UnknownButtons { seq: 5, bits: 0x80 })
        ));
        assert_eq!(batch(9, vec![ok; 32]).validate(), Ok(()));
    }
}
