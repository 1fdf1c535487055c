//! Ambient audio: in a `playAudio` zone (as the server says the player is in), the
//! zone's track plays at its `audioVolume`, looping unless `audioLoop` is false, and
//! stops when the player leaves. Tracks come from `assets/audio/` by file name.

use bevy::audio::Volume;
use bevy::prelude::*;
use tavern_shared::avatar::InZones;
use tavern_shared::map::zones::Audio;

use crate::offers::{ambient, track_asset};
use crate::prediction::{CurrentMap, OwnAvatar};

/// The track playing now, and the entity playing it.
#[derive(Resource, Debug, Default)]
struct Playing(Option<(Audio, Entity)>);

pub fn plugin(app: &mut App) {
    app.init_resource::<Playing>()
        .add_systems(Update, play_zone_audio);
}

fn play_zone_audio(
    mut commands: Commands,
    map: Option<Res<CurrentMap>>,
    own: Query<&InZones, With<OwnAvatar>>,
    assets: Res<AssetServer>,
    mut playing: ResMut<Playing>,
) {
    let wanted = match (map, own.single()) {
        (Some(map), Ok(zones)) => ambient(&map.data, &zones.0).cloned(),
        _ => None,
    };
    if playing.0.as_ref().map(|(a, _)| a) == wanted.as_ref() {
        return;
    }
    if let Some((old, entity)) = playing.0.take() {
        info!(track = %old.track, "ambient track stopped");
        if let Ok(mut e) = commands.get_entity(entity) {
            e.despawn();
        }
    }
    let Some(audio) = wanted else {
        return;
    };
    let Some(path) = track_asset(&audio.track) else {
        warn!(track = %audio.track, "this zone's music is on the web; the desktop client plays only tracks in assets/audio/");
        playing.0 = Some((audio, Entity::PLACEHOLDER));
        return;
    };
    let settings = if audio.looping {
        PlaybackSettings::LOOP
    } else {
        PlaybackSettings::ONCE
    };
    info!(track = %audio.track, asset = %path, volume = audio.volume, looping = audio.looping, "ambient track playing");
    let entity = commands
        .spawn((
            AudioPlayer::new(assets.load::<AudioSource>(path)),
            settings.with_volume(Volume::Linear(audio.volume)),
        ))
        .id();
    playing.0 = Some((audio, entity));
}

#[cfg(test)]
mod tests {
    use bevy::audio::{Decodable, Source};
    use bevy::prelude::*;

    #[test]
    fn the_sample_track_decodes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets/audio/library-rain.ogg");
        let source = AudioSource {
            bytes: std::fs::read(path).unwrap().into(),
        };
        let decoder = source.decoder();
        assert_eq!(decoder.sample_rate().get(), 22050);
        assert_eq!(decoder.channels().get(), 1);
        let samples = decoder.count();
        assert!(
            (160_000..170_000).contains(&samples),
            "about 7.5 s of mono 22.05 kHz, got {samples} samples"
        );
    }
}
