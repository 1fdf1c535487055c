//! Paths for monsters: A* (the `pathfinding` crate) on the map's tile grid, around walls
//! and closed doors. A cell is open when a body of the walker's radius fits at its
//! centre (tile walls and collider shapes alike), so a path found is one the shared
//! movement can walk. Diagonal steps never cut a corner.

use bevy::math::{IVec2, Vec2};
use pathfinding::prelude::astar;

use crate::collision::CollisionWorld;
use crate::map::MapData;

/// Cost of a straight step and of a diagonal one (about √2 times as much).
const STRAIGHT: u32 = 10;
const DIAGONAL: u32 = 14;

/// Which cells of a map a body of some radius can stand in.
#[derive(Debug, Clone)]
pub struct NavGrid {
    width: i32,
    height: i32,
    cell: Vec2,
    open: Vec<bool>,
    /// The door (number) a walker standing in each cell would touch, `u16::MAX`: none.
    doors: Vec<u16>,
}

impl NavGrid {
    /// The grid of `map` for a walker of `radius`. Doors count as open here; which are
    /// shut is asked of the world when a path is looked for ([`NavGrid::shut_doors`]).
    pub fn from_map(map: &MapData, world: &CollisionWorld, radius: f32) -> Self {
        let cell = Vec2::new(map.tile_width as f32, map.tile_height as f32);
        let (width, height) = (map.width as i32, map.height as i32);
        let mut open = Vec::with_capacity((width * height).max(0) as usize);
        let mut doors = Vec::with_capacity(open.capacity());
        for y in 0..height {
            for x in 0..width {
                let solid = map
                    .solid
                    .get((y * width + x) as usize)
                    .copied()
                    .unwrap_or(true);
                let centre = (Vec2::new(x as f32, y as f32) + 0.5) * cell;
                open.push(!solid && world.is_free_of_walls(centre, radius));
                doors.push(
                    world
                        .door_touching(centre, radius)
                        .map_or(u16::MAX, |d| d.min(u16::MAX as usize - 1) as u16),
                );
            }
        }
        NavGrid {
            width,
            height,
            cell,
            open,
            doors,
        }
    }

    /// The door a walker in `cell` would touch.
    pub fn door_at(&self, cell: IVec2) -> Option<usize> {
        if cell.x < 0 || cell.y < 0 || cell.x >= self.width || cell.y >= self.height {
            return None;
        }
        let d = self.doors[(cell.y * self.width + cell.x) as usize];
        (d != u16::MAX).then_some(usize::from(d))
    }

    /// For [`NavGrid::find_path`]: the cells `world`'s closed doors shut now.
    pub fn shut_doors<'a>(&'a self, world: &'a CollisionWorld) -> impl Fn(IVec2) -> bool + 'a {
        move |c| self.door_at(c).is_some_and(|d| !world.is_door_open(d))
    }

    /// The cell a point is in.
    pub fn cell_of(&self, pos: Vec2) -> IVec2 {
        (pos / self.cell).floor().as_ivec2()
    }

    /// The centre of a cell, in pixels.
    pub fn centre(&self, cell: IVec2) -> Vec2 {
        (cell.as_vec2() + 0.5) * self.cell
    }

    /// Whether a walker can stand in `cell`.
    pub fn is_open(&self, cell: IVec2) -> bool {
        cell.x >= 0
            && cell.y >= 0
            && cell.x < self.width
            && cell.y < self.height
            && self.open[(cell.y * self.width + cell.x) as usize]
    }

    /// The shortest path from `from` to `to` as cell centres (ending at `to`'s cell),
    /// avoiding walls and the cells `closed` says are shut (doors); `None` when there
    /// is none, or when finding it would look at more than `budget` cells.
    pub fn find_path(
        &self,
        from: Vec2,
        to: Vec2,
        closed: impl Fn(IVec2) -> bool,
        budget: usize,
    ) -> Option<Vec<Vec2>> {
        let (start, goal) = (self.cell_of(from), self.cell_of(to));
        let passable = |c: IVec2| self.is_open(c) && !closed(c);
        if !passable(goal) {
            return None;
        }
        let looked = std::cell::Cell::new(0usize);
        let successors = |c: &IVec2| {
            looked.set(looked.get() + 1);
            let mut next = Vec::with_capacity(8);
            if looked.get() > budget {
                return next; // over budget: stop expanding, no path
            }
            for dy in -1..=1 {
                for dx in -1..=1 {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let n = *c + IVec2::new(dx, dy);
                    if !passable(n) {
                        continue;
                    }
                    if dx != 0 && dy != 0 {
                        // No corner cutting: both sides of a diagonal must be open.
                        if !passable(*c + IVec2::new(dx, 0)) || !passable(*c + IVec2::new(0, dy)) {
                            continue;
                        }
                        next.push((n, DIAGONAL));
                    } else {
                        next.push((n, STRAIGHT));
                    }
                }
            }
            next
        };
        let heuristic = |c: &IVec2| {
            let d = (goal - *c).abs();
            let (long, short) = (d.x.max(d.y) as u32, d.x.min(d.y) as u32);
            STRAIGHT * (long - short) + DIAGONAL * short
        };
        let (cells, _) = astar(&start, successors, heuristic, |c| *c == goal)?;
        Some(cells.into_iter().skip(1).map(|c| self.centre(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room split by a wall with one gap (row 4), and a door cell in the gap.
    fn world() -> (MapData, NavGrid) {
        let map = MapData::from_ascii(
            "t",
            32,
            &[
                "##########",
                "#S...#...#",
                "#....#...#",
                "#....#...#",
                "#.........",
                "##########",
            ],
        );
        let collision = CollisionWorld::from_map(&map);
        let grid = NavGrid::from_map(&map, &collision, 10.0);
        (map, grid)
    }

    #[test]
    fn a_path_goes_around_the_wall_through_the_gap() {
        let (_, grid) = world();
        let from = grid.centre(IVec2::new(2, 1));
        let to = grid.centre(IVec2::new(7, 1));
        let path = grid
            .find_path(from, to, |_| false, 1000)
            .expect("a way round");
        assert_eq!(*path.last().unwrap(), to);
        // It passes the wall's column only through the gap in row 4.
        for p in &path {
            let c = grid.cell_of(*p);
            assert!(grid.is_open(c), "{c}");
            if c.x == 5 {
                assert_eq!(c.y, 4);
            }
        }
        // Consecutive cells touch, and diagonals never cut a wall's corner.
        let mut at = grid.cell_of(from);
        for p in &path {
            let c = grid.cell_of(*p);
            let d = c - at;
            assert!(d.x.abs() <= 1 && d.y.abs() <= 1);
            if d.x != 0 && d.y != 0 {
                assert!(grid.is_open(at + IVec2::new(d.x, 0)));
                assert!(grid.is_open(at + IVec2::new(0, d.y)));
            }
            at = c;
        }
    }

    #[test]
    fn a_path_goes_through_a_map_door_only_once_it_is_open() {
        let (mut map, _) = world();
        // The gap in the wall (cell 5,4) is a door of room `west`.
        map.zones = vec![crate::map::Zone {
            name: "Gap door".into(),
            place: "object `Gap door`".into(),
            area: crate::map::Area::Rect(bevy::math::Rect::new(160.0, 128.0, 192.0, 160.0)),
            effects: crate::map::Effects {
                door: Some(crate::map::zones::Door {
                    room: Some("west".into()),
                    key: None,
                    consume_key: false,
                }),
                ..Default::default()
            },
        }];
        let collision = CollisionWorld::from_map(&map);
        let grid = NavGrid::from_map(&map, &collision, 10.0);
        let (from, to) = (grid.centre(IVec2::new(2, 1)), grid.centre(IVec2::new(7, 1)));
        assert_eq!(grid.door_at(IVec2::new(5, 4)), Some(0));
        assert_eq!(grid.door_at(IVec2::new(2, 1)), None);
        assert_eq!(
            grid.find_path(from, to, grid.shut_doors(&collision), 1000),
            None
        );
        collision.set_door_open(0, true);
        let path = grid
            .find_path(from, to, grid.shut_doors(&collision), 1000)
            .expect("through the open door");
        assert!(path.contains(&grid.centre(IVec2::new(5, 4))));
    }

    #[test]
    fn a_closed_door_blocks_the_way_until_it_opens() {
        let (_, grid) = world();
        let from = grid.centre(IVec2::new(2, 2));
        let to = grid.centre(IVec2::new(7, 2));
        let door = IVec2::new(5, 4);
        assert_eq!(grid.find_path(from, to, |c| c == door, 1000), None);
        assert!(grid.find_path(from, to, |_| false, 1000).is_some());
        // Into a wall, or past the budget: no path.
        assert_eq!(
            grid.find_path(from, grid.centre(IVec2::new(5, 1)), |_| false, 1000),
            None
        );
        assert_eq!(grid.find_path(from, to, |_| false, 3), None);
    }
}
