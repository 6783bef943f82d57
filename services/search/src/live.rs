//! The index searches read, and a reindex: a new index built beside it from the catalog,
//! then swapped in at once.
//!
//! Each build lives in `index.<epoch>` under the data directory; `current-index` names the
//! one in use, so a restart opens what was swapped in. While a build runs, every change from
//! events goes to both indexes, and searches keep reading the old one until the swap.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::Error,
    index::{Op, SearchIndex},
};

/// How long an index swapped out stays on disk, for the searches still reading it.
const RETIRE_AFTER: Duration = Duration::from_secs(60);

pub struct Live {
    dir: PathBuf,
    current: RwLock<Arc<SearchIndex>>,
    /// The index a reindex is building, which changes go to as well.
    building: RwLock<Option<Arc<SearchIndex>>>,
    status: Mutex<Reindex>,
}

/// Where the last reindex of this instance stands.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Reindex {
    /// `idle` (none since the start), `running`, `done` or `failed`.
    pub state: &'static str,
    /// The build searches read.
    pub epoch: u64,
    /// Products pulled so far (or in all, once done).
    pub products: usize,
    /// How long it took, once done.
    pub millis: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

fn index_dir(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("index.{epoch}"))
}

impl Live {
    /// Opens the index in use under `dir`, and removes builds no longer in use.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)?;
        let epoch = std::fs::read_to_string(dir.join("current-index"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(1);
        let keep = format!("index.{epoch}");
        for entry in std::fs::read_dir(dir)?.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let old = name == "index" || (name.starts_with("index.") && name != keep);
            if old && entry.path().is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            }
        }
        let index = SearchIndex::open(&index_dir(dir, epoch), epoch)?;
        Ok(Self {
            dir: dir.to_owned(),
            current: RwLock::new(Arc::new(index)),
            building: RwLock::new(None),
            status: Mutex::new(Reindex {
                state: "idle",
                epoch,
                ..Reindex::default()
            }),
        })
    }

    /// The index searches read now.
    pub fn current(&self) -> Arc<SearchIndex> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies changes to the index in use, and to the one being built if there is one.
    pub fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        let building = self.building.read().map_err(|_| Error::Poisoned)?.clone();
        if let Some(b) = building {
            b.apply(ops)?;
        }
        self.current().apply(ops)
    }

    pub fn status(&self) -> Reindex {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set_status(&self, change: impl FnOnce(&mut Reindex)) {
        if let Ok(mut s) = self.status.lock() {
            change(&mut s);
        }
    }

    /// Starts a new build beside the one in use; `None` while another is running.
    pub fn begin(&self) -> Result<Option<Arc<SearchIndex>>, Error> {
        let mut building = self.building.write().map_err(|_| Error::Poisoned)?;
        if building.is_some() {
            return Ok(None);
        }
        let epoch = self.current().generation().0 + 1;
        let dir = index_dir(&self.dir, epoch);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let index = Arc::new(SearchIndex::open(&dir, epoch)?);
        *building = Some(index.clone());
        self.set_status(|s| {
            *s = Reindex {
                state: "running",
                epoch: epoch - 1,
                ..Reindex::default()
            }
        });
        Ok(Some(index))
    }

    /// Counts products pulled into the build.
    pub fn progress(&self, products: usize) {
        self.set_status(|s| s.products = products);
    }

    /// Makes the build searches read, and retires the old one.
    pub fn swap(&self, started: Instant) -> Result<(), Error> {
        let mut building = self.building.write().map_err(|_| Error::Poisoned)?;
        let Some(new) = building.take() else {
            return Ok(());
        };
        let epoch = new.generation().0;
        let pointer = self.dir.join("current-index");
        let written = self.dir.join("current-index.new");
        std::fs::write(&written, epoch.to_string())?;
        std::fs::rename(&written, &pointer)?;
        let old = {
            let mut current = self.current.write().map_err(|_| Error::Poisoned)?;
            std::mem::replace(&mut *current, new)
        };
        drop(building);
        let old_dir = index_dir(&self.dir, old.generation().0);
        self.set_status(|s| {
            s.state = "done";
            s.epoch = epoch;
            s.millis = Some(started.elapsed().as_millis() as u64);
        });
        tokio::spawn(async move {
            tokio::time::sleep(RETIRE_AFTER).await;
            drop(old);
            if let Err(e) = std::fs::remove_dir_all(&old_dir) {
                tracing::debug!(error = %e, dir = %old_dir.display(), "search: an old index stays");
            }
        });
        Ok(())
    }

    /// Drops a build that failed; searches go on reading the index in use.
    pub fn abandon(&self, error: String) {
        if let Ok(mut building) = self.building.write() {
            *building = None;
        }
        self.set_status(|s| {
            s.state = "failed";
            s.error = Some(error);
        });
    }
}
