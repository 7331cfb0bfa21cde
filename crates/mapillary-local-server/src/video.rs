//! Checking a video upload: an MP4 (ISO base media file) that carries its
//! GPS track the way Mapillary reads it. The official client (0.14) turns
//! every video it sends (CAMM, GoPro, BlackVue, or any video geotagged from
//! a GPX file) into an MP4 with a CAMM track and finishes it as
//! `mly_camm_video`; older versions sent BlackVue videos as they are, as
//! `mly_blackvue_video`, whose GPS is a `gps ` box inside a top-level
//! `free` box.
//!
//! Only the boxes' structure is read, never the media: the top-level boxes
//! by seeking, `moov` and `free` into memory up to [`MAX_META_BOX`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::limits::format_size;

/// The largest `moov` or `free` box read into memory.
pub const MAX_META_BOX: u64 = 64 << 20;

/// The kinds of video `finish_upload` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoKind {
    /// `mly_camm_video`: an MP4 with a CAMM track.
    Camm,
    /// `mly_blackvue_video`: a BlackVue MP4 with its `free`/`gps ` box.
    BlackVue,
}

impl VideoKind {
    /// The kind a `file_type` names.
    pub fn from_file_type(t: &str) -> Option<VideoKind> {
        match t {
            "mly_camm_video" => Some(VideoKind::Camm),
            "mly_blackvue_video" => Some(VideoKind::BlackVue),
            _ => None,
        }
    }
}

/// What a video holds, as far as the server looks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VideoInfo {
    /// Its size in bytes.
    pub bytes: u64,
    /// The handler types of its tracks (`vide`, `soun`, `camm`, `meta`…).
    pub handlers: Vec<String>,
    /// The sample entry formats of its tracks (`avc1`, `camm`…).
    pub formats: Vec<String>,
    /// Whether a top-level `free` box holds a `gps ` box (BlackVue).
    pub blackvue_gps: bool,
}

impl VideoInfo {
    /// Whether it has a CAMM track.
    pub fn has_camm(&self) -> bool {
        self.handlers.iter().any(|h| h == "camm") || self.formats.iter().any(|f| f == "camm")
    }
}

fn fourcc(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

/// A box: its type and payload.
type Mp4Box<'a> = ([u8; 4], &'a [u8]);

/// The boxes in `data`.
fn children(data: &[u8]) -> Result<Vec<Mp4Box<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= data.len() {
        let size32 = u32::from_be_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
        let kind = [data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]];
        let (size, header) = match size32 {
            0 => ((data.len() - pos) as u64, 8usize),
            1 => {
                let Some(b) = data.get(pos + 8..pos + 16) else {
                    return Err(format!("a '{}' box is cut short", fourcc(&kind)));
                };
                let mut w = [0u8; 8];
                w.copy_from_slice(b);
                (u64::from_be_bytes(w), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header as u64 || pos as u64 + size > data.len() as u64 {
            return Err(format!(
                "its '{}' box has an impossible size",
                fourcc(&kind)
            ));
        }
        out.push((kind, &data[pos + header..pos + size as usize]));
        pos += size as usize;
    }
    Ok(out)
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, String> {
    Ok(children(data)?
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, p)| p))
}

fn read_tracks(moov: &[u8], info: &mut VideoInfo) -> Result<(), String> {
    for (kind, trak) in children(moov)? {
        if &kind != b"trak" {
            continue;
        }
        let Some(mdia) = child(trak, b"mdia")? else {
            continue;
        };
        // hdlr: version and flags (4), pre_defined (4), handler type (4).
        if let Some(hdlr) = child(mdia, b"hdlr")?
            && let Some(h) = hdlr.get(8..12)
        {
            info.handlers.push(fourcc(h));
        }
        let stsd = match child(mdia, b"minf")? {
            Some(minf) => match child(minf, b"stbl")? {
                Some(stbl) => child(stbl, b"stsd")?,
                None => None,
            },
            None => None,
        };
        // stsd: version and flags (4), entry count (4), then entries that
        // are boxes named by their format.
        if let Some(stsd) = stsd
            && let Some(entries) = stsd.get(8..)
        {
            for (format, _) in children(entries)? {
                info.formats.push(fourcc(&format));
            }
        }
    }
    Ok(())
}

fn read_box(f: &mut File, at: u64, len: u64, what: &str) -> Result<Vec<u8>, String> {
    if len > MAX_META_BOX {
        return Err(format!(
            "its '{what}' box is larger than {}",
            format_size(MAX_META_BOX)
        ));
    }
    f.seek(SeekFrom::Start(at))
        .map_err(|e| format!("cannot be read ({e})"))?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf)
        .map_err(|e| format!("cannot be read ({e})"))?;
    Ok(buf)
}

/// Reads the structure of the MP4 at `path`.
pub fn inspect(path: &Path) -> Result<VideoInfo, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let len = f
        .metadata()
        .map_err(|e| format!("cannot be read ({e})"))?
        .len();
    let mut info = VideoInfo {
        bytes: len,
        ..VideoInfo::default()
    };
    let mut pos = 0u64;
    let mut saw_moov = false;
    while pos < len {
        let mut header = [0u8; 16];
        let want = (len - pos).min(16) as usize;
        f.seek(SeekFrom::Start(pos))
            .and_then(|_| f.read_exact(&mut header[..want]))
            .map_err(|e| format!("cannot be read ({e})"))?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        if pos == 0 && (want < 8 || &kind != b"ftyp") {
            return Err("not an MP4 (it does not start with an ftyp box)".to_string());
        }
        if want < 8 {
            return Err(format!("it ends inside a box header at byte {pos}"));
        }
        let (size, head_len) = match size32 {
            0 => (len - pos, 8),
            1 if want == 16 => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&header[8..16]);
                (u64::from_be_bytes(w), 16)
            }
            1 => return Err(format!("it ends inside a box header at byte {pos}")),
            n => (u64::from(n), 8),
        };
        if size < head_len || pos.saturating_add(size) > len {
            return Err(format!(
                "its '{}' box at byte {pos} has an impossible size",
                fourcc(&kind)
            ));
        }
        match &kind {
            b"moov" => {
                let moov = read_box(&mut f, pos + head_len, size - head_len, "moov")?;
                read_tracks(&moov, &mut info)?;
                saw_moov = true;
            }
            b"free" => {
                let free = read_box(&mut f, pos + head_len, size - head_len, "free")?;
                // A free box is free-form; only a well-formed gps box counts.
                if let Ok(boxes) = children(&free) {
                    info.blackvue_gps |= boxes.iter().any(|(k, _)| k == b"gps ");
                }
            }
            _ => {}
        }
        pos += size;
    }
    if len == 0 {
        return Err("it is empty".to_string());
    }
    if !saw_moov {
        return Err("it has no moov box (an incomplete MP4)".to_string());
    }
    Ok(info)
}

/// Checks a video for `kind`.
pub fn check(path: &Path, kind: VideoKind) -> Result<VideoInfo, String> {
    let info = inspect(path)?;
    match kind {
        VideoKind::Camm if !info.has_camm() => Err(format!(
            "the video has no CAMM track, so no GPS track Mapillary can read (its tracks: {})",
            if info.handlers.is_empty() {
                "none".to_string()
            } else {
                info.handlers.join(", ")
            }
        )),
        VideoKind::BlackVue if !info.blackvue_gps => Err(
            "the video has no BlackVue GPS data (no 'gps ' box in a top-level 'free' box)"
                .to_string(),
        ),
        _ => Ok(info),
    }
}

/// Builds MP4 boxes (for tests and examples): `size, type, payload`.
pub fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A small MP4 with one track of `handler` type whose sample entry is
/// `format`, and `media` bytes of media data: the shape the checks read
/// (a stand-in for a real video in tests).
pub fn sample_mp4(handler: &[u8; 4], format: &[u8; 4], media: &[u8]) -> Vec<u8> {
    let mut hdlr = vec![0u8; 8];
    hdlr.extend_from_slice(handler);
    hdlr.extend_from_slice(&[0u8; 12]);
    hdlr.extend_from_slice(b"local\0");
    let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
    stsd.extend(mp4_box(format, &[0, 0, 0, 0, 0, 0, 0, 1]));
    let stbl = mp4_box(b"stbl", &mp4_box(b"stsd", &stsd));
    let minf = mp4_box(b"minf", &stbl);
    let mdia = mp4_box(b"mdia", &[mp4_box(b"hdlr", &hdlr), minf].concat());
    let moov = mp4_box(b"moov", &mp4_box(b"trak", &mdia));
    let mut ftyp = b"isom".to_vec();
    ftyp.extend_from_slice(&512u32.to_be_bytes());
    ftyp.extend_from_slice(b"isomiso2mp41");
    [mp4_box(b"ftyp", &ftyp), moov, mp4_box(b"mdat", media)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn camm_and_blackvue_videos_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let camm = write(dir.path(), "c.mp4", &sample_mp4(b"camm", b"camm", b"gps"));
        let info = check(&camm, VideoKind::Camm).unwrap();
        assert_eq!(info.handlers, ["camm"]);
        assert!(check(&camm, VideoKind::BlackVue).is_err());

        let plain = write(
            dir.path(),
            "v.mp4",
            &sample_mp4(b"vide", b"avc1", b"frames"),
        );
        let err = check(&plain, VideoKind::Camm).unwrap_err();
        assert!(
            err.contains("no CAMM track") && err.contains("vide"),
            "{err}"
        );

        let mut blackvue = sample_mp4(b"vide", b"avc1", b"frames");
        blackvue.extend(mp4_box(b"free", &mp4_box(b"gps ", b"[1]$GPRMC")));
        let bv = write(dir.path(), "b.mp4", &blackvue);
        assert!(check(&bv, VideoKind::BlackVue).unwrap().blackvue_gps);

        for (bytes, why) in [
            (b"not a video at all".to_vec(), "ftyp"),
            (mp4_box(b"ftyp", b"isom"), "no moov"),
            (
                [
                    mp4_box(b"ftyp", b"isom"),
                    vec![0, 0, 0xFF, 0, b'm', b'o', b'o', b'v'],
                ]
                .concat(),
                "impossible size",
            ),
            (Vec::new(), "empty"),
        ] {
            let p = write(dir.path(), "bad.mp4", &bytes);
            let err = inspect(&p).unwrap_err();
            assert!(err.contains(why), "{why}: {err}");
        }
    }

    #[test]
    fn damaged_videos_are_errors_never_panics() {
        let dir = tempfile::tempdir().unwrap();
        let mut good = sample_mp4(b"camm", b"camm", b"gps data");
        good.extend(mp4_box(b"free", &mp4_box(b"gps ", b"x")));
        let path = dir.path().join("v.mp4");
        // Every truncation, and every byte of the structure flipped.
        for end in 0..good.len() {
            std::fs::write(&path, &good[..end]).unwrap();
            let _ = inspect(&path);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xFF;
            std::fs::write(&path, &bad).unwrap();
            let _ = inspect(&path);
        }
        std::fs::write(&path, &good).unwrap();
        assert!(inspect(&path).is_ok());
    }
}
