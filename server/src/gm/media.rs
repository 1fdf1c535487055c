//! What the server makes sure of before it keeps a file a GM shares: its type by its
//! content ([`sniff`]), an image decoded in full (a truncated or mislabelled one is
//! refused) and the PNGs clients draw: the view (at most [`VIEW_SIDE`] pixels a side)
//! and the thumbnail (at most [`THUMBNAIL_SIDE`]). Pure functions, run off the game
//! thread.

use std::io::Cursor;

use tavern_shared::gm::assets::{AssetType, MAX_IMAGE_SIDE, THUMBNAIL_SIDE, VIEW_SIDE, sniff};

/// A decoded picture: 8-bit RGBA, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// A file checked and ready to keep.
#[derive(Debug)]
pub struct Prepared {
    pub kind: AssetType,
    /// An image's size in pixels; (0, 0) for a sound.
    pub size: (u32, u32),
    /// The PNG clients draw (`None`: the file itself is that PNG, or it is a sound).
    pub view: Option<Vec<u8>>,
    /// The thumbnail PNG, for an image.
    pub thumbnail: Option<Vec<u8>>,
}

/// Checks `bytes` and makes an image's pictures; or says what is wrong with the file.
pub fn prepare(bytes: &[u8]) -> Result<Prepared, String> {
    let kind = sniff(bytes)?;
    let Some(image) = decode(kind, bytes)? else {
        check_audio(kind, bytes)?;
        return Ok(Prepared {
            kind,
            size: (0, 0),
            view: None,
            thumbnail: None,
        });
    };
    let fits = image.width <= VIEW_SIDE && image.height <= VIEW_SIDE;
    let view = if kind == AssetType::Png && fits {
        None
    } else {
        Some(encode_png(&shrink(&image, VIEW_SIDE))?)
    };
    let thumbnail = Some(encode_png(&shrink(&image, THUMBNAIL_SIDE))?);
    Ok(Prepared {
        kind,
        size: (image.width, image.height),
        view,
        thumbnail,
    })
}

/// A sound's structure beyond its first bytes: a WAV has its format chunk.
fn check_audio(kind: AssetType, bytes: &[u8]) -> Result<(), String> {
    if kind == AssetType::Wav && !bytes.windows(4).take(256).any(|w| w == b"fmt ") {
        return Err("the WAV file has no format chunk: it is damaged".into());
    }
    Ok(())
}

fn too_large(width: u32, height: u32) -> Result<(), String> {
    if width == 0 || height == 0 {
        return Err("the image has no pixels".into());
    }
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(format!(
            "the image is {width} x {height} pixels; at most {MAX_IMAGE_SIDE} a side"
        ));
    }
    Ok(())
}

/// Decodes an image of type `kind` in full (`None` for a sound).
fn decode(kind: AssetType, bytes: &[u8]) -> Result<Option<Rgba>, String> {
    match kind {
        AssetType::Png => decode_png(bytes).map(Some),
        AssetType::Jpeg => decode_jpeg(bytes).map(Some),
        AssetType::Webp => decode_webp(bytes).map(Some),
        AssetType::Ogg | AssetType::Mp3 | AssetType::Wav => Ok(None),
    }
}

fn decode_png(bytes: &[u8]) -> Result<Rgba, String> {
    let bad = |e: png::DecodingError| format!("the PNG does not decode: {e}");
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(bad)?;
    let (width, height) = (reader.info().width, reader.info().height);
    too_large(width, height)?;
    let size = reader
        .output_buffer_size()
        .ok_or("the PNG is too large to decode")?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(bad)?;
    buf.truncate(frame.buffer_size());
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err("the PNG's palette did not expand".into()),
    };
    Ok(Rgba {
        width,
        height,
        pixels: to_rgba(&buf, channels),
    })
}

fn decode_jpeg(bytes: &[u8]) -> Result<Rgba, String> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let bad = |e: zune_jpeg::errors::DecodeErrors| format!("the JPEG does not decode: {e}");
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGBA)
        .set_max_width(MAX_IMAGE_SIDE as usize)
        .set_max_height(MAX_IMAGE_SIDE as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(bad)?;
    let info = decoder.info().ok_or("the JPEG has no header")?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    too_large(width, height)?;
    let pixels = decoder.decode().map_err(bad)?;
    if pixels.len() != width as usize * height as usize * 4 {
        return Err("the JPEG decoded to the wrong number of pixels".into());
    }
    Ok(Rgba {
        width,
        height,
        pixels,
    })
}

fn decode_webp(bytes: &[u8]) -> Result<Rgba, String> {
    let bad = |e: image_webp::DecodingError| format!("the WebP does not decode: {e}");
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(bad)?;
    let (width, height) = decoder.dimensions();
    too_large(width, height)?;
    let size = decoder
        .output_buffer_size()
        .ok_or("the WebP is too large to decode")?;
    let mut buf = vec![0; size];
    decoder.read_image(&mut buf).map_err(bad)?;
    let channels = if decoder.has_alpha() { 4 } else { 3 };
    Ok(Rgba {
        width,
        height,
        pixels: to_rgba(&buf, channels),
    })
}

/// Pixels of 1 to 4 channels (gray, gray+alpha, RGB, RGBA) as RGBA.
fn to_rgba(buf: &[u8], channels: usize) -> Vec<u8> {
    if channels == 4 {
        return buf.to_vec();
    }
    let mut out = Vec::with_capacity(buf.len() / channels * 4);
    for px in buf.chunks_exact(channels) {
        match *px {
            [g] => out.extend_from_slice(&[g, g, g, 255]),
            [g, a] => out.extend_from_slice(&[g, g, g, a]),
            [r, g, b] => out.extend_from_slice(&[r, g, b, 255]),
            _ => {}
        }
    }
    out
}

/// `image` scaled down (never up) so its longer side is at most `side`, each new pixel
/// the average of the pixels it covers.
pub fn shrink(image: &Rgba, side: u32) -> Rgba {
    let (w, h) = (image.width as u64, image.height as u64);
    let longest = w.max(h);
    if longest <= side as u64 {
        return image.clone();
    }
    let nw = (w * side as u64 / longest).max(1);
    let nh = (h * side as u64 / longest).max(1);
    let mut pixels = Vec::with_capacity((nw * nh * 4) as usize);
    for y in 0..nh {
        let (y0, y1) = (y * h / nh, ((y + 1) * h / nh).max(y * h / nh + 1));
        for x in 0..nw {
            let (x0, x1) = (x * w / nw, ((x + 1) * w / nw).max(x * w / nw + 1));
            let mut sum = [0u64; 4];
            for sy in y0..y1 {
                let row = (sy * w) as usize * 4;
                for sx in x0..x1 {
                    let at = row + sx as usize * 4;
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += u64::from(image.pixels[at + c]);
                    }
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            pixels.extend(sum.iter().map(|s| ((s + n / 2) / n) as u8));
        }
    }
    Rgba {
        width: nw as u32,
        height: nh as u32,
        pixels,
    }
}

/// `image` as a PNG file.
pub fn encode_png(image: &Rgba) -> Result<Vec<u8>, String> {
    let failed = |e: png::EncodingError| format!("the picture could not be made: {e}");
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&image.pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` x `height` picture: red rising to the right, green downwards.
    fn gradient(width: u32, height: u32) -> Rgba {
        let mut pixels = Vec::new();
        for y in 0..height {
            for x in 0..width {
                pixels.extend_from_slice(&[
                    (x * 255 / width.max(1)) as u8,
                    (y * 255 / height.max(1)) as u8,
                    40,
                    255,
                ]);
            }
        }
        Rgba {
            width,
            height,
            pixels,
        }
    }

    #[test]
    fn shrinking_keeps_the_shape_and_averages() {
        let big = gradient(1000, 500);
        let small = shrink(&big, 256);
        assert_eq!((small.width, small.height), (256, 128));
        assert_eq!(small.pixels.len(), 256 * 128 * 4);
        // Left is dark red, right is bright red; alpha stays opaque.
        assert!(small.pixels[0] < 5 && small.pixels[(255 * 4) as usize] > 250);
        assert!(small.pixels.chunks(4).all(|p| p[3] == 255 && p[2] == 40));
        // Small pictures are left alone; tall ones fit by their height.
        assert_eq!(shrink(&gradient(10, 20), 256), gradient(10, 20));
        let tall = shrink(&gradient(30, 3000), 256);
        assert_eq!((tall.width, tall.height), (2, 256));
        // Two pixels averaged: (0 + 255) / 2 rounds to 128.
        let pair = Rgba {
            width: 2,
            height: 1,
            pixels: vec![0, 0, 0, 255, 255, 255, 255, 255],
        };
        assert_eq!(shrink(&pair, 1).pixels, vec![128, 128, 128, 255]);
    }

    #[test]
    fn a_png_round_trips_and_gets_a_thumbnail_but_no_view() {
        let file = encode_png(&gradient(300, 100)).unwrap();
        let prepared = prepare(&file).unwrap();
        assert_eq!(prepared.kind, AssetType::Png);
        assert_eq!(prepared.size, (300, 100));
        assert!(prepared.view.is_none(), "the PNG is drawn as it is");
        let thumb = decode_png(&prepared.thumbnail.unwrap()).unwrap();
        assert_eq!((thumb.width, thumb.height), (256, 85));
        assert_eq!(decode_png(&file).unwrap(), gradient(300, 100));
    }

    #[test]
    fn broken_and_oversized_images_are_refused_with_the_reason() {
        let file = encode_png(&gradient(64, 64)).unwrap();
        let cut = &file[..file.len() / 2];
        assert!(
            prepare(cut)
                .unwrap_err()
                .contains("the PNG does not decode")
        );
        // A JPEG's magic on garbage.
        let fake = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7; 64]].concat();
        assert!(
            prepare(&fake)
                .unwrap_err()
                .contains("the JPEG does not decode")
        );
        let fake_webp = b"RIFF\x24\0\0\0WEBPVP8 garbage garbage garbage";
        assert!(
            prepare(fake_webp)
                .unwrap_err()
                .contains("the WebP does not decode")
        );
        // An image too wide to take.
        let wide = encode_png(&gradient(9000, 1)).unwrap();
        assert_eq!(
            prepare(&wide).unwrap_err(),
            "the image is 9000 x 1 pixels; at most 8192 a side"
        );
        assert!(
            prepare(b"RIFF\x24\0\0\0WAVEdata")
                .unwrap_err()
                .contains("format chunk")
        );
        assert!(
            prepare(b"\x7fELF\x02\x01\x01\0")
                .unwrap_err()
                .contains("ELF")
        );
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/assets/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn jpeg_and_webp_get_a_png_view_and_thumbnail() {
        let jpeg = prepare(&fixture("keep.jpg")).unwrap();
        assert_eq!((jpeg.kind, jpeg.size), (AssetType::Jpeg, (120, 80)));
        let view = decode_png(&jpeg.view.unwrap()).unwrap();
        assert_eq!((view.width, view.height), (120, 80));
        // The fixture's colours: red grows to the right (2 per pixel), green downwards.
        let at = |x: usize, y: usize| &view.pixels[(y * 120 + x) * 4..][..4];
        assert!(at(0, 0)[0] < 12 && at(119, 0)[0] > 225, "{:?}", at(119, 0));
        assert!(at(0, 79)[1] > 225 && at(0, 79)[3] == 255);
        let webp = prepare(&fixture("banner.webp")).unwrap();
        assert_eq!((webp.kind, webp.size), (AssetType::Webp, (3000, 200)));
        let view = decode_png(&webp.view.unwrap()).unwrap();
        assert_eq!((view.width, view.height), (VIEW_SIDE, 136));
        let thumb = decode_png(&webp.thumbnail.unwrap()).unwrap();
        assert_eq!((thumb.width, thumb.height), (256, 17));
        let ogg = prepare(
            &std::fs::read(format!(
                "{}/../assets/audio/library-rain.ogg",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!((ogg.kind, ogg.size), (AssetType::Ogg, (0, 0)));
        assert!(ogg.view.is_none() && ogg.thumbnail.is_none());
    }

    #[test]
    fn gray_and_rgb_pixels_become_rgba() {
        assert_eq!(to_rgba(&[9, 8], 1), vec![9, 9, 9, 255, 8, 8, 8, 255]);
        assert_eq!(to_rgba(&[9, 8], 2), vec![9, 9, 9, 8]);
        assert_eq!(to_rgba(&[1, 2, 3], 3), vec![1, 2, 3, 255]);
    }
}
