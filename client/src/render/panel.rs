//! What the window's panels share: showing or hiding one, and a text panel's words, each
//! written only when they change (so nothing is laid out again for nothing).

use bevy::prelude::*;

/// Shows or hides the panel laid out by `node`.
pub fn set_shown(node: &mut Mut<Node>, shown: bool) {
    let display = if shown { Display::Flex } else { Display::None };
    if node.display != display {
        node.display = display;
    }
}

/// Shows a text panel with the words `words` makes, or hides it when not `open`.
pub fn show_text(
    node: &mut Mut<Node>,
    text: &mut Mut<Text>,
    open: bool,
    words: impl FnOnce() -> String,
) {
    set_shown(node, open);
    if open {
        let words = words();
        if text.0 != words {
            text.0 = words;
        }
    }
}
