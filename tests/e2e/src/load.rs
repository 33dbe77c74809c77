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

/// One answer of a [`paced`] run: how long it took, and what the client got.
#[derive(Debug, Clone)]
pub struct Answered {
    pub latency: std::time::Duration,
    pub status: u16,
    pub served_by: Option<String>,
    pub body: Vec<u8>,
}

/// `threads` clients, each on its own kept-alive connection, each sending `request` every
/// `1 / per_thread_rate` seconds for `duration` (open loop: a late answer does not delay the next
/// send's schedule, it is sent at once; a rate beyond what the gateway answers is a closed loop at
/// saturation). A failed exchange counts as status 0.
pub fn paced(
    port: u16,
    threads: usize,
    per_thread_rate: u32,
    duration: std::time::Duration,
    request: &Request,
) -> Vec<Answered> {
    use std::time::Instant;
    let interval = std::time::Duration::from_secs(1) / per_thread_rate.max(1);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let request = request.clone();
            thread::spawn(move || {
                let mut client = HttpClient::new(port);
                let mut answers = Vec::new();
                // Threads start spread over one interval, not in step.
                let start = Instant::now() + interval * i as u32 / threads.max(1) as u32;
                let mut next = start;
                let end = start + duration;
                while next < end && Instant::now() < end {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    let sent = Instant::now();
                    let answer = match client.send(&request) {
                        Ok(r) => Answered {
                            latency: sent.elapsed(),
                            status: r.status,
                            served_by: r.served_by().map(str::to_string),
                            body: r.body,
                        },
                        Err(_) => Answered {
                            latency: sent.elapsed(),
                            status: 0,
                            served_by: None,
                            body: Vec::new(),
                        },
                    };
                    answers.push(answer);
                    next += interval;
                }
                answers
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect()
}

/// The `q` quantile (0..=1) of the latencies, nearest rank.
pub fn quantile(answers: &[Answered], q: f64) -> std::time::Duration {
    let mut latencies: Vec<_> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    let rank = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len().max(1));
    latencies
        .get(rank - 1)
        .copied()
        .unwrap_or(std::time::Duration::ZERO)
}
