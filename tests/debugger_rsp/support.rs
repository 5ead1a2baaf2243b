//! Helpers for the RSP tests: building the fixture program and the static
//! agent, reading ELF symbols, and starting a gdb server (fogbank-agent or
//! Debian's gdbserver) on a fixture.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fogbank_dap::rsp::RspClient;
use object::{Object, ObjectSection, ObjectSymbol};

/// Source of the debuggee.
pub fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("debugger_rsp/fixtures/target.c")
}

/// The 1-based line of the `marker: NAME` comment in the fixture source.
pub fn marker_line(name: &str) -> usize {
    let source = std::fs::read_to_string(fixture_source()).expect("read fixture source");
    let needle = format!("marker: {name} ");
    source
        .lines()
        .position(|line| line.contains(&needle))
        .map(|index| index + 1)
        .unwrap_or_else(|| panic!("no marker {name:?} in the fixture"))
}

fn build_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fogbank-rsp-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create build dir");
    dir
}

/// Compiles the fixture with gcc once per test run (`static_link` for the
/// empty-container test).
pub fn fixture(static_link: bool) -> PathBuf {
    static DYNAMIC: OnceLock<PathBuf> = OnceLock::new();
    static STATIC: OnceLock<PathBuf> = OnceLock::new();
    let cell = if static_link { &STATIC } else { &DYNAMIC };
    cell.get_or_init(|| {
        let output = build_dir().join(if static_link {
            "target-static"
        } else {
            "target"
        });
        let flags: &[&str] = if static_link {
            &["-pthread", "-static"]
        } else {
            &["-pthread"]
        };
        fogbank_tests::compile_c(&fixture_source(), &output, flags);
        output
    })
    .clone()
}

/// fogbank-agent built static, exactly as documented in its README.
pub use fogbank_tests::static_agent;

/// Symbols and code bytes of an ELF file.
pub struct Elf {
    data: Vec<u8>,
}

impl Elf {
    /// Reads an ELF file.
    pub fn load(path: &Path) -> Elf {
        Elf {
            data: std::fs::read(path).expect("read ELF"),
        }
    }

    fn file(&self) -> object::File<'_> {
        object::File::parse(&*self.data).expect("parse ELF")
    }

    /// Link-time address and size of a symbol.
    pub fn symbol(&self, name: &str) -> (u64, u64) {
        let file = self.file();
        let symbol = file
            .symbols()
            .find(|symbol| symbol.name() == Ok(name))
            .unwrap_or_else(|| panic!("no symbol {name} in the fixture"));
        (symbol.address(), symbol.size())
    }

    /// The entry point (link-time address).
    pub fn entry(&self) -> u64 {
        self.file().entry()
    }

    /// File bytes at a link-time address.
    pub fn bytes_at(&self, addr: u64, len: usize) -> Vec<u8> {
        let file = self.file();
        for section in file.sections() {
            if (section.address()..section.address() + section.size()).contains(&addr) {
                let data = section.data().expect("section data");
                let start = (addr - section.address()) as usize;
                return data[start..start + len].to_vec();
            }
        }
        panic!("no section contains {addr:#x}")
    }
}

/// The load bias of the main executable: `AT_ENTRY` from the auxiliary
/// vector minus the ELF entry point (0 for non-PIE programs).
pub async fn load_bias<S>(client: &mut RspClient<S>, elf: &Elf) -> u64
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    const AT_ENTRY: u64 = 9;
    let auxv = client.read_auxv().await.expect("read auxv");
    let entry = auxv
        .chunks_exact(16)
        .map(|pair| {
            let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
            (word(&pair[..8]), word(&pair[8..]))
        })
        .find(|(key, _)| *key == AT_ENTRY)
        .map(|(_, value)| value)
        .expect("AT_ENTRY in auxv");
    entry - elf.entry()
}

/// Which gdb server to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// fogbank-agent (the static release build).
    Agent,
    /// Debian's `/usr/bin/gdbserver`.
    Gdbserver,
}

/// Both servers, for data-driven tests.
pub const SERVERS: [Server; 2] = [Server::Agent, Server::Gdbserver];

/// A started gdb server with its debuggee.
pub struct Running {
    /// Where the server listens.
    pub addr: SocketAddr,
    child: Child,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server process to end; returns its exit code (or
    /// 128 + signal) and everything the debuggee printed on stdout.
    pub fn finish(mut self, timeout: Duration) -> (i32, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().expect("stdout reader"))
            .unwrap_or_default();
        (code, stdout)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_all(mut reader: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = reader.read_to_string(&mut text);
        text
    })
}

/// Starts `server` on `program` with `args`, listening on a free loopback
/// port, and waits until it listens.
pub fn launch(server: Server, program: &Path, args: &[&str]) -> Running {
    match server {
        Server::Agent => {
            let mut agent_args: Vec<std::ffi::OsString> = vec!["--".into(), program.into()];
            agent_args.extend(args.iter().map(Into::into));
            launch_agent(&agent_args)
        }
        Server::Gdbserver => launch_gdbserver(program, args),
    }
}

/// Starts the static agent with `--listen 127.0.0.1:0 --port-file PATH`
/// followed by `args`, and waits until it listens.
pub fn launch_agent(args: &[std::ffi::OsString]) -> Running {
    let port_file = build_dir().join(format!("port-{}", uuid::Uuid::new_v4()));
    let mut child = Command::new(static_agent())
        .args(["--listen", "127.0.0.1:0", "--port-file"])
        .arg(&port_file)
        .args(args)
        .env("FOGBANK_TEST_ENV", "passed")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start fogbank-agent");
    let stdout = child.stdout.take().map(read_all);
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(addr) = text.trim().parse()
        {
            break addr;
        }
        assert!(
            Instant::now() < deadline,
            "fogbank-agent wrote no port file"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    Running {
        addr,
        child,
        stdout,
    }
}

fn launch_gdbserver(program: &Path, args: &[&str]) -> Running {
    let gdbserver = Path::new("/usr/bin/gdbserver");
    assert!(
        gdbserver.exists(),
        "Debian's gdbserver is missing; install it: apt-get install gdbserver"
    );
    let mut child = Command::new(gdbserver)
        .arg("127.0.0.1:0")
        .arg(program)
        .args(args)
        .env("FOGBANK_TEST_ENV", "passed")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gdbserver");
    let stdout = child.stdout.take().map(read_all);
    // gdbserver announces "Listening on port N" on stderr.
    let stderr = child.stderr.take().expect("gdbserver stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut sender = Some(sender);
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(port) = line.strip_prefix("Listening on port ")
                && let Some(sender) = sender.take()
            {
                let _ = sender.send(port.trim().to_owned());
            }
        }
    });
    let port = receiver
        .recv_timeout(Duration::from_secs(20))
        .expect("gdbserver did not announce its port");
    let addr = format!("127.0.0.1:{port}").parse().expect("gdbserver port");
    Running {
        addr,
        child,
        stdout,
    }
}

/// Connects the RSP client to a started server.
pub async fn connect(running: &Running) -> RspClient<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(running.addr)
        .await
        .expect("connect to server");
    stream.set_nodelay(true).expect("nodelay");
    RspClient::connect(stream).await.expect("RSP handshake")
}
