//! Why a photo was skipped or failed, as values: each reason is a variant
//! of an enum of the concern it comes from (the track: before or after it,
//! in a gap; the description: a tag missing; ...), with a stable code for
//! scripts (`--json`) and its words for people, written once, in its
//! `Display`.

use std::fmt;

/// A reason a photo was skipped or failed.
pub trait Reason: fmt::Display + fmt::Debug + Send + Sync {
    /// A stable, machine-readable name (`before_track`, `no_capture_time`),
    /// the same for every photo skipped for this kind of reason.
    fn code(&self) -> &'static str;

    /// What photos skipped for this reason have in common, for one line
    /// about them all ("before the track starts"); by default the words of
    /// this photo's reason.
    fn group(&self) -> String {
        self.to_string()
    }
}

/// A reason given as words only (a tool's own decision that no enum
/// names yet), under a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// The code.
    pub code: &'static str,
    /// The words.
    pub text: String,
}

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Reason for Plain {
    fn code(&self) -> &'static str {
        self.code
    }
}

impl Reason for crate::track::Miss {
    fn code(&self) -> &'static str {
        use crate::track::Miss;
        match self {
            Miss::BeforeStart { .. } => "before_track",
            Miss::AfterEnd { .. } => "after_track",
            Miss::InGap { .. } => "in_track_gap",
        }
    }
    fn group(&self) -> String {
        use crate::track::Miss;
        match self {
            Miss::BeforeStart { .. } => "before the track starts".to_string(),
            Miss::AfterEnd { .. } => "after the track ends".to_string(),
            Miss::InGap { .. } => "in gaps of the track (see --max-gap)".to_string(),
        }
    }
}

impl Reason for crate::description::DescriptionError {
    fn code(&self) -> &'static str {
        use crate::description::DescriptionError as E;
        match self {
            E::NotJson(_) => "description_not_json",
            E::MissingTag(_) => "missing_tag",
            E::BadTag(..) => "bad_tag",
            E::BadKey(_) => "bad_description_key",
            E::Schema { .. } => "description_schema",
            E::MetaTagsConflict(_) => "meta_tags_conflict",
        }
    }
    fn group(&self) -> String {
        use crate::description::DescriptionError as E;
        match self {
            E::MissingTag(tag) => format!("no {tag}"),
            _ => self.to_string(),
        }
    }
}

impl Reason for crate::files::replace::ReplaceError {
    fn code(&self) -> &'static str {
        use crate::files::replace::ReplaceError as E;
        match self {
            E::Io { .. } => "file_error",
            E::NotAFile => "not_a_file",
            E::ReadOnly { .. } => "read_only",
            E::OtherOwner { .. } => "other_owner",
            E::OwnerNotKept { .. } => "owner_not_kept",
            E::AttributeNotKept { .. } => "attribute_not_kept",
            E::Locked => "locked",
            E::ChangedMeanwhile => "changed_meanwhile",
            E::AlreadyExists(_) => "already_exists",
        }
    }
}

impl Reason for crate::exif::RewriteError {
    fn code(&self) -> &'static str {
        use crate::exif::RewriteError as E;
        use crate::exif::WriteError as W;
        match self {
            E::File(e) => e.code(),
            E::Jpeg(_) => "not_jpeg",
            E::Incomplete => "incomplete",
            E::Write(W::Tiff(_) | W::ValueOutsideBlock { .. }) => "corrupt_exif",
            E::Write(W::TooLarge { .. }) => "exif_too_large",
            E::Write(W::MpfBeforeExif) => "mpf_before_exif",
            E::Write(W::AbsoluteOffsetTrailer(_)) => "absolute_offset_trailer",
            E::Write(W::Verify(_)) | E::ReadBack(_) => "not_verified",
        }
    }
}

impl Reason for crate::exif::ExifError {
    fn code(&self) -> &'static str {
        use crate::exif::ExifError as E;
        match self {
            E::Io(_) => "file_error",
            E::Jpeg(_) => "not_jpeg",
            E::Tiff(_) => "corrupt_exif",
        }
    }
}

/// A photo lacks what a tool needs, or has it out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// No GPS position (GPSLatitude and GPSLongitude).
    NoPosition,
    /// No Mapillary description in its ImageDescription.
    NoDescription,
    /// No Mapillary description with a sequence (what `upload` sends).
    NoSequence,
    /// The time offset moves the capture time out of the supported range.
    TimeOutOfRange,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unusable::NoPosition => "no GPS position",
            Unusable::NoDescription => {
                "no Mapillary description (run add_mapillary_tag_from_exif first)"
            }
            Unusable::NoSequence => {
                "no Mapillary description with a MAPSequenceUUID (for photos from other cameras use upload_with_authentication, or add_mapillary_tag_from_exif first)"
            }
            Unusable::TimeOutOfRange => "the time offset moves the capture time out of range",
        })
    }
}

impl Reason for Unusable {
    fn code(&self) -> &'static str {
        match self {
            Unusable::NoPosition => "no_position",
            Unusable::NoDescription => "no_description",
            Unusable::NoSequence => "no_sequence",
            Unusable::TimeOutOfRange => "time_out_of_range",
        }
    }
}

/// A photo a tool will not take as it is, though it could be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// It already holds a Mapillary description (with its own sequence):
    /// `upload` sends such photos; building a new description would lose
    /// what it holds.
    HoldsDescription,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refused::HoldsDescription => "already holds a Mapillary description: use upload",
        })
    }
}

impl Reason for Refused {
    fn code(&self) -> &'static str {
        match self {
            Refused::HoldsDescription => "holds_description",
        }
    }
}

impl Reason for crate::files::MoveError {
    fn code(&self) -> &'static str {
        use crate::files::MoveError as E;
        match self {
            E::DestinationExists(_) => "destination_exists",
            E::Failed(e) => e.code(),
        }
    }
}

impl Reason for crate::download::Refused {
    fn code(&self) -> &'static str {
        use crate::download::Refused as R;
        match self {
            R::NoId => "no_id",
            R::NotPlainId(_) => "not_plain_id",
            R::NoPosition(_) => "no_position",
            R::NoThumbnail { .. } => "no_thumbnail",
        }
    }
}

impl Reason for crate::download::DownloadError {
    fn code(&self) -> &'static str {
        use crate::api::ApiError as A;
        use crate::download::DownloadError as E;
        match self {
            E::Api(A::Refused { .. }) => "server_refused",
            E::Api(A::ServerFailing { .. }) => "server_failing",
            E::Api(A::TimedOut { .. } | A::NoProgress { .. }) => "too_slow",
            E::Api(A::Unreachable { .. }) => "unreachable",
            E::Api(A::BodyTooLarge { .. }) => "too_large",
            E::Api(A::UnsupportedScheme { .. } | A::BadUrl { .. }) => "bad_url",
            E::Api(A::Interrupted) => "interrupted",
            E::Api(_) => "bad_answer",
            E::Io(_) => "file_error",
            E::NotJpeg => "not_jpeg",
            E::Incomplete { .. } => "incomplete",
            E::File(e) => e.code(),
        }
    }
}
