use axum::response::{IntoResponse, Response};
use kazna_kernel::Problem;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("index directory: {0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("the index writer lock is poisoned")]
    Poisoned,
    #[error("the index task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("the search threads have stopped")]
    SearchStopped,
    #[error("a search panicked")]
    SearchPanicked,
    #[error("the indexer has stopped")]
    IndexerStopped,
    #[error("the batch failed: {0}")]
    Batch(String),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Problem(p) => p.into_response(),
            other => {
                tracing::error!(error = %other, "search: internal error");
                Problem::internal().into_response()
            }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
