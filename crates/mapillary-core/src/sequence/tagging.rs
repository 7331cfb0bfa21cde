//! The sequences of a tagging run (add_mapillary_tag_from_exif): the rules
//! form them from what every photo's head says, then each photo is
//! rewritten with its sequence's MAPSequenceUUID, if it still says the
//! same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::new_sequence_uuid;
use super::rules::{Finding, Forming, Rules};
use crate::description::{self, Description, DescriptionError};
use crate::exif::{Decision, ExifEdits, PhotoExif, tags};
use crate::reason::Reason;
use crate::upload::{PlannedImage, form_sequences};

/// What a tagging run writes.
#[derive(Debug, Clone, Default)]
pub struct TaggingPlan {
    /// The description each photo of a sequence gets, with its
    /// MAPSequenceUUID, by path.
    pub descriptions: BTreeMap<PathBuf, Description>,
    /// Photos left out that hold the MAPSequenceUUID of an earlier run:
    /// it is removed, so that upload does not send them with it.
    pub untag: Vec<PathBuf>,
    /// The sequences' ids, in order of their first photo.
    pub sequences: Vec<String>,
    /// What the rules found.
    pub findings: Vec<Finding>,
}

/// Whether a photo's description holds a MAPSequenceUUID.
pub fn holds_sequence(exif: &PhotoExif) -> bool {
    exif.image_description
        .as_deref()
        .and_then(|t| Description::parse(t).ok())
        .is_some_and(|d| d.sequence_uuid().is_some())
}

/// Plans a tagging run over `images` (each with whether its photo holds
/// a MAPSequenceUUID already): without `chosen`, the photos are cut into
/// sequences ([`Forming::Cut`]), each with a new random UUID; with it, they
/// are one sequence of that id ([`Forming::One`]: upload sends it in parts
/// where it exceeds a limit).
pub fn plan(images: Vec<(PlannedImage, bool)>, rules: &Rules, chosen: Option<&str>) -> TaggingPlan {
    let tagged_before: Vec<PathBuf> = images
        .iter()
        .filter(|(_, earlier)| *earlier)
        .map(|(image, _)| image.path.clone())
        .collect();
    let forming = if chosen.is_some() {
        Forming::One
    } else {
        Forming::Cut
    };
    let formed = form_sequences(
        images.into_iter().map(|(image, _)| image).collect(),
        rules,
        forming,
    );
    let untag = formed
        .left_out
        .iter()
        .map(|i| i.path.clone())
        .filter(|p| tagged_before.contains(p))
        .collect();
    let findings = formed.findings.clone();
    let mut sequences = Vec::new();
    let descriptions = formed
        .named(|_| {
            let id = chosen.map_or_else(new_sequence_uuid, str::to_string);
            sequences.push(id.clone());
            id
        })
        .into_iter()
        .map(|i| (i.path, i.description))
        .collect();
    sequences.dedup();
    TaggingPlan {
        descriptions,
        untag,
        sequences,
        findings,
    }
}

/// Why a photo the rules chose was not tagged (or untagged) after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotTagged {
    /// Its EXIF changed between the rules' reading and the rewrite.
    ChangedSinceRead,
    /// It was to lose an earlier run's sequence, but holds none now.
    NoSequenceAnyMore,
    /// The rules put it in no sequence.
    InNoSequence,
}

impl std::fmt::Display for NotTagged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotTagged::ChangedSinceRead => "changed since it was read; run again",
            NotTagged::NoSequenceAnyMore => "holds no sequence any more",
            NotTagged::InNoSequence => "in no sequence",
        })
    }
}

impl Reason for NotTagged {
    fn code(&self) -> &'static str {
        match self {
            NotTagged::ChangedSinceRead => "changed_since_read",
            NotTagged::NoSequenceAnyMore => "no_sequence_any_more",
            NotTagged::InNoSequence => "in_no_sequence",
        }
    }
}

/// The edit of a photo that is to get `want`: `fresh`, the description its
/// EXIF gives now, must be `want` (else the photo changed since the rules
/// saw it, and is left alone).
pub fn write_if_unchanged(
    fresh: Result<Description, DescriptionError>,
    want: &Description,
) -> Decision {
    match fresh {
        Ok(d) if d == *want => {
            let mut edits = ExifEdits::new();
            edits.set_text(tags::IMAGE_DESCRIPTION, &d.to_json());
            Decision::Write(edits)
        }
        Ok(_) => Decision::skip(NotTagged::ChangedSinceRead),
        Err(e) => Decision::skip(e),
    }
}

/// The edit that takes MAPSequenceUUID out of a photo's description (for
/// a photo left out), keeping every other key.
pub fn without_sequence(exif: &PhotoExif) -> Decision {
    let Some(mut d) = exif
        .image_description
        .as_deref()
        .and_then(|t| Description::parse(t).ok())
        .filter(|d| d.sequence_uuid().is_some())
    else {
        return Decision::skip(NotTagged::NoSequenceAnyMore);
    };
    d.remove(description::SEQUENCE_UUID);
    let mut edits = ExifEdits::new();
    edits.set_text(tags::IMAGE_DESCRIPTION, &d.to_json());
    Decision::Write(edits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sequence::frame::PhotoFacts;

    fn image(name: &str, second: u32, north: f64) -> PlannedImage {
        let d = Description::parse(&format!(
            r#"{{"MAPLatitude":{},"MAPLongitude":13.4,"MAPCaptureTime":"2021_06_01_10_{:02}_{:02}_000","MAPSequenceUUID":""}}"#,
            52.5 + north / 111_250.0,
            second / 60,
            second % 60
        ))
        .unwrap();
        PlannedImage::new(name.as_ref(), d, PhotoFacts::default()).unwrap()
    }

    #[test]
    fn cuts_get_new_ids_a_chosen_id_is_one_sequence() {
        let images = || {
            vec![
                (image("a", 0, 0.0), false),
                (image("b", 2, 2.0), true),
                (image("c", 4, 2.0), true), // a duplicate of b
                (image("d", 600, 4.0), false),
            ]
        };
        let p = plan(images(), &Rules::default(), None);
        assert_eq!(p.sequences.len(), 2);
        assert_eq!(p.untag, [PathBuf::from("c")]);
        let id = |name: &str| {
            p.descriptions[&PathBuf::from(name)]
                .sequence_uuid()
                .unwrap()
                .to_string()
        };
        assert_eq!(id("a"), id("b"));
        assert_ne!(id("a"), id("d"));
        assert!(!p.descriptions.contains_key(&PathBuf::from("c")));
        let chosen = plan(images(), &Rules::default(), Some("mine"));
        assert_eq!(chosen.sequences, ["mine"]);
        assert_eq!(chosen.descriptions.len(), 3);
    }

    #[test]
    fn edits() {
        let want = image("a", 0, 0.0).description;
        assert!(matches!(
            write_if_unchanged(Ok(want.clone()), &want),
            Decision::Write(_)
        ));
        let moved = image("a", 0, 5.0).description;
        match write_if_unchanged(Ok(moved), &want) {
            Decision::Skip(why) => {
                assert_eq!(why.to_string(), "changed since it was read; run again");
                assert_eq!(why.reason().code(), "changed_since_read");
            }
            other => panic!("{other:?}"),
        }
        let exif = PhotoExif {
            image_description: Some(r#"{"MAPSequenceUUID":"old","MAPFoo":1}"#.to_string()),
            ..PhotoExif::default()
        };
        assert!(holds_sequence(&exif));
        match without_sequence(&exif) {
            Decision::Write(edits) => {
                let written: Vec<_> = edits.changes().collect();
                assert_eq!(written.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            without_sequence(&PhotoExif::default()),
            Decision::Skip(_)
        ));
    }
}
