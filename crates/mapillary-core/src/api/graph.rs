//! The graph API: login, the user, organizations, images in a bounding box,
//! and finishing an upload.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::{Value, json};

use super::retry::{Answer, RetryPolicy, with_retries};
#[cfg(test)]
use super::transport::ANSWER_LIMIT;
use super::transport::{SMALL_REQUEST_DEADLINE, agent, check_url, no_answer, read_answer};
use super::{ApiError, Endpoints, error_message, is_token_error};
use crate::auth::{
    Credentials, LoginDetails, Profile, Secret, TokenSource, UserToken, profiles_path, save_profile,
};

/// A Mapillary user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user id.
    pub id: String,
    /// The username.
    pub username: String,
}

/// An organization (the successor of the 2015 "projects").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Its URL name, when known.
    pub slug: Option<String>,
}

/// A bounding box in decimal degrees. The API takes it longitude first:
/// `minLon,minLat,maxLon,maxLat`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Southern edge.
    pub min_lat: f64,
    /// Northern edge.
    pub max_lat: f64,
    /// Western edge.
    pub min_lon: f64,
    /// Eastern edge.
    pub max_lon: f64,
}

/// One edge of a [`BoundingBox`], named as download_images' arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The southern edge.
    MinLat,
    /// The northern edge.
    MaxLat,
    /// The western edge.
    MinLon,
    /// The eastern edge.
    MaxLon,
}

impl Edge {
    /// Its name: `min_lat`, `max_lat`, `min_lon`, `max_lon`.
    pub fn name(self) -> &'static str {
        match self {
            Edge::MinLat => "min_lat",
            Edge::MaxLat => "max_lat",
            Edge::MinLon => "min_lon",
            Edge::MaxLon => "max_lon",
        }
    }

    /// How far from 0 it may be: 90 degrees of latitude, 180 of longitude.
    pub fn limit(self) -> f64 {
        match self {
            Edge::MinLat | Edge::MaxLat => 90.0,
            Edge::MinLon | Edge::MaxLon => 180.0,
        }
    }

    /// `value`, if it is a position this edge can have.
    pub fn check(self, value: f64) -> Result<f64, BoxError> {
        // Written so that NaN is out of range too.
        if value.abs() <= self.limit() {
            Ok(value)
        } else {
            Err(BoxError::OutOfRange { edge: self, value })
        }
    }

    /// Moves this edge of `bbox` to `value`, if it is in range.
    pub fn set(self, bbox: &mut BoundingBox, value: f64) -> Result<(), BoxError> {
        let value = self.check(value)?;
        match self {
            Edge::MinLat => bbox.min_lat = value,
            Edge::MaxLat => bbox.max_lat = value,
            Edge::MinLon => bbox.min_lon = value,
            Edge::MaxLon => bbox.max_lon = value,
        }
        Ok(())
    }
}

/// Why four numbers are not a bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BoxError {
    /// An edge beyond the poles or the antimeridian.
    OutOfRange {
        /// The edge.
        edge: Edge,
        /// Its value.
        value: f64,
    },
    /// An edge not below the opposite one: the box would be empty (or
    /// given in the wrong order).
    Empty {
        /// The southern or western edge.
        low: Edge,
        /// Its value.
        low_value: f64,
        /// The northern or eastern edge.
        high: Edge,
        /// Its value.
        high_value: f64,
    },
}

impl std::fmt::Display for BoxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            BoxError::OutOfRange { edge, value } => write!(
                f,
                "{} {value} is outside -{limit}..{limit}",
                edge.name(),
                limit = edge.limit()
            ),
            BoxError::Empty {
                low,
                low_value,
                high,
                high_value,
            } => write!(
                f,
                "{} {low_value} must be less than {} {high_value}",
                low.name(),
                high.name()
            ),
        }
    }
}

impl std::error::Error for BoxError {}

impl BoundingBox {
    /// The whole world.
    pub const WORLD: BoundingBox = BoundingBox {
        min_lat: -90.0,
        max_lat: 90.0,
        min_lon: -180.0,
        max_lon: 180.0,
    };

    /// The box with these edges, if they make one: each in range, and the
    /// southern and western edges below the northern and eastern ones.
    pub fn new(
        min_lat: f64,
        max_lat: f64,
        min_lon: f64,
        max_lon: f64,
    ) -> Result<BoundingBox, BoxError> {
        let bbox = BoundingBox {
            min_lat,
            max_lat,
            min_lon,
            max_lon,
        };
        bbox.validate()?;
        Ok(bbox)
    }

    /// Whether the edges make a box: each in range, and the southern and
    /// western edges below the northern and eastern ones.
    pub fn validate(&self) -> Result<(), BoxError> {
        for (edge, value) in [
            (Edge::MinLat, self.min_lat),
            (Edge::MaxLat, self.max_lat),
            (Edge::MinLon, self.min_lon),
            (Edge::MaxLon, self.max_lon),
        ] {
            edge.check(value)?;
        }
        for (low, low_value, high, high_value) in [
            (Edge::MinLat, self.min_lat, Edge::MaxLat, self.max_lat),
            (Edge::MinLon, self.min_lon, Edge::MaxLon, self.max_lon),
        ] {
            if low_value >= high_value {
                return Err(BoxError::Empty {
                    low,
                    low_value,
                    high,
                    high_value,
                });
            }
        }
        Ok(())
    }

    /// The `bbox` query value, longitude first.
    pub fn query_value(&self) -> String {
        format!(
            "{},{},{},{}",
            self.min_lon, self.min_lat, self.max_lon, self.max_lat
        )
    }
}

/// Something to tell the user about (a retry, a re-login): one line.
pub type Notify = Arc<dyn Fn(&str) + Send + Sync>;

/// A client of the graph API.
#[derive(Clone)]
pub struct GraphClient {
    agent: ureq::Agent,
    deadline: Duration,
    endpoints: Endpoints,
    policy: RetryPolicy,
    stop: Option<&'static AtomicBool>,
    notify: Notify,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// The JSON of an answer, or why it is not JSON.
pub fn json_answer(answer: &Answer) -> Result<Value, ApiError> {
    serde_json::from_str(&answer.body).map_err(|e| {
        ApiError::BadAnswer(format!("not JSON ({e}): {}", error_message(&answer.body)))
    })
}

fn string_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl GraphClient {
    /// A client of the API at `endpoints`. Every request ends within
    /// [`SMALL_REQUEST_DEADLINE`] (60 s, the protocol's) from connecting to
    /// the last byte of the answer, or is retried.
    pub fn new(endpoints: Endpoints) -> GraphClient {
        GraphClient {
            agent: agent(Some(SMALL_REQUEST_DEADLINE)),
            deadline: SMALL_REQUEST_DEADLINE,
            endpoints,
            policy: RetryPolicy::default(),
            stop: None,
            notify: Arc::new(|_| {}),
        }
    }

    /// Hear about retries and re-logins.
    pub fn with_notify(mut self, notify: Notify) -> GraphClient {
        self.notify = notify;
        self
    }

    /// Stop waiting (between retries) when `stop` becomes true.
    pub fn with_stop(mut self, stop: &'static AtomicBool) -> GraphClient {
        self.stop = Some(stop);
        self
    }

    /// Use this retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> GraphClient {
        self.policy = policy;
        self
    }

    /// End every request within `deadline` (the whole exchange) instead.
    pub fn with_deadline(mut self, deadline: Duration) -> GraphClient {
        self.agent = agent(Some(deadline));
        self.deadline = deadline;
        self
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The notifier.
    pub fn notify(&self, message: &str) {
        (self.notify)(message);
    }

    /// The stop flag.
    pub fn stop_flag(&self) -> Option<&'static AtomicBool> {
        self.stop
    }

    /// Sends one request with retries. `path` is relative to the graph root.
    fn call(
        &self,
        post: Option<&Value>,
        path: &str,
        query: &[(&str, &str)],
        token: &Secret,
    ) -> Result<Answer, ApiError> {
        check_url(
            &self.endpoints.graph,
            "the graph API endpoint (MAPILLARY_GRAPH_API_ENDPOINT)",
        )?;
        let url = format!("{}/{}", self.endpoints.graph, path.trim_start_matches('/'));
        let auth = format!("OAuth {}", token.expose());
        let (server, deadline) = (self.endpoints.graph.as_str(), Some(self.deadline));
        let answer = with_retries(
            &self.policy,
            &self.endpoints.graph,
            self.stop,
            &*self.notify,
            || {
                let result = match post {
                    Some(body) => self
                        .agent
                        .post(&url)
                        .header("Authorization", &auth)
                        .query_pairs(query.iter().copied())
                        .content_type("application/json")
                        .send(body.to_string()),
                    None => self
                        .agent
                        .get(&url)
                        .header("Authorization", &auth)
                        .query_pairs(query.iter().copied())
                        .call(),
                };
                result
                    .map_err(|e| no_answer(e, server, deadline))
                    .and_then(|r| read_answer(r, server, deadline))
                    .map_err(|e| e.redacted(token))
            },
        )?;
        Ok(Answer {
            body: token.redact(&answer.body),
            ..answer
        })
    }

    fn checked(&self, answer: Answer) -> Result<Value, ApiError> {
        checked_answer(answer)
    }

    /// Logs in with email and password; returns the user access token and
    /// the user id.
    pub fn login(&self, details: &LoginDetails) -> Result<(Secret, Option<String>), ApiError> {
        let body = json!({
            "email": details.email,
            "password": details.password.expose(),
            "locale": "en_US",
        });
        let answer = self.call(Some(&body), "login", &[], &details.client_token)?;
        let answer = Answer {
            body: details.password.redact(&answer.body),
            ..answer
        };
        login_answer(&answer)
    }

    /// The user the token belongs to (`me?fields=id,username`); also the
    /// way to check a token.
    pub fn me(&self, token: &Secret) -> Result<User, ApiError> {
        let v = self.checked(self.call(None, "me", &[("fields", "id,username")], token)?)?;
        user_from(&v)
    }

    /// The user's organizations, where the server lists them
    /// (`me?fields=organizations`, not in Mapillary's public documentation);
    /// `None` where it does not.
    pub fn my_organizations(&self, token: &Secret) -> Result<Option<Vec<Organization>>, ApiError> {
        let answer = self.call(
            None,
            "me",
            &[("fields", "id,username,organizations")],
            token,
        )?;
        if !answer.is_success()
            && !is_token_error(answer.status, &answer.body)
            && (400..500).contains(&answer.status)
        {
            return Ok(None);
        }
        Ok(organizations_from(&self.checked(answer)?))
    }

    /// The organization with this id, or `None` if there is none.
    pub fn organization(&self, token: &Secret, id: &str) -> Result<Option<Organization>, ApiError> {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Ok(None);
        }
        let answer = self.call(None, id, &[("fields", "id,name,slug,description")], token)?;
        if matches!(answer.status, 400 | 404) && !is_token_error(answer.status, &answer.body) {
            return Ok(None);
        }
        Ok(organization_from(&self.checked(answer)?))
    }

    /// Images in a bounding box: `images?bbox=…&fields=…&limit=…`.
    pub fn images_in_box(
        &self,
        token: &Secret,
        bbox: &BoundingBox,
        fields: &[&str],
        limit: usize,
    ) -> Result<Vec<Value>, ApiError> {
        let (bbox, fields, limit) = (bbox.query_value(), fields.join(","), limit.to_string());
        let v = self.checked(self.call(
            None,
            "images",
            &[("bbox", &bbox), ("fields", &fields), ("limit", &limit)],
            token,
        )?)?;
        images_from(&v)
    }

    /// Turns an uploaded file into a sequence: `finish_upload`. Returns the
    /// cluster id.
    pub fn finish_upload(
        &self,
        token: &Secret,
        file_handle: &str,
        file_type: &str,
        organization: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut body = json!({ "file_handle": file_handle, "file_type": file_type });
        if let Some(org) = organization {
            body["organization_id"] = Value::String(org.to_string());
        }
        let v = self.checked(self.call(Some(&body), "finish_upload", &[], token)?)?;
        cluster_id_from(&v)
    }
}

/// The JSON of a successful answer; an error answer as an [`ApiError`]
/// (a rejected token told apart).
pub fn checked_answer(answer: Answer) -> Result<Value, ApiError> {
    if answer.is_success() {
        return json_answer(&answer);
    }
    let message = error_message(&answer.body);
    if is_token_error(answer.status, &answer.body) {
        Err(ApiError::TokenRejected { message })
    } else {
        Err(ApiError::Refused {
            status: answer.status,
            message,
        })
    }
}

/// The token and user id of a successful login answer.
pub fn login_answer(answer: &Answer) -> Result<(Secret, Option<String>), ApiError> {
    if !answer.is_success() {
        let message = error_message(&answer.body);
        return Err(if matches!(answer.status, 400 | 401 | 403) {
            ApiError::LoginRefused { message }
        } else {
            ApiError::Refused {
                status: answer.status,
                message,
            }
        });
    }
    let v = json_answer(answer)?;
    let token = string_field(&v, "access_token")
        .ok_or_else(|| ApiError::BadAnswer("the login answer has no access_token".to_string()))?;
    Ok((Secret::new(token), string_field(&v, "user_id")))
}

/// The user in a `me` answer.
pub fn user_from(v: &Value) -> Result<User, ApiError> {
    Ok(User {
        id: string_field(v, "id")
            .ok_or_else(|| ApiError::BadAnswer("`me` has no id".to_string()))?,
        username: string_field(v, "username").unwrap_or_default(),
    })
}

/// The organizations listed in a `me?fields=organizations` answer, if it
/// lists them.
pub fn organizations_from(v: &Value) -> Option<Vec<Organization>> {
    let list = v.pointer("/organizations/data").and_then(Value::as_array)?;
    Some(list.iter().filter_map(organization_from).collect())
}

/// The image entries of an `images` answer.
pub fn images_from(v: &Value) -> Result<Vec<Value>, ApiError> {
    v.get("data")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| ApiError::BadAnswer("the images answer has no data list".to_string()))
}

/// The cluster id of a `finish_upload` answer.
pub fn cluster_id_from(v: &Value) -> Result<String, ApiError> {
    string_field(v, "cluster_id")
        .ok_or_else(|| ApiError::BadAnswer("finish_upload gave no cluster_id".to_string()))
}

/// Why an organization could not be found.
#[derive(Debug)]
pub enum OrganizationError {
    /// No organization of the user has this name, slug or id.
    Unknown {
        /// What was asked for.
        wanted: String,
        /// The user's organizations.
        known: Vec<Organization>,
    },
    /// The server cannot list the user's organizations, so a name cannot
    /// be resolved: an id is needed.
    NeedId {
        /// What was asked for.
        wanted: String,
    },
    /// The API failed.
    Api(ApiError),
}

impl std::fmt::Display for OrganizationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrganizationError::Unknown { wanted, known } if known.is_empty() => {
                write!(
                    f,
                    "no organization '{wanted}': you belong to no organization"
                )
            }
            OrganizationError::Unknown { wanted, known } => {
                let names: Vec<String> = known
                    .iter()
                    .map(|o| format!("{} ({})", o.name, o.id))
                    .collect();
                write!(
                    f,
                    "no organization '{wanted}'; yours are: {}",
                    names.join(", ")
                )
            }
            OrganizationError::NeedId { wanted } => write!(
                f,
                "cannot look up the organization '{wanted}' by name: this server does not list a user's organizations; give its ID instead (the number in the organization page's URL)"
            ),
            OrganizationError::Api(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for OrganizationError {}

impl From<ApiError> for OrganizationError {
    fn from(e: ApiError) -> Self {
        OrganizationError::Api(e)
    }
}

/// Finds the organization `wanted` names: an id, or the name or slug of one
/// of the user's organizations (where the server lists them; names are
/// compared without regard to case).
pub fn resolve_organization(
    client: &GraphClient,
    token: &Secret,
    wanted: &str,
) -> Result<Organization, OrganizationError> {
    let wanted = wanted.trim();
    if !wanted.is_empty()
        && wanted.bytes().all(|b| b.is_ascii_digit())
        && let Some(org) = client.organization(token, wanted)?
    {
        return Ok(org);
    }
    let Some(mine) = client.my_organizations(token)? else {
        return Err(OrganizationError::NeedId {
            wanted: wanted.to_string(),
        });
    };
    let found = mine.iter().find(|o| {
        o.id == wanted
            || o.name.eq_ignore_ascii_case(wanted)
            || o.slug
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
    });
    match found {
        Some(o) => Ok(o.clone()),
        None => Err(OrganizationError::Unknown {
            wanted: wanted.to_string(),
            known: mine,
        }),
    }
}

/// An organization from its JSON (`id`, `name`, `slug`); `None` without
/// an id.
pub fn organization_from(v: &Value) -> Option<Organization> {
    Some(Organization {
        id: string_field(v, "id")?,
        name: string_field(v, "name").unwrap_or_default(),
        slug: string_field(v, "slug"),
    })
}

/// A user token that works, with its user: the stored one (variable or
/// profile) if the server accepts it; else, when email and password are
/// set, a fresh login, cached in the profiles file (mode 0600).
pub fn authenticate(
    client: &GraphClient,
    credentials: &Credentials,
) -> Result<(UserToken, User), ApiError> {
    let login = credentials.login_details()?;
    if let Some(stored) = credentials.stored_token()? {
        match client.me(&stored.token) {
            Ok(user) => return Ok((stored, user)),
            Err(ApiError::TokenRejected { message }) if login.is_some() => {
                client.notify(&format!(
                    "the token from {} was rejected ({message}); logging in again",
                    stored.source
                ));
            }
            Err(ApiError::TokenRejected { message }) => {
                return Err(ApiError::TokenRejected {
                    message: format!("{message}; the token came from {}", stored.source),
                });
            }
            Err(e) => return Err(e),
        }
    }
    let Some(login) = login else {
        return Err(credentials.none_found().into());
    };
    let (token, user_id) = client.login(&login)?;
    let user = client.me(&token)?;
    if let Some(path) = profiles_path(credentials.env()) {
        let profile = Profile {
            name: if user.username.is_empty() {
                login.email.clone()
            } else {
                user.username.clone()
            },
            token: token.clone(),
            user_id: Some(user.id.clone()).or(user_id),
            username: Some(user.username.clone()).filter(|u| !u.is_empty()),
            organization: None,
        };
        if let Err(e) = save_profile(&path, &profile) {
            client.notify(&format!("could not cache the login: {e}"));
        }
    }
    Ok((
        UserToken {
            token,
            source: TokenSource::Login,
            user_id: Some(user.id.clone()),
            username: Some(user.username.clone()),
            organization: None,
        },
        user,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::api::test_server::{Request, TestServer};

    #[test]
    fn a_box_needs_its_edges_in_range_and_in_order() {
        let b = BoundingBox::new(52.0, 53.0, 13.0, 14.0).unwrap();
        assert_eq!(b.query_value(), "13,52,14,53");
        assert_eq!(BoundingBox::WORLD.validate(), Ok(()));
        for (edges, message) in [
            ([-91.0, 53.0, 13.0, 14.0], "min_lat -91 is outside -90..90"),
            (
                [52.0, 53.0, 13.0, 180.5],
                "max_lon 180.5 is outside -180..180",
            ),
            (
                [52.0, f64::NAN, 13.0, 14.0],
                "max_lat NaN is outside -90..90",
            ),
            (
                [52.0, 51.0, 13.0, 14.0],
                "min_lat 52 must be less than max_lat 51",
            ),
            (
                [52.0, 53.0, 14.0, 14.0],
                "min_lon 14 must be less than max_lon 14",
            ),
        ] {
            let [a, b, c, d] = edges;
            let e = BoundingBox::new(a, b, c, d).unwrap_err();
            assert_eq!(e.to_string(), message);
        }
        let mut b = BoundingBox::WORLD;
        Edge::MinLon.set(&mut b, 179.0).unwrap();
        assert_eq!(b.min_lon, 179.0);
        assert_eq!(
            Edge::MaxLat.set(&mut b, 90.1),
            Err(BoxError::OutOfRange {
                edge: Edge::MaxLat,
                value: 90.1
            })
        );
        assert_eq!(b.max_lat, 90.0, "an edge out of range is not set");
    }

    fn client(server: &TestServer) -> GraphClient {
        GraphClient::new(Endpoints::local(&server.url())).with_policy(RetryPolicy {
            max_attempts: 2,
            default_backoff: Duration::from_millis(1),
            network_backoff: Duration::from_millis(1),
            max_wait: Duration::from_millis(10),
        })
    }

    fn counting(
        handle: impl Fn(&mut Request) + Send + Sync + 'static,
    ) -> (TestServer, Arc<AtomicUsize>) {
        let n = Arc::new(AtomicUsize::new(0));
        let counted = n.clone();
        let server = TestServer::start(move |r| {
            counted.fetch_add(1, Ordering::SeqCst);
            handle(r);
        });
        (server, n)
    }

    /// Sends the head of an answer of `len` bytes, then one byte every
    /// `every` until the client hangs up.
    fn trickle(r: &mut Request, len: usize, every: Duration) {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
        if r.stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..len {
            if r.stream
                .write_all(b" ")
                .and_then(|()| r.stream.flush())
                .is_err()
            {
                return;
            }
            std::thread::sleep(every);
        }
    }

    #[test]
    fn an_answer_trickling_one_byte_every_two_seconds_meets_the_deadline() {
        let (server, requests) = counting(|r| trickle(r, 100, Duration::from_secs(2)));
        let c = client(&server).with_deadline(Duration::from_millis(700));
        let err = c.me(&Secret::new("tok")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is too slow: no complete answer within 700 ms, 2 times; try again later",
                server.url()
            )
        );
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_answer_over_the_limit_is_named_and_not_asked_again() {
        let (server, requests) = counting(|r| {
            let len = (ANSWER_LIMIT + 1000) as usize;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let _ = r.stream.write_all(head.as_bytes());
            let chunk = vec![b' '; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if r.stream.write_all(&chunk[..n]).is_err() {
                    return;
                }
                left -= n;
            }
        });
        let err = client(&server).me(&Secret::new("tok")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the answer from {} is larger than the 16 MiB accepted",
                server.url()
            )
        );
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_http_status_is_named_with_the_servers_message() {
        let (server, _) = counting(|r| {
            r.answer(
                403,
                r#"{"error":{"message":"Application request limit reached","type":"GraphMethodException"}}"#,
            )
        });
        let err = client(&server).me(&Secret::new("tok")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the server refused the request (HTTP 403: Application request limit reached)"
        );
    }

    #[test]
    fn an_endpoint_of_another_scheme_sends_nothing() {
        let c = GraphClient::new(Endpoints {
            graph: "gopher://graph.example/?access_token=SECRET".to_string(),
            upload: String::new(),
        });
        let err = c.me(&Secret::new("tok")).unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "the graph API endpoint (MAPILLARY_GRAPH_API_ENDPOINT) has the URL scheme 'gopher'; only http and https are supported"
        );
    }

    #[test]
    fn a_closed_port_is_cannot_reach() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = GraphClient::new(Endpoints::local(&format!("http://127.0.0.1:{port}")))
            .with_policy(RetryPolicy {
                max_attempts: 2,
                default_backoff: Duration::from_millis(1),
                network_backoff: Duration::from_millis(1),
                max_wait: Duration::from_millis(10),
            });
        let err = c.me(&Secret::new("tok")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("cannot reach http://127.0.0.1:{port} (")),
            "{err}"
        );
    }
}
