//! The JSON API's handlers, and `/metrics`. Each checks who asks (its `Monitor` or `Admin`
//! argument), finds the virtual host the request is about (`?host=ID`, default the first), calls
//! a data function and encodes the answer; refusals are [`ApiError`]s.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus_client::encoding::prometheus_text;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use stompbox_core::auth::{Operation, Principal};
use stompbox_core::broker::{Broker, ConnectionSnapshot, DestinationSnapshot, QueueError};
use stompbox_core::destination::Destination;
use tracing::info;

use super::caller::{admitted, Admin, Caller, Monitor};
use super::error::ApiError;
use super::sessions::{self, set_cookie};
use super::view::{self, ListOptions, Overview, Page};
use super::Console;

/// `GET /api/whoami`, and what a login answers: who the caller is and what they may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Whoami {
    /// The user (`None`: anonymous).
    user: Option<String>,
    /// May read the API.
    monitor: bool,
    /// May act.
    admin: bool,
}

/// `?host=ID`: the virtual host a request is about (default: the first).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostChoice {
    host: Option<String>,
}

impl Console {
    /// The broker of the virtual host `id` (`None`: the first); 404 for an unknown one.
    fn broker_of(&self, id: Option<&str>) -> Result<&Broker, ApiError> {
        let hosts = &self.shared.hosts;
        let host = match id {
            None => hosts.first(),
            Some(id) => hosts.find(id).ok_or_else(|| ApiError::not_found(format!("no virtual host {id}")))?,
        };
        Ok(&host.context.broker)
    }

    fn whoami(&self, principal: &Principal) -> Whoami {
        let admin = self.may(principal, Operation::Admin);
        Whoami {
            user: principal.user.as_deref().map(str::to_owned),
            monitor: admin || self.may(principal, Operation::Monitor),
            admin,
        }
    }
}

pub(crate) async fn whoami(State(console): State<Console>, caller: Caller) -> Json<Whoami> {
    Json(console.whoami(&caller.principal))
}

/// `POST /api/login`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct Credentials {
    user: String,
    password: String,
}

/// `POST /api/login`: checks the credentials and opens a console session (its cookie).
pub(crate) async fn login(
    State(console): State<Console>,
    parts: Parts,
    credentials: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let peer = admitted(&parts, &console)?;
    let Json(Credentials { user, password }) = credentials.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let principal = console
        .verify(peer, user, password)
        .await
        .map_err(|error| ApiError::unauthorized(error.to_string(), &parts.headers))?;
    let whoami = console.whoami(&principal);
    let token = console.shared.sessions.open(principal.into()).map_err(|error| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("no session token: the random source failed: {error}"))
    })?;
    Ok(([(SET_COOKIE, set_cookie(Some(&token), peer.site.tls))], Json(whoami)).into_response())
}

/// `POST /api/logout`: ends the caller's console session.
pub(crate) async fn logout(State(console): State<Console>, parts: Parts) -> Result<Response, ApiError> {
    let peer = admitted(&parts, &console)?;
    if let Some(token) = sessions::token(&parts.headers) {
        console.shared.sessions.close(token);
    }
    Ok(([(SET_COOKIE, set_cookie(None, peer.site.tls))], Json(json!({ "logged_out": true }))).into_response())
}

/// `?host=ID`, or a 400 that says what is wrong with the query.
type HostQuery = Result<Query<HostChoice>, QueryRejection>;

fn host_choice(query: HostQuery) -> Result<Option<String>, ApiError> {
    let Query(choice) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(choice.host)
}

pub(crate) async fn broker(
    State(console): State<Console>,
    _: Monitor,
    query: HostQuery,
) -> Result<Json<Overview>, ApiError> {
    let id = host_choice(query)?;
    let broker = console.broker_of(id.as_deref())?;
    let hosts = &console.shared.hosts;
    let host = id.unwrap_or_else(|| hosts.first().spec.id.clone());
    Ok(Json(view::overview(broker, host, hosts.ids())))
}

pub(crate) async fn connections(
    State(console): State<Console>,
    _: Monitor,
    options: Result<Query<ListOptions>, QueryRejection>,
) -> Result<Json<view::Connections>, ApiError> {
    let Query(options) = options.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let broker = console.broker_of(options.host.as_deref())?;
    view::connections(broker, &options, console.shared.max_list_items).map(Json).map_err(ApiError::bad_request)
}

pub(crate) async fn connection(
    State(console): State<Console>,
    _: Monitor,
    Path(id): Path<u64>,
    query: HostQuery,
) -> Result<Json<ConnectionSnapshot>, ApiError> {
    let broker = console.broker_of(host_choice(query)?.as_deref())?;
    broker.connection(id).map(Json).ok_or_else(|| no_connection(id))
}

pub(crate) async fn destinations(
    State(console): State<Console>,
    _: Monitor,
    options: Result<Query<ListOptions>, QueryRejection>,
) -> Result<Json<Page<DestinationSnapshot>>, ApiError> {
    let Query(options) = options.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let broker = console.broker_of(options.host.as_deref())?;
    view::destinations(broker, &options, console.shared.max_list_items).map(Json).map_err(ApiError::bad_request)
}

/// `DELETE /api/connections/{id}`: the client gets an ERROR saying an operator closed it.
pub(crate) async fn close_connection(
    State(console): State<Console>,
    Admin(caller): Admin,
    Path(id): Path<u64>,
    query: HostQuery,
) -> Result<Json<Value>, ApiError> {
    if !console.broker_of(host_choice(query)?.as_deref())?.close_connection(id) {
        return Err(no_connection(id));
    }
    info!(connection = id, by = caller.name(), "closed by an operator");
    Ok(Json(json!({ "closed": id })))
}

pub(crate) async fn purge_queue(
    State(console): State<Console>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    query: HostQuery,
) -> Result<Json<Value>, ApiError> {
    let queue = queue_destination(&name)?;
    let purged = console.broker_of(host_choice(query)?.as_deref())?.purge_queue(&queue).map_err(queue_error)?;
    info!(%queue, purged, by = caller.name(), "queue purged");
    Ok(Json(json!({ "queue": queue, "purged": purged })))
}

pub(crate) async fn delete_queue(
    State(console): State<Console>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    query: HostQuery,
) -> Result<Json<Value>, ApiError> {
    let queue = queue_destination(&name)?;
    let messages = console.broker_of(host_choice(query)?.as_deref())?.delete_queue(&queue).map_err(queue_error)?;
    info!(%queue, messages, by = caller.name(), "queue deleted");
    Ok(Json(json!({ "queue": queue, "deleted": true, "messages": messages })))
}

/// `GET /metrics`: Prometheus text format.
pub(crate) async fn metrics(State(console): State<Console>, _: Monitor) -> Response {
    let mut text = String::new();
    prometheus_text::encode(&mut text, &console.shared.metrics).expect("writing to a String cannot fail");
    ([(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], text).into_response()
}

fn no_connection(id: u64) -> ApiError {
    ApiError::not_found(format!("no open connection {id}"))
}

/// `/queue/NAME` for a queue name in a path, checked.
fn queue_destination(name: &str) -> Result<String, ApiError> {
    let destination =
        Destination::parse(&format!("/queue/{name}")).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(destination.as_str().to_owned())
}

fn queue_error(error: QueueError) -> ApiError {
    let status = match error {
        QueueError::NoSuchQueue(_) => StatusCode::NOT_FOUND,
        QueueError::InUse { .. } => StatusCode::CONFLICT,
    };
    ApiError::new(status, error.to_string())
}
