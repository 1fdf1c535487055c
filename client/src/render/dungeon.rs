//! Doors and chests drawn as the server last said they are (shut or open), and a line at
//! the top of the screen for what the server said about them: why a door stays shut,
//! a key opening one, a room cleared.

use bevy::prelude::*;

use crate::dungeon::Dungeon;
use crate::prediction::CurrentMap;
use crate::render::to_world;

/// Frames of `sprites/dungeon.png`.
const DOOR_SHUT: usize = 0;
const DOOR_OPEN: usize = 1;
const CHEST_SHUT: usize = 2;
const CHEST_OPEN: usize = 3;
const FRAME: u32 = 32;
/// Drawn over the floor, under avatars.
const PIECE_Z: f32 = 5.0;
/// Seconds a line stays.
const LINE_SECS: f64 = 4.0;

/// A door or chest sprite; redrawn when the map or its state changes.
#[derive(Component)]
struct Piece;

#[derive(Component)]
struct DungeonLine;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_line).add_systems(
        Update,
        (
            draw_pieces.run_if(resource_exists::<CurrentMap>.and_then(resource_changed::<Dungeon>)),
            show_line,
        )
            .after(crate::PlaySystems::Present),
    );
}

fn draw_pieces(
    mut commands: Commands,
    dungeon: Res<Dungeon>,
    old: Query<Entity, With<Piece>>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut layout: Local<Option<Handle<TextureAtlasLayout>>>,
    mut drawn: Local<Option<(usize, tavern_shared::combat::messages::DungeonState)>>,
) {
    // Notices change the resource too; only the map or the doors and chests matter here.
    let now = (
        dungeon
            .rooms
            .as_ref()
            .map_or(0, |r| std::sync::Arc::as_ptr(r) as usize),
        dungeon.state.clone(),
    );
    if drawn.as_ref() == Some(&now) {
        return;
    }
    *drawn = Some(now);
    for e in &old {
        commands.entity(e).despawn();
    }
    let Some(rooms) = dungeon.rooms.clone() else {
        return;
    };
    let layout = crate::render::grid_layout(&mut layouts, &mut layout, FRAME, 4, 1);
    let image: Handle<Image> = assets.load("sprites/dungeon.png");
    let mut piece = |index: usize, at: Vec2, size: Vec2| {
        let mut sprite = Sprite::from_atlas_image(
            image.clone(),
            TextureAtlas {
                layout: layout.clone(),
                index,
            },
        );
        sprite.custom_size = Some(size);
        commands.spawn((
            Piece,
            sprite,
            Transform::from_translation(to_world(at, PIECE_Z)),
        ));
    };
    for (i, door) in rooms.doors.iter().enumerate() {
        let frame = if dungeon.door_open(i) {
            DOOR_OPEN
        } else {
            DOOR_SHUT
        };
        let bounds = door.area.bounds();
        piece(frame, bounds.center(), bounds.size());
    }
    for (i, chest) in rooms.chests.iter().enumerate() {
        let frame = if dungeon.chest_open(i) {
            CHEST_OPEN
        } else {
            CHEST_SHUT
        };
        piece(frame, chest.at, Vec2::splat(28.0));
    }
}

fn spawn_line(mut commands: Commands) {
    commands
        .spawn(Node {
            position_type: PositionType::Absolute,
            top: px(132),
            width: percent(100),
            justify_content: JustifyContent::Center,
            ..default()
        })
        .with_child((
            DungeonLine,
            Text::new(""),
            TextFont {
                font_size: FontSize::Px(16.0),
                ..default()
            },
            TextColor(Color::srgb(1.0, 0.9, 0.6)),
        ));
}

/// The newest of the door notices and rooms cleared, while it is recent.
fn show_line(
    time: Res<Time>,
    dungeon: Res<Dungeon>,
    mut line: Query<&mut Text, With<DungeonLine>>,
) {
    let Ok(mut text) = line.single_mut() else {
        return;
    };
    let now = time.elapsed_secs_f64();
    let notice = dungeon.notices.back().map(|(t, n)| (*t, n.text.clone()));
    let cleared = dungeon
        .cleared
        .back()
        .map(|(t, room)| (*t, format!("The {room} is cleared")));
    let newest = match (notice, cleared) {
        (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    let shown = newest
        .filter(|(t, _)| now - t < LINE_SECS)
        .map(|(_, s)| s)
        .unwrap_or_default();
    if text.0 != shown {
        text.0 = shown;
    }
}
