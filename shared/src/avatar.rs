//! Replicated avatar components: who an avatar belongs to, its name, and where it stands.

use bevy::prelude::*;
use bevy_replicon::prelude::Replicated;
use serde::{Deserialize, Serialize};

use crate::movement::MoveState;

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 24;

/// The netcode client id of the player who controls this avatar.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[require(Replicated)]
pub struct PlayerId(pub u64);

/// The name shown above an avatar.
#[derive(Component, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName(pub String);

/// The server's state of an avatar and the last of its owner's inputs applied to reach it.
/// One component, so the position and the acknowledgement always arrive together.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AvatarState {
    pub motion: MoveState,
    /// Sequence number of the owner's last applied input (0 before any).
    pub last_input: u32,
}

/// The zones of its map an avatar stands in (indices into the map's zone list), as the
/// server sees it. The client shows prompts and plays audio from this, never from its
/// own idea of where the avatar is.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
