//! Talking to devices: one [`Prober`] per scan owns the shared UDP socket (paced,
//! packets counted by [`CountingTransport`]); a [`Session`] per device does GETs and
//! bounded walks for collection.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_snmp::{
    Auth, AuthProtocol, Candidate, Client, ClientBuilder, EngineCache, Oid, PrivProtocol,
    ReceiveLimits, RequestRegistration, Retry, Transport, UdpHandle, UdpTransport, UsmConfig,
    WalkMethod, WalkOptions,
};
use bytes::Bytes;

use super::{
    AuthProto, PrivProto, ProbeAnswer, SnmpCredential, SnmpError, SnmpSettings, SnmpValue,
    VarBinding, Walk, crate_error,
};
use crate::devices::mib;
use crate::devices::pace::Pacer;

/// One shared UDP socket for many targets (a scan), counting packets sent.
pub struct Prober {
    settings: SnmpSettings,
    socket_v4: UdpTransport,
    socket_v6: Option<UdpTransport>,
    engines: Arc<EngineCache>,
    sent: Arc<AtomicU64>,
    pacer: Arc<Pacer>,
}

impl Prober {
    /// Binds the shared socket (IPv4, and IPv6 where the host has it).
    pub async fn new(settings: SnmpSettings) -> Result<Self, SnmpError> {
        let socket_v4 = UdpTransport::bind("0.0.0.0:0").await.map_err(crate_error)?;
        let socket_v6 = UdpTransport::bind("[::]:0").await.ok();
        Ok(Self {
            socket_v4,
            socket_v6,
            engines: Arc::new(EngineCache::new()),
            sent: Arc::new(AtomicU64::new(0)),
            pacer: Arc::new(Pacer::new(settings.rate_pps)),
            settings,
        })
    }

    /// The limits this prober works with.
    pub fn settings(&self) -> &SnmpSettings {
        &self.settings
    }

    /// Datagrams sent so far, retries and SNMPv3 engine discovery included.
    pub fn packets_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Waits for the slot of a new probe's first datagram (after the datagrams of
    /// probes under way); the probe started next sends on it at once.
    pub async fn ready_to_start(&self) {
        self.pacer.start().await;
    }

    /// Asks `ip` for sysDescr and sysObjectID, then whether it is a printer. Every
    /// datagram of a probe (retries and SNMPv3 engine discovery included) keeps to
    /// the prober's rate.
    pub async fn probe(&self, ip: IpAddr, cred: &SnmpCredential) -> Result<ProbeAnswer, SnmpError> {
        let session = self.open(ip, cred, Some(Arc::clone(&self.pacer)))?;
        let values = session.get(&[mib::SYS_DESCR, mib::SYS_OBJECT_ID]).await?;
        let sys_descr = values
            .first()
            .and_then(|v| v.as_ref()?.as_text())
            .unwrap_or_default();
        let sys_object_id = values
            .get(1)
            .and_then(|v| v.as_ref()?.as_oid().map(mib::dotted))
            .unwrap_or_default();
        let is_printer = session.is_printer().await?;
        Ok(ProbeAnswer {
            sys_descr,
            sys_object_id,
            is_printer,
        })
    }

    /// A session to a device that answered, over the shared socket (sends nothing
    /// yet). Not held to the rate: it keeps one request in flight and waits for each
    /// answer, so the device paces it.
    pub async fn session(&self, ip: IpAddr, cred: &SnmpCredential) -> Result<Session, SnmpError> {
        self.open(ip, cred, None)
    }

    fn open(
        &self,
        ip: IpAddr,
        cred: &SnmpCredential,
        pacer: Option<Arc<Pacer>>,
    ) -> Result<Session, SnmpError> {
        let target = SocketAddr::new(ip, self.settings.port);
        let socket = match ip {
            IpAddr::V4(_) => &self.socket_v4,
            IpAddr::V6(_) => self
                .socket_v6
                .as_ref()
                .ok_or_else(|| SnmpError::Io(format!("no IPv6 socket on this host for {ip}")))?,
        };
        let handle = socket.handle(target).map_err(crate_error)?;
        let transport = CountingTransport {
            inner: handle,
            sent: Arc::clone(&self.sent),
            pacer,
        };
        let retry = Retry::fixed(self.settings.retries, Duration::ZERO)
            .map_err(|e| SnmpError::Config(e.to_string()))?;
        let client = ClientBuilder::new(auth_of(cred)?)
            .request_timeout(self.settings.timeout)
            .retry(retry)
            .engine_cache(Arc::clone(&self.engines))
            .walk_options(WalkOptions {
                method: WalkMethod::Auto,
                ..WalkOptions::default()
            })
            .build_with_transport(transport)
            .map_err(crate_error)?;
        Ok(Session {
            client,
            ip,
            settings: self.settings.clone(),
        })
    }
}

fn auth_of(cred: &SnmpCredential) -> Result<Auth, SnmpError> {
    let config_error = |e: async_snmp::CryptoError| SnmpError::Config(e.to_string());
    Ok(match cred {
        SnmpCredential::V1 { community } => Auth::v1(community.as_str()),
        SnmpCredential::V2c { community } => Auth::v2c(community.as_str()),
        SnmpCredential::V3 {
            user,
            auth,
            privacy,
            context,
        } => {
            let usm = UsmConfig::new(Bytes::from(user.clone().into_bytes()));
            let usm = match (auth, privacy) {
                (None, None) => usm,
                (Some((a, a_pass)), None) => {
                    usm.auth(auth_protocol(*a), a_pass).map_err(config_error)?
                }
                (Some((a, a_pass)), Some((p, p_pass))) => usm
                    .auth_priv(auth_protocol(*a), a_pass, priv_protocol(*p), p_pass)
                    .map_err(config_error)?,
                (None, Some(_)) => {
                    return Err(SnmpError::Config(
                        "SNMPv3 privacy needs authentication".into(),
                    ));
                }
            };
            usm.context_name(Bytes::from(context.clone().into_bytes()))
                .into()
        }
    })
}

fn auth_protocol(proto: AuthProto) -> AuthProtocol {
    match proto {
        AuthProto::Sha1 => AuthProtocol::Sha1,
        AuthProto::Sha256 => AuthProtocol::Sha256,
    }
}

fn priv_protocol(proto: PrivProto) -> PrivProtocol {
    match proto {
        PrivProto::Aes128 => PrivProtocol::Aes128,
    }
}

/// A session to one device for collection: GETs and bounded walks.
pub struct Session {
    client: Client<CountingTransport>,
    ip: IpAddr,
    settings: SnmpSettings,
}

impl Session {
    /// The device's address.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Reads these OIDs; one entry per OID, `None` where the device has no such object.
    /// An SNMPv1 agent fails the whole request for one missing OID: then each is asked alone.
    pub async fn get(&self, oids: &[&[u32]]) -> Result<Vec<Option<SnmpValue>>, SnmpError> {
        let wanted: Vec<Oid> = oids.iter().map(|arcs| Oid::from_slice(arcs)).collect();
        match self.client.get_many(&wanted).await {
            Ok(response) => Ok(wanted
                .iter()
                .map(|oid| {
                    response
                        .varbinds
                        .iter()
                        .find(|vb| &vb.oid == oid)
                        .and_then(|vb| SnmpValue::from_crate(&vb.value))
                })
                .collect()),
            Err(error) => match SnmpError::from_crate(&error) {
                SnmpError::Agent(_) if wanted.len() > 1 => {
                    let mut values = Vec::with_capacity(wanted.len());
                    for oid in &wanted {
                        values.push(match self.client.get(oid).await {
                            Ok(response) => response
                                .single()
                                .filter(|vb| &vb.oid == oid)
                                .and_then(|vb| SnmpValue::from_crate(&vb.value)),
                            Err(e) => match SnmpError::from_crate(&e) {
                                SnmpError::Agent(_) => None,
                                other => return Err(other),
                            },
                        });
                    }
                    Ok(values)
                }
                other => Err(other),
            },
        }
    }

    /// Walks the subtree under `prefix` (GETBULK on v2c/v3, GETNEXT on v1).
    ///
    /// Stops at endOfMibView, at the first OID outside the subtree, at a non-increasing
    /// OID, after `max_walk_rows` rows or after `max_walk_time`: a walk that never ends
    /// still ends, with [`Walk::cut`] saying why. An error before the first row is
    /// returned as an error; after it, the rows so far come back with `cut` set.
    pub async fn walk(&self, prefix: &[u32]) -> Result<Walk, SnmpError> {
        let deadline = tokio::time::Instant::now() + self.settings.max_walk_time;
        let mut stream = self
            .client
            .walk(Oid::from_slice(prefix))
            .map_err(crate_error)?;
        let mut walk = Walk::default();
        loop {
            if walk.rows.len() >= self.settings.max_walk_rows {
                walk.cut = Some(format!(
                    "stopped after {} rows",
                    self.settings.max_walk_rows
                ));
                break;
            }
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => {
                    walk.cut = Some(format!(
                        "stopped after {:?} ({} rows)",
                        self.settings.max_walk_time,
                        walk.rows.len()
                    ));
                    break;
                }
                Ok(None) => break,
                Ok(Some(Ok(vb))) => {
                    if let Some(value) = SnmpValue::from_crate(&vb.value) {
                        walk.rows.push(VarBinding {
                            oid: vb.oid.arcs().to_vec(),
                            value,
                        });
                    }
                }
                Ok(Some(Err(error))) => {
                    let error = SnmpError::from_crate(&error);
                    if walk.rows.is_empty() && !matches!(error, SnmpError::Walk(_)) {
                        return Err(error);
                    }
                    walk.cut = Some(error.to_string());
                    break;
                }
            }
        }
        if let Some(reason) = &walk.cut {
            tracing::warn!(ip = %self.ip, oid = %mib::dotted(prefix), reason, "SNMP walk cut");
        }
        Ok(walk)
    }

    /// Whether the device is a printer: a prtGeneralTable row (one GETNEXT), else an
    /// hrDeviceType of hrDevicePrinter among the first rows of hrDeviceTable.
    pub async fn is_printer(&self) -> Result<bool, SnmpError> {
        let general = Oid::from_slice(mib::PRT_GENERAL_ENTRY);
        match self.client.get_next(&general).await {
            Ok(next) => {
                if next.single().is_some_and(|vb| {
                    vb.oid.starts_with(&general) && SnmpValue::from_crate(&vb.value).is_some()
                }) {
                    return Ok(true);
                }
            }
            // SNMPv1 answers noSuchName past the end of its MIB.
            Err(error) => match SnmpError::from_crate(&error) {
                SnmpError::Agent(_) => {}
                other => return Err(other),
            },
        }
        let types = self.walk(mib::HR_DEVICE_TYPE).await?;
        Ok(types
            .rows
            .iter()
            .any(|row| row.value.as_oid() == Some(mib::HR_DEVICE_PRINTER)))
    }
}

/// The shared socket's per-target handle: every datagram sent through it waits for
/// its slot of the prober's rate (when paced), then is counted.
struct CountingTransport {
    inner: UdpHandle,
    sent: Arc<AtomicU64>,
    pacer: Option<Arc<Pacer>>,
}

// The trait's futures must be `Send`; spelled out, the bound is stated where an
// `async fn` would leave it to inference.
#[allow(
    clippy::manual_async_fn,
    reason = "the trait asks for Send futures, stated here"
)]
impl Transport for CountingTransport {
    fn send(&self, data: &[u8]) -> impl Future<Output = async_snmp::Result<()>> + Send {
        async move {
            if let Some(pacer) = &self.pacer {
                pacer.acquire().await;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            self.inner.send(data).await
        }
    }

    fn request_with<T, F>(
        &self,
        data: &[u8],
        registration: RequestRegistration,
        validate: F,
    ) -> impl Future<Output = async_snmp::Result<T>> + Send
    where
        T: Send,
        F: FnMut(Bytes, SocketAddr) -> async_snmp::Result<Candidate<T>> + Send,
    {
        async move {
            // The wait counts against this request's time-out (the crate fixes the
            // deadline before calling us); `Prober::ready` keeps it short in scans.
            if let Some(pacer) = &self.pacer {
                pacer.acquire().await;
            }
            self.sent.fetch_add(1, Ordering::Relaxed);
            self.inner.request_with(data, registration, validate).await
        }
    }

    fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr()
    }

    fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    fn alloc_request_id(&self) -> i32 {
        self.inner.alloc_request_id()
    }

    fn is_reliable(&self) -> bool {
        false
    }

    fn receive_limits(&self) -> ReceiveLimits {
        self.inner.receive_limits()
    }

    fn send_capacity(&self) -> usize {
        self.inner.send_capacity()
    }
}
