//! Thumbnails of seeded images: small valid JPEGs, different for every
//! image and size (the colour comes from the id; an APP15 segment names id
//! and size), so that clients can tell them apart.

use md5::{Digest, Md5};

/// The width and height served for a thumbnail size name.
pub fn dimensions(size: &str) -> Option<(u16, u16)> {
    match size {
        "256" => Some((32, 24)),
        "1024" => Some((64, 48)),
        "2048" => Some((96, 72)),
        "original" => Some((128, 96)),
        _ => None,
    }
}

/// A thumbnail for image `id` at `size`.
pub fn thumbnail(id: &str, size: &str) -> Option<Vec<u8>> {
    let (w, h) = dimensions(size)?;
    let digest = Md5::digest(id.as_bytes());
    let (r, g, b) = (digest[0], digest[1], digest[2]);
    let mut pixels = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..h {
        for x in 0..w {
            // A gentle gradient over the image's own colour.
            let shade = ((u32::from(x) + u32::from(y)) % 64) as u8;
            pixels.extend([r.wrapping_add(shade), g, b.wrapping_sub(shade)]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
    encoder
        .add_app_segment(
            15,
            format!("mapillary-local-server image {id} size {size}").into_bytes(),
        )
        .ok()?;
    encoder
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_are_distinct_jpegs() {
        let a = thumbnail("1", "1024").unwrap();
        let b = thumbnail("2", "1024").unwrap();
        let c = thumbnail("1", "256").unwrap();
        assert!(a.starts_with(&[0xFF, 0xD8]) && a.ends_with(&[0xFF, 0xD9]));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(thumbnail("1", "99"), None);
    }
}
