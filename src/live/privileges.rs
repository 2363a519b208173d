//! Dropping root after the capture and the listening socket are open, as tcpdump -Z
//! does: a parser bug then runs as a user that can neither capture nor write outside
//! its own files.

use nix::unistd::{setgid, setgroups, setuid, Uid, User};

/// Becomes `name` (its uid, primary gid, and no supplementary groups). Must run
/// before any thread starts, so every thread has the same credentials.
pub fn drop_to(name: &str) -> Result<(), String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user {name:?}: {e}"))?
        .ok_or_else(|| format!("no such user {name:?}"))?;
    setgroups(&[user.gid]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(user.gid).map_err(|e| format!("setgid {}: {e}", user.gid))?;
    setuid(user.uid).map_err(|e| format!("setuid {}: {e}", user.uid))?;
    if !user.uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
        return Err(format!("still able to regain root after becoming {name:?}"));
    }
    Ok(())
}
