//! Bounds on what a map file may ask of the loader, checked before the parsers run:
//! file size, nesting depth, declared map size and tile size. A map file is input from
//! outside; none of these may cost the server more than a refusal.

/// Largest map, tileset or template file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most tiles a map may have (width × height, or an infinite map's extent).
pub const MAX_TILES: u64 = 4_000_000;
/// Largest tile width or height, in pixels.
pub const MAX_TILE_PX: u32 = 1024;
/// Deepest nesting of group layers.
pub const MAX_GROUP_DEPTH: usize = 64;
/// Deepest nesting of XML elements of any kind in a TMX, TSX or TX file.
pub const MAX_XML_DEPTH: usize = 256;

/// Checks an XML file (TMX, TSX, TX) before it is parsed: element nesting, group
/// nesting, and the `<map>` element's declared size and tile size. Scans the bytes once
/// without building anything.
pub fn check_xml(bytes: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut groups = 0usize;
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        let start = i + offset;
        let rest = &bytes[start..];
        if rest.starts_with(b"<!--") {
            i = find(bytes, start + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with(b"<![CDATA[") {
            i = find(bytes, start + 9, b"]]>").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            i = find(bytes, start + 2, b">").map_or(bytes.len(), |e| e + 1);
            continue;
        }
        let end = tag_end(bytes, start + 1).ok_or("the XML ends inside a tag")?;
        let tag = &bytes[start + 1..end];
        i = end + 1;
        if let Some(name) = tag.strip_prefix(b"/") {
            depth = depth.saturating_sub(1);
            if element_name(name) == b"group" {
                groups = groups.saturating_sub(1);
            }
            continue;
        }
        let self_closing = tag.last() == Some(&b'/');
        let name = element_name(tag);
        if name == b"map" {
            check_map_attributes(tag)?;
        }
        if !self_closing {
            depth += 1;
            if depth > MAX_XML_DEPTH {
                return Err(format!(
                    "elements are nested more than {MAX_XML_DEPTH} deep; the file is damaged or hostile"
                ));
            }
            if name == b"group" {
                groups += 1;
                if groups > MAX_GROUP_DEPTH {
                    return Err(group_depth_error());
                }
            }
        }
    }
    Ok(())
}

/// The message for groups nested too deep, the same for both formats.
pub fn group_depth_error() -> String {
    format!("group layers are nested more than {MAX_GROUP_DEPTH} deep; flatten some groups")
}

/// Checks a map's declared size and tile size.
pub fn check_size(
    width: u32,
    height: u32,
    tile_width: u32,
    tile_height: u32,
) -> Result<(), String> {
    let tiles = u64::from(width) * u64::from(height);
    if tiles > MAX_TILES {
        return Err(format!(
            "the map is {width}x{height} tiles; at most {} million tiles are supported",
            MAX_TILES / 1_000_000
        ));
    }
    if tile_width > MAX_TILE_PX || tile_height > MAX_TILE_PX {
        return Err(format!(
            "the tiles are {tile_width}x{tile_height} px; at most {MAX_TILE_PX}x{MAX_TILE_PX} are supported"
        ));
    }
    Ok(())
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The index of the `>` that ends the tag starting at `from`, skipping quoted values.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate().skip(from) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn element_name(tag: &[u8]) -> &[u8] {
    let end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(tag.len());
    &tag[..end]
}

/// The value of attribute `name` in a tag's text.
fn attribute<'a>(tag: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(tag).ok()?;
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let before_ok = at > 0 && rest.as_bytes()[at - 1].is_ascii_whitespace();
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            let value = &value[1..];
            return value.find(quote).map(|end| &value[..end]);
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn check_map_attributes(tag: &[u8]) -> Result<(), String> {
    let number = |name: &str| -> Result<u32, String> {
        match attribute(tag, name) {
            None => Ok(0),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("the map's `{name}` is `{v}`, not a whole number")),
        }
    };
    check_size(
        number("width")?,
        number("height")?,
        number("tilewidth")?,
        number("tileheight")?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_tmx_passes() {
        let tmx = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <tags> -->
<map version="1.10" orientation="orthogonal" width="40" height="30" tilewidth="32" tileheight="32">
 <properties><property name="note" value="a &gt; b > c"/></properties>
 <group name="g"><group name="h"><layer name="l" width="40" height="30"><data encoding="csv">1,2</data></layer></group></group>
</map>"#;
        check_xml(tmx).unwrap();
    }

    #[test]
    fn declared_size_is_checked_before_parsing() {
        let huge = br#"<map orientation="orthogonal" width="60000" height="60000" tilewidth="32" tileheight="32"></map>"#;
        let e = check_xml(huge).unwrap_err();
        assert!(e.contains("60000x60000 tiles"), "{e}");
        let tiles = br#"<map width="10" height="10" tilewidth="100000" tileheight="32"></map>"#;
        assert!(check_xml(tiles).unwrap_err().contains("100000x32 px"));
        let nonsense = br#"<map width="-5" height="10"></map>"#;
        assert!(check_xml(nonsense).unwrap_err().contains("`width` is `-5`"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut groups = String::from("<map width=\"1\" height=\"1\">");
        groups.push_str(&"<group>".repeat(5000));
        let e = check_xml(groups.as_bytes()).unwrap_err();
        assert!(e.contains("nested more than 64"), "{e}");
        let mut elements = String::new();
        elements.push_str(&"<properties>".repeat(300));
        let e = check_xml(elements.as_bytes()).unwrap_err();
        assert!(e.contains("nested more than 256"), "{e}");
        // Closed groups do not add up.
        let siblings = "<group></group>".repeat(1000);
        check_xml(siblings.as_bytes()).unwrap();
    }
}
