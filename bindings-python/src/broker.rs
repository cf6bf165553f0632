//! `stompbox.Broker`: the real broker (the `stompbox-server` library) inside the Python process,
//! on a tokio runtime of its own, created by `start()` and dropped by `stop()`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use parking_lot::{Mutex, MutexGuard};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use stompbox_server::Config;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::errors::StompError;

/// Worker threads of the embedded broker's runtime.
const WORKER_THREADS: usize = 2;

/// A running broker: its runtime, the signal that stops it and the task serving.
struct Running {
    runtime: Runtime,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    addrs: Vec<SocketAddr>,
}

/// The stompbox broker running inside this process (not a subprocess).
///
/// `Broker(port=0, config=None)`: `config` is a path to a TOML file or a dict with the same
/// keys (deserialized straight into the file's structs); `port` (unless None) replaces the
/// configured listeners with 127.0.0.1:`port`, and 0 picks a free port. Call `start()` (or use it as a context manager), then connect to `.url`.
#[pyclass(frozen, module = "stompbox", name = "Broker")]
pub struct Broker {
    config: Config,
    running: Mutex<Option<Running>>,
}

impl Broker {
    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock()
    }

    fn addrs(&self, py: Python<'_>) -> PyResult<Vec<SocketAddr>> {
        py.detach(|| self.lock().as_ref().map(|r| r.addrs.clone()))
            .ok_or_else(|| StompError::new_err("the broker is not running: call start() first"))
    }
}

#[pymethods]
impl Broker {
    #[new]
    #[pyo3(signature = (port=Some(0), config=None), text_signature = "(port=0, config=None)")]
    fn new(port: Option<u16>, config: Option<&Bound<'_, PyAny>>) -> PyResult<Broker> {
        let mut config = match config {
            None => Config::default(),
            Some(c) if c.is_none() => Config::default(),
            Some(c) => match c.cast::<PyDict>() {
                Ok(dict) => {
                    let config: Config = pythonize::depythonize(dict)
                        .map_err(|e| PyValueError::new_err(format!("invalid configuration: {e}")))?;
                    config.validate().map_err(|e| PyValueError::new_err(e.to_string()))?;
                    config
                }
                Err(_) => {
                    let path: PathBuf = c
                        .extract()
                        .map_err(|_| PyTypeError::new_err("config must be a path to a TOML file or a dict"))?;
                    Config::load(&path).map_err(|e| PyValueError::new_err(e.to_string()))?
                }
            },
        };
        if let Some(port) = port {
            config.listen_only_on(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]);
        }
        Ok(Broker { config, running: Mutex::new(None) })
    }

    /// Binds the listeners and starts serving on the broker's own threads. Starting a running
    /// broker does nothing.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let config = self.config.clone();
        py.detach(|| {
            let mut running = self.lock();
            if running.is_some() {
                return Ok(());
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name("stompbox-broker")
                .enable_all()
                .build()?;
            let bound = runtime.block_on(stompbox_server::bind(&config))?;
            let addrs = bound.local_addrs();
            let (stop, stopped) = oneshot::channel::<()>();
            let served = runtime.spawn(stompbox_server::serve(config, bound, async {
                let _ = stopped.await;
            }));
            *running = Some(Running { runtime, stop, served, addrs });
            Ok::<(), std::io::Error>(())
        })
        .map_err(|e| StompError::new_err(format!("cannot start the broker: {e}")))
    }

    /// Stops the broker: closes every connection and waits for them (a few seconds at most).
    /// Stopping a stopped broker does nothing.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let result = py.detach(|| {
            let Some(running) = self.lock().take() else {
                return Ok(());
            };
            let _ = running.stop.send(());
            let served = running.runtime.block_on(running.served);
            running.runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            match served {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(join) => Err(format!("the broker task failed: {join}")),
            }
        });
        result.map_err(|e| StompError::new_err(format!("broker stopped with an error: {e}")))
    }

    /// Whether the broker is running.
    #[getter]
    fn running(&self, py: Python<'_>) -> bool {
        py.detach(|| self.lock().is_some())
    }

    /// The TCP port of the first listener (once started).
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<u16> {
        Ok(self.addrs(py)?.first().map(SocketAddr::port).unwrap_or(0))
    }

    /// `tcp://host:port` of the first listener (once started).
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        let addrs = self.addrs(py)?;
        let addr = addrs.first().ok_or_else(|| StompError::new_err("the broker has no listener"))?;
        Ok(format!("tcp://{addr}"))
    }

    /// Every bound address as `(host, port)`.
    #[getter]
    fn addresses(&self, py: Python<'_>) -> PyResult<Vec<(String, u16)>> {
        Ok(self.addrs(py)?.into_iter().map(|a| (a.ip().to_string(), a.port())).collect())
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().start(slf.py())?;
        Ok(slf)
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match py.detach(|| self.lock().as_ref().map(|r| r.addrs.clone())) {
            Some(addrs) => {
                let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                format!("<stompbox.Broker listening on {}>", addrs.join(", "))
            }
            None => "<stompbox.Broker stopped>".to_owned(),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(running) = self.lock().take() {
            let _ = running.stop.send(());
            running.runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}
