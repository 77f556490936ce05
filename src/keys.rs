//! The host's Ed25519 signing key: created once, kept private, published as a `.pub` file.
//!
//! This module owns the key files in the state directory and nothing else: it does not sign
//! (checkpoints and the feed do) and does not decide where the state directory is (config
//! does). Files:
//!
//! - `signing.key`: the 32 raw bytes of the Ed25519 secret seed, mode 0600. It is created
//!   atomically (a temporary file written with `create_new`, synced, then linked into place,
//!   so two processes starting at once cannot overwrite each other's key) and refused when it
//!   is not a regular file, has the wrong length, or grants any access to group or others.
//! - `signing.pub`: the 32-byte public key as 64 lowercase hex characters and a newline,
//!   mode 0644, rewritten whenever it is missing or does not match the secret key.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::evidence::checkpoint;

/// The secret key's file name inside the state directory.
pub(crate) const SECRET_FILE: &str = "signing.key";
/// The public key's file name inside the state directory.
pub(crate) const PUBLIC_FILE: &str = "signing.pub";

/// Why a key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    /// Reading, writing or syncing a key file or the state directory failed.
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
    /// The secret key file is readable or writable by group or others.
    #[error(
        "signing key {path} has mode {mode:04o}, which grants access to group or others; \
         restrict it with chmod 600"
    )]
    Permissions { path: PathBuf, mode: u32 },
    /// The key file is not a regular file.
    #[error("signing key {path} is not a regular file")]
    NotAFile { path: PathBuf },
    /// The secret key file does not hold exactly 32 bytes.
    #[error("signing key {path} must hold exactly 32 bytes, found {len}")]
    Length { path: PathBuf, len: u64 },
    /// The public key file is not 64 hex characters of a valid Ed25519 key.
    #[error("public key {path} is invalid: {reason}")]
    Public { path: PathBuf, reason: String },
    /// The operating system's random source failed.
    #[error("could not generate a signing key: {0}")]
    Random(getrandom::Error),
}

/// Loads the signing key from `state_dir`, creating it (and the directory, mode 0700) when
/// missing, and makes sure `signing.pub` matches it.
pub(crate) fn load_or_create(state_dir: &Path) -> Result<SigningKey, KeyError> {
    ensure_dir(state_dir)?;
    let path = state_dir.join(SECRET_FILE);
    let key = match read_secret(&path) {
        Ok(key) => key,
        Err(KeyError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            create_secret(state_dir, &path)?
        }
        Err(other) => return Err(other),
    };
    write_public(state_dir, &key.verifying_key())?;
    Ok(key)
}

/// Loads the existing signing key of `state_dir` without creating or rewriting anything.
pub(crate) fn load_existing(state_dir: &Path) -> Result<SigningKey, KeyError> {
    read_secret(&state_dir.join(SECRET_FILE))
}

/// Loads a public key from a `.pub` file: 64 hex characters, surrounding whitespace allowed.
pub(crate) fn load_public(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text = fs::read_to_string(path).map_err(|source| io_error("read", path, source))?;
    parse_public(text.trim()).map_err(|reason| KeyError::Public { path: path.into(), reason })
}

/// The key's fingerprint: the key id that checkpoints carry.
pub(crate) fn fingerprint(key: &VerifyingKey) -> String {
    checkpoint::key_id(key)
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> KeyError {
    KeyError::Io { action, path: path.into(), source }
}

fn ensure_dir(dir: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| io_error("create directory", dir, source))
}

fn read_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let mut file = File::open(path).map_err(|source| io_error("open", path, source))?;
    let meta = file.metadata().map_err(|source| io_error("inspect", path, source))?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile { path: path.into() });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions { path: path.into(), mode });
    }
    if meta.len() != 32 {
        return Err(KeyError::Length { path: path.into(), len: meta.len() });
    }
    let mut seed = [0u8; 32];
    file.read_exact(&mut seed).map_err(|source| io_error("read", path, source))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Writes a new key to a temporary file and links it into place; if another process won the
/// race, its key is loaded instead.
fn create_secret(dir: &Path, path: &Path) -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(KeyError::Random)?;
    let tmp = temp_path(dir, SECRET_FILE)?;
    write_synced(&tmp, &seed, 0o600)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(SigningKey::from_bytes(&seed))
        }
        Err(source) if source.kind() == io::ErrorKind::AlreadyExists => read_secret(path),
        Err(source) => Err(io_error("link", path, source)),
    }
}

fn write_public(dir: &Path, key: &VerifyingKey) -> Result<(), KeyError> {
    let path = dir.join(PUBLIC_FILE);
    let text = format!("{}\n", hex::encode(key.as_bytes()));
    if fs::read_to_string(&path).is_ok_and(|current| current == text) {
        return Ok(());
    }
    let tmp = temp_path(dir, PUBLIC_FILE)?;
    write_synced(&tmp, text.as_bytes(), 0o644)?;
    fs::rename(&tmp, &path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        io_error("rename into", &path, source)
    })?;
    sync_dir(dir)
}

/// A fresh temporary name beside the final file, so that rename and link stay on one
/// file system.
fn temp_path(dir: &Path, name: &str) -> Result<PathBuf, KeyError> {
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).map_err(KeyError::Random)?;
    Ok(dir.join(format!(".{name}.{}.tmp", hex::encode(nonce))))
}

/// Creates `path` (which must not exist), writes `bytes`, sets `mode` exactly (whatever the
/// umask) and syncs it.
fn write_synced(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| io_error("create", path, source))?;
    let written = file
        .set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        let _ = fs::remove_file(path);
        return Err(io_error("write", path, source));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io_error("sync directory", dir, source))
}

fn parse_public(text: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(text).map_err(|e| format!("not hex: {e}"))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| format!("expected 32 bytes, found {}", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid ed25519 public key".to_string())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, Verifier};

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).expect("file exists").permissions().mode() & 0o7777
    }

    #[test]
    fn creates_a_private_key_and_a_public_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let key = load_or_create(&state).expect("created");
        let secret = state.join(SECRET_FILE);
        assert_eq!(fs::read(&secret).expect("read"), key.to_bytes().to_vec());
        assert_eq!(mode_of(&secret), 0o600);
        assert_eq!(mode_of(&state), 0o700);
        let public = state.join(PUBLIC_FILE);
        assert_eq!(mode_of(&public), 0o644);
        assert_eq!(
            fs::read_to_string(&public).expect("read"),
            format!("{}\n", hex::encode(key.verifying_key().as_bytes()))
        );
        let leftovers: Vec<_> = fs::read_dir(&state)
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }

    #[test]
    fn loading_again_returns_the_same_key_and_restores_the_public_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create(dir.path()).expect("created");
        fs::remove_file(dir.path().join(PUBLIC_FILE)).expect("remove pub");
        let second = load_or_create(dir.path()).expect("loaded");
        assert_eq!(first.to_bytes(), second.to_bytes());
        let public = load_public(&dir.path().join(PUBLIC_FILE)).expect("public");
        assert_eq!(public, first.verifying_key());
        let signature = second.sign(b"checkpoint");
        assert!(public.verify(b"checkpoint", &signature).is_ok());
    }

    #[test]
    fn refuses_a_key_readable_by_others_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        load_or_create(dir.path()).expect("created");
        let secret = dir.path().join(SECRET_FILE);
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = load_or_create(dir.path()).expect_err("group-readable key refused");
        assert!(matches!(err, KeyError::Permissions { mode: 0o640, .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains(&secret.display().to_string()), "{message}");
        assert!(message.contains("0640"), "{message}");
    }

    #[test]
    fn refuses_a_key_of_the_wrong_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join(SECRET_FILE);
        write_synced(&secret, &[1u8; 33], 0o600).expect("written");
        let err = load_or_create(dir.path()).expect_err("wrong length refused");
        assert!(matches!(err, KeyError::Length { len: 33, .. }), "{err:?}");
        assert!(err.to_string().contains("signing.key"));
    }

    #[test]
    fn refuses_a_directory_in_place_of_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(0o700).create(dir.path().join(SECRET_FILE)).expect("mkdir");
        let err = load_or_create(dir.path()).expect_err("directory refused");
        assert!(matches!(err, KeyError::NotAFile { .. }), "{err:?}");
    }

    #[test]
    fn public_files_must_hold_a_valid_hex_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.pub");
        fs::write(&path, "zz\n").expect("write");
        assert!(matches!(load_public(&path), Err(KeyError::Public { .. })));
        fs::write(&path, "abcd\n").expect("write");
        let err = load_public(&path).expect_err("short key");
        assert!(err.to_string().contains("expected 32 bytes, found 2"), "{err}");
        let missing = load_public(&dir.path().join("missing.pub")).expect_err("missing");
        assert!(missing.to_string().contains("missing.pub"), "{missing}");
        let key = SigningKey::from_bytes(&[9; 32]).verifying_key();
        fs::write(&path, format!("  {}\n\n", hex::encode(key.as_bytes()))).expect("write");
        assert_eq!(load_public(&path).expect("valid"), key);
    }

    #[test]
    fn fingerprint_is_the_checkpoint_key_id() {
        let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
        assert_eq!(fingerprint(&key), checkpoint::key_id(&key));
        assert_eq!(fingerprint(&key).len(), 16);
    }
}
