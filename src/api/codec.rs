//! The protobuf codec of the diagnostics service: prost's, except that a
//! request that does not decode (truncated or garbage bytes, invalid UTF-8 in
//! a string, nesting past prost's recursion limit) is the client's fault and
//! answers INVALID_ARGUMENT naming the message type, not INTERNAL.

use std::marker::PhantomData;

use prost::Message;
use tonic::{
    Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
};
use tonic_prost::{ProstCodec, ProstEncoder};

use super::error::undecodable;

/// prost encoding; decoding failures become INVALID_ARGUMENT.
#[derive(Debug, Clone)]
pub struct DiagnosticsCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for DiagnosticsCodec<T, U> {
    fn default() -> Self {
        DiagnosticsCodec(PhantomData)
    }
}

impl<T, U> Codec for DiagnosticsCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(PhantomData)
    }
}

/// Decodes `U`; says which message failed to decode and why.
#[derive(Debug, Clone)]
pub struct CheckedDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf)
            .map(Some)
            .map_err(|e| undecodable(message_name::<U>(), &e).into())
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// `diagnostics.v1.ReportErrorRequest` style name of a generated type.
fn message_name<U>() -> String {
    let rust_name = std::any::type_name::<U>();
    let short = rust_name.rsplit("::").next().unwrap_or(rust_name);
    format!("diagnostics.v1.{short}")
}
