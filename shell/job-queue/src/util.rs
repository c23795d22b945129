//! Small helpers: random ids, clock, host identity.

use chrono::{DateTime, TimeZone, Utc};

/// Milliseconds since the Unix epoch; the unit of every stored time.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn to_datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `prefix`, then 26 Crockford base32 characters: the creation time in milliseconds
/// (50 bits) and 80 random bits. Still unguessable, but ids created together sort
/// together, so inserting them touches the end of the id index instead of a random page of
/// it — which keeps enqueueing fast in a database with a long history.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    fill_random(&mut bytes);
    let mut random = [0u8; 16];
    random[..10].copy_from_slice(&bytes);
    let value = time_bits(now_ms()) | (u128::from_le_bytes(random) & ((1 << 80) - 1));
    let mut id = String::with_capacity(prefix.len() + ID_TIME_CHARS);
    id.push_str(prefix);
    id.push_str(&encode(value));
    id
}

/// How many characters follow an id's prefix.
pub(crate) const ID_TIME_CHARS: usize = 26;

/// The id part (after the prefix) that sorts before every id made at `ms` or later and
/// after every id made earlier: a time bound on the id index.
pub(crate) fn id_time(ms: i64) -> String {
    encode(time_bits(ms))
}

/// When the job or batch `id` was made, from its time-ordered part.
pub(crate) fn id_created_ms(id: &str) -> Option<i64> {
    let (_, part) = id.split_once('_')?;
    if part.len() != ID_TIME_CHARS {
        return None;
    }
    // The first ten characters are the time's 50 bits; the rest is random.
    part.bytes().take(10).try_fold(0i64, |ms, c| {
        let digit = ALPHABET.iter().position(|a| *a == c)?;
        Some((ms << 5) | digit as i64)
    })
}

fn time_bits(ms: i64) -> u128 {
    (u128::try_from(ms).unwrap_or(0) & ((1 << 50) - 1)) << 80
}

fn encode(value: u128) -> String {
    // Most significant first, so that ids order by time.
    (0..ID_TIME_CHARS)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

pub(crate) fn random_i64() -> i64 {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes);
    i64::from_le_bytes(bytes)
}

fn fill_random(buf: &mut [u8]) {
    // The OS generator failing is unrecoverable for id generation; there is no safe fallback.
    getrandom::fill(buf).expect("the operating system's random number generator is unavailable");
}

/// Where this process's pids mean something: the host name, the boot and the pid
/// namespace ("laptop boot=3f2c… pidns=4026531836"). A worker row whose `host` is exactly
/// this can have its pid checked here; any other (another machine, an earlier boot, a
/// container or sandbox sharing the folder under the same host name) only by its lease.
pub(crate) fn host_name() -> String {
    static IDENTITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let read = |path: &str| {
                std::fs::read_to_string(path)
                    .ok()
                    .map(|s| s.trim().to_owned())
            };
            let host = read("/proc/sys/kernel/hostname")
                .or_else(|| read("/etc/hostname"))
                .unwrap_or_else(|| "unknown".to_owned());
            let boot = read("/proc/sys/kernel/random/boot_id").unwrap_or_else(|| "?".to_owned());
            // "pid:[4026531836]": the namespace's inode.
            let pidns = std::fs::read_link("/proc/self/ns/pid")
                .ok()
                .and_then(|link| {
                    let text = link.to_string_lossy().into_owned();
                    text.strip_prefix("pid:[")
                        .and_then(|rest| rest.strip_suffix(']'))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "?".to_owned());
            format!("{host} boot={boot} pidns={pidns}")
        })
        .clone()
}

/// Whether a process with this pid exists on this machine. `None` when it cannot be told.
pub(crate) fn pid_alive(pid: u32) -> Option<bool> {
    if !std::path::Path::new("/proc/self").exists() {
        return None;
    }
    Some(std::path::Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_well_formed() {
        let before = now_ms();
        let made = id_created_ms(&random_id("job_")).unwrap_or_default();
        assert!(
            (before..=now_ms()).contains(&made),
            "{made} not at {before}"
        );
        assert_eq!(id_created_ms("job_x"), None);
        let a = random_id("job_");
        let b = random_id("job_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 30);
        assert!(a[4..].bytes().all(|c| ALPHABET.contains(&c)));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = random_id("job_");
        assert!(
            later > a && later > b,
            "ids must order by creation time: {a} {b} {later}"
        );
    }

    #[test]
    fn this_process_is_alive() {
        assert_eq!(pid_alive(std::process::id()), Some(true));
    }
}
