//! Kernel receive timestamps for UDP (Linux `SO_TIMESTAMPNS`, socket(7)).
//!
//! "When did this datagram arrive" is the moment the kernel queued it on the socket, not
//! when a busy task got round to reading it. The engine stamps every SIP datagram it reads
//! this way ([`try_recv`]), so `answerpoint_engine_latency_seconds` counts the time an
//! INVITE waited in the socket and `answerpoint_udp_wait_seconds` shows that wait alone;
//! the load harness stamps what its simulated handlers receive ([`recv`]) so its engine
//! latency is not inflated by its own queueing. Where the platform has no receive
//! timestamps, or the kernel gives none, the read time is used instead.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Asks the kernel to stamp every datagram received on `socket` (`SO_TIMESTAMPNS`).
///
/// # Errors
/// The operating system's error from `setsockopt`.
#[cfg(target_os = "linux")]
pub fn enable(socket: &UdpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid open descriptor, a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// No receive timestamps on this platform: reads fall back to the read time.
///
/// # Errors
/// Never.
#[cfg(not(target_os = "linux"))]
pub fn enable(_socket: &UdpSocket) -> io::Result<()> {
    Ok(())
}

/// Waits for one datagram on `socket`, copies it into `buf` and returns its length, source
/// and arrival time: the kernel's receive timestamp (when [`enable`]d) mapped onto the
/// monotonic clock, else the time of the read.
///
/// # Errors
/// The operating system's receive error (e.g. ICMP port unreachable about an earlier send).
pub async fn recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Instant)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let (n, from, stamp) = socket
            .async_io(Interest::READABLE, || recvmsg_stamped(fd, buf))
            .await?;
        Ok((n, from, stamp.map_or_else(Instant::now, to_instant)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = Interest::READABLE;
        let (n, from) = socket.recv_from(buf).await?;
        Ok((n, from, Instant::now()))
    }
}

/// Reads one datagram from `socket` without waiting, like `UdpSocket::try_recv_from`, and
/// returns its length, source and the kernel's receive timestamp (when [`enable`]d; `None`
/// otherwise) mapped onto the monotonic clock.
///
/// # Errors
/// `WouldBlock` when nothing is waiting; otherwise the operating system's receive error.
pub fn try_recv(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<Instant>)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let (n, from, stamp) = socket.try_io(Interest::READABLE, || recvmsg_stamped(fd, buf))?;
        Ok((n, from, stamp.map(to_instant)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (n, from) = socket.try_recv_from(buf)?;
        Ok((n, from, None))
    }
}

/// Maps a wall-clock receive time onto the monotonic clock: now minus how long ago it was.
fn to_instant(received: SystemTime) -> Instant {
    let now = Instant::now();
    let ago = SystemTime::now()
        .duration_since(received)
        .unwrap_or(Duration::ZERO);
    now.checked_sub(ago).unwrap_or(now)
}

/// One non-blocking `recvmsg` with room for the `SCM_TIMESTAMPNS` control message.
#[cfg(target_os = "linux")]
fn recvmsg_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<SystemTime>)> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    // SAFETY: all-zero is a valid value for these plain C structs.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // u64 elements: aligned for cmsghdr; 128 octets hold one timespec message many times.
    let mut control = [0u64; 16];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at live buffers (addr, iov → buf, control) of the stated sizes,
    // all outliving the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, bounded by
    // msg_controllen; the timestamp is read unaligned from inside that buffer.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                stamp = u64::try_from(ts.tv_sec)
                    .ok()
                    .map(|s| UNIX_EPOCH + Duration::new(s, u32::try_from(ts.tv_nsec).unwrap_or(0)));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    let from = match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for an AF_INET source.
            let a: libc::sockaddr_in =
                unsafe { std::ptr::read((&addr as *const libc::sockaddr_storage).cast()) };
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for an AF_INET6 source.
            let a: libc::sockaddr_in6 =
                unsafe { std::ptr::read((&addr as *const libc::sockaddr_storage).cast()) };
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            ))
        }
        _ => return Err(io::Error::other("datagram from an unknown address family")),
    };
    Ok((usize::try_from(n).unwrap_or(0), from, stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stamps_arrival_before_the_read_and_reports_the_source() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        enable(&rx).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let before = Instant::now();
        tx.send_to(b"INVITE", rx.local_addr().unwrap())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from, arrived) = recv(&rx, &mut buf).await.unwrap();
        let read = Instant::now();
        assert_eq!(&buf[..n], b"INVITE");
        assert_eq!(from, tx.local_addr().unwrap());
        // Clock mapping error is well under a millisecond either side.
        assert!(arrived + Duration::from_millis(1) >= before);
        assert!(arrived <= read);
    }
}
