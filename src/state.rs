//! The state directory: where the database, signing key, writer lock and control socket live.
//!
//! Resolution order: `--state-dir`, then `[agent] state_dir`, then systemd's `STATE_DIRECTORY`,
//! then `/var/lib/beweis` for root, then `$XDG_STATE_HOME/beweis` or `~/.local/state/beweis`.
//! The writer lock is an advisory lock on `writer.lock`: the daemon holds it for its lifetime,
//! an in-process `collect now` for its collection, so exactly one process writes the log.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;

use crate::store::Store;

/// Paths inside one state directory.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    root: PathBuf,
}

/// Errors preparing the state directory or taking the writer lock.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("no state directory: set --state-dir, or HOME for a non-root user")]
    NoDefault,
    #[error("cannot create state directory {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
    #[error(
        "state directory {path} belongs to uid {uid}: collect as that user \
         (e.g. `sudo -u beweis beweis collect now`) or start the daemon"
    )]
    Owner { path: PathBuf, uid: u32 },
    #[error("state directory {path} has mode {mode:04o}: group and others must not write to it")]
    Writable { path: PathBuf, mode: u32 },
    #[error("another beweis process holds the writer lock {path} (waited {waited_secs} s)")]
    Busy { path: PathBuf, waited_secs: u64 },
}

impl StateDir {
    /// Resolves the state directory from the flag, the configuration and the environment.
    pub(crate) fn resolve(
        flag: Option<&Path>,
        configured: Option<&Path>,
    ) -> Result<StateDir, StateError> {
        if let Some(dir) = flag.or(configured) {
            // A relative `--state-dir` is taken from the working directory once, so that the
            // socket, the lock and every message name the same absolute place.
            let root = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            return Ok(StateDir { root });
        }
        if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
            // systemd may pass several colon-separated directories; the first is ours.
            let first = dir.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
            return Ok(StateDir { root: PathBuf::from(first) });
        }
        if is_root() {
            return Ok(StateDir { root: PathBuf::from("/var/lib/beweis") });
        }
        let base = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
            .ok_or(StateError::NoDefault)?;
        Ok(StateDir { root: base.join("beweis") })
    }

    /// Creates the directory (mode 0700) if it does not exist, and refuses one that others
    /// may write to: whoever can replace files there can replace the key or the log.
    pub(crate) fn ensure(&self) -> Result<(), StateError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|source| StateError::Create { path: self.root.clone(), source })?;
        let mode = std::fs::metadata(&self.root)
            .map_err(|source| StateError::Create { path: self.root.clone(), source })?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(StateError::Writable { path: self.root.clone(), mode: mode & 0o7777 });
        }
        Ok(())
    }

    /// Opens the database for writing and loads the signing key, refusing to create a new key
    /// beside an existing log: its checkpoints would no longer verify.
    pub(crate) async fn open_writer(&self) -> anyhow::Result<(Store, SigningKey)> {
        let key_path = self.root.join(crate::keys::SECRET_FILE);
        if !key_path.exists() && self.database().exists() {
            anyhow::bail!(
                "signing key {} is missing but the evidence log {} exists: restore the key \
                 from backup (a new key would make every earlier checkpoint fail to verify)",
                key_path.display(),
                self.database().display()
            );
        }
        let store = Store::open(&self.database()).await?;
        if let Some(newest) = store.latest_checkpoint().await? {
            let key = crate::keys::load_existing(&self.root)?;
            let key_id = crate::keys::fingerprint(&key.verifying_key());
            if key_id != newest.key_id {
                anyhow::bail!(
                    "signing key {} (key id {key_id}) did not sign the evidence log {} (its \
                     newest checkpoint is signed by key id {}): restore the original key; \
                     checkpoints signed by another key would not verify",
                    key_path.display(),
                    self.database().display(),
                    newest.key_id
                );
            }
        }
        let key = crate::keys::load_or_create(&self.root)?;
        Ok((store, key))
    }

    /// Refuses to write as root into a state directory another user owns (the service user's):
    /// files created by root there would lock the daemon out of its own database.
    pub(crate) fn check_writer_identity(&self) -> Result<(), StateError> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(&self.root) else { return Ok(()) };
        if is_root() && meta.uid() != 0 {
            return Err(StateError::Owner { path: self.root.clone(), uid: meta.uid() });
        }
        Ok(())
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn database(&self) -> PathBuf {
        self.root.join("evidence.db")
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    pub(crate) fn public_key(&self) -> PathBuf {
        self.root.join("signing.pub")
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("writer.lock")
    }

    /// Takes the writer lock, waiting up to `wait`; `None` when another process holds it.
    pub(crate) fn try_lock_writer(&self, wait: Duration) -> Result<WriterLock, StateError> {
        let path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StateError::Lock { path: path.clone(), source })?;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriterLock { _file: file }),
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    let waited_secs = started.elapsed().as_secs();
                    return Err(StateError::Busy { path, waited_secs });
                }
                Err(TryLockError::Error(source)) => {
                    return Err(StateError::Lock { path, source });
                }
            }
        }
    }
}

/// The held writer lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
}

/// Whether the process runs with effective uid 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
