//! Screen sizes: the HUD and the chat panel fit a phone held upright or sideways, a
//! tablet and a desktop. [`layout_for`] decides from the window's size in logical
//! pixels and whether the screen has been touched; the HUD and the chat read the
//! [`Layout`] it gives. On a phone the chat folds away: its panel shows while typing
//! and for a few seconds after a line arrives, and the chat button (touch controls)
//! opens it.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;

/// The kinds of screen the UI is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    PhonePortrait,
    PhoneLandscape,
    Tablet,
    Desktop,
}

impl Screen {
    /// A window `width` x `height` logical pixels: a phone when its short side is under
    /// 500, a tablet when its long side is under 1200, else a desktop.
    pub fn of(width: f32, height: f32) -> Screen {
        let (short, long) = (width.min(height), width.max(height));
        if short < 500.0 {
            if height >= width {
                Screen::PhonePortrait
            } else {
                Screen::PhoneLandscape
            }
        } else if long < 1200.0 {
            Screen::Tablet
        } else {
            Screen::Desktop
        }
    }

    pub fn is_phone(self) -> bool {
        matches!(self, Screen::PhonePortrait | Screen::PhoneLandscape)
    }
}

/// Where the HUD and the chat go, and how much of them shows.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct Layout {
    pub screen: Screen,
    /// A finger has touched the screen: the keyboard's help is not shown.
    pub touch: bool,
    /// The status box's widest, in logical pixels.
    pub hud_width: f32,
    /// Whether the keyboard's help line shows under the status.
    pub key_help: bool,
    /// The chat panel's width, in logical pixels.
    pub chat_width: f32,
    /// How many chat lines the panel shows (at most [`crate::render::chat`]'s 8).
    pub chat_lines: usize,
    /// The panel shows only while typing or just after a line arrived.
    pub chat_folds: bool,
    /// The panel's distance from the bottom: above the hotbar (bottom centre) where the
    /// window is too narrow for both side by side.
    pub chat_bottom: f32,
    /// The prompts' column: its width, and on a phone its top (under the status box,
    /// clear of the hotbar, the chat and the touch buttons at the bottom); else it sits
    /// at the bottom right.
    pub prompts_width: f32,
    pub prompts_top: Option<f32>,
    /// The NPC conversation window's width (top right).
    pub window_width: f32,
}

impl Default for Layout {
    fn default() -> Self {
        layout_for(1280.0, 720.0, false)
    }
}

/// The layout of a `width` x `height` window (logical pixels), `touch` once a finger
/// has touched it. Every box keeps an 8 px margin inside the window.
pub fn layout_for(width: f32, height: f32, touch: bool) -> Layout {
    let screen = Screen::of(width, height);
    let room = (width - 16.0).max(0.0);
    let (chat_width, chat_lines) = match screen {
        Screen::Desktop => (500.0, 8),
        Screen::Tablet => (420.0, 6),
        Screen::PhonePortrait => (room, 4),
        // Sideways, the chat keeps to the left: the action buttons are on the right.
        Screen::PhoneLandscape => (width * 0.45, 3),
    };
    Layout {
        screen,
        touch,
        hud_width: room.min(560.0),
        key_help: !touch && !screen.is_phone(),
        chat_width: chat_width.min(room),
        chat_lines,
        chat_folds: screen.is_phone(),
        chat_bottom: if width >= 1200.0 { 8.0 } else { 64.0 },
        prompts_width: room.min(520.0),
        prompts_top: screen.is_phone().then_some(110.0),
        window_width: room.min(400.0),
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<Layout>()
        .add_systems(PreUpdate, follow_window.after(bevy::input::InputSystems));
}

/// Keeps [`Layout`] in step with the window's size and the first touch.
fn follow_window(
    window: Query<&Window, With<PrimaryWindow>>,
    touches: Res<Touches>,
    mut layout: ResMut<Layout>,
) {
    let Ok(window) = window.single() else { return };
    let touch = layout.touch || touches.iter_just_pressed().next().is_some();
    let want = layout_for(window.width(), window.height(), touch);
    if *layout != want {
        *layout = want;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens_by_size() {
        assert_eq!(Screen::of(390.0, 844.0), Screen::PhonePortrait);
        assert_eq!(Screen::of(844.0, 390.0), Screen::PhoneLandscape);
        assert_eq!(Screen::of(768.0, 1024.0), Screen::Tablet);
        assert_eq!(Screen::of(1024.0, 768.0), Screen::Tablet);
        assert_eq!(Screen::of(1280.0, 720.0), Screen::Desktop);
        assert_eq!(Screen::of(1920.0, 1080.0), Screen::Desktop);
    }

    #[test]
    fn a_phone_folds_the_chat_and_drops_the_key_help() {
        let upright = layout_for(390.0, 844.0, true);
        assert!(upright.chat_folds && !upright.key_help);
        assert_eq!(upright.chat_width, 374.0);
        assert_eq!(upright.hud_width, 374.0);
        let sideways = layout_for(844.0, 390.0, true);
        assert!(sideways.chat_folds && sideways.chat_width < 844.0 / 2.0);
        assert!(sideways.chat_lines < upright.chat_lines);
        assert_eq!(upright.prompts_top, Some(110.0));
        assert_eq!(layout_for(1280.0, 720.0, true).prompts_top, None);
    }

    #[test]
    fn a_desktop_keeps_everything_unless_touched() {
        let desk = layout_for(1280.0, 720.0, false);
        assert!(!desk.chat_folds && desk.key_help);
        assert_eq!((desk.chat_width, desk.chat_lines), (500.0, 8));
        assert_eq!(desk.chat_bottom, 8.0);
        assert!(!layout_for(1280.0, 720.0, true).key_help);
        let tablet = layout_for(1024.0, 768.0, false);
        assert!(!tablet.chat_folds && tablet.chat_lines == 6 && tablet.key_help);
        // Too narrow for the chat and the hotbar side by side: the chat goes above.
        assert_eq!(tablet.chat_bottom, 64.0);
        assert_eq!(layout_for(390.0, 844.0, true).chat_bottom, 64.0);
    }

    #[test]
    fn boxes_fit_inside_tiny_windows() {
        for (w, h) in [(320.0, 480.0), (200.0, 200.0), (10.0, 10.0)] {
            let l = layout_for(w, h, false);
            assert!(l.chat_width <= (w - 16.0).max(0.0), "{l:?}");
            for width in [l.hud_width, l.prompts_width, l.window_width] {
                assert!(width <= (w - 16.0).max(0.0), "{l:?}");
            }
        }
    }
}
