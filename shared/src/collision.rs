//! The static collision world of a map, built on rapier (through bevy_rapier2d), and the
//! move-and-slide query the movement function uses.
//!
//! It holds no Bevy state: the server and the client's prediction call the same
//! [`CollisionWorld::move_and_slide`] on the same shapes, so they agree to the bit.
//!
//! A map's doors are shapes of their own: solid while closed, skipped by every query
//! once [`CollisionWorld::set_door_open`] opens them (the server when a room is cleared,
//! the client when the server says so).

use std::sync::atomic::{AtomicBool, Ordering};

use bevy::math::{IVec2, Rect, Vec2};
use bevy_rapier2d::parry::partitioning::{Bvh, BvhBuildStrategy};
use bevy_rapier2d::parry::query::{DefaultQueryDispatcher, Ray, ShapeCastOptions};
use bevy_rapier2d::parry::shape::Ball;
use bevy_rapier2d::rapier::prelude::{
    Collider, ColliderBuilder, ColliderHandle, ColliderSet, Pose, QueryFilter, QueryPipeline,
    RigidBodySet,
};

use crate::map::rooms::{door_shapes, door_zones};
use crate::map::{MapData, SolidShape};

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
    /// One flag per door (colliders carry their door's number + 1 as user data, walls 0).
    doors_open: Box<[AtomicBool]>,
}

/// Which door shapes a query meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Doors {
    /// The closed ones.
    Closed,
    /// None: only walls (for the grid monsters path on, where doors are looked up apart).
    Ignored,
    /// Only the doors, open or not.
    Only,
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
        Self::from_shapes(rects.into_iter().map(SolidShape::Rect))
    }

    /// Builds the world from solid shapes (pixels, y down). Concave polygons are split
    /// into triangles; degenerate shapes (no area) are skipped.
    pub fn from_shapes(shapes: impl IntoIterator<Item = SolidShape>) -> Self {
        Self::with_doors(shapes.into_iter().map(|s| (s, 0)), 0)
    }

    /// Builds the world from shapes tagged with their door's number + 1 (0: a wall).
    fn with_doors(shapes: impl IntoIterator<Item = (SolidShape, u128)>, doors: usize) -> Self {
        let mut colliders = ColliderSet::new();
        let mut aabbs = Vec::new();
        for (shape, tag) in shapes {
            let built: Vec<Collider> = match shape {
                SolidShape::Rect(r) => {
                    let half = r.half_size();
                    if half.x > 0.0 && half.y > 0.0 {
                        vec![
                            ColliderBuilder::cuboid(half.x, half.y)
                                .translation(r.center())
                                .build(),
                        ]
                    } else {
                        Vec::new()
                    }
                }
                SolidShape::Circle { center, radius } if radius > 0.0 => {
                    vec![ColliderBuilder::ball(radius).translation(center).build()]
                }
                SolidShape::Circle { .. } => Vec::new(),
                SolidShape::Polygon(points) => triangulate(&points)
                    .into_iter()
                    .map(|[a, b, c]| ColliderBuilder::triangle(a, b, c).build())
                    .collect(),
                SolidShape::Polyline(points) if points.len() >= 2 => {
                    vec![ColliderBuilder::polyline(points, None).build()]
                }
                SolidShape::Polyline(_) => Vec::new(),
            };
            for mut collider in built {
                collider.user_data = tag;
                aabbs.push(collider.compute_aabb());
                colliders.insert(collider);
            }
        }
        // Collider handles are handed out in insertion order, so leaf i is collider i.
        let bvh = Bvh::from_leaves(BvhBuildStrategy::default(), &aabbs);
        CollisionWorld {
            bodies: RigidBodySet::new(),
            colliders,
            bvh,
            shape_count: aabbs.len(),
            doors_open: (0..doors).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Builds the world of a map: its solid tiles merged into rectangles, its collider
    /// objects, walls around the map's edge so nobody walks off it, and its doors, all
    /// closed.
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
        let walls = tiles
            .chain(edges)
            .map(SolidShape::Rect)
            .chain(map.solid_shapes.iter().cloned())
            .map(|s| (s, 0));
        let doors: Vec<(SolidShape, u128)> = door_zones(map)
            .enumerate()
            .flat_map(|(i, (zone, _))| {
                door_shapes(&zone.area)
                    .into_iter()
                    .map(move |s| (s, i as u128 + 1))
            })
            .collect();
        Self::with_doors(walls.chain(doors), door_zones(map).count())
    }

    /// Number of doors (numbered as [`crate::map::rooms::Rooms::doors`]).
    pub fn door_count(&self) -> usize {
        self.doors_open.len()
    }

    /// Opens or closes door `door` for every query after this one; unknown numbers are
    /// ignored.
    pub fn set_door_open(&self, door: usize, open: bool) {
        if let Some(flag) = self.doors_open.get(door) {
            flag.store(open, Ordering::Relaxed);
        }
    }

    pub fn is_door_open(&self, door: usize) -> bool {
        self.doors_open
            .get(door)
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// The first door a circle of `radius` at `pos` touches, open or not.
    pub fn door_touching(&self, pos: Vec2, radius: f32) -> Option<usize> {
        self.query(Doors::Only, |q| {
            q.intersect_shape(Pose::from_translation(pos), &Ball::new(radius))
                .next()
                .map(|(_, c)| c.user_data as usize - 1)
        })
    }

    /// Whether a circle of `radius` at `pos` touches no wall, whatever the doors.
    pub fn is_free_of_walls(&self, pos: Vec2, radius: f32) -> bool {
        self.query(Doors::Ignored, |q| {
            q.intersect_shape(Pose::from_translation(pos), &Ball::new(radius))
                .next()
                .is_none()
        })
    }

    /// The free spot nearest to `pos` for a circle of `radius`: `pos` itself if free,
    /// otherwise the closest free cell centre (searched ring by ring), so an avatar left
    /// inside a wall after a map edit can walk again. `None` if the map has no free cell.
    pub fn nearest_free(&self, map: &MapData, pos: Vec2, radius: f32) -> Option<Vec2> {
        if self.is_free(pos, radius) {
            return Some(pos);
        }
        let start = map.cell_at(pos);
        let max_ring = map.width.max(map.height) as i32;
        for ring in 0..=max_ring {
            let mut best: Option<(f32, Vec2)> = None;
            for y in -ring..=ring {
                for x in -ring..=ring {
                    if x.abs() != ring && y.abs() != ring {
                        continue;
                    }
                    let cell = start + IVec2::new(x, y);
                    if map.is_solid_cell(cell) {
                        continue;
                    }
                    let c = map.cell_center(cell);
                    let d = c.distance_squared(pos);
                    if self.is_free(c, radius) && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, c));
                    }
                }
            }
            if let Some((_, c)) = best {
                return Some(c);
            }
        }
        None
    }

    /// Number of collider shapes (after merging).
    pub fn shape_count(&self) -> usize {
        self.shape_count
    }

    /// Runs `f` on a query pipeline that meets the walls and `doors`.
    fn query<R>(&self, doors: Doors, f: impl FnOnce(&QueryPipeline<'_>) -> R) -> R {
        let keep = |_: ColliderHandle, c: &Collider| match (doors, c.user_data) {
            (Doors::Only, 0) => false,
            (Doors::Only, _) | (_, 0) => true,
            (Doors::Ignored, _) => false,
            (Doors::Closed, tag) => !self.is_door_open(tag as usize - 1),
        };
        let filter = if self.doors_open.is_empty() && doors == Doors::Closed {
            QueryFilter::default()
        } else {
            QueryFilter {
                predicate: Some(&keep),
                ..QueryFilter::default()
            }
        };
        f(&QueryPipeline {
            dispatcher: &DefaultQueryDispatcher,
            bvh: &self.bvh,
            bodies: &self.bodies,
            colliders: &self.colliders,
            filter,
        })
    }

    /// Moves a circle of `radius` from `pos` by `delta`, stopping at walls and sliding
    /// along them. Continuous (shape casts), so no speed tunnels through a wall.
    pub fn move_and_slide(&self, pos: Vec2, delta: Vec2, radius: f32) -> Vec2 {
        self.query(Doors::Closed, |queries| {
            Self::slide(queries, pos, delta, radius)
        })
    }

    fn slide(queries: &QueryPipeline<'_>, pos: Vec2, delta: Vec2, radius: f32) -> Vec2 {
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

    /// Whether nothing solid lies on the straight line from `from` to `to` (what one
    /// standing at `from` can hit at `to`).
    pub fn line_of_sight(&self, from: Vec2, to: Vec2) -> bool {
        let delta = to - from;
        let dist = delta.length();
        if dist < 1.0e-5 {
            return true;
        }
        let ray = Ray::new(from, delta / dist);
        self.query(Doors::Closed, |q| q.cast_ray(&ray, dist, true).is_none())
    }

    /// Whether a circle of `radius` at `pos` touches no solid shape.
    pub fn is_free(&self, pos: Vec2, radius: f32) -> bool {
        self.query(Doors::Closed, |q| {
            q.intersect_shape(Pose::from_translation(pos), &Ball::new(radius))
                .next()
                .is_none()
        })
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

/// Splits a simple polygon (either winding, possibly concave) into triangles by ear
/// clipping. Degenerate input (fewer than 3 points, zero area) gives no triangles.
pub fn triangulate(points: &[Vec2]) -> Vec<[Vec2; 3]> {
    let mut pts: Vec<Vec2> = points.to_vec();
    pts.dedup();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return Vec::new();
    }
    // Work counter-clockwise (positive signed area).
    let signed: f32 = (0..pts.len())
        .map(|i| pts[i].perp_dot(pts[(i + 1) % pts.len()]))
        .sum();
    if signed.abs() < 1.0e-6 {
        return Vec::new();
    }
    if signed < 0.0 {
        pts.reverse();
    }
    let mut idx: Vec<usize> = (0..pts.len()).collect();
    let mut out = Vec::with_capacity(pts.len() - 2);
    let mut guard = 0;
    while idx.len() > 3 && guard < pts.len() * pts.len() {
        guard += 1;
        let n = idx.len();
        let mut clipped = false;
        for i in 0..n {
            let (ia, ib, ic) = (idx[(i + n - 1) % n], idx[i], idx[(i + 1) % n]);
            let (a, b, c) = (pts[ia], pts[ib], pts[ic]);
            if (b - a).perp_dot(c - b) <= 0.0 {
                continue; // reflex or flat corner
            }
            let inside = idx
                .iter()
                .any(|&j| j != ia && j != ib && j != ic && point_in_triangle(pts[j], a, b, c));
            if !inside {
                out.push([a, b, c]);
                idx.remove(i);
                clipped = true;
                break;
            }
        }
        if !clipped {
            // Self-intersecting input: drop a corner rather than loop forever.
            idx.remove(0);
        }
    }
    if idx.len() == 3 {
        let (a, b, c) = (pts[idx[0]], pts[idx[1]], pts[idx[2]]);
        if (b - a).perp_dot(c - b).abs() > 1.0e-6 {
            out.push([a, b, c]);
        }
    }
    out
}

fn point_in_triangle(p: Vec2, a: Vec2, b: Vec2, c: Vec2) -> bool {
    let d1 = (b - a).perp_dot(p - a);
    let d2 = (c - b).perp_dot(p - b);
    let d3 = (a - c).perp_dot(p - c);
    d1 >= 0.0 && d2 >= 0.0 && d3 >= 0.0
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

    fn polygon_area(points: &[Vec2]) -> f32 {
        (0..points.len())
            .map(|i| points[i].perp_dot(points[(i + 1) % points.len()]))
            .sum::<f32>()
            .abs()
            / 2.0
    }

    #[test]
    fn concave_polygons_triangulate_to_their_area() {
        // An L shape, clockwise in screen terms, and a star-ish concave shape.
        let l = [
            Vec2::new(0.0, 0.0),
            Vec2::new(30.0, 0.0),
            Vec2::new(30.0, 10.0),
            Vec2::new(10.0, 10.0),
            Vec2::new(10.0, 30.0),
            Vec2::new(0.0, 30.0),
        ];
        let arrow = [
            Vec2::new(0.0, 0.0),
            Vec2::new(20.0, 10.0),
            Vec2::new(40.0, 0.0),
            Vec2::new(20.0, 40.0),
        ];
        for shape in [&l[..], &arrow[..]] {
            let tris = triangulate(shape);
            assert_eq!(tris.len(), shape.len() - 2);
            let sum: f32 = tris.iter().map(|t| polygon_area(t)).sum();
            assert!((sum - polygon_area(shape)).abs() < 1e-3, "{sum}");
        }
        assert!(triangulate(&[Vec2::ZERO, Vec2::X, Vec2::X * 2.0]).is_empty());
    }

    #[test]
    fn polygon_circle_and_line_colliders_block() {
        let map = MapData::from_ascii("t", 32, &["S......", ".......", "......."]);
        let mut map = map;
        map.solid_shapes = vec![
            SolidShape::Circle {
                center: Vec2::new(100.0, 48.0),
                radius: 12.0,
            },
            SolidShape::Polygon(vec![
                Vec2::new(150.0, 10.0),
                Vec2::new(200.0, 10.0),
                Vec2::new(175.0, 60.0),
            ]),
            SolidShape::Polyline(vec![Vec2::new(60.0, 0.0), Vec2::new(60.0, 96.0)]),
        ];
        let world = CollisionWorld::from_map(&map);
        assert!(!world.is_free(Vec2::new(100.0, 48.0), 2.0));
        assert!(!world.is_free(Vec2::new(175.0, 25.0), 2.0));
        // Walking right from the spawn stops at the line.
        let end = world.move_and_slide(Vec2::new(16.0, 48.0), Vec2::new(100.0, 0.0), 10.0);
        assert!(end.x < 50.0 + 0.1, "{end}");
    }

    #[test]
    fn a_door_blocks_walking_and_sight_until_it_opens() {
        let mut map = MapData::from_ascii("t", 32, &["#######", "#S.#..#", "#######"]);
        // The wall's middle cell becomes a door.
        map.solid[7 + 3] = false; // row 1, column 3
        map.zones = vec![crate::map::Zone {
            name: "Door".into(),
            place: "object `Door`".into(),
            area: crate::map::Area::Rect(Rect::new(96.0, 32.0, 128.0, 64.0)),
            effects: crate::map::Effects {
                door: Some(crate::map::zones::Door {
                    room: None,
                    key: Some("key".into()),
                    consume_key: false,
                }),
                ..Default::default()
            },
        }];
        let world = CollisionWorld::from_map(&map);
        assert_eq!(world.door_count(), 1);
        let (west, east) = (Vec2::new(48.0, 48.0), Vec2::new(160.0, 48.0));
        let stopped = world.move_and_slide(west, Vec2::new(120.0, 0.0), 10.0);
        assert!(stopped.x < 96.0 - 9.9, "{stopped}");
        assert!(!world.line_of_sight(west, east));
        assert!(!world.is_free(Vec2::new(112.0, 48.0), 4.0));
        assert!(world.is_free_of_walls(Vec2::new(112.0, 48.0), 4.0));
        assert_eq!(world.door_touching(Vec2::new(84.0, 48.0), 13.0), Some(0));
        world.set_door_open(0, true);
        assert!(world.is_door_open(0));
        assert_eq!(
            world.move_and_slide(west, Vec2::new(112.0, 0.0), 10.0),
            east
        );
        assert!(world.line_of_sight(west, east));
        // Open or not, it is still a door (for who touches it).
        assert_eq!(world.door_touching(Vec2::new(84.0, 48.0), 13.0), Some(0));
        world.set_door_open(7, true); // no such door: nothing happens
    }

    #[test]
    fn nearest_free_spot_moves_out_of_a_wall() {
        let map = MapData::from_ascii("t", 32, &["#####", "#S..#", "#####"]);
        let world = CollisionWorld::from_map(&map);
        let free = world
            .nearest_free(&map, Vec2::new(16.0, 16.0), 10.0)
            .unwrap();
        assert_eq!(free, Vec2::new(48.0, 48.0));
        let here = Vec2::new(70.0, 50.0);
        assert_eq!(world.nearest_free(&map, here, 10.0), Some(here));
    }
}
