//! Interest management: a player receives only the avatars around its own, in a
//! uniform grid of cells a third of the view radius wide. A cell changes only once the
//! avatar is a quarter cell past its border, so walking along a border does not make
//! others appear and vanish. An avatar is replicated to a player when their cells are
//! at most [`REACH`] apart in each direction: enough that everything within the view
//! radius is always sent, however both cells lag behind their avatars, and nothing
//! more than 1.9 times the radius away on either axis is. This filter adds to the
//! others (`can_see`): an avatar is sent only if every rule allows it.

use bevy::prelude::*;
use bevy_replicon::prelude::*;
use tavern_shared::avatar::{AvatarState, InZones, InputAck};

use crate::GameSystems;
use crate::zones::Owner;

/// Default view radius in pixels: a little more than a desktop screen at 1x zoom.
pub const DEFAULT_VIEW_RADIUS: f32 = 800.0;

/// The view radius (`--view-radius`).
#[derive(Resource, Debug, Clone, Copy)]
pub struct ViewRadius(pub f32);

impl Default for ViewRadius {
    fn default() -> Self {
        ViewRadius(DEFAULT_VIEW_RADIUS)
    }
}

/// The grid cell an avatar is in, on the avatar and on its owner's connection (the
/// viewer's side of the check).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[component(immutable)]
pub struct ViewCell(pub IVec2);

impl VisibilityFilter for ViewCell {
    type ClientComponent = ViewCell;
    type Scope = Entity;

    fn is_visible(&self, _client: Entity, viewer: Option<&ViewCell>) -> bool {
        viewer.is_some_and(|v| in_view(v.0, self.0))
    }
}

/// On an avatar: the connection of its owner, the only one sent its [`InputAck`] and
/// its [`InZones`] (others have no use for either).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
#[component(immutable)]
pub struct AckTo(pub Entity);

impl VisibilityFilter for AckTo {
    type ClientComponent = AuthorizedClient;
    type Scope = (InputAck, InZones);

    fn is_visible(&self, client: Entity, _: Option<&AuthorizedClient>) -> bool {
        self.0 == client
    }
}

/// Grid cells per view radius.
pub const CELLS_PER_RADIUS: f32 = 3.0;
/// How many cells apart (in each direction) a player sees. With cells of r/3 and a
/// hysteresis of a quarter cell, two avatars within r of each other can be recorded at
/// most 3.5 cells apart: r plus a quarter cell of lag on each side.
pub const REACH: i32 = 4;

/// The grid's cell size for a view radius.
pub fn cell_size(radius: f32) -> f32 {
    radius.max(1.0) / CELLS_PER_RADIUS
}

/// Whether an avatar in cell `seen` is within view of a player in cell `viewer`.
pub fn in_view(viewer: IVec2, seen: IVec2) -> bool {
    let d = (viewer - seen).abs();
    d.x <= REACH && d.y <= REACH
}

/// The cell of `pos` for cells of `size`, keeping `current` while `pos` is within a
/// quarter cell of it.
pub fn cell_of(pos: Vec2, size: f32, current: Option<IVec2>) -> IVec2 {
    let exact = (pos / size).floor().as_ivec2();
    match current {
        Some(cell) if cell != exact => {
            let margin = size / 4.0;
            let min = cell.as_vec2() * size - Vec2::splat(margin);
            let max = (cell + IVec2::ONE).as_vec2() * size + Vec2::splat(margin);
            if pos.cmpge(min).all() && pos.cmplt(max).all() {
                cell
            } else {
                exact
            }
        }
        _ => exact,
    }
}

pub fn plugin(app: &mut App) {
    app.init_resource::<ViewRadius>()
        .add_visibility_filter::<ViewCell>()
        .add_visibility_filter::<AckTo>()
        .add_systems(
            FixedUpdate,
            update_view_cells
                .in_set(GameSystems::Track)
                .after(crate::zones::track_zones),
        );
}

/// Moves each avatar's cell (and its owner's) with it.
fn update_view_cells(
    mut commands: Commands,
    radius: Res<ViewRadius>,
    avatars: Query<(Entity, &AvatarState, &Owner, Option<&ViewCell>)>,
) {
    let size = cell_size(radius.0);
    for (avatar, state, owner, cell) in &avatars {
        let now = ViewCell(cell_of(state.motion.pos, size, cell.map(|c| c.0)));
        if cell != Some(&now) {
            commands.entity(avatar).insert(now);
            if let Ok(mut owner) = commands.get_entity(owner.0) {
                owner.insert(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_within_the_radius_is_in_view_whatever_the_cells_lag() {
        use rand::{Rng, SeedableRng};
        let radius = 800.0;
        let size = cell_size(radius);
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut farthest_seen = 0.0f32;
        for _ in 0..20_000 {
            // Each avatar's cell is where it was a moment ago, then it moved on: the
            // recorded cell lags by up to the hysteresis.
            let walk = |rng: &mut rand::rngs::StdRng, start: Vec2| {
                let mut cell = cell_of(start, size, None);
                let mut pos = start;
                for _ in 0..rng.random_range(0..40) {
                    pos += Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU))
                        * rng.random_range(0.0..size / 3.0);
                    cell = cell_of(pos, size, Some(cell));
                }
                (pos, cell)
            };
            let start = Vec2::new(rng.random_range(0.0..6400.0), rng.random_range(0.0..6400.0));
            let (a, cell_a) = walk(&mut rng, start);
            let offset = Vec2::from_angle(rng.random_range(0.0..std::f32::consts::TAU))
                * rng.random_range(0.0..radius * 2.5);
            let (b, cell_b) = walk(&mut rng, a + offset);
            let distance = a.distance(b);
            if distance <= radius {
                assert!(in_view(cell_a, cell_b), "{a} {b} {cell_a} {cell_b}");
            }
            if in_view(cell_a, cell_b) {
                let d = (a - b).abs();
                farthest_seen = farthest_seen.max(d.x.max(d.y));
            }
        }
        // Never beyond 5.5 cells (1.83 radii) on either axis.
        assert!(farthest_seen < 1.84 * radius, "{farthest_seen}");
    }

    #[test]
    fn a_cell_changes_only_a_quarter_cell_past_its_border() {
        let size = 100.0;
        let start = cell_of(Vec2::new(95.0, 50.0), size, None);
        assert_eq!(start, IVec2::new(0, 0));
        // Just across the border: still the old cell.
        assert_eq!(cell_of(Vec2::new(110.0, 50.0), size, Some(start)), start);
        assert_eq!(cell_of(Vec2::new(124.9, 50.0), size, Some(start)), start);
        // A quarter cell past it: the new one.
        let next = cell_of(Vec2::new(125.0, 50.0), size, Some(start));
        assert_eq!(next, IVec2::new(1, 0));
        // Back a little: stays in the new cell.
        assert_eq!(cell_of(Vec2::new(90.0, 50.0), size, Some(next)), next);
        // A jump (an exit to another place) moves at once.
        assert_eq!(
            cell_of(Vec2::new(950.0, 50.0), size, Some(next)),
            IVec2::new(9, 0)
        );
    }
}
