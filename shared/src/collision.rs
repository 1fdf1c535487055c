//! The static collision world of a map, built on rapier (through bevy_rapier2d), and the
//! move-and-slide query the movement function uses.
//!
//! It holds no Bevy state: the server and the client's prediction call the same
//! [`CollisionWorld::move_and_slide`] on the same shapes, so they agree to the bit.

use bevy::math::{IVec2, Rect, Vec2};
use bevy_rapier2d::parry::partitioning::{Bvh, BvhBuildStrategy};
use bevy_rapier2d::parry::query::{DefaultQueryDispatcher, ShapeCastOptions};
use bevy_rapier2d::parry::shape::Ball;
use bevy_rapier2d::rapier::prelude::{
    ColliderBuilder, ColliderSet, Pose, QueryFilter, QueryPipeline, RigidBodySet,
};

use crate::map::MapData;

/// Gap kept between an avatar and a wall, in pixels, so sliding never starts in contact.
const SKIN: f32 = 0.01;
/// Push away from a wall after a hit, as a fraction of a pixel, like rapier's character controller.
const NUDGE: f32 = 1.0e-3;
/// Most wall contacts resolved in one step (a corner needs two).
const MAX_SLIDES: usize = 4;

/// Solid shapes of one map, ready for shape casts.
pub struct CollisionWorld {
    bodies: RigidBodySet,
    colliders: ColliderSet,
    bvh: Bvh,
    shape_count: usize,
}

impl std::fmt::Debug for CollisionWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollisionWorld")
            .field("shapes", &self.shape_count)
            .finish()
    }
}

impl CollisionWorld {
    /// Builds the world from axis-aligned solid rectangles (pixels, y down).
    pub fn from_rects(rects: impl IntoIterator<Item = Rect>) -> Self {
        let mut colliders = ColliderSet::new();
        let mut aabbs = Vec::new();
        for r in rects {
            let half = r.half_size();
            if half.x <= 0.0 || half.y <= 0.0 {
                continue;
            }
            let collider = ColliderBuilder::cuboid(half.x, half.y)
                .translation(r.center())
                .build();
            aabbs.push(collider.compute_aabb());
            colliders.insert(collider);
        }
        // Collider handles are handed out in insertion order, so leaf i is collider i.
        let bvh = Bvh::from_leaves(BvhBuildStrategy::default(), &aabbs);
        CollisionWorld {
            bodies: RigidBodySet::new(),
            colliders,
            bvh,
            shape_count: aabbs.len(),
        }
    }

    /// Builds the world of a map: its solid tiles merged into rectangles, its collider
    /// objects, and walls around the map's edge so nobody walks off it.
    pub fn from_map(map: &MapData) -> Self {
        let tile = Vec2::new(map.tile_width as f32, map.tile_height as f32);
        let size = map.pixel_size();
        let cells = merge_solid_cells(map.width, map.height, |c| map.is_solid_cell(c));
        let border = 64.0;
        let edges = [
            Rect::new(-border, -border, size.x + border, 0.0),
            Rect::new(-border, size.y, size.x + border, size.y + border),
            Rect::new(-border, 0.0, 0.0, size.y),
            Rect::new(size.x, 0.0, size.x + border, size.y),
        ];
        let tiles = cells.into_iter().map(|(min, max)| Rect {
            min: min.as_vec2() * tile,
            max: max.as_vec2() * tile,
        });
        Self::from_rects(tiles.chain(map.solid_rects.iter().copied()).chain(edges))
    }

    /// Number of collider shapes (after merging).
    pub fn shape_count(&self) -> usize {
        self.shape_count
    }

    fn queries(&self) -> QueryPipeline<'_> {
        QueryPipeline {
            dispatcher: &DefaultQueryDispatcher,
            bvh: &self.bvh,
            bodies: &self.bodies,
            colliders: &self.colliders,
            filter: QueryFilter::default(),
        }
    }

    /// Moves a circle of `radius` from `pos` by `delta`, stopping at walls and sliding
    /// along them. Continuous (shape casts), so no speed tunnels through a wall.
    pub fn move_and_slide(&self, pos: Vec2, delta: Vec2, radius: f32) -> Vec2 {
        let queries = self.queries();
        let ball = Ball::new(radius);
        let mut pos = pos;
        let mut remaining = delta;
        for _ in 0..MAX_SLIDES {
            let dist = remaining.length();
            if dist < 1.0e-5 {
                break;
            }
            let dir = remaining / dist;
            let hit = queries.cast_shape(
                &Pose::from_translation(pos),
                dir,
                &ball,
                ShapeCastOptions {
                    max_time_of_impact: dist,
                    target_distance: SKIN,
                    stop_at_penetration: false,
                    compute_impact_geometry_on_penetration: true,
                },
            );
            let Some((_, hit)) = hit else {
                pos += remaining;
                break;
            };
            let travelled = dir * hit.time_of_impact;
            pos += travelled;
            remaining -= travelled;
            let normal = hit.normal1;
            let into_wall = remaining.dot(normal);
            if into_wall < 0.0 {
                remaining -= normal * into_wall;
            }
            remaining += normal * NUDGE;
        }
        pos
    }

    /// Whether a circle of `radius` at `pos` touches no solid shape.
    pub fn is_free(&self, pos: Vec2, radius: f32) -> bool {
        self.queries()
            .intersect_shape(Pose::from_translation(pos), &Ball::new(radius))
            .next()
            .is_none()
    }
}

/// Merges solid cells into few rectangles: runs along each row, then identical runs on
/// consecutive rows into one. Returns `(min, max)` cell corners, max exclusive.
pub fn merge_solid_cells(
    width: u32,
    height: u32,
    solid: impl Fn(IVec2) -> bool,
) -> Vec<(IVec2, IVec2)> {
    let mut done = Vec::new();
    // Rectangles still growing downwards, keyed by their run (x0, x1).
    let mut open: Vec<(IVec2, IVec2)> = Vec::new();
    for y in 0..height as i32 {
        let mut runs = Vec::new();
        let mut x = 0;
        while x < width as i32 {
            if solid(IVec2::new(x, y)) {
                let start = x;
                while x < width as i32 && solid(IVec2::new(x, y)) {
                    x += 1;
                }
                runs.push((start, x));
            } else {
                x += 1;
            }
        }
        let mut next_open = Vec::with_capacity(runs.len());
        for (x0, x1) in runs {
            if let Some(i) = open
                .iter()
                .position(|(min, max)| min.x == x0 && max.x == x1)
            {
                let (min, mut max) = open.swap_remove(i);
                max.y = y + 1;
                next_open.push((min, max));
            } else {
                next_open.push((IVec2::new(x0, y), IVec2::new(x1, y + 1)));
            }
        }
        done.append(&mut open);
        open = next_open;
    }
    done.append(&mut open);
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn merged_rectangles_cover_exactly_the_solid_cells() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let (w, h) = (rng.random_range(1..24), rng.random_range(1..24));
            let grid: Vec<bool> = (0..w * h).map(|_| rng.random_bool(0.4)).collect();
            let solid = |c: IVec2| grid[(c.y as u32 * w + c.x as u32) as usize];
            let rects = merge_solid_cells(w, h, solid);
            let mut covered = vec![0u8; (w * h) as usize];
            for (min, max) in &rects {
                for y in min.y..max.y {
                    for x in min.x..max.x {
                        covered[(y as u32 * w + x as u32) as usize] += 1;
                    }
                }
            }
            for i in 0..(w * h) as usize {
                assert_eq!(covered[i], grid[i] as u8, "cell {i} in a {w}x{h} grid");
            }
        }
    }

    #[test]
    fn merging_reduces_a_solid_block_to_one_rectangle() {
        let rects = merge_solid_cells(10, 10, |_| true);
        assert_eq!(rects, vec![(IVec2::ZERO, IVec2::new(10, 10))]);
    }

    #[test]
    fn free_space_and_walls_are_told_apart() {
        let map = MapData::from_ascii("t", 32, &["#####", "#S..#", "#####"]);
        let world = CollisionWorld::from_map(&map);
        assert!(world.is_free(Vec2::new(48.0, 48.0), 10.0));
        assert!(!world.is_free(Vec2::new(16.0, 16.0), 10.0));
    }
}
