//! Cross-process wake-ups: each process running workers listens on a loopback UDP port
//! (recorded in its `workers` row); a process that enqueues work or cancels a job another
//! process runs sends it a one-byte datagram. This keeps pickup push-based across
//! processes; a lost datagram only delays work until the pool's periodic check.

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::OnceLock;

/// New work may be due.
pub(crate) const WORK: u8 = b'w';
/// A job this worker runs may have been cancelled: check now rather than at the next heartbeat.
pub(crate) const CHECK: u8 = b'c';

/// Sends `kind` to each port; failures are ignored (the receiver may have exited).
pub(crate) fn send(ports: impl IntoIterator<Item = u16>, kind: u8) {
    static SOCKET: OnceLock<Option<UdpSocket>> = OnceLock::new();
    let socket = SOCKET.get_or_init(|| {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(socket)
    });
    if let Some(socket) = socket {
        for port in ports {
            let _ = socket.send_to(&[kind], (Ipv4Addr::LOCALHOST, port));
        }
    }
}

/// Binds the listening socket of a worker pool.
pub(crate) async fn bind() -> std::io::Result<(tokio::net::UdpSocket, u16)> {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = socket.local_addr()?.port();
    Ok((socket, port))
}
