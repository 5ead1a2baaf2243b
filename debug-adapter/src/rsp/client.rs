//! The async RSP client: one connection to a gdb server (fogbank-agent,
//! gdbserver, or either through the relay), with a method per operation.
//!
//! Round trips are kept few, because a DAP `next` is a handful of them:
//! no-ack mode, binary `x` memory reads when offered, range stepping (`vCont;r`)
//! when offered, register caching per stop, and expedited registers from stop
//! replies.
//!
//! Breakpoint policy: like gdb, the client steps a thread off an inserted
//! breakpoint before resuming it (remove, single-step, re-insert), because
//! gdbserver does not do that for breakpoints the client inserted.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::{RspError, excerpt};
use super::packet::{
    Decoder, Incoming, decode_hex, encode_hex, encode_packet, parse_hex_u64, unescape_binary,
};
use super::registers::{DescriptionItem, RegisterLayout, Registers, parse_description};
use super::stop_reply::{
    ResumeReply, StopReason, StopReply, ThreadId, parse_resume_reply, parse_stop_reply,
};

/// Largest frame the client accepts.
const MAX_FRAME: usize = 1 << 20;
/// Largest number of target description documents fetched (includes).
const MAX_DESCRIPTION_DOCUMENTS: usize = 64;
/// How often a NACKed packet is sent again in ack mode.
const MAX_SEND_ATTEMPTS: u32 = 3;

/// What the server announced in `qSupported` and `vCont?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFeatures {
    /// Largest packet the server accepts (`PacketSize`).
    pub packet_size: usize,
    /// `QStartNoAckMode+`.
    pub no_ack_mode: bool,
    /// `swbreak+`: stop replies say when a software breakpoint was hit.
    pub swbreak: bool,
    /// `binary-upload+`: memory can be read with binary `x` packets.
    pub binary_upload: bool,
    /// `qXfer:features:read+`: a target description is available.
    pub target_description: bool,
    /// `qXfer:auxv:read+`.
    pub auxv: bool,
    /// `qXfer:exec-file:read+`.
    pub exec_file: bool,
    /// `vCont` with `s`: single stepping.
    pub step: bool,
    /// `vCont` with `r`: range stepping.
    pub range_step: bool,
}

impl Default for ServerFeatures {
    fn default() -> ServerFeatures {
        ServerFeatures {
            packet_size: 400,
            no_ack_mode: false,
            swbreak: false,
            binary_upload: false,
            target_description: false,
            auxv: false,
            exec_file: false,
            step: false,
            range_step: false,
        }
    }
}

/// How to resume the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeAction {
    /// Continue all threads.
    Continue,
    /// Continue all threads, delivering `signal` to `thread` (e.g. to pass on
    /// a SIGSEGV the program should handle or die of).
    ContinueWithSignal {
        /// The thread that receives the signal.
        thread: ThreadId,
        /// The signal number.
        signal: u8,
    },
    /// Execute one instruction in `thread`; other threads stay stopped.
    Step(ThreadId),
    /// Single-step `thread` while its program counter stays in
    /// `start..end`; other threads stay stopped. One round trip when the
    /// server supports range stepping.
    RangeStep {
        /// The thread.
        thread: ThreadId,
        /// First address of the range.
        start: u64,
        /// One past the last address.
        end: u64,
    },
}

/// An RSP connection in all-stop mode.
///
/// Methods take `&mut self`: one request at a time, as the protocol demands.
/// While the program runs (after [`RspClient::send_resume`]) only
/// [`RspClient::wait_stop`] and [`RspClient::interrupt`] are allowed.
pub struct RspClient<S> {
    stream: S,
    decoder: Decoder,
    inbox: VecDeque<Incoming>,
    read_buf: Vec<u8>,
    no_ack: bool,
    features: ServerFeatures,
    layout: RegisterLayout,
    request_timeout: Duration,
    /// The thread `Hg` last selected (servers also select the stop thread).
    selected_thread: Option<ThreadId>,
    /// Full register sets read at this stop.
    register_cache: HashMap<ThreadId, Registers>,
    /// Registers sent along with the last stop reply.
    expedited: HashMap<ThreadId, Registers>,
    breakpoints: BTreeSet<u64>,
    output: Vec<u8>,
    running: bool,
    last_stop_thread: Option<ThreadId>,
}

impl<S> std::fmt::Debug for RspClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RspClient")
            .field("features", &self.features)
            .field("no_ack", &self.no_ack)
            .field("running", &self.running)
            .field("breakpoints", &self.breakpoints)
            .finish_non_exhaustive()
    }
}

fn io_error(operation: &'static str) -> impl FnOnce(std::io::Error) -> RspError {
    move |source| RspError::Io { operation, source }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RspClient<S> {
    /// Connects over an established stream: negotiates features, turns on
    /// no-ack mode, and reads the target description. Requests time out
    /// after 10 seconds (see [`RspClient::set_request_timeout`]).
    pub async fn connect(stream: S) -> Result<RspClient<S>, RspError> {
        let layout = super::x86_64::default_layout()?;
        let mut client = RspClient {
            stream,
            decoder: Decoder::new(MAX_FRAME),
            inbox: VecDeque::new(),
            read_buf: vec![0; 64 * 1024],
            no_ack: false,
            features: ServerFeatures::default(),
            layout,
            request_timeout: Duration::from_secs(10),
            selected_thread: None,
            register_cache: HashMap::new(),
            expedited: HashMap::new(),
            breakpoints: BTreeSet::new(),
            output: Vec::new(),
            running: false,
            last_stop_thread: None,
        };
        client.handshake().await?;
        Ok(client)
    }

    async fn handshake(&mut self) -> Result<(), RspError> {
        const OPERATION: &str = "negotiate features";
        self.write_raw(OPERATION, b"+").await?;
        let reply = self
            .request(
                OPERATION,
                b"qSupported:swbreak+;hwbreak+;xmlRegisters=i386;vContSupported+;no-resumed+",
            )
            .await?;
        self.features = parse_supported(&reply);
        if self.features.no_ack_mode {
            let reply = self
                .request("start no-ack mode", b"QStartNoAckMode")
                .await?;
            if reply == b"OK" {
                self.no_ack = true;
            }
        }
        match self.request("query vCont support", b"vCont?").await {
            Ok(reply) => {
                let actions: Vec<&[u8]> = reply.split(|b| *b == b';').collect();
                if actions.first() == Some(&&b"vCont"[..]) {
                    self.features.step = actions.contains(&&b"s"[..]);
                    self.features.range_step = actions.contains(&&b"r"[..]);
                }
            }
            Err(RspError::Unsupported { .. }) => {}
            Err(error) => return Err(error),
        }
        // Like gdb, let the program receive its routine signals without a
        // stop (GDB numbers: ALRM, URG, CHLD, IO, VTALRM, PROF, WINCH, POLL,
        // WAITING, LWP, PRIO, CANCEL). fogbank-agent applies the same list
        // itself and does not know the packet.
        match self
            .request(
                "pass signals",
                b"QPassSignals:e;10;14;17;1a;1b;1c;21;24;25;2c;4c",
            )
            .await
        {
            Ok(_) | Err(RspError::Unsupported { .. }) => {}
            Err(error) => return Err(error),
        }
        // gdbserver describes the registers of its current thread and has
        // none until one is selected; "any thread" is enough.
        match self.request("select any thread", b"Hg0").await {
            Ok(_) | Err(RspError::Unsupported { .. } | RspError::Remote { .. }) => {}
            Err(error) => return Err(error),
        }
        if self.features.target_description {
            self.layout = self.fetch_layout().await?;
        }
        Ok(())
    }

    /// Reads `target.xml` and the documents it includes.
    async fn fetch_layout(&mut self) -> Result<RegisterLayout, RspError> {
        let mut items = Vec::new();
        let mut queue: Vec<String> = vec!["target.xml".to_owned()];
        let mut fetched = 0;
        // Includes expand in place, so documents are processed depth-first
        // and each include is replaced by the fetched document's items.
        let mut stack: Vec<std::vec::IntoIter<DescriptionItem>> = Vec::new();
        if let Some(annex) = queue.pop() {
            let document = self.fetch_description(&annex).await?;
            fetched += 1;
            stack.push(document.into_iter());
        }
        while let Some(top) = stack.last_mut() {
            match top.next() {
                None => {
                    stack.pop();
                }
                Some(DescriptionItem::Include(href)) => {
                    if fetched >= MAX_DESCRIPTION_DOCUMENTS || stack.len() > 8 {
                        return Err(RspError::UnexpectedReply {
                            operation: "read target description",
                            reply: format!("too many nested includes at {href}"),
                        });
                    }
                    let document = self.fetch_description(&href).await?;
                    fetched += 1;
                    stack.push(document.into_iter());
                }
                Some(item) => items.push(item),
            }
        }
        Ok(RegisterLayout::from_items(&items)?)
    }

    async fn fetch_description(&mut self, annex: &str) -> Result<Vec<DescriptionItem>, RspError> {
        let bytes = self
            .read_xfer("read target description", "features", annex)
            .await?;
        let text = String::from_utf8_lossy(&bytes);
        Ok(parse_description(annex, &text)?)
    }

    /// Changes how long a request waits for its reply.
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// What the server supports.
    pub fn features(&self) -> &ServerFeatures {
        &self.features
    }

    /// The register layout from the target description.
    pub fn layout(&self) -> &RegisterLayout {
        &self.layout
    }

    /// Whether the program is running (a resume awaits its stop).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Console output (`O` packets) received so far; drains it.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Addresses of the breakpoints this client inserted.
    pub fn breakpoints(&self) -> impl Iterator<Item = u64> + '_ {
        self.breakpoints.iter().copied()
    }

    /// Asks why the program is stopped (`?`).
    pub async fn stop_reason(&mut self) -> Result<StopReply, RspError> {
        const OPERATION: &str = "query stop reason";
        let reply = self.request(OPERATION, b"?").await?;
        let stop = parse_stop_reply(&reply).map_err(|source| RspError::StopReply {
            operation: OPERATION,
            source,
        })?;
        self.note_stop(&stop);
        // Unlike a real stop, `?` does not make the reported thread the
        // current one on every server (gdbstub keeps its previous choice).
        self.selected_thread = None;
        Ok(stop)
    }

    /// Lists the live threads (`qfThreadInfo`/`qsThreadInfo`).
    pub async fn threads(&mut self) -> Result<Vec<ThreadId>, RspError> {
        const OPERATION: &str = "list threads";
        let mut threads = Vec::new();
        let mut reply = self.request(OPERATION, b"qfThreadInfo").await?;
        loop {
            match reply.split_first() {
                Some((b'm', list)) => {
                    for id in list.split(|b| *b == b',') {
                        threads.push(
                            ThreadId::parse(id).ok_or_else(|| unexpected(OPERATION, &reply))?,
                        );
                    }
                }
                Some((b'l', _)) => return Ok(threads),
                _ => return Err(unexpected(OPERATION, &reply)),
            }
            if threads.len() > 100_000 {
                return Err(unexpected(OPERATION, b"endless thread list"));
            }
            reply = self.request(OPERATION, b"qsThreadInfo").await?;
        }
    }

    /// The name the server gives a thread (`qThreadExtraInfo`; on Linux
    /// the thread's `comm`), or `None` when the server has none.
    pub async fn thread_name(&mut self, thread: ThreadId) -> Result<Option<String>, RspError> {
        const OPERATION: &str = "read thread name";
        match self
            .request(OPERATION, format!("qThreadExtraInfo,{thread}").as_bytes())
            .await
        {
            Ok(reply) => {
                let bytes = decode_hex(&reply).map_err(|_| unexpected(OPERATION, &reply))?;
                let name = String::from_utf8_lossy(&bytes).trim().to_owned();
                Ok((!name.is_empty()).then_some(name))
            }
            Err(RspError::Unsupported { .. } | RspError::Remote { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn select_thread(&mut self, thread: ThreadId) -> Result<(), RspError> {
        if self.selected_thread == Some(thread) {
            return Ok(());
        }
        let reply = self
            .request("select thread", format!("Hg{thread}").as_bytes())
            .await?;
        expect_ok("select thread", &reply)?;
        self.selected_thread = Some(thread);
        Ok(())
    }

    /// All registers of a thread (`g`), cached until the program resumes.
    pub async fn read_registers(&mut self, thread: ThreadId) -> Result<Registers, RspError> {
        const OPERATION: &str = "read registers";
        if let Some(registers) = self.register_cache.get(&thread) {
            return Ok(registers.clone());
        }
        self.select_thread(thread).await?;
        let reply = self.request(OPERATION, b"g").await?;
        let registers =
            Registers::decode_g(&self.layout, &reply).map_err(|source| RspError::Registers {
                operation: OPERATION,
                source,
            })?;
        self.register_cache.insert(thread, registers.clone());
        Ok(registers)
    }

    /// One register (up to 8 bytes) as an integer: from this stop's cache or
    /// expedited registers if possible, else with `p`.
    pub async fn read_register(&mut self, thread: ThreadId, name: &str) -> Result<u64, RspError> {
        const OPERATION: &str = "read register";
        let info = self
            .layout
            .by_name(name)
            .ok_or_else(|| RspError::NoSuchRegister(name.to_owned()))?
            .clone();
        for cache in [&self.register_cache, &self.expedited] {
            if let Some(value) = cache
                .get(&thread)
                .and_then(|regs| regs.value(&self.layout, name))
            {
                return Ok(value);
            }
        }
        self.select_thread(thread).await?;
        match self
            .request(OPERATION, format!("p{:x}", info.regnum).as_bytes())
            .await
        {
            Ok(reply) => {
                let bytes = decode_hex(&reply).map_err(|_| unexpected(OPERATION, &reply))?;
                if bytes.len() != info.size || bytes.len() > 8 {
                    return Err(unexpected(OPERATION, &reply));
                }
                self.expedited
                    .entry(thread)
                    .or_insert_with(|| Registers::empty(&self.layout))
                    .set_by_number(&self.layout, info.regnum, bytes.clone());
                Ok(bytes
                    .iter()
                    .rev()
                    .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)))
            }
            Err(RspError::Unsupported { .. }) => {
                let registers = self.read_registers(thread).await?;
                registers
                    .value(&self.layout, name)
                    .ok_or_else(|| RspError::NoSuchRegister(name.to_owned()))
            }
            Err(error) => Err(error),
        }
    }

    /// The program counter of a thread.
    pub async fn read_pc(&mut self, thread: ThreadId) -> Result<u64, RspError> {
        let name = self
            .layout
            .pc_name()
            .ok_or_else(|| RspError::NoSuchRegister("pc".to_owned()))?
            .to_owned();
        self.read_register(thread, &name).await
    }

    /// Writes one register (`P`); `value` is in target byte order and must
    /// have the register's size.
    pub async fn write_register(
        &mut self,
        thread: ThreadId,
        name: &str,
        value: &[u8],
    ) -> Result<(), RspError> {
        const OPERATION: &str = "write register";
        let info = self
            .layout
            .by_name(name)
            .ok_or_else(|| RspError::NoSuchRegister(name.to_owned()))?
            .clone();
        if value.len() != info.size {
            return Err(RspError::UnexpectedReply {
                operation: OPERATION,
                reply: format!(
                    "{} bytes given for the {}-byte register {name}",
                    value.len(),
                    info.size
                ),
            });
        }
        self.select_thread(thread).await?;
        self.register_cache.remove(&thread);
        self.expedited.remove(&thread);
        let packet = format!("P{:x}={}", info.regnum, encode_hex(value));
        match self.request(OPERATION, packet.as_bytes()).await {
            Ok(reply) => expect_ok(OPERATION, &reply),
            // Without `P`, rewrite the whole block with `G`.
            Err(RspError::Unsupported { .. }) => {
                let mut block = self.request(OPERATION, b"g").await?;
                let start = info.offset * 2;
                let slot = block
                    .get_mut(start..start + info.size * 2)
                    .ok_or_else(|| RspError::NoSuchRegister(name.to_owned()))?;
                slot.copy_from_slice(encode_hex(value).as_bytes());
                let mut packet = b"G".to_vec();
                packet.extend_from_slice(&block);
                let reply = self.request(OPERATION, &packet).await?;
                expect_ok(OPERATION, &reply)
            }
            Err(error) => Err(error),
        }
    }

    /// Reads up to `len` bytes at `addr`. The result is shorter when memory
    /// after some point is unreadable; an error means nothing was readable.
    pub async fn read_memory(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, RspError> {
        const OPERATION: &str = "read memory";
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            let at = addr.wrapping_add(data.len() as u64);
            let budget = self.features.packet_size.saturating_sub(8).max(32);
            // Hex doubles the size of `m` replies; binary `x` replies may double
            // through escaping, so both use half the packet size.
            let chunk_len = (len - data.len()).min(budget / 2);
            let chunk = match self.read_memory_chunk(at, chunk_len).await {
                Ok(chunk) => chunk,
                Err(error) if data.is_empty() => return Err(error),
                Err(_) => break,
            };
            if chunk.is_empty() {
                if data.is_empty() {
                    return Err(RspError::Remote {
                        operation: OPERATION,
                        code: 14,
                    });
                }
                break;
            }
            let short = chunk.len() < chunk_len;
            data.extend_from_slice(&chunk[..chunk.len().min(chunk_len)]);
            if short {
                break;
            }
        }
        Ok(data)
    }

    async fn read_memory_chunk(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, RspError> {
        const OPERATION: &str = "read memory";
        if self.features.binary_upload {
            match self
                .request(OPERATION, format!("x{addr:x},{len:x}").as_bytes())
                .await
            {
                Ok(reply) => {
                    let body = reply
                        .strip_prefix(b"b")
                        .ok_or_else(|| unexpected(OPERATION, &reply))?;
                    return unescape_binary(body).map_err(|_| unexpected(OPERATION, &reply));
                }
                Err(RspError::Unsupported { .. }) => self.features.binary_upload = false,
                Err(error) => return Err(error),
            }
        }
        let reply = self
            .request(OPERATION, format!("m{addr:x},{len:x}").as_bytes())
            .await?;
        decode_hex(&reply).map_err(|_| unexpected(OPERATION, &reply))
    }

    /// Writes memory (`M`), in as many packets as needed.
    pub async fn write_memory(&mut self, addr: u64, data: &[u8]) -> Result<(), RspError> {
        const OPERATION: &str = "write memory";
        let chunk_len = (self.features.packet_size.saturating_sub(40) / 2).max(16);
        for (index, chunk) in data.chunks(chunk_len).enumerate() {
            let at = addr.wrapping_add((index * chunk_len) as u64);
            let packet = format!("M{at:x},{:x}:{}", chunk.len(), encode_hex(chunk));
            let reply = self.request(OPERATION, packet.as_bytes()).await?;
            expect_ok(OPERATION, &reply)?;
        }
        // Memory writes can change saved registers on the stack but not the
        // registers themselves; the caches stay valid.
        Ok(())
    }

    /// Inserts a software breakpoint (`Z0`).
    pub async fn set_breakpoint(&mut self, addr: u64) -> Result<(), RspError> {
        const OPERATION: &str = "insert breakpoint";
        let reply = self
            .request(OPERATION, format!("Z0,{addr:x},1").as_bytes())
            .await?;
        expect_ok(OPERATION, &reply)?;
        self.breakpoints.insert(addr);
        Ok(())
    }

    /// Removes a software breakpoint (`z0`).
    pub async fn remove_breakpoint(&mut self, addr: u64) -> Result<(), RspError> {
        const OPERATION: &str = "remove breakpoint";
        let reply = self
            .request(OPERATION, format!("z0,{addr:x},1").as_bytes())
            .await?;
        expect_ok(OPERATION, &reply)?;
        self.breakpoints.remove(&addr);
        Ok(())
    }

    /// The process's auxiliary vector (`qXfer:auxv:read`), e.g. to find the
    /// load address of a position-independent executable from `AT_ENTRY`.
    pub async fn read_auxv(&mut self) -> Result<Vec<u8>, RspError> {
        self.read_xfer("read auxiliary vector", "auxv", "").await
    }

    /// The path of the running executable (`qXfer:exec-file:read`).
    pub async fn exec_file(&mut self) -> Result<String, RspError> {
        let bytes = self
            .read_xfer("read executable path", "exec-file", "")
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Runs a `monitor` command (`qRcmd`) and returns the text the server
    /// printed for it (its `O` packets), once it answers `OK`.
    pub async fn monitor(&mut self, command: &str) -> Result<String, RspError> {
        const OPERATION: &str = "run a monitor command";
        if self.running {
            return Err(RspError::Running {
                operation: OPERATION,
            });
        }
        let packet = format!("qRcmd,{}", encode_hex(command.as_bytes()));
        self.send_packet(OPERATION, packet.as_bytes()).await?;
        let mut text = Vec::new();
        loop {
            let reply = self
                .receive_packet(OPERATION, Some(self.request_timeout))
                .await?;
            if reply == b"OK" {
                return Ok(String::from_utf8_lossy(&text).into_owned());
            }
            match reply.strip_prefix(b"O") {
                Some(hex) if !hex.is_empty() => {
                    let bytes = decode_hex(hex).map_err(|_| unexpected(OPERATION, &reply))?;
                    text.extend_from_slice(&bytes);
                    if text.len() > 1 << 20 {
                        return Err(unexpected(OPERATION, b"more than 1 MiB of output"));
                    }
                }
                _ => {
                    let reply = check_error_reply(OPERATION, reply)?;
                    return Err(unexpected(OPERATION, &reply));
                }
            }
        }
    }

    /// Resumes and waits for the next stop.
    pub async fn resume(&mut self, action: ResumeAction) -> Result<StopReply, RspError> {
        if let Some(stop) = self.send_resume(action).await? {
            return Ok(stop);
        }
        self.wait_stop().await
    }

    /// Resumes without waiting. If stepping the thread off a breakpoint
    /// already produced a stop to report (a signal, an exit, or a finished
    /// single step), that stop is returned and the program is not running.
    pub async fn send_resume(
        &mut self,
        action: ResumeAction,
    ) -> Result<Option<StopReply>, RspError> {
        if self.running {
            return Err(RspError::Running {
                operation: "resume",
            });
        }
        let (thread, signal) = match action {
            ResumeAction::Continue => (self.last_stop_thread, None),
            ResumeAction::ContinueWithSignal { thread, signal } => (Some(thread), Some(signal)),
            ResumeAction::Step(thread) | ResumeAction::RangeStep { thread, .. } => {
                (Some(thread), None)
            }
        };
        let mut signal_delivered = false;
        if let Some(thread) = thread
            && let Some(stop) = self.step_off_breakpoint(thread, signal).await?
        {
            signal_delivered = signal.is_some();
            let plain_step = matches!(&stop, StopReply::Stopped(s)
                if s.signal == 5 && s.thread.is_none_or(|t| t == thread) && s.reason == StopReason::Signal);
            if !plain_step || matches!(action, ResumeAction::Step(_)) {
                return Ok(Some(stop));
            }
            if let ResumeAction::RangeStep { start, end, .. } = action {
                let pc = self.read_pc(thread).await?;
                if !(start..end).contains(&pc) {
                    return Ok(Some(stop));
                }
            }
        }
        let packet = match action {
            ResumeAction::Continue => "vCont;c".to_owned(),
            ResumeAction::ContinueWithSignal { thread, signal } if !signal_delivered => {
                format!("vCont;C{signal:02x}:{thread};c")
            }
            ResumeAction::ContinueWithSignal { .. } => "vCont;c".to_owned(),
            ResumeAction::Step(thread) => format!("vCont;s:{thread}"),
            ResumeAction::RangeStep { thread, start, end } if self.features.range_step => {
                format!("vCont;r{start:x},{end:x}:{thread}")
            }
            ResumeAction::RangeStep { thread, start, end } => {
                return self.range_step_by_steps(thread, start, end).await.map(Some);
            }
        };
        self.send_packet("resume", packet.as_bytes()).await?;
        self.begin_running();
        Ok(None)
    }

    /// Range stepping for servers without `vCont;r`: single steps until the
    /// program counter leaves the range or something else happens.
    async fn range_step_by_steps(
        &mut self,
        thread: ThreadId,
        start: u64,
        end: u64,
    ) -> Result<StopReply, RspError> {
        loop {
            self.send_packet("step", format!("vCont;s:{thread}").as_bytes())
                .await?;
            self.begin_running();
            let stop = self.wait_stop().await?;
            let plain_step = matches!(&stop, StopReply::Stopped(s)
                if s.signal == 5 && s.reason == StopReason::Signal && s.thread.is_none_or(|t| t == thread));
            if !plain_step {
                return Ok(stop);
            }
            let pc = self.read_pc(thread).await?;
            if !(start..end).contains(&pc) || self.breakpoints.contains(&pc) {
                return Ok(stop);
            }
        }
    }

    /// If the thread sits on an inserted breakpoint, single-steps it with the
    /// breakpoint removed and puts the breakpoint back.
    async fn step_off_breakpoint(
        &mut self,
        thread: ThreadId,
        signal: Option<u8>,
    ) -> Result<Option<StopReply>, RspError> {
        if self.breakpoints.is_empty() {
            return Ok(None);
        }
        let pc = self.read_pc(thread).await?;
        if !self.breakpoints.contains(&pc) {
            return Ok(None);
        }
        let reply = self
            .request("remove breakpoint", format!("z0,{pc:x},1").as_bytes())
            .await?;
        expect_ok("remove breakpoint", &reply)?;
        let packet = match signal {
            Some(signal) => format!("vCont;S{signal:02x}:{thread}"),
            None => format!("vCont;s:{thread}"),
        };
        self.send_packet("step off breakpoint", packet.as_bytes())
            .await?;
        self.begin_running();
        let stop = self.wait_stop().await;
        // Put the breakpoint back even if the step failed, unless the
        // process is gone.
        let process_gone = matches!(
            stop,
            Ok(StopReply::Exited { .. } | StopReply::Terminated { .. })
        );
        if !process_gone {
            let reply = self
                .request("insert breakpoint", format!("Z0,{pc:x},1").as_bytes())
                .await?;
            expect_ok("insert breakpoint", &reply)?;
        }
        stop.map(Some)
    }

    fn begin_running(&mut self) {
        self.running = true;
        self.register_cache.clear();
        self.expedited.clear();
    }

    /// Waits for the stop of a running program. Cancel-safe: dropping the
    /// future loses no data, so it can sit in a `select!` beside the DAP
    /// input and be called again (e.g. after [`RspClient::interrupt`]).
    pub async fn wait_stop(&mut self) -> Result<StopReply, RspError> {
        const OPERATION: &str = "wait for stop";
        loop {
            let payload = self.receive_packet(OPERATION, None).await?;
            match parse_resume_reply(&payload) {
                Ok(ResumeReply::Output(bytes)) => self.output.extend_from_slice(&bytes),
                Ok(ResumeReply::Stop(stop)) => {
                    self.running = false;
                    self.note_stop(&stop);
                    return Ok(stop);
                }
                Err(source) => {
                    return Err(RspError::StopReply {
                        operation: OPERATION,
                        source,
                    });
                }
            }
        }
    }

    /// Asks the running program to stop (the 0x03 byte); the stop arrives
    /// through [`RspClient::wait_stop`]. Does nothing if it is not running.
    pub async fn interrupt(&mut self) -> Result<(), RspError> {
        if self.running {
            self.write_raw("interrupt", &[0x03]).await?;
        }
        Ok(())
    }

    fn note_stop(&mut self, stop: &StopReply) {
        self.register_cache.clear();
        self.expedited.clear();
        if let StopReply::Stopped(details) = stop {
            if let Some(thread) = details.thread {
                // Servers make the stopping thread the current one.
                self.selected_thread = Some(thread);
                self.last_stop_thread = Some(thread);
                let mut registers = Registers::empty(&self.layout);
                for (regnum, bytes) in &details.registers {
                    registers.set_by_number(&self.layout, *regnum, bytes.clone());
                }
                self.expedited.insert(thread, registers);
            }
        } else {
            self.selected_thread = None;
            self.last_stop_thread = None;
        }
    }

    /// Detaches (`D`): breakpoints are removed and the program runs on.
    pub async fn detach(mut self) -> Result<(), RspError> {
        const OPERATION: &str = "detach";
        let addrs: Vec<u64> = self.breakpoints.iter().copied().collect();
        for addr in addrs {
            self.remove_breakpoint(addr).await?;
        }
        let reply = self.request(OPERATION, b"D").await?;
        expect_ok(OPERATION, &reply)
    }

    /// Kills the program (`k`). Servers may close the connection instead of
    /// replying; both count as success.
    pub async fn kill(mut self) -> Result<(), RspError> {
        const OPERATION: &str = "kill";
        self.send_packet(OPERATION, b"k").await?;
        match tokio::time::timeout(Duration::from_secs(2), self.receive_packet(OPERATION, None))
            .await
        {
            Ok(Ok(_))
            | Ok(Err(RspError::Closed { .. }))
            | Ok(Err(RspError::Io { .. }))
            | Err(_) => Ok(()),
            Ok(Err(error)) => Err(error),
        }
    }

    /// Reads a whole `qXfer` object.
    async fn read_xfer(
        &mut self,
        operation: &'static str,
        object: &str,
        annex: &str,
    ) -> Result<Vec<u8>, RspError> {
        let chunk = self
            .features
            .packet_size
            .saturating_sub(16)
            .clamp(64, 0x8000);
        let mut data = Vec::new();
        loop {
            let packet = format!("qXfer:{object}:read:{annex}:{:x},{chunk:x}", data.len());
            let reply = self.request(operation, packet.as_bytes()).await?;
            let (&kind, body) = reply
                .split_first()
                .ok_or(RspError::Unsupported { operation })?;
            let bytes = unescape_binary(body).map_err(|_| unexpected(operation, &reply))?;
            match kind {
                b'l' => {
                    data.extend_from_slice(&bytes);
                    return Ok(data);
                }
                b'm' if !bytes.is_empty() => data.extend_from_slice(&bytes),
                _ => return Err(unexpected(operation, &reply)),
            }
            if data.len() > 64 << 20 {
                return Err(unexpected(operation, b"object larger than 64 MiB"));
            }
        }
    }

    /// Sends a packet and returns its reply; `E` replies become errors and an
    /// empty reply becomes [`RspError::Unsupported`].
    async fn request(
        &mut self,
        operation: &'static str,
        payload: &[u8],
    ) -> Result<Vec<u8>, RspError> {
        if self.running {
            return Err(RspError::Running { operation });
        }
        self.send_packet(operation, payload).await?;
        let reply = self
            .receive_packet(operation, Some(self.request_timeout))
            .await?;
        check_error_reply(operation, reply)
    }

    async fn write_raw(&mut self, operation: &'static str, bytes: &[u8]) -> Result<(), RspError> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(io_error(operation))?;
        self.stream.flush().await.map_err(io_error(operation))
    }

    /// Sends a packet; in ack mode, waits for its `+` and resends on `-`.
    async fn send_packet(
        &mut self,
        operation: &'static str,
        payload: &[u8],
    ) -> Result<(), RspError> {
        tracing::trace!(target: "fogbank_dap::rsp::wire", "-> {}", excerpt(payload));
        let framed = encode_packet(payload);
        for _ in 0..MAX_SEND_ATTEMPTS {
            self.write_raw(operation, &framed).await?;
            if self.no_ack {
                return Ok(());
            }
            loop {
                match self
                    .receive_item(operation, Some(self.request_timeout))
                    .await?
                {
                    Incoming::Ack => return Ok(()),
                    Incoming::Nack => break,
                    // A reply overtaking the ack: keep it for the reader.
                    Incoming::Packet(packet) => {
                        self.inbox.push_front(Incoming::Packet(packet));
                        return Ok(());
                    }
                    Incoming::Notification(_) | Incoming::Corrupt(_) => {}
                }
            }
        }
        Err(RspError::Rejected {
            operation,
            attempts: MAX_SEND_ATTEMPTS,
        })
    }

    /// Receives the next packet, acknowledging it in ack mode. A corrupt
    /// frame is NACKed in ack mode (the server resends it) and an error in
    /// no-ack mode.
    async fn receive_packet(
        &mut self,
        operation: &'static str,
        timeout: Option<Duration>,
    ) -> Result<Vec<u8>, RspError> {
        loop {
            match self.receive_item(operation, timeout).await? {
                Incoming::Packet(payload) => {
                    tracing::trace!(target: "fogbank_dap::rsp::wire", "<- {}", excerpt(&payload));
                    if !self.no_ack {
                        self.write_raw(operation, b"+").await?;
                    }
                    return Ok(payload);
                }
                Incoming::Corrupt(corruption) => {
                    if self.no_ack {
                        return Err(RspError::UnexpectedReply {
                            operation,
                            reply: format!("corrupt frame ({corruption:?})"),
                        });
                    }
                    self.write_raw(operation, b"-").await?;
                }
                Incoming::Ack | Incoming::Nack | Incoming::Notification(_) => {}
            }
        }
    }

    /// The next decoded item, reading from the stream as needed.
    async fn receive_item(
        &mut self,
        operation: &'static str,
        timeout: Option<Duration>,
    ) -> Result<Incoming, RspError> {
        loop {
            if let Some(item) = self.inbox.pop_front() {
                return Ok(item);
            }
            let read = self.stream.read(&mut self.read_buf);
            let count = match timeout {
                Some(after) => tokio::time::timeout(after, read)
                    .await
                    .map_err(|_| RspError::Timeout { operation, after })?,
                None => read.await,
            }
            .map_err(io_error(operation))?;
            if count == 0 {
                return Err(RspError::Closed { operation });
            }
            for index in 0..count {
                if let Some(item) = self.decoder.push(self.read_buf[index]) {
                    self.inbox.push_back(item);
                }
            }
        }
    }
}

fn unexpected(operation: &'static str, reply: &[u8]) -> RspError {
    RspError::UnexpectedReply {
        operation,
        reply: excerpt(reply),
    }
}

fn expect_ok(operation: &'static str, reply: &[u8]) -> Result<(), RspError> {
    if reply == b"OK" {
        Ok(())
    } else {
        Err(unexpected(operation, reply))
    }
}

/// Maps `E NN`, `E.message` and empty replies to errors.
fn check_error_reply(operation: &'static str, reply: Vec<u8>) -> Result<Vec<u8>, RspError> {
    if reply.is_empty() {
        return Err(RspError::Unsupported { operation });
    }
    if let Some(message) = reply.strip_prefix(b"E.") {
        return Err(RspError::RemoteMessage {
            operation,
            message: excerpt(message),
        });
    }
    if reply.len() == 3
        && reply[0] == b'E'
        && let Some(code) = parse_hex_u64(&reply[1..])
    {
        return Err(RspError::Remote {
            operation,
            code: code as u8,
        });
    }
    Ok(reply)
}

/// Reads the features of a `qSupported` reply.
fn parse_supported(reply: &[u8]) -> ServerFeatures {
    let mut features = ServerFeatures::default();
    for item in reply.split(|b| *b == b';') {
        if let Some(size) = item.strip_prefix(b"PacketSize=") {
            if let Some(size) = parse_hex_u64(size).and_then(|n| usize::try_from(n).ok()) {
                features.packet_size = size.clamp(64, MAX_FRAME / 2);
            }
            continue;
        }
        match item {
            b"QStartNoAckMode+" => features.no_ack_mode = true,
            b"swbreak+" => features.swbreak = true,
            b"binary-upload+" => features.binary_upload = true,
            b"qXfer:features:read+" => features.target_description = true,
            b"qXfer:auxv:read+" => features.auxv = true,
            b"qXfer:exec-file:read+" => features.exec_file = true,
            _ => {}
        }
    }
    features
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_supported_features() {
        let features = parse_supported(
            b"PacketSize=3fff;QPassSignals+;qXfer:features:read+;QStartNoAckMode+;swbreak+;qXfer:auxv:read+;binary-upload+;bogus",
        );
        assert_eq!(
            features,
            ServerFeatures {
                packet_size: 0x3fff,
                no_ack_mode: true,
                swbreak: true,
                binary_upload: true,
                target_description: true,
                auxv: true,
                exec_file: false,
                step: false,
                range_step: false,
            }
        );
        assert_eq!(parse_supported(b"PacketSize=zz").packet_size, 400);
        assert_eq!(parse_supported(b"PacketSize=1").packet_size, 64);
    }

    #[test]
    fn maps_error_replies() {
        let check = |reply: &[u8], expected: &str| {
            let result = check_error_reply("op", reply.to_vec());
            let text = match result {
                Ok(reply) => format!("ok {}", String::from_utf8_lossy(&reply)),
                Err(error) => error.to_string(),
            };
            assert_eq!(text, expected);
        };
        check(b"", "op: not supported by the debug server");
        check(b"E0e", "op: the debug server reported error 0x0e");
        check(
            b"E.no such file",
            "op: the debug server reported: no such file",
        );
        check(b"OK", "ok OK");
        // Three characters starting with E but not hex: a normal reply.
        check(b"Ezz", "ok Ezz");
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod scripted_tests;
