//! Fast tests of [`RspClient`] against a scripted in-memory server: ack mode,
//! run-length encoded and escaped replies, target description includes,
//! error replies, interrupts, and garbage (fuzzed, with virtual time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::rsp::packet::checksum_of;

/// Frames a body exactly as given (no escaping), so tests can write
/// run-length markers and escapes by hand.
fn frame_raw(body: &[u8]) -> Vec<u8> {
    let mut out = vec![b'$'];
    out.extend_from_slice(body);
    out.extend_from_slice(format!("#{:02x}", checksum_of(body)).as_bytes());
    out
}

/// What the scripted server saw.
#[derive(Debug, Default)]
struct Seen {
    requests: Vec<String>,
    interrupts: usize,
}

/// Serves `reply(request) -> raw bytes` on one end of a duplex pipe. Acks
/// every packet until the client asks for no-ack mode (and it is granted).
fn spawn_server<F>(mut stream: DuplexStream, reply: F) -> Arc<Mutex<Seen>>
where
    F: Fn(&str, &mut Seen) -> Vec<u8> + Send + 'static,
{
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        let mut decoder = Decoder::new(1 << 16);
        let mut ack = true;
        let mut buf = [0u8; 4096];
        loop {
            let count = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(count) => count,
            };
            for byte in &buf[..count] {
                // The lock is held only while computing the reply, never
                // across an await.
                let out = {
                    let mut seen = shared.lock().unwrap();
                    if *byte == 0x03 {
                        seen.interrupts += 1;
                        reply("\u{3}", &mut seen)
                    } else if let Some(Incoming::Packet(payload)) = decoder.push(*byte) {
                        let request = String::from_utf8_lossy(&payload).into_owned();
                        seen.requests.push(request.clone());
                        let mut out = if ack { b"+".to_vec() } else { Vec::new() };
                        let body = reply(&request, &mut seen);
                        if request == "QStartNoAckMode" && body == frame_raw(b"OK") {
                            ack = false;
                        }
                        out.extend_from_slice(&body);
                        out
                    } else {
                        continue;
                    }
                };
                if stream.write_all(&out).await.is_err() {
                    return;
                }
            }
        }
    });
    seen
}

const TARGET_XML: &str =
    r#"<target><architecture>i386:x86-64</architecture><xi:include href="core.xml"/></target>"#;
const CORE_XML: &str = r#"<feature name="org.gnu.gdb.i386.core"><reg name="rax" bitsize="64"/><reg name="rip" bitsize="64" regnum="16"/><reg name="rsp" bitsize="64"/></feature>"#;

/// Answers a qXfer read of `document` in chunks of at most 40 bytes.
fn xfer(document: &str, request: &str) -> Vec<u8> {
    let range = request.rsplit(':').next().unwrap();
    let (offset, _) = range.split_once(',').unwrap();
    let offset = usize::from_str_radix(offset, 16).unwrap();
    let rest = &document.as_bytes()[offset.min(document.len())..];
    let (kind, chunk) = if rest.len() > 40 {
        (b'm', &rest[..40])
    } else {
        (b'l', rest)
    };
    let mut body = vec![kind];
    body.extend_from_slice(chunk);
    frame_raw(&body)
}

fn basic_reply(request: &str, _seen: &mut Seen) -> Vec<u8> {
    match request {
        r if r.starts_with("qSupported") => {
            frame_raw(b"PacketSize=100;qXfer:features:read+;binary-upload+;qXfer:auxv:read+")
        }
        r if r.starts_with("qXfer:features:read:target.xml:") => xfer(TARGET_XML, r),
        r if r.starts_with("qXfer:features:read:core.xml:") => xfer(CORE_XML, r),
        "vCont?" => frame_raw(b"vCont;c;C;s;S"),
        "Hg0" | "Hg2a" => frame_raw(b"OK"),
        "?" => frame_raw(b"T05thread:2a;10:3412000000000000;"),
        // rax = 0 as "0" plus 15 more ('*' + 44), rip, then rsp cut off.
        "g" => frame_raw(b"0*,efbeadde00000000"),
        "p7" | "p11" => frame_raw(b"E0e"),
        // The bytes 0x7d 0x23 0x24 0x2a escaped, then 0x01.
        "x1000,5" => frame_raw(b"b}]}\x03}\x04}\x0a\x01"),
        "Z0,1000,1" => frame_raw(b"E0e"),
        "z0,1000,1" => frame_raw(b""),
        "vCont;c" => frame_raw(b"O6869"),
        // "bootstrap" in hex.
        "qThreadExtraInfo,2a" => frame_raw(b"626f6f747374726170"),
        "qThreadExtraInfo,2b" => frame_raw(b"E01"),
        "\u{3}" => frame_raw(b"T02thread:2a;"),
        // "fogbank invocation": two lines of output in two packets.
        "qRcmd,666f6762616e6b20696e766f636174696f6e" => {
            let mut out = frame_raw(format!("O{}", encode_hex(b"invocation r1 ")).as_bytes());
            out.extend_from_slice(&frame_raw(
                format!("O{}", encode_hex(b"2500\ninvocation r2 -\n")).as_bytes(),
            ));
            out.extend_from_slice(&frame_raw(b"OK"));
            out
        }
        // "other" is unknown to this server.
        "qRcmd,6f74686572" => frame_raw(b""),
        // "broken" fails.
        "qRcmd,62726f6b656e" => frame_raw(b"E01"),
        _ => frame_raw(b""),
    }
}

#[tokio::test]
async fn talks_ack_mode_decodes_rle_escapes_and_includes() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let seen = spawn_server(server_end, basic_reply);
    let mut client = RspClient::connect(client_end).await.expect("handshake");
    assert!(!client.no_ack, "the server offered no QStartNoAckMode");
    assert_eq!(client.features().packet_size, 0x100);
    let layout = client.layout().clone();
    assert_eq!(layout.architecture(), Some("i386:x86-64"));
    assert_eq!(
        layout.by_name("rip").map(|r| (r.regnum, r.offset)),
        Some((16, 8))
    );
    assert_eq!(
        layout.by_name("rsp").map(|r| (r.regnum, r.offset)),
        Some((17, 16))
    );

    let stop = client.stop_reason().await.expect("?");
    let thread = ThreadId::new(0x2a);
    assert!(
        matches!(&stop, StopReply::Stopped(s) if s.thread == Some(thread)),
        "{stop:?}"
    );
    let registers = client.read_registers(thread).await.expect("g");
    assert_eq!(registers.value(&layout, "rax"), Some(0));
    assert_eq!(registers.value(&layout, "rip"), Some(0xdead_beef));
    assert_eq!(
        registers.value(&layout, "rsp"),
        None,
        "cut off: not in the g reply"
    );
    // Served from the cache: no second `g`.
    client.read_registers(thread).await.expect("cached g");
    assert_eq!(client.read_pc(thread).await.expect("pc"), 0xdead_beef);
    assert!(matches!(
        client.read_register(thread, "rsp").await,
        Err(RspError::Remote { code: 0x0e, .. })
    ));
    assert!(matches!(
        client.read_register(thread, "r99").await,
        Err(RspError::NoSuchRegister(_))
    ));

    let memory = client.read_memory(0x1000, 5).await.expect("x read");
    assert_eq!(memory, vec![0x7d, 0x23, 0x24, 0x2a, 0x01]);
    assert!(matches!(
        client.set_breakpoint(0x1000).await,
        Err(RspError::Remote { code: 0x0e, .. })
    ));
    assert!(matches!(
        client.remove_breakpoint(0x1000).await,
        Err(RspError::Unsupported { .. })
    ));

    assert_eq!(
        client.thread_name(thread).await.expect("name").as_deref(),
        Some("bootstrap")
    );
    assert_eq!(
        client
            .thread_name(ThreadId::new(0x2b))
            .await
            .expect("no name"),
        None
    );
    assert_eq!(
        client
            .thread_name(ThreadId::new(0x2c))
            .await
            .expect("unsupported"),
        None
    );

    let requests = seen.lock().unwrap().requests.clone();
    assert_eq!(
        requests.iter().filter(|r| *r == "g").count(),
        1,
        "{requests:?}"
    );
    assert!(
        requests.contains(&"qXfer:features:read:core.xml:0,f0".to_owned()),
        "{requests:?}"
    );
}

#[tokio::test]
async fn wait_stop_is_cancel_safe_and_interrupt_stops_the_target() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let seen = spawn_server(server_end, basic_reply);
    let mut client = RspClient::connect(client_end).await.expect("handshake");
    client.stop_reason().await.expect("?");
    assert_eq!(
        client
            .send_resume(ResumeAction::Continue)
            .await
            .expect("resume"),
        None
    );
    assert!(client.is_running());
    assert!(matches!(
        client.read_memory(0, 1).await,
        Err(RspError::Running { .. })
    ));
    // The server sent console output but no stop: the wait times out and is
    // dropped, as a DAP session does when a pause request comes in.
    let waited = tokio::time::timeout(Duration::from_millis(50), client.wait_stop()).await;
    assert!(waited.is_err(), "no stop yet");
    client.interrupt().await.expect("interrupt");
    let stop = client.wait_stop().await.expect("stop after interrupt");
    assert!(
        matches!(&stop, StopReply::Stopped(s) if s.signal == 2),
        "{stop:?}"
    );
    assert_eq!(client.take_output(), b"hi");
    assert_eq!(seen.lock().unwrap().interrupts, 1);
}

#[tokio::test]
async fn monitor_commands_collect_their_output() {
    let (client_end, server_end) = tokio::io::duplex(1 << 16);
    let _seen = spawn_server(server_end, basic_reply);
    let mut client = RspClient::connect(client_end).await.unwrap();
    assert_eq!(
        client.monitor("fogbank invocation").await.unwrap(),
        "invocation r1 2500\ninvocation r2 -\n"
    );
    assert!(matches!(
        client.monitor("other").await,
        Err(RspError::Unsupported { .. })
    ));
    assert!(matches!(
        client.monitor("broken").await,
        Err(RspError::Remote { code: 1, .. })
    ));
    // The connection still works after each.
    assert_eq!(
        client
            .monitor("fogbank invocation")
            .await
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out() {
    let (client_end, server_end) = tokio::io::duplex(1024);
    let _seen = spawn_server(server_end, |_, _| Vec::new());
    let error = RspClient::connect(client_end).await.expect_err("no reply");
    assert!(matches!(error, RspError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn a_closed_connection_is_an_error() {
    let (client_end, server_end) = tokio::io::duplex(1024);
    drop(server_end);
    let error = RspClient::connect(client_end).await.expect_err("closed");
    assert!(
        matches!(error, RspError::Closed { .. } | RspError::Io { .. }),
        "{error}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever a server answers, the client returns values or typed errors.
    #[test]
    fn garbage_replies_give_errors_not_panics(
        replies in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..12),
        framed in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client_end, server_end) = tokio::io::duplex(1 << 16);
            let replies = Mutex::new(replies.into_iter().cycle().take(64).collect::<Vec<_>>());
            let _seen = spawn_server(server_end, move |_, _| {
                let mut replies = replies.lock().unwrap();
                let reply = if replies.is_empty() { Vec::new() } else { replies.remove(0) };
                if framed { frame_raw(&reply) } else { reply }
            });
            if let Ok(mut client) = RspClient::connect(client_end).await {
                let thread = ThreadId::new(1);
                let _ = client.stop_reason().await;
                let _ = client.threads().await;
                let _ = client.read_registers(thread).await;
                let _ = client.read_memory(0x1000, 64).await;
                let _ = client.read_auxv().await;
                let _ = client.monitor("fogbank invocation").await;
                // Waiting for a stop has no timeout of its own (a program may
                // run for hours); bound it here so virtual time can end it.
                let _ = tokio::time::timeout(
                    Duration::from_secs(30),
                    client.resume(ResumeAction::Step(thread)),
                )
                .await;
            }
        });
    }
}
