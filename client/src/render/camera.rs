//! A 2D camera at twice pixel size that follows the own avatar.

use bevy::prelude::*;

use crate::prediction::OwnAvatar;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_camera)
        .add_systems(PostUpdate, follow.before(TransformSystems::Propagate));
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn((
        Camera2d,
        Projection::Orthographic(OrthographicProjection {
            scale: 0.5,
            ..OrthographicProjection::default_2d()
        }),
    ));
}

fn follow(
    own: Query<&Transform, (With<OwnAvatar>, Without<Camera2d>)>,
    mut camera: Query<&mut Transform, With<Camera2d>>,
) {
    let (Ok(target), Ok(mut camera)) = (own.single(), camera.single_mut()) else {
        return;
    };
    camera.translation.x = target.translation.x;
    camera.translation.y = target.translation.y;
}
