//! The page a person looks at (`GET /`, `/local`): the received sequences
//! on the map of `mapillary_core::map` (each image at its MAPLatitude and
//! MAPLongitude, looking its MAPCompassHeading, one colour per sequence,
//! joined in capture-time order), and below it each sequence with its
//! user, organization, photos and video.
//!
//! Everything a client sent (file names in MAPFilename, descriptions) is
//! shown as text by the renderer; the page loads nothing but the server's
//! own stored files.

use std::path::PathBuf;

use jiff::Timestamp;
use mapillary_core::description::parse_capture_time;
use mapillary_core::geo::LatLon;
use mapillary_core::map::{
    Figure, LocalPath, MapPage, Media, PlacedPhoto, Section, SkippedPhoto, Span, render,
};
use serde_json::Value;

use crate::limits::format_size;
use crate::state::{SequenceRecord, StoredImage};

/// The page of `sequences` (in the order they were received).
pub fn page(sequences: &[SequenceRecord]) -> String {
    let mut photos = Vec::new();
    let mut skipped = Vec::new();
    for s in sequences {
        for img in &s.images {
            match placed(s, img) {
                Ok(p) => photos.push(p),
                Err(reason) => skipped.push(SkippedPhoto {
                    name: PathBuf::from(name(img)),
                    reason: format!("in sequence {}: {reason}", s.cluster_id),
                    cause: None,
                }),
            }
        }
    }
    let images: usize = sequences.iter().map(|s| s.images.len()).sum();
    let videos = sequences.iter().filter(|s| s.video.is_some()).count();
    let notes = if sequences.is_empty() {
        vec![
            "No sequence received yet: the map fills as uploads are finished (finish_upload)."
                .to_string(),
        ]
    } else {
        vec![format!(
            "{} received: {}, {}.",
            plural(sequences.len(), "sequence", "sequences"),
            plural(images, "photo", "photos"),
            plural(videos, "video", "videos"),
        )]
    };
    let mut sections = vec![listing(videos)];
    // The newest first, as someone watching an upload wants to see it.
    sections.extend(sequences.iter().rev().map(section));
    render(&MapPage {
        title: "Mapillary local server".to_string(),
        notes,
        photos,
        skipped,
        sections,
        ..MapPage::default()
    })
}

/// How an image is named: the file name its client gave (MAPFilename),
/// else its file in the sequence folder.
fn name(img: &StoredImage) -> String {
    match img.description["MAPFilename"].as_str() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => img.file.clone(),
    }
}

/// Where and when an image was taken, from its description, or why it
/// cannot be drawn (a sequence folder restored from elsewhere may hold
/// anything).
fn placed(s: &SequenceRecord, img: &StoredImage) -> Result<PlacedPhoto, String> {
    let d = &img.description;
    let (Some(lat), Some(lon)) = (d["MAPLatitude"].as_f64(), d["MAPLongitude"].as_f64()) else {
        return Err("no MAPLatitude and MAPLongitude".to_string());
    };
    if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
        return Err(format!("no position on the Earth ({lat}, {lon})"));
    }
    let time = capture_time(d)?;
    let direction = d["MAPCompassHeading"]["TrueHeading"]
        .as_f64()
        .filter(|h| h.is_finite())
        .map(|h| h.rem_euclid(360.0));
    Ok(PlacedPhoto {
        name: PathBuf::from(name(img)),
        position: LatLon::new(lat, lon),
        direction,
        time,
        sequence: Some(s.cluster_id.clone()),
    })
}

/// MAPCaptureTime (UTC) as an instant.
fn capture_time(d: &Value) -> Result<Timestamp, String> {
    let text = d["MAPCaptureTime"].as_str().unwrap_or("");
    parse_capture_time(text).ok_or_else(|| format!("MAPCaptureTime '{text}' is not a time"))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A path of this server (its segments are the server's own names).
fn local(segments: &[&str]) -> Option<LocalPath> {
    LocalPath::new(segments)
}

fn link(text: &str, segments: &[&str]) -> Option<Span> {
    local(segments).map(|to| Span::Link {
        text: text.to_string(),
        to,
    })
}

/// The section that says where the data is.
fn listing(videos: usize) -> Section {
    let mut paragraph: Vec<Span> = vec![Span::Text("As JSON: ".to_string())];
    paragraph.extend(link("/local/sequences", &["local", "sequences"]));
    paragraph.push(Span::Text(
        " (the sequences with their images' descriptions), ".to_string(),
    ));
    paragraph.extend(link("/local/stats", &["local", "stats"]));
    paragraph.push(Span::Text(" (the server's counters).".to_string()));
    let mut paragraphs = vec![paragraph];
    if videos > 0 {
        paragraphs.push(vec![Span::Text(
            "Videos are listed below but not drawn: the server keeps a video as it was received \
             and does not read the GPS track inside it."
                .to_string(),
        )]);
    }
    Section {
        heading: "Received".to_string(),
        paragraphs,
        ..Section::default()
    }
}

/// One sequence: what it is, who sent it, and its photos or its video.
fn section(s: &SequenceRecord) -> Section {
    let what = match &s.video {
        Some(v) => format!("a video of {}", format_size(v.bytes)),
        None => plural(s.images.len(), "photo", "photos"),
    };
    let mut about = vec![
        Span::Text(format!("{what}, ")),
        Span::Name(s.file_type.clone()),
        Span::Text(", user ".to_string()),
        Span::Name(s.user_id.clone()),
    ];
    if let Some(o) = &s.organization_id {
        about.push(Span::Text(", organization ".to_string()));
        about.push(Span::Name(o.clone()));
    }
    // Written by the server as RFC 3339; shown to the second, as on the map.
    let received = s.received_at.parse::<Timestamp>().map_or_else(
        |_| s.received_at.clone(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    about.push(Span::Text(format!(", received {received}.")));
    let mut figures: Vec<Figure> = s
        .images
        .iter()
        .filter_map(|img| {
            let src = local(&["local", "sequences", &s.cluster_id, &img.file])?;
            let name = name(img);
            let time = capture_time(&img.description)
                .map(|t| t.strftime("%Y-%m-%d %H:%M:%S%.f UTC").to_string())
                .unwrap_or_else(|e| e);
            Some(Figure {
                media: Media::Image {
                    src,
                    alt: name.clone(),
                },
                caption: vec![Span::Name(name), Span::Text(format!(" {time}"))],
            })
        })
        .collect();
    if let Some(v) = &s.video
        && let Some(src) = local(&["local", "sequences", &s.cluster_id, &v.file])
    {
        figures.push(Figure {
            media: Media::Video { src: src.clone() },
            caption: vec![
                Span::Link {
                    text: v.file.clone(),
                    to: src,
                },
                Span::Text(format!(" {} bytes", v.bytes)),
            ],
        });
    }
    Section {
        heading: format!("Sequence {}", s.cluster_id),
        sequence: (!s.images.is_empty()).then(|| s.cluster_id.clone()),
        paragraphs: vec![about],
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StoredVideo;
    use serde_json::json;

    fn record(cluster: &str, images: Vec<StoredImage>) -> SequenceRecord {
        SequenceRecord {
            cluster_id: cluster.to_string(),
            user_id: "100001".to_string(),
            organization_id: Some("200001".to_string()),
            file_type: "mly_bundle_manifest".to_string(),
            file_handle: format!("h.{cluster}"),
            received_at: "2024-03-01T09:00:00Z".to_string(),
            images,
            video: None,
        }
    }

    fn image(file: &str, description: Value) -> StoredImage {
        StoredImage {
            id: "1".to_string(),
            file: file.to_string(),
            bytes: 10,
            description,
            width: 64,
            height: 48,
            upload_key: None,
        }
    }

    #[test]
    fn images_are_placed_from_their_descriptions_and_named_by_their_client() {
        let s = record("7000001", Vec::new());
        let img = image(
            "0.jpg",
            json!({"MAPLatitude": 52.5, "MAPLongitude": 13.4,
                   "MAPCaptureTime": "2021_06_01_10_00_05_250",
                   "MAPCompassHeading": {"TrueHeading": -90.0, "MagneticHeading": 0.0},
                   "MAPFilename": "IMG_1.jpg"}),
        );
        let p = placed(&s, &img).unwrap();
        assert_eq!(p.name, PathBuf::from("IMG_1.jpg"));
        assert_eq!(p.position, LatLon::new(52.5, 13.4));
        assert_eq!(p.direction, Some(270.0));
        assert_eq!(
            p.time,
            "2021-06-01T10:00:05.25Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(p.sequence.as_deref(), Some("7000001"));
        let plain = image(
            "3.jpg",
            json!({"MAPLatitude": 1, "MAPLongitude": 2, "MAPCaptureTime": "2021_06_01_10_00_05_000"}),
        );
        let p = placed(&s, &plain).unwrap();
        assert_eq!((p.name, p.direction), (PathBuf::from("3.jpg"), None));
        let bad_time = image(
            "4.jpg",
            json!({"MAPLatitude": 1, "MAPLongitude": 2, "MAPCaptureTime": "2021_13_45_10_00_05_000"}),
        );
        assert_eq!(
            placed(&s, &bad_time).unwrap_err(),
            "MAPCaptureTime '2021_13_45_10_00_05_000' is not a time"
        );
        let nowhere = image(
            "5.jpg",
            json!({"MAPCaptureTime": "2021_06_01_10_00_05_000"}),
        );
        assert!(placed(&s, &nowhere).is_err());
    }

    #[test]
    fn the_page_keeps_what_the_server_showed_and_lists_images_it_cannot_draw() {
        let good = json!({"MAPLatitude": 52.5, "MAPLongitude": 13.4,
                          "MAPCaptureTime": "2021_06_01_10_00_05_000"});
        let broken = json!({"MAPLatitude": 52.5, "MAPLongitude": 13.4,
                            "MAPCaptureTime": "2021_02_30_10_00_05_000"});
        let mut video = record("7000002", Vec::new());
        video.file_type = "mly_camm_video".to_string();
        video.organization_id = None;
        video.video = Some(StoredVideo {
            file: "video.mp4".to_string(),
            bytes: 5000,
        });
        let html = page(&[
            record(
                "7000001",
                vec![image("0.jpg", good), image("1.jpg", broken)],
            ),
            video,
        ]);
        assert!(html.contains("<p class=\"note\">2 sequences received: 2 photos, 1 video.</p>"));
        assert!(
            html.contains(
                "<p class=\"counts\">1 photo on the map in 1 sequence, 1 not placed.</p>"
            )
        );
        assert!(html.contains(
            "<span class=\"name\">1.jpg</span>: <span class=\"reason\">in sequence 7000001: \
             MAPCaptureTime &#39;2021_02_30_10_00_05_000&#39; is not a time</span>"
        ));
        assert!(html.contains("<img src=\"/local/sequences/7000001/0.jpg\" alt=\"0.jpg\""));
        assert!(html.contains("src=\"/local/sequences/7000002/video.mp4\""));
        assert!(html.contains("a video of "));
        assert!(html.contains(
            "organization <span class=\"name\">200001</span>, received 2024-03-01 09:00:00 UTC."
        ));
        assert!(html.contains("Besides the pictures below, from the server that serves this page"));
        assert!(html.contains("<a href=\"/local/sequences\">/local/sequences</a>"));
        assert!(html.contains("<a href=\"/local/stats\">/local/stats</a>"));
        assert!(html.contains("does not read the GPS track"));
        // The newest sequence first.
        assert!(html.find("Sequence 7000002").unwrap() < html.find("Sequence 7000001").unwrap());
    }

    #[test]
    fn an_empty_server_says_so() {
        let html = page(&[]);
        assert!(html.contains("No sequence received yet"));
        assert!(html.contains("<p class=\"counts\">0 photos on the map.</p>"));
        assert!(!html.contains("'self'"));
        assert!(html.contains("Nothing else is ever loaded"));
    }
}
