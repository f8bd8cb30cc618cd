//! The authentication exchange: the server's Authentication requests ('R')
//! and the client's 'p' responses.
//!
//! PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse all
//! use type 'p', and "the exact message type can be deduced from the
//! context" (Message Formats, PostgreSQL documentation). The caller knows
//! which request it sent, so it picks the matching decode function.

use std::fmt;

use bytes::{Bytes, BytesMut};

use super::error::{DecodeError, EncodeError, Field, Tag};
use super::frame::Frame;
use super::reader::Reader;
use super::redact::Redacted;
use super::writer::write_message;

/// Authentication ('R'): a request from the server, or the outcome.
#[derive(Clone, PartialEq, Eq)]
pub enum Authentication<'a> {
    /// Code 0: authentication succeeded.
    Ok,
    /// Code 2: Kerberos V5, which PostgreSQL no longer supports.
    KerberosV5,
    /// Code 3: the client must send its password in clear text.
    CleartextPassword,
    /// Code 5: the client must send an MD5 hash salted with these 4 bytes.
    Md5Password {
        /// Random salt.
        salt: [u8; 4],
    },
    /// Code 7: the client must start GSSAPI negotiation.
    Gss,
    /// Code 8: GSSAPI or SSPI data.
    GssContinue {
        /// Mechanism data.
        data: Bytes,
    },
    /// Code 9: the client must start SSPI negotiation.
    Sspi,
    /// Code 10: SASL, with the mechanisms in the server's order of preference.
    Sasl {
        /// Mechanism names, such as `SCRAM-SHA-256`.
        mechanisms: Vec<&'a str>,
    },
    /// Code 11: a SASL challenge.
    SaslContinue {
        /// Mechanism data.
        data: Bytes,
    },
    /// Code 12: SASL outcome "additional data".
    SaslFinal {
        /// Mechanism data.
        data: Bytes,
    },
}

impl<'a> Authentication<'a> {
    pub(crate) fn decode(body: &'a Bytes) -> Result<Self, DecodeError> {
        let mut reader = Reader::new("Authentication", body);
        let code = reader.i32(Field::named("request code"))?;
        let message = match code {
            0 => Authentication::Ok,
            2 => Authentication::KerberosV5,
            3 => Authentication::CleartextPassword,
            5 => Authentication::Md5Password {
                salt: reader.array(Field::named("salt"))?,
            },
            7 => Authentication::Gss,
            8 => Authentication::GssContinue {
                data: reader.rest(),
            },
            9 => Authentication::Sspi,
            10 => Authentication::Sasl {
                mechanisms: decode_mechanisms(&mut reader)?,
            },
            11 => Authentication::SaslContinue {
                data: reader.rest(),
            },
            12 => Authentication::SaslFinal {
                data: reader.rest(),
            },
            code => return Err(DecodeError::UnknownAuthenticationCode { code }),
        };
        reader.finish()?;
        Ok(message)
    }

    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'R'), "Authentication", |w| {
            match self {
                Authentication::Ok => w.i32(0),
                Authentication::KerberosV5 => w.i32(2),
                Authentication::CleartextPassword => w.i32(3),
                Authentication::Md5Password { salt } => {
                    w.i32(5);
                    w.bytes(salt);
                }
                Authentication::Gss => w.i32(7),
                Authentication::GssContinue { data } => {
                    w.i32(8);
                    w.bytes(data);
                }
                Authentication::Sspi => w.i32(9),
                Authentication::Sasl { mechanisms } => {
                    w.i32(10);
                    for (index, mechanism) in mechanisms.iter().enumerate() {
                        let field = Field::indexed("mechanism", index);
                        if mechanism.is_empty() {
                            return Err(EncodeError::ItemIsTerminator {
                                message: w.message(),
                                field,
                            });
                        }
                        w.cstr(field, mechanism)?;
                    }
                    w.u8(0);
                }
                Authentication::SaslContinue { data } => {
                    w.i32(11);
                    w.bytes(data);
                }
                Authentication::SaslFinal { data } => {
                    w.i32(12);
                    w.bytes(data);
                }
            }
            Ok(())
        })
    }
}

/// Reads mechanism names up to the empty name that ends the list.
fn decode_mechanisms<'a>(reader: &mut Reader<'a>) -> Result<Vec<&'a str>, DecodeError> {
    let mut mechanisms = Vec::new();
    for index in 0.. {
        if reader.remaining() == 0 {
            return Err(DecodeError::Truncated {
                message: "Authentication",
                field: Field::named("mechanism list terminator"),
            });
        }
        let mechanism = reader.cstr(Field::indexed("mechanism", index))?;
        if mechanism.is_empty() {
            break;
        }
        mechanisms.push(mechanism);
    }
    Ok(mechanisms)
}

/// Shows the SASL and GSSAPI data as sizes, because it may carry credentials.
impl fmt::Debug for Authentication<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::Ok => f.write_str("AuthenticationOk"),
            Authentication::KerberosV5 => f.write_str("AuthenticationKerberosV5"),
            Authentication::CleartextPassword => f.write_str("AuthenticationCleartextPassword"),
            Authentication::Md5Password { .. } => f.write_str("AuthenticationMD5Password"),
            Authentication::Gss => f.write_str("AuthenticationGSS"),
            Authentication::GssContinue { data } => f
                .debug_tuple("AuthenticationGSSContinue")
                .field(&Redacted(data.len()))
                .finish(),
            Authentication::Sspi => f.write_str("AuthenticationSSPI"),
            Authentication::Sasl { mechanisms } => f
                .debug_tuple("AuthenticationSASL")
                .field(mechanisms)
                .finish(),
            Authentication::SaslContinue { data } => f
                .debug_tuple("AuthenticationSASLContinue")
                .field(&Redacted(data.len()))
                .finish(),
            Authentication::SaslFinal { data } => f
                .debug_tuple("AuthenticationSASLFinal")
                .field(&Redacted(data.len()))
                .finish(),
        }
    }
}

/// A 'p' message before the authentication state has given it a type.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticationResponse {
    /// Message body.
    pub data: Bytes,
}

impl AuthenticationResponse {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'p'), "authentication response", |w| {
            w.bytes(&self.data);
            Ok(())
        })
    }
}

impl fmt::Debug for AuthenticationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthenticationResponse")
            .field(&Redacted(self.data.len()))
            .finish()
    }
}

fn expect_password_tag(frame: &Frame, expected: &'static str) -> Result<(), DecodeError> {
    if frame.tag() != b'p' {
        return Err(DecodeError::UnexpectedMessageType {
            expected,
            tag: Tag(frame.tag()),
        });
    }
    Ok(())
}

/// PasswordMessage ('p'): the reply to AuthenticationCleartextPassword or
/// AuthenticationMD5Password. For the gateway's own clients the password is
/// a gateway token.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordMessage<'a> {
    /// Password, or the MD5 hash when MD5 was requested.
    pub password: &'a str,
}

/// Decodes a 'p' frame as PasswordMessage.
pub fn decode_password_message(frame: &Frame) -> Result<PasswordMessage<'_>, DecodeError> {
    expect_password_tag(frame, "PasswordMessage")?;
    let mut reader = Reader::new("Password", frame.body());
    let password = reader.cstr(Field::named("password"))?;
    reader.finish()?;
    Ok(PasswordMessage { password })
}

impl PasswordMessage<'_> {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'p'), "Password", |w| {
            w.cstr(Field::named("password"), self.password)
        })
    }
}

impl fmt::Debug for PasswordMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordMessage")
            .field("password", &Redacted(self.password.len()))
            .finish()
    }
}

/// SASLInitialResponse ('p'): the chosen mechanism and its initial response.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslInitialResponse<'a> {
    /// Mechanism name chosen from the AuthenticationSASL list.
    pub mechanism: &'a str,
    /// Initial client response; `None` (length -1) when the mechanism sends none.
    pub data: Option<Bytes>,
}

/// Decodes a 'p' frame as SASLInitialResponse.
pub fn decode_sasl_initial_response(frame: &Frame) -> Result<SaslInitialResponse<'_>, DecodeError> {
    expect_password_tag(frame, "SASLInitialResponse")?;
    let mut reader = Reader::new("SASLInitialResponse", frame.body());
    let mechanism = reader.cstr(Field::named("mechanism"))?;
    let data = reader.value(Field::named("initial response"))?;
    reader.finish()?;
    Ok(SaslInitialResponse { mechanism, data })
}

impl SaslInitialResponse<'_> {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'p'), "SASLInitialResponse", |w| {
            w.cstr(Field::named("mechanism"), self.mechanism)?;
            w.value(Field::named("initial response"), self.data.as_deref())
        })
    }
}

impl fmt::Debug for SaslInitialResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslInitialResponse")
            .field("mechanism", &self.mechanism)
            .field("data", &self.data.as_ref().map(|data| Redacted(data.len())))
            .finish()
    }
}

/// SASLResponse ('p'): mechanism data after the initial response.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslResponse {
    /// Mechanism data, such as a SCRAM client-final-message.
    pub data: Bytes,
}

/// Decodes a 'p' frame as SASLResponse.
pub fn decode_sasl_response(frame: &Frame) -> Result<SaslResponse, DecodeError> {
    expect_password_tag(frame, "SASLResponse")?;
    Ok(SaslResponse {
        data: frame.body().clone(),
    })
}

impl SaslResponse {
    /// Encodes the message.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        write_message(buf, Some(b'p'), "SASLResponse", |w| {
            w.bytes(&self.data);
            Ok(())
        })
    }
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslResponse")
            .field("data", &Redacted(self.data.len()))
            .finish()
    }
}
