//! `netns-probe connect ADDR`: connects to ADDR over TCP, prints what the server sends until
//! it closes, and exits 0 (1 with a message on stderr on failure). The netns tests run it as
//! an application uid (`setpriv --reuid=...`) inside a namespace.

use std::net::SocketAddr;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.as_slice() {
        [_, cmd, addr] if cmd == "connect" => addr.parse::<SocketAddr>(),
        _ => {
            eprintln!("usage: netns-probe connect ADDR:PORT");
            std::process::exit(2);
        }
    };
    let result = addr
        .map_err(|e| e.to_string())
        .and_then(istio_nomad_tests::netns::read_line_from);
    match result {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
