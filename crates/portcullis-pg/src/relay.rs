//! The relay loop of an authorized session: client ↔ upstream, byte-exact,
//! with backpressure and bounded memory.
//!
//! One task drives both directions with `select!` over reads and writes,
//! preferring reads, so output accumulates while more input is ready and
//! is written when a read would block or a buffer is full, not per message.
//! DataRow and CopyData bodies stream through in chunks, so no row or COPY
//! stream is held whole. Every other message is buffered whole (up to
//! `max_message_size`) because the gateway inspects it. So is each row of a
//! masked result, one at a time, because masking changes its length field
//! (`filter`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::authority::{Authority, SessionId, StatementCheck};
use crate::codec::{DecodeError, Frame, FrameDecoder, Tag, TransactionStatus, HEADER_LEN};
use crate::error::{Ending, SessionError, UpstreamError};
use crate::events::EndReason;
use crate::extended::ProtocolState;
use crate::filter::RowMode;
use crate::registry::{Registration, UpstreamCancel};
use crate::tls::Stream;

/// Output above this many bytes stops reading from the other side.
const HIGH_WATER: usize = 256 * 1024;
/// Bytes requested per socket read.
const READ_CHUNK: usize = 64 * 1024;
/// Forwarded messages still awaiting a response above which the client is not read.
const MAX_PENDING_RESPONSES: usize = 100_000;

static PEAK_BUFFERED: AtomicUsize = AtomicUsize::new(0);

/// Returns the largest number of bytes any relay in this process has held
/// in its four buffers at once, for tests and metrics.
pub fn relay_peak_buffered_bytes() -> usize {
    PEAK_BUFFERED.load(Ordering::Relaxed)
}

/// Session facts and hooks the relay uses besides its sockets.
pub(crate) struct SessionContext {
    pub(crate) session: SessionId,
    pub(crate) authority: Arc<dyn Authority>,
    pub(crate) check: Arc<dyn StatementCheck>,
    pub(crate) target: String,
    pub(crate) idle_timeout: Duration,
    pub(crate) expires_at: Option<Instant>,
    /// Address and key for a CancelRequest to the upstream session.
    pub(crate) cancel: UpstreamCancel,
}

/// Position of one direction's reader in the byte stream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// At a message boundary.
    Boundary,
    /// Inside a streamed message body with this many bytes still to pass through.
    Streaming(usize),
    /// Inside a dropped message body with this many bytes still to drop.
    Skipping(usize),
}

/// One direction's receive buffer and the opposite side's send buffer.
pub(crate) struct Pipe {
    pub(crate) input: BytesMut,
    pub(crate) output: BytesMut,
    pub(crate) incoming: Incoming,
    pub(crate) decoder: FrameDecoder,
    /// Message types whose bodies are streamed instead of buffered.
    streamed: &'static [u8],
    /// Length check for streamed messages, which take no buffer space.
    stream_decoder: FrameDecoder,
    /// Handling of the next message of a streamed type.
    pub(crate) rows: RowMode,
}

/// A unit of input taken off a pipe.
pub(crate) enum Piece {
    /// A whole message, to inspect.
    Frame(Frame),
    /// Bytes of a streamed message were moved to the output.
    Passed,
    /// Bytes of a dropped message were discarded.
    Skipped,
    /// A message of a streamed type starts, in [`RowMode::Announce`]. Nothing
    /// was consumed, and the caller must call [`Pipe::pass_message`] or
    /// [`Pipe::skip_message`] with `body_len` next.
    Announced { body_len: usize },
    /// A message of a streamed type is longer than the buffered maximum, in
    /// [`RowMode::Whole`], so it is being dropped.
    Oversized,
}

impl Pipe {
    /// Creates a pipe that buffers messages of up to `max_buffered` bytes
    /// and streams the types in `streamed`, of up to `max_streamed` bytes.
    pub(crate) fn new(max_buffered: usize, streamed: &'static [u8], max_streamed: usize) -> Self {
        Self {
            input: BytesMut::new(),
            output: BytesMut::new(),
            incoming: Incoming::Boundary,
            decoder: FrameDecoder::new(max_buffered),
            streamed,
            stream_decoder: FrameDecoder::new(max_streamed),
            rows: RowMode::Pass,
        }
    }

    /// Takes the next whole frame, or passes streamed bytes straight to the
    /// output, or handles them as [`Pipe::rows`] sets.
    pub(crate) fn next(&mut self) -> Result<Option<Piece>, DecodeError> {
        match self.incoming {
            Incoming::Boundary => {}
            Incoming::Streaming(remaining) => {
                let count = remaining.min(self.input.len());
                if count == 0 {
                    return Ok(None);
                }
                self.output.extend_from_slice(&self.input.split_to(count));
                self.incoming = continuing(remaining - count, Incoming::Streaming);
                return Ok(Some(Piece::Passed));
            }
            Incoming::Skipping(remaining) => {
                let count = remaining.min(self.input.len());
                if count == 0 {
                    return Ok(None);
                }
                self.input.advance(count);
                self.incoming = continuing(remaining - count, Incoming::Skipping);
                return Ok(Some(Piece::Skipped));
            }
        }

        let Some(&tag) = self.input.first() else {
            return Ok(None);
        };
        if !self.streamed.contains(&tag) || self.input.len() < HEADER_LEN {
            return Ok(self.decoder.decode(&mut self.input)?.map(Piece::Frame));
        }
        match self.rows {
            RowMode::Pass => {}
            RowMode::Announce => {
                let body_len = self.peek_body_len()?;
                return Ok(Some(Piece::Announced { body_len }));
            }
            RowMode::Skip => {
                let body_len = self.peek_body_len()?;
                self.skip_message(body_len);
                return Ok(Some(Piece::Skipped));
            }
            RowMode::Whole => {
                let body_len = self.peek_body_len()?;
                if body_len + 4 > self.decoder.max_message_size() {
                    self.skip_message(body_len);
                    return Ok(Some(Piece::Oversized));
                }
                return Ok(self.decoder.decode(&mut self.input)?.map(Piece::Frame));
            }
        }

        // The decoder checks the length field; an incomplete frame starts streaming.
        match self.stream_decoder.decode(&mut self.input)? {
            Some(frame) => self.output.extend_from_slice(frame.as_bytes()),
            None => {
                let body_len = self.peek_body_len()?;
                self.pass_message(body_len);
            }
        }
        Ok(Some(Piece::Passed))
    }

    /// Reads and checks the length field of the message at the start of the
    /// input, which has at least a header; returns the body length.
    fn peek_body_len(&self) -> Result<usize, DecodeError> {
        let mut header = self.input.get(..HEADER_LEN).unwrap_or_default();
        let tag = header.get_u8();
        let length = header.get_i32();
        let body_len = usize::try_from(length)
            .ok()
            .and_then(|length| length.checked_sub(4))
            .ok_or(DecodeError::LengthTooSmall {
                tag: Tag(tag),
                length,
            })?;
        let max = self.stream_decoder.max_message_size();
        if body_len + 4 > max {
            return Err(DecodeError::MessageTooLarge {
                tag: Tag(tag),
                length: body_len as u64 + 4,
                max,
            });
        }
        Ok(body_len)
    }

    /// Moves the header of the message at the start of the input to the
    /// output and streams its body of `body_len` bytes after it.
    pub(crate) fn pass_message(&mut self, body_len: usize) {
        let header = self.input.split_to(HEADER_LEN);
        self.output.extend_from_slice(&header);
        self.incoming = continuing(body_len, Incoming::Streaming);
    }

    /// Drops the message at the start of the input, whose body has `body_len` bytes.
    pub(crate) fn skip_message(&mut self, body_len: usize) {
        self.input.advance(HEADER_LEN);
        self.incoming = continuing(body_len, Incoming::Skipping);
    }

    fn buffered(&self) -> usize {
        self.input.len() + self.output.len()
    }
}

/// Returns the reader position with `remaining` body bytes left in `state`.
fn continuing(remaining: usize, state: fn(usize) -> Incoming) -> Incoming {
    match remaining {
        0 => Incoming::Boundary,
        left => state(left),
    }
}

/// The relay of one session.
pub(crate) struct Relay {
    pub(crate) context: SessionContext,
    pub(crate) state: ProtocolState,
    /// Client input, upstream output.
    pub(crate) to_upstream: Pipe,
    /// Upstream input, client output.
    pub(crate) to_client: Pipe,
    pub(crate) status: TransactionStatus,
    /// The upstream sent a FATAL error, so its closing is expected.
    pub(crate) upstream_fatal: bool,
    /// The client sent Terminate.
    pub(crate) client_terminated: bool,
    /// The upstream waits for COPY data from the client.
    pub(crate) copy_in: bool,
    /// A CancelRequest for a withheld result on its way upstream. Client
    /// messages wait for it, so it cannot cancel one of theirs.
    pub(crate) cancel_task: Option<JoinHandle<()>>,
}

/// The four halves of the two connections.
pub(crate) struct Sockets {
    pub(crate) client_read: ReadHalf<Stream>,
    pub(crate) client_write: WriteHalf<Stream>,
    pub(crate) upstream_read: ReadHalf<Stream>,
    pub(crate) upstream_write: WriteHalf<Stream>,
}

impl Relay {
    /// Runs until the session ends; returns why.
    pub(crate) async fn run(
        &mut self,
        sockets: &mut Sockets,
        registration: &mut Registration,
    ) -> Result<EndReason, SessionError> {
        let mut client_unflushed = false;
        let mut upstream_unflushed = false;
        let mut idle_since: Option<Instant> = None;

        loop {
            self.drain_upstream().await?;
            self.drain_client().await?;
            record_peak(self.to_client.buffered() + self.to_upstream.buffered());

            if self.client_terminated && self.to_upstream.output.is_empty() && !upstream_unflushed {
                return Ok(EndReason::ClientClosed);
            }
            // The idle clock starts when the session settles and is reset
            // only by client input, so notifications do not keep it alive.
            idle_since = match (self.is_idle(), idle_since) {
                (true, None) => Some(Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
            let idle_deadline = idle_since.map(|since| since + self.context.idle_timeout);
            let expiry = self.context.expires_at;
            let read_upstream = self.to_client.output.len() < HIGH_WATER;
            let read_client = self.to_upstream.output.len() < HIGH_WATER
                && self.state.pending() < MAX_PENDING_RESPONSES
                && !self.client_terminated
                && (!self.client_held() || self.to_upstream.input.len() < HIGH_WATER);
            self.to_client.input.reserve(READ_CHUNK);
            self.to_upstream.input.reserve(READ_CHUNK);

            tokio::select! {
                biased;
                reason = registration.terminated() => return Err(Ending::Terminated(reason).into()),
                _ = sleep_until(expiry), if expiry.is_some() => return Err(Ending::TokenExpired.into()),
                read = sockets.upstream_read.read_buf(&mut self.to_client.input), if read_upstream => {
                    if self.upstream_closed(read)? {
                        return Err(self.upstream_lost());
                    }
                }
                read = sockets.client_read.read_buf(&mut self.to_upstream.input), if read_client => {
                    if read? == 0 {
                        return Ok(EndReason::ClientClosed);
                    }
                    idle_since = None;
                }
                flushed = push(&mut sockets.client_write, &mut self.to_client.output), if client_unflushed || !self.to_client.output.is_empty() => {
                    client_unflushed = !flushed?;
                }
                flushed = push(&mut sockets.upstream_write, &mut self.to_upstream.output), if upstream_unflushed || !self.to_upstream.output.is_empty() => {
                    upstream_unflushed = !flushed.map_err(|_| self.upstream_lost())?;
                }
                _ = finished(&mut self.cancel_task), if self.cancel_task.is_some() => {
                    self.cancel_task = None;
                }
                _ = sleep_until(idle_deadline), if idle_deadline.is_some() => return Err(self.idle_ending()),
            }
        }
    }

    /// Returns whether the session waits for the client: every forwarded
    /// message has its response, or the upstream waits for COPY data.
    /// A partial client message does not count as activity; only new
    /// client bytes reset the idle clock.
    fn is_idle(&self) -> bool {
        self.state.is_settled() || self.copy_in
    }

    /// PostgreSQL uses 57P05 (idle_session_timeout) outside a transaction
    /// and 25P03 (idle_in_transaction_session_timeout) inside one.
    fn idle_ending(&self) -> SessionError {
        let timeout = self.context.idle_timeout;
        match self.status {
            TransactionStatus::Idle => Ending::Idle(timeout).into(),
            _ => Ending::IdleInTransaction(timeout).into(),
        }
    }

    fn upstream_closed(&self, read: std::io::Result<usize>) -> Result<bool, SessionError> {
        match read {
            Ok(0) => Ok(true),
            Ok(_) => Ok(false),
            Err(error) => {
                tracing::warn!(session = %self.context.session, %error, "reading from the target failed");
                Ok(true)
            }
        }
    }

    pub(crate) fn upstream_lost(&self) -> SessionError {
        UpstreamError::Lost {
            target: self.context.target.clone(),
        }
        .into()
    }

    /// Returns whether the client stream is at a message boundary, so a
    /// FATAL ErrorResponse can be appended without breaking a message.
    /// Dropping a message writes nothing to the client.
    pub(crate) fn client_at_boundary(&self) -> bool {
        !matches!(self.to_client.incoming, Incoming::Streaming(_))
    }
}

/// Writes some of `output`, or flushes once it is empty; returns whether it
/// flushed. Each call awaits one cancel-safe operation, so it can be a
/// `select!` branch.
async fn push(write: &mut WriteHalf<Stream>, output: &mut BytesMut) -> std::io::Result<bool> {
    if output.is_empty() {
        write.flush().await?;
        Ok(true)
    } else {
        write.write_buf(output).await?;
        Ok(false)
    }
}

/// Waits for the task, if there is one, to end.
async fn finished(task: &mut Option<JoinHandle<()>>) {
    if let Some(task) = task {
        let _ = task.await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn record_peak(bytes: usize) {
    PEAK_BUFFERED.fetch_max(bytes, Ordering::Relaxed);
}

/// Writes the rest of `pending`, then `tail`, flushes and shuts the stream
/// down, giving up after `limit` (a peer that does not read must not hold the task).
pub(crate) async fn finish_stream(
    write: &mut WriteHalf<Stream>,
    pending: &mut BytesMut,
    tail: &[u8],
    limit: Duration,
) {
    let flush = async {
        write.write_all(pending).await?;
        write.write_all(tail).await?;
        write.flush().await?;
        write.shutdown().await
    };
    let _ = tokio::time::timeout(limit, flush).await;
}
