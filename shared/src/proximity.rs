//! Who stands near whom: a spatial hash (uniform grid) so the server finds, for every
//! player, the others within the proximity radius without comparing every pair.

use std::collections::HashMap;

use bevy::math::{IVec2, Vec2};

/// Default proximity radius in pixels: who you can talk to without raising your voice.
pub const DEFAULT_RADIUS: f32 = 100.0;

/// Points bucketed by grid cell, per space (a map, or a private part of one: points in
/// different spaces are never near). With the cell size equal to the query radius, a
/// query looks at the 3×3 cells around the point.
#[derive(Debug, Default)]
pub struct SpatialHash {
    cell_size: f32,
    cells: HashMap<(u64, IVec2), Vec<(u64, Vec2)>>,
}

impl SpatialHash {
    pub fn new(cell_size: f32) -> Self {
        SpatialHash {
            cell_size: cell_size.max(1.0),
            cells: HashMap::new(),
        }
    }

    fn cell(&self, pos: Vec2) -> IVec2 {
        (pos / self.cell_size).floor().as_ivec2()
    }

    /// Empties the grid, keeping its memory for the next tick.
    pub fn clear(&mut self) {
        for bucket in self.cells.values_mut() {
            bucket.clear();
        }
    }

    pub fn insert(&mut self, map: u64, id: u64, pos: Vec2) {
        let cell = self.cell(pos);
        self.cells.entry((map, cell)).or_default().push((id, pos));
    }

    /// Calls `found` for every point on `map` within `radius` of `pos` (inclusive).
    pub fn within(&self, map: u64, pos: Vec2, radius: f32, mut found: impl FnMut(u64, Vec2)) {
        let (lo, hi) = (
            self.cell(pos - Vec2::splat(radius)),
            self.cell(pos + Vec2::splat(radius)),
        );
        let r2 = radius * radius;
        for y in lo.y..=hi.y {
            for x in lo.x..=hi.x {
                let Some(bucket) = self.cells.get(&(map, IVec2::new(x, y))) else {
                    continue;
                };
                for &(id, p) in bucket {
                    if p.distance_squared(pos) <= r2 {
                        found(id, p);
                    }
                }
            }
        }
    }
}

/// One player for a proximity pass: id, space (map and private part), position.
pub type Placed = (u64, u64, Vec2);

/// For each player, the sorted ids of the others in the same space within `radius`.
pub fn near_sets(
    hash: &mut SpatialHash,
    players: &[Placed],
    radius: f32,
) -> HashMap<u64, Vec<u64>> {
    hash.clear();
    for &(id, map, pos) in players {
        hash.insert(map, id, pos);
    }
    players
        .iter()
        .map(|&(id, map, pos)| {
            let mut near = Vec::new();
            hash.within(map, pos, radius, |other, _| {
                if other != id {
                    near.push(other);
                }
            });
            near.sort_unstable();
            (id, near)
        })
        .collect()
}

/// What changed between two sorted sets: `(entered, left)`.
pub fn changes(old: &[u64], new: &[u64]) -> (Vec<u64>, Vec<u64>) {
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                left.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                left.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                entered.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (entered, left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn brute_force(players: &[Placed], radius: f32) -> HashMap<u64, Vec<u64>> {
        players
            .iter()
            .map(|&(id, map, pos)| {
                let mut near: Vec<u64> = players
                    .iter()
                    .filter(|&&(o, m, p)| {
                        o != id && m == map && p.distance_squared(pos) <= radius * radius
                    })
                    .map(|&(o, ..)| o)
                    .collect();
                near.sort_unstable();
                (id, near)
            })
            .collect()
    }

    #[test]
    fn the_grid_finds_exactly_who_brute_force_finds_as_players_move() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut hash = SpatialHash::new(DEFAULT_RADIUS);
        let mut players: Vec<Placed> = (0..300)
            .map(|i| {
                (
                    i,
                    rng.random_range(0..2),
                    Vec2::new(
                        rng.random_range(-50.0..1500.0),
                        rng.random_range(-50.0..1000.0),
                    ),
                )
            })
            .collect();
        let mut previous = near_sets(&mut hash, &players, DEFAULT_RADIUS);
        for _ in 0..60 {
            for p in &mut players {
                p.2 += Vec2::new(rng.random_range(-12.0..12.0), rng.random_range(-12.0..12.0));
            }
            let now = near_sets(&mut hash, &players, DEFAULT_RADIUS);
            assert_eq!(now, brute_force(&players, DEFAULT_RADIUS));
            // The changes applied to the old sets give the new ones.
            for (id, new) in &now {
                let old = &previous[id];
                let (entered, left) = changes(old, new);
                let mut rebuilt: Vec<u64> =
                    old.iter().filter(|o| !left.contains(o)).copied().collect();
                rebuilt.extend(entered);
                rebuilt.sort_unstable();
                assert_eq!(&rebuilt, new);
            }
            previous = now;
        }
    }

    #[test]
    fn the_radius_is_inclusive_and_maps_are_apart() {
        let mut hash = SpatialHash::new(100.0);
        let players = [
            (1, 0, Vec2::ZERO),
            (2, 0, Vec2::new(100.0, 0.0)),
            (3, 1, Vec2::new(1.0, 0.0)),
            (4, 0, Vec2::new(-100.1, 0.0)),
        ];
        let sets = near_sets(&mut hash, &players, 100.0);
        assert_eq!(sets[&1], vec![2]);
        assert_eq!(sets[&3], Vec::<u64>::new());
        assert_eq!(changes(&[1, 3, 5], &[2, 3, 6]), (vec![2, 6], vec![1, 5]));
    }
}
