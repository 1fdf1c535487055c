//! Draws the current map's tile layers as sprites from the tileset images, in layer
//! order, with opacity, hidden layers skipped, and `above` layers over the avatars.

use bevy::prelude::*;
use tavern_shared::map::MapData;

use super::to_world;
use crate::prediction::CurrentMap;

/// Z of the first tile layer; avatars stand at [`AVATAR_Z`], `above` layers over them.
const GROUND_Z: f32 = 0.0;
pub const AVATAR_Z: f32 = 10.0;
const ABOVE_Z: f32 = 20.0;

/// Marks every entity drawn for the current map, so a new map replaces it.
#[derive(Component)]
struct MapTile;

pub fn plugin(app: &mut App) {
    app.add_systems(
        Update,
        draw_map.run_if(resource_exists_and_changed::<CurrentMap>),
    );
}

fn draw_map(
    mut commands: Commands,
    map: Res<CurrentMap>,
    old: Query<Entity, With<MapTile>>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
) {
    for e in &old {
        commands.entity(e).despawn();
    }
    let data: &MapData = &map.data;
    let sheets: Vec<Option<(Handle<Image>, Handle<TextureAtlasLayout>)>> = data
        .tilesets
        .iter()
        .map(|ts| {
            let image = ts.image.as_ref()?;
            let rows = ts.tile_count.div_ceil(ts.columns.max(1));
            let layout = TextureAtlasLayout::from_grid(
                UVec2::new(ts.tile_width, ts.tile_height),
                ts.columns.max(1),
                rows,
                None,
                None,
            );
            Some((
                assets.load(format!("tilesets/{image}")),
                layouts.add(layout),
            ))
        })
        .collect();
    let tile = Vec2::new(data.tile_width as f32, data.tile_height as f32);
    for (li, layer) in data.layers.iter().enumerate().filter(|(_, l)| l.visible) {
        let z = if layer.above { ABOVE_Z } else { GROUND_Z } + li as f32 * 0.01;
        for (i, &gid) in layer.tiles.iter().enumerate().filter(|(_, g)| **g != 0) {
            let Some(ts_index) = data.tilesets.iter().rposition(|t| t.first_gid <= gid) else {
                continue;
            };
            let ts = &data.tilesets[ts_index];
            let cell = Vec2::new(
                (i as u32 % data.width) as f32,
                (i as u32 / data.width) as f32,
            );
            let centre = cell * tile + tile / 2.0;
            let mut sprite = match &sheets[ts_index] {
                Some((image, layout)) => Sprite::from_atlas_image(
                    image.clone(),
                    TextureAtlas {
                        layout: layout.clone(),
                        index: (gid - ts.first_gid) as usize,
                    },
                ),
                // A tileset without an image (maps built in code): plain colours.
                None => Sprite::from_color(
                    if data.solid[i] {
                        Color::srgb(0.35, 0.3, 0.3)
                    } else {
                        Color::srgb(0.45, 0.6, 0.4)
                    },
                    tile,
                ),
            };
            sprite.color = sprite.color.with_alpha(layer.opacity);
            commands.spawn((
                MapTile,
                sprite,
                Transform::from_translation(to_world(centre, z)),
            ));
        }
    }
}
