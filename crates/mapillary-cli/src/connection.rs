//! What the network tools share: the API client pointed where the
//! variables say, retries and re-logins reported through the [`Printer`],
//! Ctrl-C honoured, and signing in with the credentials the environment
//! offers.

use std::sync::Arc;

use mapillary_core::api::Endpoints;
use mapillary_core::api::graph::{
    GraphClient, Organization, User, authenticate, resolve_organization,
};
use mapillary_core::auth::{Credentials, Environment, Secret, UserToken};

use crate::failure::Failure;
use crate::interrupt_flag;
use crate::printer::Printer;

/// The API client and the credentials of this run.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The graph API client.
    pub graph: GraphClient,
    /// The credentials the environment offers.
    pub credentials: Credentials,
}

/// Connects to the API the variables name (or the public one), without a
/// request yet.
pub fn connect(printer: &Printer) -> Connection {
    let env = Environment::from_process();
    let endpoints = Endpoints::from_env(&env);
    printer.explain(format_args!(
        "graph API {}, uploads {}",
        endpoints.graph, endpoints.upload
    ));
    let p = printer.clone();
    let graph = GraphClient::new(endpoints)
        .with_notify(Arc::new(move |m: &str| p.warn(m)))
        .with_stop(interrupt_flag());
    let credentials = Credentials::new(env);
    if let Some(note) = credentials.legacy_hash_note() {
        printer.warn(note);
    }
    Connection { graph, credentials }
}

/// Signs in: a stored token the server accepts, or a login.
pub fn sign_in(connection: &Connection, printer: &Printer) -> Result<(UserToken, User), Failure> {
    let (token, user) = authenticate(&connection.graph, &connection.credentials)?;
    printer.explain(format_args!(
        "signed in as {} (user {}) with the token from {}",
        user.username, user.id, token.source
    ));
    Ok((token, user))
}

/// A token for reading the graph API: the user's (variable or profile),
/// else the app's client token (`MAPILLARY_CLIENT_TOKEN`, enough for
/// searching images), else a login.
pub fn read_token(connection: &Connection, printer: &Printer) -> Result<Secret, Failure> {
    if let Some(t) = connection.credentials.stored_token()? {
        printer.explain(format_args!("reading with the token from {}", t.source));
        return Ok(t.token);
    }
    if let Some(client) = connection.credentials.env().get("MAPILLARY_CLIENT_TOKEN") {
        printer.explain("reading with the client token (MAPILLARY_CLIENT_TOKEN)");
        return Ok(Secret::new(client));
    }
    let (token, _) = sign_in(connection, printer)?;
    Ok(token.token)
}

/// Finds the organization `wanted` names (an ID, or the name or slug of one
/// of the user's organizations), before any photo is touched.
pub fn find_organization(
    connection: &Connection,
    token: &Secret,
    wanted: &str,
    printer: &Printer,
) -> Result<Organization, Failure> {
    let org = resolve_organization(&connection.graph, token, wanted)?;
    printer.explain(format_args!("organization {} ({})", org.name, org.id));
    Ok(org)
}
