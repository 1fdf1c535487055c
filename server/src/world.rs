//! The map the server simulates on: loaded from disk at start, shared with movement and
//! sent to every joining client.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use bevy::prelude::*;
use tavern_shared::collision::CollisionWorld;
use tavern_shared::map::{MapData, load_tmx, relative_to};

/// The loaded map and its collision shapes.
#[derive(Resource, Clone, Debug)]
pub struct WorldMap {
    pub data: Arc<MapData>,
    pub collision: Arc<CollisionWorld>,
    /// Index of the spawn point the next player gets (players are spread over all of them).
    next_spawn: usize,
}

impl WorldMap {
    pub fn new(data: MapData) -> Self {
        let collision = Arc::new(CollisionWorld::from_map(&data));
        WorldMap {
            data: Arc::new(data),
            collision,
            next_spawn: 0,
        }
    }

    /// The next spawn point, round robin.
    pub fn take_spawn(&mut self) -> Vec2 {
        let spawn = self.data.spawns[self.next_spawn % self.data.spawns.len()];
        self.next_spawn = self.next_spawn.wrapping_add(1);
        spawn
    }
}

/// Reads and parses a TMX map file, with tilesets resolved next to it.
pub fn load_map_file(path: &Path) -> anyhow::Result<MapData> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("{}: cannot read the map file", path.display()))?;
    let map_path = path.to_path_buf();
    let data = load_tmx(path, move |p| {
        if p == map_path {
            Ok(bytes.clone())
        } else {
            std::fs::read(p).or_else(|_| std::fs::read(relative_to(&map_path, p)))
        }
    })?;
    Ok(data)
}
