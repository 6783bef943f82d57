//! A TCP proxy in front of a real server, which a test can switch off (refusing new
//! connections and cutting open ones) and on again: a dependency that goes away for real.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

pub struct TcpProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
}

impl TcpProxy {
    /// Starts a proxy to `target`, up or down.
    pub async fn start(target: SocketAddr, up: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let up = Arc::new(AtomicBool::new(up));
        let (generation, _) = watch::channel(0u64);
        let flag = up.clone();
        let gen_tx = generation.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = gen_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Ok(Self {
            addr,
            up,
            generation,
        })
    }

    /// Refuses new connections and cuts the open ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
