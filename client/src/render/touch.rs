//! Touch controls (phones, tablets; the mouse works the same for testing on a desktop):
//! a virtual stick appears where the left half of the screen is touched and follows the
//! finger ([`crate::controls::analog`]: 15 % dead zone, full speed at the ring); an
//! action button on the right presses E and shows the current prompt's verb; a chat
//! button opens the chat line. The buttons appear once the screen has been touched or
//! clicked, and are sized for fingers.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use crate::render::chat::Typing;
use crate::render::prompts::Here;

/// The ring's radius: full speed when the finger is this far from where it landed.
pub const RING: f32 = 56.0;
const KNOB: f32 = 26.0;
const BUTTON: f32 = 84.0;

/// What the touch controls ask for this frame.
#[derive(Resource, Debug, Default)]
pub struct TouchControls {
    /// Where the stick appeared, the finger (a mouse when `None`), and where it is now.
    stick: Option<(Vec2, Option<u64>, Vec2)>,
    /// The action button went down this frame.
    pub action: bool,
    /// A touch or click has been seen: the buttons show.
    used: bool,
}

impl TouchControls {
    /// The stick's direction and speed (y down, as the map's), zero when untouched.
    pub fn direction(&self) -> Vec2 {
        self.stick.map_or(Vec2::ZERO, |(origin, _, at)| {
            crate::controls::analog(at - origin, RING)
        })
    }
}

#[derive(Component)]
struct Ring;

#[derive(Component)]
struct Knob;

#[derive(Component)]
struct ActionButton;

#[derive(Component)]
struct ActionLabel;

#[derive(Component)]
struct ChatButton;

pub fn plugin(app: &mut App) {
    app.init_resource::<TouchControls>()
        .add_systems(Startup, spawn_controls)
        .add_systems(
            PreUpdate,
            (follow_pointer, press_buttons)
                .chain()
                .after(bevy::ui::UiSystems::Focus)
                .before(crate::render::keyboard::latch_action),
        )
        .add_systems(Update, draw_controls);
}

fn circle(size: f32, color: Color) -> impl Bundle {
    (
        Node {
            position_type: PositionType::Absolute,
            width: px(size),
            height: px(size),
            border_radius: BorderRadius::MAX,
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            ..default()
        },
        BackgroundColor(color),
        Visibility::Hidden,
    )
}

fn spawn_controls(mut commands: Commands) {
    commands.spawn((Ring, circle(RING * 2.0, Color::srgba(1.0, 1.0, 1.0, 0.15))));
    commands.spawn((Knob, circle(KNOB * 2.0, Color::srgba(1.0, 1.0, 1.0, 0.45))));
    let label = |text: &str| {
        (
            Text::new(text),
            TextFont {
                font_size: FontSize::Px(20.0),
                ..default()
            },
            TextColor(Color::srgb(0.08, 0.07, 0.1)),
        )
    };
    commands
        .spawn((
            ActionButton,
            Button,
            circle(BUTTON, Color::srgba(0.79, 0.63, 0.29, 0.85)),
        ))
        .insert(Node {
            position_type: PositionType::Absolute,
            right: px(24),
            bottom: px(96),
            width: px(BUTTON),
            height: px(BUTTON),
            border_radius: BorderRadius::MAX,
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            ..default()
        })
        .with_child((ActionLabel, label("E")));
    commands
        .spawn((
            ChatButton,
            Button,
            circle(BUTTON * 0.7, Color::srgba(0.6, 0.85, 1.0, 0.8)),
        ))
        .insert(Node {
            position_type: PositionType::Absolute,
            right: px(24),
            bottom: px(96.0 + BUTTON + 20.0),
            width: px(BUTTON * 0.7),
            height: px(BUTTON * 0.7),
            border_radius: BorderRadius::MAX,
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            ..default()
        })
        .with_child(label("Chat"));
}

/// Starts the stick where a finger (or the mouse) lands on the left half, follows it,
/// and lets go when it lifts.
fn follow_pointer(
    touches: Res<Touches>,
    mouse: Res<ButtonInput<MouseButton>>,
    window: Query<&Window, With<PrimaryWindow>>,
    typing: Res<Typing>,
    mut controls: ResMut<TouchControls>,
) {
    let Ok(window) = window.single() else { return };
    let left_half = |p: Vec2| p.x < window.width() / 2.0;
    if touches.iter_just_pressed().next().is_some() || mouse.just_pressed(MouseButton::Left) {
        controls.used = true;
    }
    controls.stick = match controls.stick {
        Some((origin, Some(finger), _)) => touches
            .get_pressed(finger)
            .map(|t| (origin, Some(finger), t.position())),
        Some((origin, None, at)) => mouse
            .pressed(MouseButton::Left)
            .then(|| (origin, None, window.cursor_position().unwrap_or(at))),
        None if typing.active => None,
        None => touches
            .iter_just_pressed()
            .find(|t| left_half(t.position()))
            .map(|t| (t.position(), Some(t.id()), t.position()))
            .or_else(|| {
                let at = window.cursor_position().filter(|p| left_half(*p))?;
                mouse
                    .just_pressed(MouseButton::Left)
                    .then_some((at, None, at))
            }),
    };
}

/// The action button presses E; the chat button opens the chat line (in a browser, the
/// browser's own text box, which brings up a phone's keyboard).
fn press_buttons(
    action: Query<&Interaction, (Changed<Interaction>, With<ActionButton>)>,
    chat: Query<&Interaction, (Changed<Interaction>, With<ChatButton>)>,
    mut typing: ResMut<Typing>,
    mut controls: ResMut<TouchControls>,
) {
    controls.action = action.iter().any(|i| *i == Interaction::Pressed);
    if chat.iter().any(|i| *i == Interaction::Pressed) {
        open_chat(&mut typing);
    }
}

#[cfg(target_arch = "wasm32")]
fn open_chat(typing: &mut Typing) {
    let line = web_sys::window().and_then(|w| w.prompt_with_message("Say:").ok().flatten());
    if let Some(line) = line.filter(|l| !l.trim().is_empty()) {
        typing.entered = Some(line);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn open_chat(typing: &mut Typing) {
    if !typing.active {
        typing.active = true;
        typing.text.clear();
    }
}

fn draw_controls(
    controls: Res<TouchControls>,
    here: Res<Here>,
    mut ring: Query<(&mut Node, &mut Visibility), (With<Ring>, Without<Knob>)>,
    mut knob: Query<(&mut Node, &mut Visibility), (With<Knob>, Without<Ring>)>,
    mut buttons: Query<
        &mut Visibility,
        (
            Or<(With<ActionButton>, With<ChatButton>)>,
            Without<Ring>,
            Without<Knob>,
        ),
    >,
    mut label: Query<&mut Text, With<ActionLabel>>,
) {
    let place = |(node, visible): (Mut<Node>, Mut<Visibility>), at: Option<Vec2>, r: f32| {
        let (mut node, mut visible) = (node, visible);
        match at {
            Some(at) => {
                node.left = px(at.x - r);
                node.top = px(at.y - r);
                *visible = Visibility::Visible;
            }
            None => *visible = Visibility::Hidden,
        }
    };
    let stick = controls.stick;
    if let Ok(r) = ring.single_mut() {
        place(r, stick.map(|(origin, ..)| origin), RING);
    }
    if let Ok(k) = knob.single_mut() {
        let at = stick.map(|(origin, _, at)| origin + (at - origin).clamp_length_max(RING));
        place(k, at, KNOB);
    }
    for mut visible in &mut buttons {
        let want = if controls.used {
            Visibility::Visible
        } else {
            Visibility::Hidden
        };
        if *visible != want {
            *visible = want;
        }
    }
    if let Ok(mut text) = label.single_mut() {
        let verb = here.0.iter().find_map(|o| o.verb()).unwrap_or("E");
        if text.0 != verb {
            text.0 = verb.to_string();
        }
    }
}
