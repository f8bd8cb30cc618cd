//! Client authentication with a Portcullis token, then authorization for
//! the target. The steps hand proof values along: [`Authenticated`] exists
//! only after a token matched, [`Authorized`] only after the authority
//! granted the session.

use std::net::SocketAddr;

use bytes::BytesMut;
use zeroize::Zeroizing;

use crate::authority::{
    AuthorizeRequest, Denial, ScramVerifiers, SessionEvent, SessionGrant, TokenId,
};
use crate::codec::{
    decode_password_message, decode_sasl_initial_response, decode_sasl_response, Authentication,
    FrameDecoder, Tag,
};
use crate::config::AuthMethod;
use crate::error::{AuthError, ClientError, NoAccess, SessionError};
use crate::scram::{self, ChannelBinding, ScramError, SCRAM_SHA_256, SCRAM_SHA_256_PLUS};
use crate::session::Context;
use crate::startup::Started;
use crate::wire::{self, ReadError, MAX_AUTH_MESSAGE};

/// A client whose token matched.
pub(crate) struct Authenticated {
    pub(crate) started: Started,
    token: TokenId,
    /// SCRAM server-final-message, sent once the session is authorized.
    server_final: Option<String>,
}

/// A client authorized for its target; AuthenticationOk has been sent.
pub(crate) struct Authorized {
    pub(crate) started: Started,
    pub(crate) grant: SessionGrant,
}

/// Authenticates the client with SCRAM or, where configured, a cleartext token inside TLS.
pub(crate) async fn authenticate(
    mut started: Started,
    context: &Context,
) -> Result<Authenticated, (Started, SessionError)> {
    let mut out = started.negotiate.take().unwrap_or_default();
    let result = if context.config.auth_method == AuthMethod::Password && started.tls.is_some() {
        password_exchange(&mut started, context, &mut out).await
    } else {
        scram_exchange(&mut started, context, &mut out).await
    };
    match result {
        Ok((token, server_final)) => Ok(Authenticated {
            started,
            token,
            server_final,
        }),
        Err(error) => {
            record_failure(&started, context, &error).await;
            Err((started, error))
        }
    }
}

async fn scram_exchange(
    started: &mut Started,
    context: &Context,
    out: &mut BytesMut,
) -> Result<(TokenId, Option<String>), SessionError> {
    let binding = match started
        .tls
        .as_ref()
        .and_then(|tls| tls.channel_binding.clone())
    {
        Some(data) => ChannelBinding::TlsServerEndPoint(data),
        None => ChannelBinding::NotOffered,
    };
    let mut mechanisms = Vec::new();
    if matches!(binding, ChannelBinding::TlsServerEndPoint(_)) {
        mechanisms.push(SCRAM_SHA_256_PLUS);
    }
    mechanisms.push(SCRAM_SHA_256);
    wire::encode(out, |buf| Authentication::Sasl { mechanisms }.encode(buf));
    wire::flush(&mut started.stream, out).await?;

    let mut buf = BytesMut::new();
    let frame = read_auth_frame(started, context, &mut buf).await?;
    let initial = decode_sasl_initial_response(&frame)?;
    let data = initial
        .data
        .clone()
        .ok_or(ClientError::Scram(ScramError::Malformed(
            "no initial response data",
        )))?;
    let client_first = scram::parse_client_first(initial.mechanism, &data, &binding)
        .map_err(ClientError::Scram)?;

    let user = started.parameters.user.clone();
    let (verifiers, audit_reason) = match context.authority.scram_verifiers(&user).await? {
        Some(verifiers) if !verifiers.tokens.is_empty() => (verifiers, "token did not match"),
        known => {
            let mock = scram::mock_verifiers(
                &context.mock_secret,
                &user,
                context.config.mock_scram_iterations,
            );
            // A user without live tokens keeps the salt a client saw before.
            match known {
                Some(real) => (
                    ScramVerifiers {
                        salt: real.salt,
                        iterations: real.iterations,
                        ..mock
                    },
                    "user has no live token",
                ),
                None => (mock, "unknown or disabled user"),
            }
        }
    };
    let (awaiting, server_first) = scram::server_first(client_first, verifiers);
    wire::encode(out, |buf| {
        Authentication::SaslContinue {
            data: server_first.into_bytes().into(),
        }
        .encode(buf)
    });
    wire::flush(&mut started.stream, out).await?;

    let frame = read_auth_frame(started, context, &mut buf).await?;
    let response = decode_sasl_response(&frame)?;
    match awaiting.verify(&response.data, &binding) {
        Ok(verified) => Ok((verified.token, Some(verified.server_final))),
        Err(ScramError::ProofInvalid) => Err(AuthError { user, audit_reason }.into()),
        Err(error) => Err(ClientError::Scram(error).into()),
    }
}

async fn password_exchange(
    started: &mut Started,
    context: &Context,
    out: &mut BytesMut,
) -> Result<(TokenId, Option<String>), SessionError> {
    wire::encode(out, |buf| Authentication::CleartextPassword.encode(buf));
    wire::flush(&mut started.stream, out).await?;

    let mut buf = BytesMut::new();
    let frame = read_auth_frame(started, context, &mut buf).await?;
    let token = Zeroizing::new(decode_password_message(&frame)?.password.to_owned());
    drop(frame);
    buf.clear();

    let user = started.parameters.user.clone();
    match context.authority.check_token(&user, &token).await? {
        Some(token_id) => Ok((token_id, None)),
        None => Err(AuthError {
            user,
            audit_reason: "token did not match, or unknown or disabled user",
        }
        .into()),
    }
}

async fn read_auth_frame(
    started: &mut Started,
    context: &Context,
    buf: &mut BytesMut,
) -> Result<crate::codec::Frame, SessionError> {
    let decoder = FrameDecoder::new(MAX_AUTH_MESSAGE);
    let read = wire::read_frame(&mut started.stream, buf, &decoder);
    let Ok(read) = tokio::time::timeout_at(context.startup_deadline, read).await else {
        return Err(ClientError::StartupTimeout(context.config.limits.startup_timeout).into());
    };
    let frame = match read {
        Ok(frame) => frame,
        Err(ReadError::Decode(error)) => return Err(error.into()),
        Err(ReadError::Io(error)) => return Err(SessionError::ClientGone(error)),
        Err(ReadError::Closed) => {
            return Err(SessionError::Ended(crate::error::Ending::ClientClosed))
        }
    };
    if frame.tag() != b'p' {
        return Err(ClientError::UnexpectedMessage {
            got: Tag(frame.tag()),
            during: "during authentication",
        }
        .into());
    }
    Ok(frame)
}

/// Asks the authority for a grant, then sends SASLFinal (for SCRAM) and
/// AuthenticationOk. A denial gets the same message as a wrong token.
pub(crate) async fn authorize(
    authenticated: Authenticated,
    context: &Context,
) -> Result<Authorized, (Started, SessionError)> {
    let Authenticated {
        mut started,
        token,
        server_final,
    } = authenticated;
    let request = AuthorizeRequest {
        user: started.parameters.user.clone(),
        token,
        target: started.parameters.target.clone(),
        client_addr: context.peer,
        tls: started.tls.as_ref().map(|tls| tls.info.clone()),
    };
    let grant = match context.authority.authorize(request).await {
        Ok(grant) => grant,
        Err(denial) => {
            record_event(&started, context.peer, context, denial.to_string()).await;
            let error = match denial {
                Denial::Unavailable(error) => SessionError::from(error),
                Denial::UnknownTarget | Denial::NotPermitted(_) => NoAccess {
                    user: started.parameters.user.clone(),
                    target: started.parameters.target.clone(),
                }
                .into(),
                Denial::TokenInvalid | Denial::UserDisabled => AuthError {
                    user: started.parameters.user.clone(),
                    audit_reason: "authorization denied",
                }
                .into(),
            };
            return Err((started, error));
        }
    };

    let mut out = BytesMut::new();
    if let Some(server_final) = server_final {
        wire::encode(&mut out, |buf| {
            Authentication::SaslFinal {
                data: server_final.into_bytes().into(),
            }
            .encode(buf)
        });
    }
    wire::encode(&mut out, |buf| Authentication::Ok.encode(buf));
    if let Err(error) = wire::flush(&mut started.stream, &mut out).await {
        return Err((started, error.into()));
    }
    Ok(Authorized { started, grant })
}

/// Records a failed authentication, except when the client just went away
/// (psql, for one, disconnects to prompt for a password and then retries).
async fn record_failure(started: &Started, context: &Context, error: &SessionError) {
    if matches!(error, SessionError::ClientGone(_) | SessionError::Ended(_)) {
        return;
    }
    let reason = match error {
        SessionError::Auth(auth) => auth.audit_reason.to_owned(),
        other => other.to_string(),
    };
    record_event(started, context.peer, context, reason).await;
}

async fn record_event(started: &Started, peer: SocketAddr, context: &Context, reason: String) {
    let event = SessionEvent::AuthenticationFailed {
        user: started.parameters.user.clone(),
        target: started.parameters.target.clone(),
        client_addr: peer,
        reason,
    };
    if let Err(error) = context.authority.record(event).await {
        // The connection is rejected either way; the failure to record it is logged.
        tracing::error!(%error, client = %peer, "recording a failed authentication failed");
    }
}
