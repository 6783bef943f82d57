//! `/internal/search/reindex`: rebuilds this instance's index from the catalog and swaps it
//! in, while searches go on (see [`crate::live`]). `kazna search reindex` calls it.

use axum::{extract::State, http::StatusCode};
use kazna_kernel::{Internal, Json, Problem};

use crate::{AppState, bootstrap, error::Result, live::Reindex};

/// Starts a reindex of this instance; 409 while one is running.
#[utoipa::path(post, path = "/internal/search/reindex", tag = "internal",
    responses((status = 202, description = "started", body = Reindex),
              (status = 401, body = Problem),
              (status = 409, description = "conflict: a reindex is running", body = Problem)))]
pub(super) async fn start_reindex(
    State(s): State<AppState>,
    _: Internal,
) -> Result<(StatusCode, Json<Reindex>)> {
    let Some(build) = s.index.begin()? else {
        return Err(Problem::new(kazna_kernel::Code::ReindexRunning).into());
    };
    tokio::spawn(bootstrap::reindex(
        s.ctx.clone(),
        s.index.clone(),
        s.popularity.clone(),
        build,
    ));
    Ok((StatusCode::ACCEPTED, Json(s.index.status())))
}

/// Where this instance's last reindex stands.
#[utoipa::path(get, path = "/internal/search/reindex", tag = "internal",
    responses((status = 200, body = Reindex), (status = 401, body = Problem)))]
pub(super) async fn reindex_status(State(s): State<AppState>, _: Internal) -> Json<Reindex> {
    Json(s.index.status())
}
