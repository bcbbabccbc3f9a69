//! A small TCP tool the netns tests run inside namespaces, often as another uid
//! (`setpriv --reuid=...`):
//!
//! * `netns-probe connect ADDR`: connects to ADDR, prints what the server sends until it
//!   closes, exits 0 (1 with a message on stderr on failure);
//! * `netns-probe request ADDR TEXT`: connects, sends TEXT and a newline, closes its sending
//!   side, prints the answer;
//! * `netns-probe relay PORT LOG LOCAL_IP...`: a stand-in for the Istio proxy's capture
//!   listener. It accepts on `0.0.0.0:PORT`, reads each connection's original destination
//!   (`SO_ORIGINAL_DST`), and relays the bytes both ways: to `127.0.0.1:<original port>` when
//!   the destination is one of the LOCAL_IPs (inbound: the app's listener, as Envoy's inbound
//!   cluster does), else to the original destination itself (outbound). Its own connections
//!   carry its uid, so the proxy's uid bypasses capture. Every connection appends
//!   `peer=<ip> orig=<ip:port> upstream=<ip:port> uid=<uid>` to LOG; a connection made to
//!   the port itself (not redirected) is closed unlogged. It runs until killed.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("{msg}");
    std::process::exit(1);
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn relay(port: u16, log: &str, locals: &[IpAddr]) -> ! {
    let listener = TcpListener::bind(("0.0.0.0", port))
        .unwrap_or_else(|e| fail(format!("bind 0.0.0.0:{port}: {e}")));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        let peer = client
            .peer_addr()
            .map_or_else(|_| "-".to_string(), |a| a.ip().to_string());
        // A connection made to the capture port itself (not redirected) has nowhere to go.
        let Some(orig) =
            istio_nomad_tests::netns::original_dst(&client).filter(|o| o.port() != port)
        else {
            continue;
        };
        let upstream: SocketAddr = if locals.contains(&IpAddr::V4(*orig.ip())) {
            SocketAddr::from(([127, 0, 0, 1], orig.port()))
        } else {
            SocketAddr::V4(orig)
        };
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "peer={peer} orig={orig} upstream={upstream} uid={uid}");
        }
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect_timeout(&upstream, Duration::from_secs(3)) else {
                return;
            };
            let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                return;
            };
            let up = std::thread::spawn(move || pipe(client, server));
            pipe(s2, c2);
            let _ = up.join();
        });
    }
    std::process::exit(0)
}

fn request(addr: SocketAddr, text: &str) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| s.shutdown(Shutdown::Write))
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = |s: &str| {
        s.parse::<SocketAddr>()
            .unwrap_or_else(|e| fail(format!("{s}: {e}")))
    };
    match args.as_slice() {
        [_, cmd, a] if cmd == "connect" => {
            match istio_nomad_tests::netns::read_line_from(addr(a)) {
                Ok(text) => println!("{text}"),
                Err(e) => fail(e),
            }
        }
        [_, cmd, a, text] if cmd == "request" => match request(addr(a), text) {
            Ok(answer) => print!("{answer}"),
            Err(e) => fail(e),
        },
        [_, cmd, port, log, locals @ ..] if cmd == "relay" => {
            let port: u16 = port
                .parse()
                .unwrap_or_else(|e| fail(format!("{port}: {e}")));
            let locals: Vec<IpAddr> = locals
                .iter()
                .map(|l| l.parse().unwrap_or_else(|e| fail(format!("{l}: {e}"))))
                .collect();
            relay(port, log, &locals)
        }
        _ => {
            eprintln!(
                "usage: netns-probe connect ADDR:PORT | request ADDR:PORT TEXT | relay PORT LOG LOCAL_IP..."
            );
            std::process::exit(2);
        }
    }
}
