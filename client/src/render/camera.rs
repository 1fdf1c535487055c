//! A 2D camera that follows the own avatar, at a whole number of screen pixels per map
//! pixel (pixel art stays crisp): as large as leaves at least [`MIN_VIEW`] map pixels
//! in each direction, so 2x on a 1280x720 desktop, 3x on a 1080p one, and on a phone
//! one map pixel per page pixel (its screen's density decides the rest).

use bevy::prelude::*;
use bevy::window::PrimaryWindow;

use crate::prediction::OwnAvatar;

/// The fewest map pixels the view shows across and down.
pub const MIN_VIEW: u32 = 360;

pub fn plugin(app: &mut App) {
    app.add_systems(Startup, spawn_camera).add_systems(
        PostUpdate,
        (follow, zoom).before(TransformSystems::Propagate),
    );
}

/// Screen pixels per map pixel for a window of `physical` screen pixels: the largest
/// whole number that still shows [`MIN_VIEW`] map pixels each way, and at least 1.
pub fn pixel_zoom(physical: UVec2) -> u32 {
    (physical.min_element() / MIN_VIEW).max(1)
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

/// Keeps the zoom whole in screen pixels as the window changes size or screen.
fn zoom(
    window: Query<&Window, With<PrimaryWindow>>,
    mut camera: Query<&mut Projection, With<Camera2d>>,
) {
    let (Ok(window), Ok(mut projection)) = (window.single(), camera.single_mut()) else {
        return;
    };
    let Projection::Orthographic(ortho) = &mut *projection else {
        return;
    };
    // The projection counts in logical pixels: a logical pixel is `scale_factor`
    // screen pixels.
    let zoom = pixel_zoom(window.physical_size()) as f32;
    let scale = window.scale_factor() / zoom;
    if (ortho.scale - scale).abs() > 1e-6 {
        ortho.scale = scale;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zoom_is_whole_and_shows_enough_of_the_map() {
        // Desktops.
        assert_eq!(pixel_zoom(UVec2::new(1280, 720)), 2);
        assert_eq!(pixel_zoom(UVec2::new(1920, 1080)), 3);
        assert_eq!(pixel_zoom(UVec2::new(800, 600)), 1);
        // A phone at 3 screen pixels per page pixel (390 x 844 page pixels), upright
        // and sideways: one map pixel per page pixel.
        assert_eq!(pixel_zoom(UVec2::new(1170, 2532)), 3);
        assert_eq!(pixel_zoom(UVec2::new(2532, 1170)), 3);
        // Tiny or empty windows never go below 1.
        assert_eq!(pixel_zoom(UVec2::new(200, 100)), 1);
        assert_eq!(pixel_zoom(UVec2::ZERO), 1);
        for size in [
            UVec2::new(1280, 720),
            UVec2::new(1170, 2532),
            UVec2::new(3840, 2160),
        ] {
            let zoom = pixel_zoom(size);
            assert!(size.min_element() / zoom >= MIN_VIEW, "{size} at {zoom}x");
        }
    }
}
