//! The EXIF tags the tools read or write, with the IFD each lives in.

/// The IFDs the tools edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IfdKind {
    /// IFD0, the main image's directory.
    Main,
    /// The EXIF sub-IFD.
    Exif,
    /// The GPS sub-IFD.
    Gps,
}

impl IfdKind {
    /// The name exiftool gives this IFD (its `-G1` group).
    pub fn name(self) -> &'static str {
        match self {
            IfdKind::Main => "IFD0",
            IfdKind::Exif => "ExifIFD",
            IfdKind::Gps => "GPS",
        }
    }
}

/// An EXIF tag: where it lives, its number and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    /// The IFD that holds it.
    pub ifd: IfdKind,
    /// Its number.
    pub id: u16,
    /// Its EXIF name, for messages.
    pub name: &'static str,
}

macro_rules! tags {
    ($($(#[$doc:meta])* $const:ident = $ifd:ident, $id:literal, $name:literal;)*) => {
        $($(#[$doc])* pub const $const: Tag = Tag { ifd: IfdKind::$ifd, id: $id, name: $name };)*
    };
}

tags! {
    /// Free-text description; Mapillary keeps its JSON description here.
    IMAGE_DESCRIPTION = Main, 0x010E, "ImageDescription";
    /// Camera maker.
    MAKE = Main, 0x010F, "Make";
    /// Camera model.
    MODEL = Main, 0x0110, "Model";
    /// Orientation, 1–8.
    ORIENTATION = Main, 0x0112, "Orientation";
    /// File change time, `YYYY:MM:DD HH:MM:SS`, camera-local.
    DATE_TIME = Main, 0x0132, "DateTime";
    /// EXIF version, four ASCII digits as UNDEFINED.
    EXIF_VERSION = Exif, 0x9000, "ExifVersion";
    /// Capture time, `YYYY:MM:DD HH:MM:SS`, camera-local.
    DATE_TIME_ORIGINAL = Exif, 0x9003, "DateTimeOriginal";
    /// Digitisation time, camera-local.
    DATE_TIME_DIGITIZED = Exif, 0x9004, "DateTimeDigitized";
    /// Zone of DateTime, `±HH:MM`.
    OFFSET_TIME = Exif, 0x9010, "OffsetTime";
    /// Zone of DateTimeOriginal, `±HH:MM`.
    OFFSET_TIME_ORIGINAL = Exif, 0x9011, "OffsetTimeOriginal";
    /// Zone of DateTimeDigitized, `±HH:MM`.
    OFFSET_TIME_DIGITIZED = Exif, 0x9012, "OffsetTimeDigitized";
    /// Fraction of a second of DateTime, as decimal digits.
    SUB_SEC_TIME = Exif, 0x9290, "SubSecTime";
    /// Fraction of a second of DateTimeOriginal, as decimal digits.
    SUB_SEC_TIME_ORIGINAL = Exif, 0x9291, "SubSecTimeOriginal";
    /// Fraction of a second of DateTimeDigitized, as decimal digits.
    SUB_SEC_TIME_DIGITIZED = Exif, 0x9292, "SubSecTimeDigitized";
    /// The camera body's serial number, ASCII (EXIF 2.3; exiftool calls it
    /// SerialNumber). Some writers put it in IFD0 instead.
    BODY_SERIAL_NUMBER = Exif, 0xA431, "BodySerialNumber";
    /// The lens's serial number, ASCII (EXIF 2.3). Some writers put it in
    /// IFD0 instead.
    LENS_SERIAL_NUMBER = Exif, 0xA435, "LensSerialNumber";
    /// Adobe's private serial number tag (0xFDE9), which some raw
    /// converters write into the EXIF IFD.
    ADOBE_SERIAL_NUMBER = Exif, 0xFDE9, "SerialNumber";
    /// GPS tag version, BYTE[4].
    GPS_VERSION_ID = Gps, 0x0000, "GPSVersionID";
    /// `N` or `S`.
    GPS_LATITUDE_REF = Gps, 0x0001, "GPSLatitudeRef";
    /// Degrees, minutes, seconds as RATIONAL[3].
    GPS_LATITUDE = Gps, 0x0002, "GPSLatitude";
    /// `E` or `W`.
    GPS_LONGITUDE_REF = Gps, 0x0003, "GPSLongitudeRef";
    /// Degrees, minutes, seconds as RATIONAL[3].
    GPS_LONGITUDE = Gps, 0x0004, "GPSLongitude";
    /// 0 above sea level, 1 below.
    GPS_ALTITUDE_REF = Gps, 0x0005, "GPSAltitudeRef";
    /// Metres, RATIONAL.
    GPS_ALTITUDE = Gps, 0x0006, "GPSAltitude";
    /// UTC time of day, hours/minutes/seconds as RATIONAL[3].
    GPS_TIME_STAMP = Gps, 0x0007, "GPSTimeStamp";
    /// `T` (true north) or `M` (magnetic north), for GPSTrack.
    GPS_TRACK_REF = Gps, 0x000E, "GPSTrackRef";
    /// Direction of movement, degrees, RATIONAL.
    GPS_TRACK = Gps, 0x000F, "GPSTrack";
    /// `T` (true north) or `M` (magnetic north).
    GPS_IMG_DIRECTION_REF = Gps, 0x0010, "GPSImgDirectionRef";
    /// Degrees, RATIONAL.
    GPS_IMG_DIRECTION = Gps, 0x0011, "GPSImgDirection";
    /// Geodetic datum, e.g. `WGS-84`.
    GPS_MAP_DATUM = Gps, 0x0012, "GPSMapDatum";
    /// UTC date, `YYYY:MM:DD`.
    GPS_DATE_STAMP = Gps, 0x001D, "GPSDateStamp";
}
