//! The live tail's response message on the server side: a
//! `SubscribeLogsResponse` built for one subscriber (a notice, a heartbeat, a
//! replayed log), or the bytes of one already encoded — a new log is encoded
//! once and the same bytes go to every subscriber that receives it. Both are
//! the same on the wire; clients decode a plain `SubscribeLogsResponse`.

use bytes::{Buf, BufMut, Bytes};
use prost::{
    DecodeError, Message,
    encoding::{DecodeContext, WireType},
};

use super::pb;

/// One message of a SubscribeLogs response stream.
#[derive(Debug, Clone, PartialEq)]
pub enum TailMessage {
    /// A response still to be encoded.
    Message(Box<pb::SubscribeLogsResponse>),
    /// An encoded `SubscribeLogsResponse`, shared between subscribers.
    Encoded(Bytes),
}

impl Default for TailMessage {
    fn default() -> Self {
        TailMessage::Message(Box::default())
    }
}

impl From<pb::SubscribeLogsResponse> for TailMessage {
    fn from(message: pb::SubscribeLogsResponse) -> Self {
        TailMessage::Message(Box::new(message))
    }
}

impl Message for TailMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match self {
            TailMessage::Message(message) => message.encode_raw(buf),
            TailMessage::Encoded(bytes) => buf.put_slice(bytes),
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        if let TailMessage::Encoded(bytes) = self {
            *self =
                TailMessage::Message(Box::new(pb::SubscribeLogsResponse::decode(bytes.clone())?));
        }
        match self {
            TailMessage::Message(message) => message.merge_field(tag, wire_type, buf, ctx),
            TailMessage::Encoded(_) => unreachable!("replaced by its decoded message above"),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            TailMessage::Message(message) => message.encoded_len(),
            TailMessage::Encoded(bytes) => bytes.len(),
        }
    }

    fn clear(&mut self) {
        *self = TailMessage::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_response() -> pb::SubscribeLogsResponse {
        pb::SubscribeLogsResponse {
            event: Some(pb::subscribe_logs_response::Event::Log(pb::LogEntry {
                message: "CUDA out of memory".into(),
                stack_trace: "Traceback (most recent call last):\n  File \"train.py\"".into(),
                ..Default::default()
            })),
            cursor: "cursor".into(),
        }
    }

    #[test]
    fn both_forms_encode_to_the_same_bytes_and_decode_as_the_clients_message() {
        let message = log_response();
        let built = TailMessage::from(message.clone()).encode_to_vec();
        let shared = TailMessage::Encoded(message.encode_to_vec().into());
        assert_eq!(shared.encoded_len(), built.len());
        assert_eq!(shared.encode_to_vec(), built);
        assert_eq!(
            pb::SubscribeLogsResponse::decode(built.as_slice()).unwrap(),
            message
        );
    }

    #[test]
    fn an_encoded_message_merges_like_the_message_itself() {
        let mut merged = TailMessage::Encoded(log_response().encode_to_vec().into());
        let more = pb::SubscribeLogsResponse {
            cursor: "later".into(),
            ..Default::default()
        };
        merged.merge(more.encode_to_vec().as_slice()).unwrap();
        let mut expected = log_response();
        expected.cursor = "later".into();
        assert_eq!(merged, TailMessage::from(expected));
    }
}
