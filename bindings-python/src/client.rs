//! `stompbox.Stomp`: the blocking client. Every network wait runs with the GIL released
//! (`py.detach`), and long waits are cut into slices with a signal check between them, so
//! other Python threads run and Ctrl-C interrupts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use pyo3::prelude::*;
use stompbox_core::client::{Client, ConnectOptions, Error, DEFAULT_WRITE_BUFFER_BYTES};
use stompbox_core::frame::Frame as CoreFrame;
use stompbox_core::heartbeat::Heartbeat;

use crate::convert::{body_bytes, duration, header_list};
use crate::errors::to_pyerr;
use crate::frame::Frame;

/// `Client::ack` or `Client::nack`.
type Acknowledgement = fn(&mut Client, &CoreFrame, &[(String, String)]) -> Result<(), Error>;

/// How long one GIL-free wait lasts before Python checks for signals.
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// A connection to a STOMP broker.
///
/// `Stomp(url="tcp://127.0.0.1:61613", user=None, password=None, headers=None, timeout=10.0,
/// heartbeat=(0, 0), vhost=None, write_buffer_bytes=1048576, ca_file=None)` connects at once.
/// `url` is `tcp://host:port`, `ssl://host:port` or `tls://host:port` (TLS, verifying the
/// broker's certificate against the system's CA certificates, or those in `ca_file`), or
/// `failover://(url,url,...)`. `timeout` (seconds) bounds the connect, each RECEIPT wait, and
/// `read_frame` without its own timeout.
/// Frames sent without a receipt are buffered (up to `write_buffer_bytes`; 0: none) and written
/// by a background thread as soon as the socket takes them. Use it as a context manager
/// (leaving disconnects with a receipt) or call `close()`. Iterating yields frames until the
/// connection closes.
#[pyclass(frozen, module = "stompbox", name = "Stomp")]
pub struct Stomp {
    client: Mutex<Client>,
    url: String,
}

impl Stomp {
    fn lock(&self) -> MutexGuard<'_, Client> {
        self.client.lock()
    }

    /// Runs one client call with the GIL released.
    fn call<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&mut Client) -> Result<T, Error> + Send) -> PyResult<T> {
        py.detach(|| f(&mut self.lock())).map_err(|e| to_pyerr(py, e))
    }

    /// Waits for a frame until `deadline` (None: forever), in slices, checking for signals.
    fn wait_frame(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<Option<Frame>> {
        loop {
            let now = Instant::now();
            let slice_end = match deadline {
                Some(d) => d.min(now + SIGNAL_SLICE),
                None => now + SIGNAL_SLICE,
            };
            if let Some(frame) = self.call(py, |c| c.read_frame_until(slice_end))? {
                return Ok(Some(Frame::from_core(frame)));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
            py.check_signals()?;
        }
    }

    /// ACK or NACK of `frame`, inside `transaction` if given.
    fn acknowledge(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, Frame>,
        transaction: Option<String>,
        receipt: bool,
        send: Acknowledgement,
    ) -> PyResult<()> {
        let headers = self.with_receipt(py, transaction_header(transaction), receipt);
        let frame = &frame.get().inner;
        self.call(py, |c| send(c, frame, &headers))
    }

    /// `headers` plus a generated `receipt` header when `receipt` is true.
    fn with_receipt(&self, py: Python<'_>, mut headers: Vec<(String, String)>, receipt: bool) -> Vec<(String, String)> {
        if receipt && !headers.iter().any(|(n, _)| n == "receipt") {
            let id = py.detach(|| self.lock().next_id("receipt"));
            headers.push(("receipt".to_owned(), id));
        }
        headers
    }
}

#[pymethods]
impl Stomp {
    #[new]
    #[pyo3(
        signature = (url="tcp://127.0.0.1:61613", user=None, password=None, headers=None, timeout=10.0, heartbeat=(0, 0), vhost=None, write_buffer_bytes=DEFAULT_WRITE_BUFFER_BYTES, ca_file=None),
        text_signature = "(url='tcp://127.0.0.1:61613', user=None, password=None, headers=None, timeout=10.0, heartbeat=(0, 0), vhost=None, write_buffer_bytes=1048576, ca_file=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        url: &str,
        user: Option<String>,
        password: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        timeout: f64,
        heartbeat: (u64, u64),
        vhost: Option<String>,
        write_buffer_bytes: usize,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Stomp> {
        let options = ConnectOptions {
            login: user,
            passcode: password,
            headers: header_list(headers)?,
            virtual_host: vhost,
            heartbeat: Heartbeat { send_ms: heartbeat.0, receive_ms: heartbeat.1 },
            timeout: duration(timeout, "timeout")?,
            write_buffer_bytes,
            ca_file,
            ..ConnectOptions::default()
        };
        let client = py.detach(|| Client::connect(url, &options)).map_err(|e| to_pyerr(py, e))?;
        Ok(Stomp { client: Mutex::new(client), url: url.to_owned() })
    }

    /// The session id from CONNECTED (None if the broker sent none).
    #[getter]
    fn session_id(&self, py: Python<'_>) -> Option<String> {
        py.detach(|| self.lock().session().map(str::to_owned))
    }

    /// The negotiated STOMP version: "1.0", "1.1" or "1.2".
    #[getter]
    fn version(&self, py: Python<'_>) -> &'static str {
        py.detach(|| self.lock().version().as_str())
    }

    /// The `server` header from CONNECTED.
    #[getter]
    fn server(&self, py: Python<'_>) -> Option<String> {
        py.detach(|| self.lock().server().map(str::to_owned))
    }

    /// The URL given to the constructor.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// Whether the connection is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        py.detach(|| self.lock().is_closed())
    }

    /// Sends `body` (bytes; a str is sent as UTF-8) to `destination`. Without a receipt the
    /// frame is buffered and written in the background (a full buffer makes this wait); with
    /// `receipt=True` (or a `receipt` header), writes everything and waits until the broker
    /// confirms it.
    #[pyo3(signature = (destination, body=None, headers=None, receipt=false))]
    fn send(
        &self,
        py: Python<'_>,
        destination: &str,
        body: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        receipt: bool,
    ) -> PyResult<()> {
        let headers = self.with_receipt(py, header_list(headers)?, receipt);
        let body = match body {
            Some(body) if !body.is_none() => body_bytes(body)?,
            _ => std::borrow::Cow::Borrowed(&[][..]),
        };
        let body: &[u8] = &body;
        self.call(py, |c| c.send(destination, body, &headers))
    }

    /// Subscribes to `destination` and returns the subscription id (the `id` header if given).
    /// `ack` is "auto", "client" or "client-individual". Waits for the broker's receipt unless
    /// `receipt=False`, so messages sent after this returns are delivered.
    #[pyo3(signature = (destination, headers=None, ack="auto", receipt=true))]
    fn subscribe(
        &self,
        py: Python<'_>,
        destination: &str,
        headers: Option<&Bound<'_, PyAny>>,
        ack: &str,
        receipt: bool,
    ) -> PyResult<String> {
        let mut headers = header_list(headers)?;
        if ack != "auto" && !headers.iter().any(|(n, _)| n == "ack") {
            headers.push(("ack".to_owned(), ack.to_owned()));
        }
        let headers = self.with_receipt(py, headers, receipt);
        self.call(py, |c| c.subscribe(destination, &headers))
    }

    /// Ends subscription `id`.
    #[pyo3(signature = (id, headers=None, receipt=false))]
    fn unsubscribe(&self, py: Python<'_>, id: &str, headers: Option<&Bound<'_, PyAny>>, receipt: bool) -> PyResult<()> {
        let headers = self.with_receipt(py, header_list(headers)?, receipt);
        self.call(py, |c| c.unsubscribe(id, &headers))
    }

    /// The next frame (usually a MESSAGE), or None after `timeout` seconds (default: the
    /// connection's timeout). An ERROR from the broker raises BrokerError.
    #[pyo3(signature = (timeout=None))]
    fn read_frame(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Frame>> {
        let timeout = match timeout {
            Some(t) => duration(t, "timeout")?,
            None => py.detach(|| self.lock().timeout()),
        };
        self.wait_frame(py, Some(Instant::now() + timeout))
    }

    /// Whether a frame is ready, waiting up to `timeout` seconds (default: don't wait).
    #[pyo3(signature = (timeout=0.0))]
    fn has_frame(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = Instant::now() + duration(timeout, "timeout")?;
        loop {
            let slice = deadline.saturating_duration_since(Instant::now()).min(SIGNAL_SLICE);
            if self.call(py, |c| c.has_frame(slice))? {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            py.check_signals()?;
        }
    }

    /// Acknowledges a received MESSAGE frame (the right header for the negotiated version).
    #[pyo3(signature = (frame, transaction=None, receipt=false))]
    fn ack(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, Frame>,
        transaction: Option<String>,
        receipt: bool,
    ) -> PyResult<()> {
        self.acknowledge(py, frame, transaction, receipt, Client::ack)
    }

    /// Rejects a received MESSAGE frame (STOMP 1.1+).
    #[pyo3(signature = (frame, transaction=None, receipt=false))]
    fn nack(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, Frame>,
        transaction: Option<String>,
        receipt: bool,
    ) -> PyResult<()> {
        self.acknowledge(py, frame, transaction, receipt, Client::nack)
    }

    /// Opens a transaction and returns its id (`transaction`, or a generated one). Pass the id
    /// as the `transaction` header of `send`, or to `ack`/`nack`.
    #[pyo3(signature = (transaction=None, receipt=false))]
    fn begin(&self, py: Python<'_>, transaction: Option<String>, receipt: bool) -> PyResult<String> {
        let headers = self.with_receipt(py, Vec::new(), receipt);
        self.call(py, |c| c.begin(transaction.as_deref(), &headers))
    }

    /// Commits a transaction.
    #[pyo3(signature = (transaction, receipt=false))]
    fn commit(&self, py: Python<'_>, transaction: &str, receipt: bool) -> PyResult<()> {
        let headers = self.with_receipt(py, Vec::new(), receipt);
        self.call(py, |c| c.commit(transaction, &headers))
    }

    /// Rolls back a transaction.
    #[pyo3(signature = (transaction, receipt=false))]
    fn abort(&self, py: Python<'_>, transaction: &str, receipt: bool) -> PyResult<()> {
        let headers = self.with_receipt(py, Vec::new(), receipt);
        self.call(py, |c| c.abort(transaction, &headers))
    }

    /// Disconnects: DISCONNECT with a receipt, wait for it, close the socket. Closing twice does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, Client::disconnect)
    }

    /// Kept from earlier versions, where only frames sent inside `with conn.batch():` were
    /// written together: every send is buffered now. Leaving the block flushes.
    fn batch(slf: Py<Self>) -> Batch {
        Batch { stomp: slf }
    }

    /// Writes everything sent so far and waits until it is written; raises a write error met
    /// in the background.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.call(py, Client::flush)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Disconnects with a receipt. While an exception is propagating, a failed disconnect is
    /// ignored so that it does not hide the original error.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let result = self.call(py, Client::disconnect);
        match exc_type {
            Some(t) if !t.is_none() => {
                py.detach(|| self.lock().close());
                Ok(false)
            }
            _ => result.map(|()| false),
        }
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next frame, waiting as long as it takes; stops when the connection closes.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Frame>> {
        loop {
            let slice_end = Instant::now() + SIGNAL_SLICE;
            match py.detach(|| self.lock().read_frame_until(slice_end)) {
                Ok(Some(frame)) => return Ok(Some(Frame::from_core(frame))),
                Ok(None) => py.check_signals()?,
                Err(Error::Closed { mid_frame: false }) => return Ok(None),
                Err(err) => return Err(to_pyerr(py, err)),
            }
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (session, version, closed) = py.detach(|| {
            let c = self.lock();
            (c.session().map(str::to_owned), c.version().as_str(), c.is_closed())
        });
        let state = if closed { "closed" } else { "open" };
        let session = session.map_or_else(|| "None".to_owned(), |s| format!("{s:?}"));
        format!("<stompbox.Stomp url={:?} version={version} session={session} {state}>", self.url)
    }
}

fn transaction_header(transaction: Option<String>) -> Vec<(String, String)> {
    transaction.map(|t| vec![("transaction".to_owned(), t)]).unwrap_or_default()
}

/// The context manager returned by [`Stomp::batch`].
#[pyclass(frozen, module = "stompbox", name = "Batch")]
pub struct Batch {
    stomp: Py<Stomp>,
}

#[pymethods]
impl Batch {
    fn __enter__(&self, py: Python<'_>) -> Py<Stomp> {
        self.stomp.clone_ref(py)
    }

    /// Flushes. While an exception is propagating, a failed flush is ignored so that it does
    /// not hide the original error.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let flushed = self.stomp.get().call(py, Client::flush);
        match exc_type {
            Some(t) if !t.is_none() => Ok(false),
            _ => flushed.map(|()| false),
        }
    }
}
