//! Draws the current map as sprites from its tilesets: tile layers and tile objects in
//! Tiled's drawing order, with opacity, offsets, flips, hidden layers skipped, and
//! `above` layers over the avatars. Redrawn whenever the map changes (join, reload).
//! Tileset images come from the server that runs the map ([`crate::assets`]): drawn as
//! soon as the map is, each picture fills in when its file has arrived; a server that
//! names no URL (older versions) leaves the client to its own `assets/tilesets/`.

use std::collections::{HashMap, HashSet};

use bevy::asset::RenderAssetUsages;
use bevy::image::{CompressedImageFormats, ImageSampler, ImageType};
use bevy::prelude::*;
use tavern_shared::map::doc::{FLIP_D, FLIP_H, FLIP_MASK, FLIP_V};
use tavern_shared::map::{MapData, TilesetInfo};

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
    app.init_resource::<MapImages>().add_systems(
        Update,
        (
            draw_map.run_if(resource_exists_and_changed::<CurrentMap>),
            fill_in_images,
        )
            .chain(),
    );
}

/// A handle for every server image URL drawn, filled in when its file arrives.
#[derive(Resource, Default)]
struct MapImages {
    handles: HashMap<String, Handle<Image>>,
    filled: HashSet<String>,
}

impl MapImages {
    /// The image at the server's `url` if it gave one, else the client's own file.
    fn image(
        &mut self,
        url: Option<&str>,
        name: &str,
        images: &Assets<Image>,
        assets: &AssetServer,
    ) -> Handle<Image> {
        match url {
            Some(url) => self
                .handles
                .entry(url.to_string())
                .or_insert_with(|| images.reserve_handle())
                .clone(),
            None => assets.load(format!("tilesets/{name}")),
        }
    }
}

/// Decodes each image that arrived into the handle the map was drawn with.
fn fill_in_images(
    fetched: Res<crate::assets::MapAssets>,
    mut map_images: ResMut<MapImages>,
    mut images: ResMut<Assets<Image>>,
) {
    let map_images = &mut *map_images;
    for (url, handle) in &map_images.handles {
        if map_images.filled.contains(url) {
            continue;
        }
        let Some(bytes) = fetched.ready(url) else {
            continue;
        };
        map_images.filled.insert(url.clone());
        let extension = url.rsplit_once('.').map_or("png", |(_, e)| e);
        match Image::from_buffer(
            bytes,
            ImageType::Extension(extension),
            CompressedImageFormats::NONE,
            true,
            ImageSampler::Default,
            RenderAssetUsages::default(),
        ) {
            Ok(image) => {
                let _ = images.insert(handle.id(), image);
            }
            Err(e) => warn!(%url, "a map image cannot be decoded: {e}"),
        }
    }
}

/// Where a tileset's tiles come from.
enum Sheet {
    Atlas(Handle<Image>, Handle<TextureAtlasLayout>),
    /// Image collection: each tile's own image, with its size.
    Images(Vec<(u32, Handle<Image>, Vec2)>),
    /// Maps built in code: plain colours.
    None,
}

/// What to draw for one tile id: sprite and its size in pixels.
fn tile_sprite(sheets: &[Sheet], data: &MapData, raw: u32, solid: bool) -> Option<(Sprite, Vec2)> {
    let gid = raw & !FLIP_MASK;
    let index = data.tilesets.iter().rposition(|t| t.first_gid <= gid)?;
    let ts: &TilesetInfo = &data.tilesets[index];
    let local = gid - ts.first_gid;
    let tile_size = Vec2::new(ts.tile_width as f32, ts.tile_height as f32);
    match &sheets[index] {
        Sheet::Atlas(image, layout) => Some((
            Sprite::from_atlas_image(
                image.clone(),
                TextureAtlas {
                    layout: layout.clone(),
                    index: local as usize,
                },
            ),
            tile_size,
        )),
        Sheet::Images(images) => images
            .iter()
            .find(|(id, _, _)| *id == local)
            .map(|(_, image, size)| (Sprite::from_image(image.clone()), *size)),
        Sheet::None => {
            let colour = if solid {
                Color::srgb(0.35, 0.3, 0.3)
            } else {
                Color::srgb(0.45, 0.6, 0.4)
            };
            Some((Sprite::from_color(colour, tile_size), tile_size))
        }
    }
}

/// Applies Tiled's flip bits: horizontal and vertical flips are sprite flips; the
/// diagonal flip (a transpose) is a quarter turn clockwise plus flips, worked out as
/// V·H·T = R·Fx^v·Fy^(1-h).
fn apply_flips(sprite: &mut Sprite, raw: u32) -> Quat {
    let (h, v, d) = (raw & FLIP_H != 0, raw & FLIP_V != 0, raw & FLIP_D != 0);
    if d {
        sprite.flip_x = v;
        sprite.flip_y = !h;
        Quat::from_rotation_z(-std::f32::consts::FRAC_PI_2)
    } else {
        sprite.flip_x = h;
        sprite.flip_y = v;
        Quat::IDENTITY
    }
}

fn draw_map(
    mut commands: Commands,
    map: Res<CurrentMap>,
    old: Query<Entity, With<MapTile>>,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
    mut map_images: ResMut<MapImages>,
    images: Res<Assets<Image>>,
) {
    for e in &old {
        commands.entity(e).despawn();
    }
    let data: &MapData = &map.data;
    let sheets: Vec<Sheet> = data
        .tilesets
        .iter()
        .map(|ts| {
            if let Some(image) = &ts.image {
                let columns = ts.columns.max(1);
                let rows = ts.tile_count.div_ceil(columns);
                let layout = TextureAtlasLayout::from_grid(
                    UVec2::new(ts.tile_width, ts.tile_height),
                    columns,
                    rows,
                    Some(UVec2::splat(ts.spacing)),
                    Some(UVec2::splat(ts.margin)),
                );
                Sheet::Atlas(
                    map_images.image(ts.image_url.as_deref(), image, &images, &assets),
                    layouts.add(layout),
                )
            } else if !ts.tile_images.is_empty() {
                Sheet::Images(
                    ts.tile_images
                        .iter()
                        .map(|t| {
                            (
                                t.id,
                                map_images.image(t.url.as_deref(), &t.image, &images, &assets),
                                Vec2::new(t.width as f32, t.height as f32),
                            )
                        })
                        .collect(),
                )
            } else {
                Sheet::None
            }
        })
        .collect();
    let cell = Vec2::new(data.tile_width as f32, data.tile_height as f32);
    let z_of =
        |above: bool, order: u32| (if above { ABOVE_Z } else { GROUND_Z }) + order as f32 * 0.01;
    let mut drawn = 0usize;
    for layer in data.layers.iter().filter(|l| l.visible && l.opacity > 0.0) {
        let z = z_of(layer.above, layer.order);
        for (i, &raw) in layer.tiles.iter().enumerate().filter(|(_, g)| **g != 0) {
            let solid = data.solid[i];
            let Some((mut sprite, size)) = tile_sprite(&sheets, data, raw, solid) else {
                continue;
            };
            let rotation = apply_flips(&mut sprite, raw);
            sprite.color = sprite.color.with_alpha(layer.opacity);
            // Tiles bigger than the grid hang from their cell's bottom-left corner.
            let at = Vec2::new(
                (i as u32 % data.width) as f32,
                (i as u32 / data.width + 1) as f32,
            );
            let centre = at * cell + layer.offset + Vec2::new(size.x / 2.0, -size.y / 2.0);
            commands.spawn((
                MapTile,
                sprite,
                Transform::from_translation(to_world(centre, z)).with_rotation(rotation),
            ));
            drawn += 1;
        }
    }
    for s in data.sprites.iter().filter(|s| s.visible && s.opacity > 0.0) {
        let Some((mut sprite, _)) = tile_sprite(&sheets, data, s.gid, false) else {
            continue;
        };
        let flip = apply_flips(&mut sprite, s.gid);
        sprite.custom_size = Some(s.size);
        sprite.color = sprite.color.with_alpha(s.opacity);
        // Tile objects hang from their bottom-left corner and rotate around it.
        let turn = Quat::from_rotation_z(-s.rotation.to_radians());
        let half = Vec2::new(s.size.x / 2.0, -s.size.y / 2.0);
        let offset = Vec2::new(half.x, -half.y);
        let centre_world = to_world(s.position, z_of(s.above, s.order)) + turn * offset.extend(0.0);
        commands.spawn((
            MapTile,
            sprite,
            Transform::from_translation(centre_world).with_rotation(turn * flip),
        ));
        drawn += 1;
    }
    debug!(map = %data.name, sprites = drawn, "map drawn");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texture point Tiled shows at `p` (tile-local, 0..1, y down) for these flips:
    /// the image is transposed (D) first, then mirrored horizontally, then vertically.
    fn tiled_sample(p: Vec2, raw: u32) -> Vec2 {
        let mut q = p;
        if raw & FLIP_V != 0 {
            q.y = 1.0 - q.y;
        }
        if raw & FLIP_H != 0 {
            q.x = 1.0 - q.x;
        }
        if raw & FLIP_D != 0 {
            q = Vec2::new(q.y, q.x);
        }
        q
    }

    /// The texture point Bevy shows at `p` for a sprite with these flips, rotated by `turn`.
    fn bevy_sample(p: Vec2, sprite: &Sprite, turn: Quat) -> Vec2 {
        let world = Vec3::new(p.x - 0.5, 0.5 - p.y, 0.0);
        let local = turn.inverse() * world;
        let mut uv = Vec2::new(local.x + 0.5, 0.5 - local.y);
        if sprite.flip_x {
            uv.x = 1.0 - uv.x;
        }
        if sprite.flip_y {
            uv.y = 1.0 - uv.y;
        }
        uv
    }

    #[test]
    fn every_flip_combination_shows_what_tiled_shows() {
        let points = [
            Vec2::new(0.1, 0.2),
            Vec2::new(0.9, 0.3),
            Vec2::new(0.25, 0.8),
        ];
        for bits in 0..8u32 {
            let raw = 5
                | if bits & 1 != 0 { FLIP_H } else { 0 }
                | if bits & 2 != 0 { FLIP_V } else { 0 }
                | if bits & 4 != 0 { FLIP_D } else { 0 };
            let mut sprite = Sprite::default();
            let turn = apply_flips(&mut sprite, raw);
            for p in points {
                let (want, got) = (tiled_sample(p, raw), bevy_sample(p, &sprite, turn));
                assert!(
                    want.distance(got) < 1e-5,
                    "flips {bits:03b} at {p}: Tiled shows {want}, we show {got}"
                );
            }
        }
    }
}
