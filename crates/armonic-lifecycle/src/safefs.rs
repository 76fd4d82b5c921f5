//! Writing files as root without being steered by other users.
//!
//! The agent runs as root and writes into directories other users may be able to write (a
//! lifecycle's `files`, a state directory given on the command line). Everything it writes
//! goes through this module:
//!
//! - Paths are walked one component at a time from `/` with directory handles
//!   (`openat(O_NOFOLLOW)`), never by the kernel's own path resolution: a symbolic link on the
//!   way is followed only if it belongs to root or to the process's own user, so a link
//!   planted by another user is refused, not followed.
//! - A file is never written in place: its content goes to a new temporary file with a random
//!   name created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`) in the target's directory, gets its
//!   mode with `fchmod`, is synced, then renamed over the target. A link at the target's name
//!   is refused (renaming would replace the link, not write what it points to, which is not what
//!   its author meant either).
//! - A private directory (the state directory) must belong to the process's user and be
//!   writable by no one else, and so must every directory above it be (owned by root or the
//!   user, writable by others only with the sticky bit, as `/tmp`): otherwise another user
//!   could replace what is in it. Such a directory is refused with a message saying why, never
//!   repaired behind the operator's back.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Symbolic links followed in one path at most (as the kernel's `ELOOP` limit).
const MAX_LINKS: usize = 40;

/// Why a directory is not safe to keep private files in.
#[derive(Debug, thiserror::Error)]
pub enum UnsafeDir {
    /// The directory, or one above it, belongs to another user.
    #[error(
        "{} belongs to user {owner}, not to {}: another user could replace what is in it",
        .path.display(), user_name(*.expected)
    )]
    Owner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user it should belong to.
        expected: u32,
    },
    /// The directory, or one above it, can be written by other users.
    #[error(
        "{} can be written by other users (mode {mode:04o}): they could replace what is in it; \
         use a directory only its owner can write (chmod go-w)",
        .path.display()
    )]
    Writable {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A symbolic link on the way belongs to another user.
    #[error("{} is a symbolic link of user {owner}: not followed", .path.display())]
    Link {
        /// The link.
        path: PathBuf,
        /// Its owner.
        owner: u32,
    },
    /// Something on the way is not a directory.
    #[error("{} is not a directory", .path.display())]
    NotDir {
        /// The path.
        path: PathBuf,
    },
    /// The path has too many links.
    #[error("{}: too many symbolic links", .path.display())]
    Loop {
        /// The path.
        path: PathBuf,
    },
    /// The file system said no.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<UnsafeDir> for std::io::Error {
    fn from(e: UnsafeDir) -> std::io::Error {
        match e {
            UnsafeDir::Io { source, .. } => source,
            UnsafeDir::NotDir { .. } => std::io::Error::new(std::io::ErrorKind::NotADirectory, e),
            other => std::io::Error::new(std::io::ErrorKind::PermissionDenied, other),
        }
    }
}

fn user_name(uid: u32) -> String {
    if uid == 0 {
        "root".into()
    } else {
        format!("user {uid}")
    }
}

/// What the walk checks of each directory it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Only links: followed if they belong to root or to this user.
    Links,
    /// Links, and every directory belongs to root or this user and is writable by no one
    /// else unless sticky; the last one belongs to this user and is writable by no one else.
    Private,
}

/// What to do with missing directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Fail,
    /// Create them: the last with this mode, the ones above 0755.
    Create(u32),
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn errno(path: &Path) -> impl Fn(Errno) -> UnsafeDir + '_ {
    move |e| UnsafeDir::Io {
        path: path.to_owned(),
        source: e.into(),
    }
}

/// Opens the directory `path`, walking it as the module says. Relative paths start from the
/// current directory (whose own ancestors are checked too in the private walk).
fn walk(path: &Path, strict: Strictness, missing: Missing) -> Result<OwnedFd, UnsafeDir> {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map_err(|source| UnsafeDir::Io {
                path: path.to_owned(),
                source,
            })?
            .join(path)
    };
    let me = euid();
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
    let root = rustix::fs::open("/", dir_flags, Mode::empty()).map_err(errno(Path::new("/")))?;
    // The directories opened so far, from `/`, with their paths (for `..` and messages).
    let mut stack: Vec<(OwnedFd, PathBuf)> = vec![(root, PathBuf::from("/"))];
    let mut todo: Vec<OsString> = components(&absolute);
    todo.reverse();
    let last_index = |todo: &Vec<OsString>| todo.iter().all(|c| c == "." || c.is_empty());
    let made = |dir: &OwnedFd, name: &OsStr, mode: u32, here: &Path| -> Result<(), UnsafeDir> {
        match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)) {
            Ok(()) => {
                // The mode asked for, whatever the umask.
                let fd =
                    rustix::fs::openat(dir, name, dir_flags, Mode::empty()).map_err(errno(here))?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(errno(here))
            }
            Err(Errno::EXIST) => Ok(()),
            Err(e) => Err(errno(here)(e)),
        }
    };
    let mut links = 0;
    if strict == Strictness::Private {
        check_dir(&stack[0].0, Path::new("/"), me, false)?;
    }
    while let Some(name) = todo.pop() {
        if name == "." || name.is_empty() {
            continue;
        }
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let is_last = last_index(&todo);
        let (dir, dir_path) = stack.last().expect("the root stays");
        let here = dir_path.join(&name);
        let stat = match rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT) => match missing {
                Missing::Fail => return Err(errno(&here)(Errno::NOENT)),
                Missing::Create(mode) => {
                    let mode = if is_last { mode } else { 0o755 };
                    made(dir, name.as_os_str(), mode, &here)?;
                    rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(errno(&here))?
                }
            },
            Err(e) => return Err(errno(&here)(e)),
        };
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Symlink => {
                if stat.st_uid != 0 && stat.st_uid != me {
                    return Err(UnsafeDir::Link {
                        path: here,
                        owner: stat.st_uid,
                    });
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(UnsafeDir::Loop { path: here });
                }
                let target = rustix::fs::readlinkat(dir, name.as_os_str(), Vec::new())
                    .map_err(errno(&here))?;
                let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
                if target.is_absolute() {
                    stack.truncate(1);
                }
                let mut more = components(&target);
                more.reverse();
                todo.extend(more);
            }
            FileType::Directory => {
                let fd = rustix::fs::openat(dir, name.as_os_str(), dir_flags, Mode::empty())
                    .map_err(errno(&here))?;
                if strict == Strictness::Private {
                    check_dir(&fd, &here, me, false)?;
                }
                stack.push((fd, here));
            }
            _ => return Err(UnsafeDir::NotDir { path: here }),
        }
    }
    let (fd, reached) = stack.pop().expect("the root stays");
    if strict == Strictness::Private {
        // The directory reached (after any `..` or link) is the one that must be private.
        check_dir(&fd, &reached, me, true)?;
    }
    Ok(fd)
}

fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// A directory on the way to a private one: root's or ours, and not writable by others
/// (unless sticky); the private one itself: ours, writable by us only.
fn check_dir(fd: &OwnedFd, path: &Path, me: u32, last: bool) -> Result<(), UnsafeDir> {
    let stat = rustix::fs::fstat(fd).map_err(errno(path))?;
    let mode = stat.st_mode & 0o7777;
    let owner_ok = if last {
        stat.st_uid == me
    } else {
        stat.st_uid == 0 || stat.st_uid == me
    };
    if !owner_ok {
        return Err(UnsafeDir::Owner {
            path: path.to_owned(),
            owner: stat.st_uid,
            expected: me,
        });
    }
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && (last || !sticky) {
        return Err(UnsafeDir::Writable {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Makes sure `path` is a private directory of this process's user: created (mode 0700, and
/// 0755 for missing parents) if missing; refused if it, or a directory above it, could be
/// changed by another user.
pub fn private_dir(path: &Path) -> Result<(), UnsafeDir> {
    walk(path, Strictness::Private, Missing::Create(0o700)).map(drop)
}

/// Checks, without creating anything, that `path` is a private directory of this process's
/// user (see [`private_dir`]).
pub fn check_private_dir(path: &Path) -> Result<(), UnsafeDir> {
    walk(path, Strictness::Private, Missing::Fail).map(drop)
}

/// Opens the directory `path` (creating missing ones, 0755), following only links that
/// belong to root or to this process's user.
pub fn open_dir(path: &Path) -> Result<OwnedFd, UnsafeDir> {
    walk(path, Strictness::Links, Missing::Create(0o755))
}

/// Who should own a written file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owner {
    /// The user, if not the writer.
    pub uid: Option<u32>,
    /// The group, if not the writer's.
    pub gid: Option<u32>,
}

/// Writes `data` to `path`, replacing it atomically, with `mode` (exactly: the umask does not
/// apply). The directory is opened as [`open_dir`] does; a symbolic link at `path` is refused.
pub fn replace_file(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    replace_file_owned(path, data, mode, Owner::default())
}

/// [`replace_file`], the file then given to `owner`.
pub fn replace_file_owned(
    path: &Path,
    data: &[u8],
    mode: u32,
    owner: Owner,
) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        )
    })?;
    let dir_path = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = open_dir(dir_path)?;
    replace_in(&dir, name, data, mode, owner)
}

/// Writes `data` as `name` in the directory `dir`: new temporary file, mode, sync, rename.
pub fn replace_in(
    dir: &impl AsFd,
    name: &OsStr,
    data: &[u8],
    mode: u32,
    owner: Owner,
) -> std::io::Result<()> {
    let mut owner = owner;
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        // A file replaced keeps its owner and group unless told otherwise.
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => {
            owner.uid = owner.uid.or(Some(stat.st_uid));
            owner.gid = owner.gid.or(Some(stat.st_gid));
        }
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "it is a symbolic link: a file is replaced, a link is not followed",
            ));
        }
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        _ => {}
    }
    let (tmp, file) = new_temporary(dir, name)?;
    let written = (|| {
        let mut file = std::fs::File::from(file);
        if owner.uid.is_some() || owner.gid.is_some() {
            rustix::fs::fchown(
                &file,
                owner.uid.map(rustix::fs::Uid::from_raw),
                owner.gid.map(rustix::fs::Gid::from_raw),
            )?;
        }
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode & 0o7777))?;
        file.write_all(data)?;
        file.sync_all()?;
        rustix::fs::renameat(dir, &tmp, dir, name)?;
        let _ = rustix::fs::fsync(dir);
        Ok(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(dir, &tmp, AtFlags::empty());
    }
    written
}

/// Creates `.<name>.<random>` exclusively in `dir`, readable by its owner only.
fn new_temporary(dir: &impl AsFd, name: &OsStr) -> std::io::Result<(OsString, OwnedFd)> {
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC;
    let mut tries = 0;
    loop {
        let mut tmp = OsString::from(".");
        // Long names are shortened so the temporary one stays under NAME_MAX.
        let bytes = name.as_bytes();
        tmp.push(OsStr::from_bytes(&bytes[..bytes.len().min(200)]));
        tmp.push(format!(".tmp-{:016x}", random()));
        match rustix::fs::openat(dir, &tmp, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => return Ok((tmp, fd)),
            Err(Errno::EXIST) if tries < 16 => tries += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// An unpredictable number (the process's random hasher keys, a counter and the time).
pub(crate) fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Opens (creating it, 0600) the file `path` for reading and writing without following a
/// link at its name; never truncates.
pub fn open_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32 | OFlags::CLOEXEC.bits() as i32)
        .open(path)
}

/// A private directory of this process that goes away with it (mode 0700, random name, in
/// the system's temporary directory).
pub struct PrivateTemp {
    path: PathBuf,
}

impl PrivateTemp {
    /// Creates one, named `<prefix><random>`.
    pub fn new(prefix: &str) -> std::io::Result<PrivateTemp> {
        let base = std::env::temp_dir();
        let mut tries = 0;
        loop {
            let path = base.join(format!("{prefix}{:016x}", random()));
            match rustix::fs::mkdir(&path, Mode::from_raw_mode(0o700)) {
                Ok(()) => return Ok(PrivateTemp { path }),
                Err(Errno::EXIST) if tries < 16 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for PrivateTemp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PrivateTemp").field(&self.path).finish()
    }
}

impl Drop for PrivateTemp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode_of(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_file_is_replaced_with_exactly_its_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/file");
        replace_file(&p, b"one", 0o640).unwrap();
        replace_file(&p, b"two", 0o604).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(mode_of(&p), 0o604);
        let left: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file stays");
    }

    #[test]
    fn a_link_at_the_target_is_refused_and_what_it_points_to_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let e = replace_file(&link, b"evil", 0o666).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(mode_of(&victim), 0o600);
    }

    #[test]
    fn a_private_directory_writable_by_others_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = private_dir(&shared).unwrap_err();
        assert!(matches!(e, UnsafeDir::Writable { .. }), "{e}");
        assert!(
            e.to_string().contains("can be written by other users"),
            "{e}"
        );
        assert_eq!(
            mode_of(&shared),
            0o1777,
            "never repaired behind the operator's back"
        );
        // Below a sticky directory such as /tmp, a private directory of ours is fine.
        private_dir(&shared.join("mine")).unwrap();
        assert_eq!(mode_of(&shared.join("mine")), 0o700);
    }

    #[test]
    fn a_private_directory_below_one_writable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&open.join("state")).unwrap_err();
        assert!(
            matches!(e, UnsafeDir::Writable { ref path, .. } if path == &open),
            "{e}"
        );
        assert!(!open.join("state").exists(), "nothing created on the way");
    }

    #[test]
    fn links_of_this_user_are_followed_through_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        symlink("real", dir.path().join("alias")).unwrap();
        replace_file(&dir.path().join("alias/../alias/f"), b"x", 0o644).unwrap();
        assert_eq!(std::fs::read(dir.path().join("real/f")).unwrap(), b"x");
    }

    /// Runs `test` if this process is root (it gives files to other users), else says why not.
    fn as_root(test: impl FnOnce()) {
        if euid() == 0 {
            test();
        } else if std::env::var_os("ARMONIC_REQUIRE_ALL_TESTS").is_some() {
            panic!("this test needs root to give files to another user");
        } else {
            eprintln!("skipped: this test needs root to give files to another user");
        }
    }

    #[test]
    fn a_link_of_another_user_on_the_way_is_not_followed() {
        as_root(|| {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("etc");
            std::fs::create_dir(&target).unwrap();
            let link = dir.path().join("site");
            symlink(&target, &link).unwrap();
            std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
            let e = replace_file(&link.join("index.html"), b"x", 0o644).unwrap_err();
            assert!(e.to_string().contains("symbolic link of user 65534"), "{e}");
            assert!(!target.join("index.html").exists());
        });
    }

    #[test]
    fn a_private_directory_reached_through_dot_dot_is_checked_itself() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        private_dir(&shared.join("mine")).unwrap();
        let e = private_dir(&shared.join("mine/..")).unwrap_err();
        assert!(
            matches!(e, UnsafeDir::Writable { ref path, .. } if path == &shared),
            "{e}"
        );
    }

    #[test]
    fn directories_made_on_the_way_get_their_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        // Another thread may create files meanwhile: the umask is only narrowed.
        let old = rustix::process::umask(Mode::from_raw_mode(0o077));
        let made = replace_file(&dir.path().join("a/b/f"), b"x", 0o644);
        rustix::process::umask(old);
        made.unwrap();
        assert_eq!(mode_of(&dir.path().join("a")), 0o755);
        assert_eq!(mode_of(&dir.path().join("a/b")), 0o755);
    }

    #[test]
    fn a_replaced_file_keeps_its_owner() {
        as_root(|| {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("site.conf");
            std::fs::write(&p, "old").unwrap();
            std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
            replace_file(&p, b"new", 0o640).unwrap();
            let meta = std::fs::metadata(&p).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!((meta.uid(), meta.gid(), mode_of(&p)), (65534, 65534, 0o640));
        });
    }

    #[test]
    fn a_private_directory_of_another_user_is_refused() {
        as_root(|| {
            let dir = tempfile::tempdir().unwrap();
            let theirs = dir.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = private_dir(&theirs).unwrap_err();
            assert!(
                e.to_string().contains("belongs to user 65534, not to root"),
                "{e}"
            );
            let e = private_dir(&theirs.join("below")).unwrap_err();
            assert!(
                matches!(e, UnsafeDir::Owner { ref path, .. } if path == &theirs),
                "{e}"
            );
        });
    }
}
