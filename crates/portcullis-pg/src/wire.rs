//! Reading whole frames during startup and authentication, where messages
//! are small and strictly alternate, and encoding small gateway messages.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::codec::{DecodeError, EncodeError, Frame, FrameDecoder};

/// Largest authentication message accepted from a client, as PostgreSQL's
/// `PG_MAX_AUTH_TOKEN_LENGTH` (65535 bytes).
pub(crate) const MAX_AUTH_MESSAGE: usize = 65_535;

/// A failed frame read: the peer closed or broke the connection, or sent a bad frame.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    Closed,
    Decode(DecodeError),
}

/// Reads the next frame, buffering at most `decoder`'s maximum.
pub(crate) async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    decoder: &FrameDecoder,
) -> Result<Frame, ReadError> {
    loop {
        if let Some(frame) = decoder.decode(buf).map_err(ReadError::Decode)? {
            return Ok(frame);
        }
        buf.reserve(8 * 1024);
        let read = stream.read_buf(buf).await.map_err(ReadError::Io)?;
        if read == 0 {
            return Err(ReadError::Closed);
        }
    }
}

/// Encodes a message the gateway builds itself into `buf`. These messages
/// contain no user text that could hold a NUL byte, so encoding cannot fail
/// in practice. A failure is logged and the message left out.
pub(crate) fn encode(
    buf: &mut BytesMut,
    result: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) {
    if let Err(error) = result(buf) {
        tracing::error!(%error, "encoding a gateway message failed");
    }
}

/// Writes and flushes `buf`, then clears it.
pub(crate) async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> std::io::Result<()> {
    stream.write_all(buf).await?;
    stream.flush().await?;
    buf.clear();
    Ok(())
}
