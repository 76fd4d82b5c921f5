//! The request/response codec: CBOR (ciborium), each message read through a size cap before
//! it is decoded, the stream then closed by the writer.

use std::io;
use std::marker::PhantomData;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A CBOR codec for requests `Req` and responses `Resp`, at most `max_request` and `max`
/// bytes.
pub struct Cbor<Req, Resp> {
    max: u64,
    max_request: u64,
    kinds: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> Cbor<Req, Resp> {
    /// A codec refusing messages over `max` bytes.
    pub fn new(max: u64) -> Self {
        Cbor {
            max,
            max_request: max,
            kinds: PhantomData,
        }
    }

    /// The same, refusing requests over `max_request` bytes (when requests are small).
    pub fn requests_up_to(mut self, max_request: u64) -> Self {
        self.max_request = max_request.min(self.max);
        self
    }
}

impl<Req, Resp> Clone for Cbor<Req, Resp> {
    fn clone(&self) -> Self {
        Cbor::new(self.max).requests_up_to(self.max_request)
    }
}

async fn read<T: DeserializeOwned, R: AsyncRead + Unpin + Send>(
    io: &mut R,
    max: u64,
) -> io::Result<T> {
    let mut bytes = Vec::new();
    // One byte more than allowed tells a message too large from one exactly at the limit.
    io.take(max + 1).read_to_end(&mut bytes).await?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message larger than {max} bytes"),
        ));
    }
    ciborium::from_reader(bytes.as_slice())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

async fn write<T: Serialize, W: AsyncWrite + Unpin + Send>(
    io: &mut W,
    value: &T,
    max: u64,
) -> io::Result<()> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {} bytes is larger than {max}", bytes.len()),
        ));
    }
    io.write_all(&bytes).await?;
    io.close().await
}

impl<Req, Resp> libp2p::request_response::Codec for Cbor<Req, Resp>
where
    Req: Serialize + DeserializeOwned + Send + Sync,
    Resp: Serialize + DeserializeOwned + Send + Sync,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(io, self.max_request).await
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Resp>
    where
        T: AsyncRead + Unpin + Send,
    {
        read(io, self.max).await
    }

    async fn write_request<T>(&mut self, _: &Self::Protocol, io: &mut T, req: Req) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(io, &req, self.max_request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        res: Resp,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write(io, &res, self.max).await
    }
}
