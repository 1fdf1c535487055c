//! An encounter on screen: the turn bar at the top (round, whose turn, the seconds
//! left, and the initiative order with the current combatant in brackets and those
//! down marked), a gold ring under whoever's turn it is, and on the player's own turn
//! a ring around its avatar as far as its movement still reaches.

use bevy::asset::RenderAssetUsages;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use tavern_shared::gm::encounter::{Combatant, Standing};

use crate::prediction::{OwnAvatar, Prediction};
use crate::stream::Streamed;
use crate::table::Table;

/// Drawn under avatars, over the floor.
const RING_Z: f32 = 4.0;
/// The ring image's size, in pixels.
const RING_SIZE: u32 = 128;

#[derive(Component)]
struct TurnBar;

#[derive(Component)]
struct TurnMarker;

#[derive(Component)]
struct MoveRing;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn)
        .add_systems(Update, show.after(crate::PlaySystems::Present));
}

/// A white ring on transparent pixels, tinted by each sprite.
fn ring_image() -> Image {
    let size = RING_SIZE as i32;
    let (outer, inner) = (size as f32 / 2.0, size as f32 / 2.0 - 5.0);
    let mut data = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let d = Vec2::new(x as f32 + 0.5, y as f32 + 0.5).distance(Vec2::splat(outer));
            let alpha = if d <= outer && d >= inner { 255 } else { 0 };
            data.extend_from_slice(&[255, 255, 255, alpha]);
        }
    }
    Image::new(
        Extent3d {
            width: RING_SIZE,
            height: RING_SIZE,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        data,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::default(),
    )
}

fn spawn(mut commands: Commands, mut images: ResMut<Assets<Image>>) {
    let ring = images.add(ring_image());
    let sprite = |color: Color| Sprite {
        image: ring.clone(),
        color,
        custom_size: Some(Vec2::splat(40.0)),
        ..default()
    };
    commands.spawn((
        TurnMarker,
        sprite(Color::srgba(1.0, 0.8, 0.2, 0.9)),
        Transform::default(),
        Visibility::Hidden,
    ));
    commands.spawn((
        MoveRing,
        sprite(Color::srgba(0.6, 0.85, 1.0, 0.6)),
        Transform::default(),
        Visibility::Hidden,
    ));
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            // Below the HUD's box at the top left.
            top: px(104),
            width: percent(100),
            justify_content: JustifyContent::Center,
            ..default()
        })
        .with_child((
            TurnBar,
            Text::new(""),
            TextFont {
                font_size: FontSize::Px(16.0),
                ..default()
            },
            TextColor(Color::srgb(1.0, 0.95, 0.8)),
            BackgroundColor(Color::srgba(0.05, 0.05, 0.1, 0.7)),
            Node {
                padding: UiRect::axes(px(10), px(4)),
                display: Display::None,
                ..default()
            },
        ));
}

/// "Bram 17", "(Cy down: 1 success, 0 failures)", "[slime #4 9]" for the current one.
fn shown(c: &Combatant, current: bool) -> String {
    let entry = match c.standing {
        Standing::Up => format!("{} {}", c.name, c.initiative.total()),
        Standing::Dying(saves) => format!("{} down: {}", c.name, saves.shown()),
        Standing::Stable => format!("{} stable", c.name),
        Standing::Dead => format!("{} dead", c.name),
    };
    if current { format!("[{entry}]") } else { entry }
}

#[allow(clippy::type_complexity)]
fn show(
    time: Res<Time>,
    table: Res<Table>,
    prediction: Res<Prediction>,
    bodies: Query<
        (&Streamed, &Transform, Has<OwnAvatar>),
        (Without<TurnMarker>, Without<MoveRing>),
    >,
    mut bar: Query<(&mut Text, &mut Node), With<TurnBar>>,
    mut marker: Query<(&mut Transform, &mut Visibility), (With<TurnMarker>, Without<MoveRing>)>,
    mut ring: Query<
        (&mut Transform, &mut Visibility, &mut Sprite),
        (With<MoveRing>, Without<TurnMarker>),
    >,
    // The turn being measured, how far the own avatar walked in it, from where.
    mut walked: Local<(Option<(u32, usize)>, f32, Option<Vec2>)>,
) {
    let encounter = table.encounter();
    let current = encounter.and_then(|e| e.current());
    if let Ok((mut text, mut node)) = bar.single_mut() {
        let line = match (encounter, current) {
            (Some(e), Some(c)) => {
                let secs = table.seconds_left(time.elapsed_secs_f64()).ceil();
                let order: Vec<String> = e
                    .order
                    .iter()
                    .enumerate()
                    .map(|(i, c)| shown(c, i == e.turn))
                    .collect();
                format!(
                    "Round {} - {}'s turn - {secs} s\n{}",
                    e.round,
                    c.name,
                    order.join("  >  ")
                )
            }
            _ => String::new(),
        };
        let display = if line.is_empty() {
            Display::None
        } else {
            Display::Flex
        };
        if text.0 != line {
            text.0 = line;
        }
        if node.display != display {
            node.display = display;
        }
    }
    let holder = current.and_then(|c| bodies.iter().find(|(s, ..)| s.0 == c.body));
    if let Ok((mut at, mut visible)) = marker.single_mut() {
        match holder {
            Some((_, transform, _)) => {
                at.translation = transform.translation.truncate().extend(RING_Z);
                *visible = Visibility::Visible;
            }
            None => *visible = Visibility::Hidden,
        }
    }
    // The own turn: the ring shrinks as the avatar walks.
    let Ok((mut at, mut visible, mut sprite)) = ring.single_mut() else {
        return;
    };
    let mine = holder.filter(|(_, _, own)| *own).zip(current);
    let (Some(((_, transform, _), c)), Some(e)) = (mine, encounter) else {
        *visible = Visibility::Hidden;
        *walked = (None, 0.0, None);
        return;
    };
    let turn = Some((e.round, e.turn));
    let pos = prediction.state.map(|s| s.pos);
    if walked.0 != turn {
        *walked = (turn, 0.0, pos);
    }
    if let (Some(pos), Some(last)) = (pos, walked.2) {
        walked.1 += pos.distance(last);
    }
    walked.2 = pos;
    let left = (c.budget - walked.1).max(0.0);
    at.translation = transform.translation.truncate().extend(RING_Z);
    sprite.custom_size = Some(Vec2::splat(2.0 * left.max(12.0)));
    *visible = if c.standing == Standing::Up {
        Visibility::Visible
    } else {
        Visibility::Hidden
    };
}
