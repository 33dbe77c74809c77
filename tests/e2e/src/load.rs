//! Background load through the gateway: clients without cookies, each on its own thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use crate::http::{HttpClient, Request};

/// Sends requests without cookies as fast as it can until stopped; counts responses that are not 200.
pub struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    /// `threads` clients sending prediction requests to `path` until [`Load::finish`].
    pub fn start(port: u16, threads: usize, path: &str) -> Load {
        let (stop, sent, failed) = (Arc::new(AtomicBool::new(false)), Arc::default(), Arc::default());
        let threads = (0..threads)
            .map(|i| {
                let (stop, sent, failed): (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>) =
                    (stop.clone(), Arc::clone(&sent), Arc::clone(&failed));
                let path = path.to_string();
                thread::spawn(move || {
                    let mut client = HttpClient::new(port);
                    while !stop.load(Ordering::SeqCst) {
                        // Half the threads reuse one connection, half open a new one per request.
                        if i % 2 == 1 {
                            client = HttpClient::new(port);
                        }
                        let ok = client
                            .send(&Request::predict(&path))
                            .is_ok_and(|r| r.status == 200);
                        sent.fetch_add(1, Ordering::SeqCst);
                        if !ok {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            sent,
            failed,
            threads,
        }
    }

    /// Stops the threads; (requests sent, responses that were not 200).
    pub fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.sent.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}
