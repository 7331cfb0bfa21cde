//! What the server knows when it starts: the app's client token, users,
//! organizations, and images to search, from a JSON file or built in.
//!
//! ```json
//! {
//!   "client_token": "MLY|1000|local-secret",
//!   "users": [{"id": "100001", "username": "demo", "email": "demo@example.com",
//!              "password": "demo-password", "access_token": "optional fixed token",
//!              "expired_tokens": ["tokens the server knows but that have expired"]}],
//!   "organizations": [{"id": "200001", "name": "Demo Mappers", "slug": "demo-mappers",
//!                      "description": "…", "members": ["100001"]}],
//!   "images": [{"id": "300001", "lat": 52.5, "lon": 13.4, "captured_at": 1622541600000,
//!               "compass_angle": 90.0, "sequence": "seq1", "thumbnail_status": 500}],
//!   "generate_images": {"count": 300, "bbox": [13.30, 52.50, 13.40, 52.54], "seed": 7},
//!   "max_bbox_area": 0.01,
//!   "list_organizations": true
//! }
//! ```
//!
//! `thumbnail_status` makes that image's thumbnail always answer with the
//! given HTTP status; ids are free strings, so a hostile id such as
//! `../../etc/passwd` can be seeded to test clients.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A user account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedUser {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Login email.
    pub email: String,
    /// Login password.
    pub password: String,
    /// A fixed access token that works from the start (optional).
    #[serde(default)]
    pub access_token: Option<String>,
    /// Tokens the server recognises as this user's but that have expired.
    #[serde(default)]
    pub expired_tokens: Vec<String>,
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedOrganization {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// URL name.
    pub slug: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Ids of the users who belong to it.
    #[serde(default)]
    pub members: Vec<String>,
}

/// An image that searches find.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedImage {
    /// Id (any string: tests seed hostile ones).
    pub id: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Capture time, milliseconds since the epoch.
    #[serde(default)]
    pub captured_at: i64,
    /// Compass angle.
    #[serde(default)]
    pub compass_angle: f64,
    /// Sequence id.
    #[serde(default)]
    pub sequence: String,
    /// When set, the thumbnail always answers with this HTTP status.
    #[serde(default)]
    pub thumbnail_status: Option<u16>,
}

/// Images spread at random (from a fixed seed) over a box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generate {
    /// How many.
    pub count: usize,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
    /// The random seed.
    #[serde(default)]
    pub seed: u64,
}

/// Everything the server starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed {
    /// The app's client token, which login requires.
    pub client_token: String,
    /// Users.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Organizations.
    #[serde(default)]
    pub organizations: Vec<SeedOrganization>,
    /// Images to search.
    #[serde(default)]
    pub images: Vec<SeedImage>,
    /// More images, generated.
    #[serde(default)]
    pub generate_images: Option<Generate>,
    /// Bounding boxes larger than this (square degrees) are refused, as the
    /// real service fails on large boxes.
    #[serde(default = "default_max_area")]
    pub max_bbox_area: f64,
    /// Whether `me?fields=organizations` lists the user's organizations
    /// (Mapillary's public API documents no such listing).
    #[serde(default = "yes")]
    pub list_organizations: bool,
}

fn default_max_area() -> f64 {
    0.01
}

fn yes() -> bool {
    true
}

/// The demo account's credentials, also printed by `--help`.
pub const DEMO_EMAIL: &str = "demo@example.com";
/// The demo account's password.
pub const DEMO_PASSWORD: &str = "demo-password";
/// The demo account's fixed access token.
pub const DEMO_TOKEN: &str = "MLYLOCAL-demo-access-token";
/// The local app's client token.
pub const DEMO_CLIENT_TOKEN: &str = "MLY|1000|local-client-secret";

impl Default for Seed {
    /// One demo user in one organization, and 60 images around the
    /// Tiergarten in Berlin (where the sample trip is).
    fn default() -> Seed {
        Seed {
            client_token: DEMO_CLIENT_TOKEN.to_string(),
            users: vec![SeedUser {
                id: "100001".to_string(),
                username: "demo".to_string(),
                email: DEMO_EMAIL.to_string(),
                password: DEMO_PASSWORD.to_string(),
                access_token: Some(DEMO_TOKEN.to_string()),
                expired_tokens: Vec::new(),
            }],
            organizations: vec![SeedOrganization {
                id: "200001".to_string(),
                name: "Demo Mappers".to_string(),
                slug: "demo-mappers".to_string(),
                description: "The local server's demo organization".to_string(),
                members: vec!["100001".to_string()],
            }],
            images: Vec::new(),
            generate_images: Some(Generate {
                count: 60,
                bbox: [13.345, 52.505, 13.375, 52.525],
                seed: 1,
            }),
            max_bbox_area: default_max_area(),
            list_organizations: true,
        }
    }
}

impl Seed {
    /// Reads a seed file.
    pub fn from_file(path: &Path) -> Result<Seed, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a seed file ({e})", path.display()))
    }

    /// The seeded images and the generated ones.
    pub fn all_images(&self) -> Vec<SeedImage> {
        let mut images = self.images.clone();
        if let Some(g) = &self.generate_images {
            // A small fixed-seed generator (xorshift): the same seed gives
            // the same images on every machine.
            let mut state = g.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let [min_lon, min_lat, max_lon, max_lat] = g.bbox;
            for i in 0..g.count {
                let lon = min_lon + (max_lon - min_lon) * next();
                let lat = min_lat + (max_lat - min_lat) * next();
                images.push(SeedImage {
                    id: format!("{}", 4_000_000 + i),
                    lat,
                    lon,
                    captured_at: 1_600_000_000_000 + i as i64 * 2_000,
                    compass_angle: (next() * 360.0).floor(),
                    sequence: format!("generated-{}", i / 20),
                    thumbnail_status: None,
                });
            }
        }
        images
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_images_are_stable_and_inside_the_box() {
        let seed = Seed::default();
        let a = seed.all_images();
        assert_eq!(a, seed.all_images());
        assert_eq!(a.len(), 60);
        assert!(
            a.iter()
                .all(|i| (52.505..=52.525).contains(&i.lat) && (13.345..=13.375).contains(&i.lon))
        );
        let json = serde_json::to_string(&seed).unwrap();
        assert_eq!(serde_json::from_str::<Seed>(&json).unwrap(), seed);
        let minimal: Seed = serde_json::from_str(r#"{"client_token": "x"}"#).unwrap();
        assert_eq!(minimal.max_bbox_area, 0.01);
        assert!(minimal.list_organizations);
    }
}
