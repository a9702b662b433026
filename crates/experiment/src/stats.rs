//! Per-run aggregates (one `summary.csv` row) and per-connection rows (`connections.csv`).

use crate::engine::StopReason;

/// How a connection ended, from the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every exchange done and the connection closed normally (including through TIME-WAIT).
    Completed,
    /// Closed normally, but not every response arrived (the peer closed early).
    Incomplete,
    /// SYN retransmissions ran out (`tcp.syn_retries`).
    ConnectTimeout,
    /// A valid RST ended the connection.
    Reset,
    /// No ephemeral port was usable for the 4-tuple (all in use or in TIME-WAIT).
    PortExhausted,
    /// Retransmissions ran out after the handshake, the application aborted, or FIN-WAIT-2
    /// timed out (`tcp.fin_timeout`).
    Aborted,
    /// Not finished when the run stopped: still alive at `max_sim_time` or `max_events`, left
    /// open when nothing more could happen (a `stalled` run), or never started because its
    /// arrival lay beyond the limit.
    Unfinished,
}

impl Outcome {
    /// The position of `self` in [`Outcome::ALL`] (the declaration order), without a search.
    pub fn index(self) -> usize {
        self as usize
    }

    pub const ALL: [Outcome; 7] = [
        Outcome::Completed,
        Outcome::Incomplete,
        Outcome::ConnectTimeout,
        Outcome::Reset,
        Outcome::PortExhausted,
        Outcome::Aborted,
        Outcome::Unfinished,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Incomplete => "incomplete",
            Outcome::ConnectTimeout => "connect_timeout",
            Outcome::Reset => "reset",
            Outcome::PortExhausted => "port_exhausted",
            Outcome::Aborted => "aborted",
            Outcome::Unfinished => "unfinished",
        }
    }
}

/// How the server's end of a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerOutcome {
    Closed,
    Reset,
    /// SYN-ACK or data/FIN retransmissions ran out.
    Timeout,
    Unfinished,
    /// The server side of a simultaneous open could not connect: its 4-tuple was in use.
    OpenFailed,
}

impl ServerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerOutcome::Closed => "closed",
            ServerOutcome::Reset => "reset",
            ServerOutcome::Timeout => "timeout",
            ServerOutcome::Unfinished => "unfinished",
            ServerOutcome::OpenFailed => "open_failed",
        }
    }
}

/// One connection's milestones (nanoseconds of simulated time) and outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnRow {
    pub id: u32,
    pub client_port: u16,
    pub outcome: Outcome,
    pub server_outcome: Option<ServerOutcome>,
    pub connect_ns: u64,
    pub established_ns: Option<u64>,
    pub first_close_ns: Option<u64>,
    pub time_wait_ns: Option<u64>,
    pub client_closed_ns: Option<u64>,
    pub server_closed_ns: Option<u64>,
    pub handshake_ns: Option<u64>,
    /// From the first close() to both sides being in TIME-WAIT or CLOSED: the FIN exchange.
    pub close_ns: Option<u64>,
    /// Retransmissions by kind: SYN, SYN-ACK, data, FIN.
    pub rtx: [u32; 4],
}

pub const CONN_HEADER: &[&str] = &[
    "id",
    "client_port",
    "outcome",
    "server_outcome",
    "connect_ns",
    "established_ns",
    "first_close_ns",
    "time_wait_ns",
    "client_closed_ns",
    "server_closed_ns",
    "handshake_ns",
    "close_ns",
    "rtx_syn",
    "rtx_synack",
    "rtx_data",
    "rtx_fin",
];

fn opt(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl ConnRow {
    pub fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.client_port.to_string(),
            self.outcome.as_str().to_string(),
            self.server_outcome
                .map(|o| o.as_str().to_string())
                .unwrap_or_default(),
            self.connect_ns.to_string(),
            opt(self.established_ns),
            opt(self.first_close_ns),
            opt(self.time_wait_ns),
            opt(self.client_closed_ns),
            opt(self.server_closed_ns),
            opt(self.handshake_ns),
            opt(self.close_ns),
            self.rtx[0].to_string(),
            self.rtx[1].to_string(),
            self.rtx[2].to_string(),
            self.rtx[3].to_string(),
        ]
    }
}

/// Aggregates of one run; every field is a pure function of the configuration and seed.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub seed: u64,
    pub replication: u32,
    pub connections: u64,
    pub outcomes: [u64; 7],
    pub server_reset: u64,
    pub server_timeout: u64,
    /// Server ends still open when the run stopped (a time or event limit, or a stall):
    /// e.g. CLOSE-WAIT behind an application that never closes.
    pub server_unfinished: u64,
    /// Simultaneous opens whose server-side connect() was refused (4-tuple in use).
    pub server_open_failed: u64,
    handshake_ns: Samples,
    close_ns: Samples,
    pub handshake: Option<Dist>,
    pub close: Option<Dist>,
    pub rtx: [u64; 4],
    pub time_wait_peak_client: u64,
    pub time_wait_peak_server: u64,
    pub time_wait_killed: u64,
    pub rst_sent: u64,
    /// ACKs owed to unacceptable segments, and challenge ACKs, that either host held back
    /// because it had sent one to the same connection less than 500 ms before (the ACK-loop
    /// guard, Linux `tcp_invalid_ratelimit`).
    pub acks_rate_limited: u64,
    /// Segments (data or a FIN) that arrived beyond RCV.NXT, at either host: reordering or
    /// a loss ahead of them. Held for the gap to fill, or dropped when past a second gap.
    pub out_of_order: u64,
    /// FINs among them that overtook data sent before them, held until it came.
    pub fins_held: u64,
    /// Segments of an older incarnation accepted, by kind: SYN, ACK, data, FIN, RST.
    pub stale_accepted: [u64; 5],
    pub ghost_connections: u64,
    /// Spoofed SYNs sent by `[flood]`.
    pub flood_syns: u64,
    /// Server listen queue: SYNs dropped (queue full or last quarter of syn_backlog), SYN
    /// cookies sent, cookies validated, accept queue overflows, half-open connections
    /// pruned (`syn_queue_prune`), and every SYN-ACK retransmission of the server host,
    /// `[flood]` connections included (`rtx_synack` counts the workload's only).
    pub listen: [u64; 6],
    /// Analytic limits for the plots: ephemeral 4-tuples ÷ the active closer's TIME-WAIT
    /// (the most connections per second that can run without reusing a 4-tuple in
    /// TIME-WAIT), and Little's law, arrival rate × TIME-WAIT (capped by the connections).
    pub port_limit_per_s: f64,
    pub time_wait_little: f64,
    /// Completed connections per second of the arrival period (connections ÷ rate), and the
    /// request rate offered (arrival rate × requests per connection).
    pub completed_per_s: f64,
    pub request_rate: f64,
    /// Each host's TIME-WAIT duration (2×MSL) in seconds: a numeric axis for MSL sweeps.
    pub time_wait_s: [f64; 2],
    pub segments_c2s: u64,
    pub segments_s2c: u64,
    pub dropped_c2s: u64,
    pub dropped_s2c: u64,
    pub events: u64,
    pub sim_end_ns: u64,
    pub stop: StopReason,
}

/// Mean and order statistics of a sample, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dist {
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

/// A sample kept as value -> count, in value order. Durations in a simulation repeat a lot
/// (every clean handshake on a fixed-delay link takes exactly one RTT), so this holds a
/// million samples in a few entries where a `Vec` would take 8 MB, and it is exact.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    counts: std::collections::BTreeMap<u64, u64>,
    /// The latest run of equal values, `(value, count)`, not yet in `counts`: the same
    /// value comes again and again, and counting it here spares a map search per sample.
    run: (u64, u64),
    n: u64,
    sum: u128,
}

impl PartialEq for Samples {
    /// Equal samples, however they are split between the map and the pending run.
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.sum == other.sum && self.merged() == other.merged()
    }
}

impl Samples {
    pub fn push(&mut self, v: u64) {
        // An empty run (count 0) of `v` is as good as a fresh one: no flush needed for it.
        if self.run.0 != v {
            self.flush_run(v);
        }
        self.run.1 += 1;
        self.n += 1;
        self.sum += v as u128;
    }

    /// Moves the pending run into the map and starts a run of `v`: only when the value
    /// changes, so out of line.
    #[inline(never)]
    fn flush_run(&mut self, v: u64) {
        let (value, count) = std::mem::replace(&mut self.run, (v, 0));
        if count > 0 {
            *self.counts.entry(value).or_insert(0) += count;
        }
    }

    /// Every value with its count, the pending run included.
    fn merged(&self) -> std::collections::BTreeMap<u64, u64> {
        let mut counts = self.counts.clone();
        if self.run.1 > 0 {
            *counts.entry(self.run.0).or_insert(0) += self.run.1;
        }
        counts
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Nearest-rank percentiles (no interpolation: every reported value was observed).
    pub fn dist(&self) -> Option<Dist> {
        let n = self.n;
        let counts = self.merged();
        let (&max_ns, _) = counts.last_key_value()?;
        let rank = |p: f64| {
            let r = ((p * n as f64).ceil() as u64).clamp(1, n);
            let mut seen = 0;
            for (&v, &c) in &counts {
                seen += c;
                if seen >= r {
                    return v;
                }
            }
            max_ns
        };
        Some(Dist {
            mean_ns: self.sum as f64 / n as f64,
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            max_ns,
        })
    }
}

impl Dist {
    /// Nearest-rank percentiles (no interpolation: every reported value was observed).
    pub fn of(samples: &mut [u64]) -> Option<Dist> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: f64| samples[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
        let sum: u128 = samples.iter().map(|&x| x as u128).sum();
        Some(Dist {
            mean_ns: sum as f64 / n as f64,
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            max_ns: samples[n - 1],
        })
    }
}

impl RunSummary {
    pub fn new(seed: u64, replication: u32, connections: u64) -> Self {
        RunSummary {
            seed,
            replication,
            connections,
            outcomes: [0; 7],
            server_reset: 0,
            server_timeout: 0,
            server_unfinished: 0,
            server_open_failed: 0,
            handshake_ns: Samples::default(),
            close_ns: Samples::default(),
            handshake: None,
            close: None,
            rtx: [0; 4],
            time_wait_peak_client: 0,
            time_wait_peak_server: 0,
            time_wait_killed: 0,
            rst_sent: 0,
            acks_rate_limited: 0,
            out_of_order: 0,
            fins_held: 0,
            stale_accepted: [0; 5],
            ghost_connections: 0,
            flood_syns: 0,
            listen: [0; 6],
            port_limit_per_s: 0.0,
            time_wait_little: 0.0,
            completed_per_s: 0.0,
            request_rate: 0.0,
            time_wait_s: [0.0; 2],
            segments_c2s: 0,
            segments_s2c: 0,
            dropped_c2s: 0,
            dropped_s2c: 0,
            events: 0,
            sim_end_ns: 0,
            stop: StopReason::Done,
        }
    }

    pub fn add(&mut self, row: &ConnRow) {
        self.add_parts(
            row.outcome,
            row.server_outcome,
            row.handshake_ns,
            row.close_ns,
            row.rtx,
        );
    }

    /// [`RunSummary::add`] from the fields it reads, for a caller without a row to hand:
    /// building one only to read five of its fields costs more than the additions.
    // The indexed loop over `rtx`: its iterator form (clippy's advice) changes how LLVM
    // inlines the engine's main loop, costing 2.6 M instructions in the callgrind run.
    #[allow(clippy::needless_range_loop)]
    #[inline]
    pub fn add_parts(
        &mut self,
        outcome: Outcome,
        server_outcome: Option<ServerOutcome>,
        handshake_ns: Option<u64>,
        close_ns: Option<u64>,
        rtx: [u32; 4],
    ) {
        self.outcomes[outcome.index()] += 1;
        match server_outcome {
            Some(ServerOutcome::Reset) => self.server_reset += 1,
            Some(ServerOutcome::Timeout) => self.server_timeout += 1,
            Some(ServerOutcome::Unfinished) => self.server_unfinished += 1,
            Some(ServerOutcome::OpenFailed) => self.server_open_failed += 1,
            _ => {}
        }
        if let Some(h) = handshake_ns {
            self.handshake_ns.push(h);
        }
        if let Some(c) = close_ns {
            self.close_ns.push(c);
        }
        for k in 0..4 {
            self.rtx[k] += rtx[k] as u64;
        }
    }

    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes[Outcome::ALL.iter().position(|&x| x == o).expect("listed")]
    }

    pub fn finalize_samples(&mut self) {
        self.handshake = self.handshake_ns.dist();
        self.close = self.close_ns.dist();
        self.handshake_ns = Samples::default();
        self.close_ns = Samples::default();
    }

    pub fn completed(&self) -> u64 {
        self.count(Outcome::Completed)
    }

    /// Column names after the sweep columns; kept in one place with [`RunSummary::record`].
    pub fn header() -> Vec<&'static str> {
        let mut h = vec!["seed", "replication", "connections"];
        h.extend(Outcome::ALL.iter().map(|o| o.as_str()));
        h.extend([
            "server_reset",
            "server_timeout",
            "server_unfinished",
            "server_open_failed",
            "handshake_mean_ms",
            "handshake_p50_ms",
            "handshake_p99_ms",
            "handshake_max_ms",
            "close_mean_ms",
            "close_p50_ms",
            "close_p99_ms",
            "rtx_syn",
            "rtx_synack",
            "rtx_data",
            "rtx_fin",
            "time_wait_peak_client",
            "time_wait_peak_server",
            "time_wait_killed",
            "rst_sent",
            "acks_rate_limited",
            "out_of_order",
            "fins_held",
            "stale_accepted",
            "stale_syn",
            "stale_ack",
            "stale_data",
            "stale_fin",
            "stale_rst",
            "ghost_connections",
            "flood_syns",
            "syn_dropped",
            "syn_cookies_sent",
            "syn_cookies_validated",
            "accept_overflows",
            "syn_pruned",
            "server_rtx_synack",
            "segments_sent",
            "segments_dropped",
            "segments_c2s",
            "segments_s2c",
            "dropped_c2s",
            "dropped_s2c",
            "events",
            "sim_end_s",
            "port_limit_per_s",
            "time_wait_little",
            "completed_per_s",
            "request_rate",
            "time_wait_client_s",
            "time_wait_server_s",
            "stop",
        ]);
        h
    }

    pub fn record(&self) -> Vec<String> {
        let ms = |ns: f64| format!("{:.6}", ns / 1e6);
        let d = |f: fn(&Dist) -> f64, v: &Option<Dist>| {
            v.as_ref().map(|x| ms(f(x))).unwrap_or_default()
        };
        let mut r = vec![
            self.seed.to_string(),
            self.replication.to_string(),
            self.connections.to_string(),
        ];
        r.extend(self.outcomes.iter().map(|c| c.to_string()));
        r.push(self.server_reset.to_string());
        r.push(self.server_timeout.to_string());
        r.push(self.server_unfinished.to_string());
        r.push(self.server_open_failed.to_string());
        r.push(d(|x| x.mean_ns, &self.handshake));
        r.push(d(|x| x.p50_ns as f64, &self.handshake));
        r.push(d(|x| x.p99_ns as f64, &self.handshake));
        r.push(d(|x| x.max_ns as f64, &self.handshake));
        r.push(d(|x| x.mean_ns, &self.close));
        r.push(d(|x| x.p50_ns as f64, &self.close));
        r.push(d(|x| x.p99_ns as f64, &self.close));
        r.extend(self.rtx.iter().map(|c| c.to_string()));
        for v in [
            self.time_wait_peak_client,
            self.time_wait_peak_server,
            self.time_wait_killed,
            self.rst_sent,
            self.acks_rate_limited,
            self.out_of_order,
            self.fins_held,
            self.stale_accepted.iter().sum(),
        ] {
            r.push(v.to_string());
        }
        r.extend(self.stale_accepted.iter().map(|c| c.to_string()));
        for v in [
            self.ghost_connections,
            self.flood_syns,
            self.listen[0],
            self.listen[1],
            self.listen[2],
            self.listen[3],
            self.listen[4],
            self.listen[5],
            self.segments_c2s + self.segments_s2c,
            self.dropped_c2s + self.dropped_s2c,
            self.segments_c2s,
            self.segments_s2c,
            self.dropped_c2s,
            self.dropped_s2c,
            self.events,
        ] {
            r.push(v.to_string());
        }
        r.push(format!("{:.9}", self.sim_end_ns as f64 / 1e9));
        r.push(format!("{:.3}", self.port_limit_per_s));
        r.push(format!("{:.3}", self.time_wait_little));
        r.push(format!("{:.3}", self.completed_per_s));
        r.push(format!("{:.3}", self.request_rate));
        r.push(format!("{:.9}", self.time_wait_s[0]));
        r.push(format!("{:.9}", self.time_wait_s[1]));
        r.push(self.stop.as_str().to_string());
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<u64> = (1..=100).rev().collect();
        let d = Dist::of(&mut v).unwrap();
        assert_eq!((d.p50_ns, d.p99_ns, d.max_ns), (50, 99, 100));
        assert_eq!(d.mean_ns, 50.5);
        assert_eq!(Dist::of(&mut []), None);
        let mut s = Samples::default();
        for v in (1..=100).rev() {
            s.push(v);
        }
        assert_eq!(s.dist(), Dist::of(&mut (1..=100).collect::<Vec<_>>()));
        let mut s = Samples::default();
        for v in [5, 5, 5, 9, 1, 5, 9] {
            s.push(v);
        }
        assert_eq!(s.dist(), Dist::of(&mut [5, 5, 5, 9, 1, 5, 9]));
        assert_eq!(Samples::default().dist(), None);
        // The pending run and the map together: runs of a value split by other values.
        let mut a = Samples::default();
        let mut b = Samples::default();
        for v in [3, 3, 7, 3, 3, 3, 1, 7] {
            a.push(v);
        }
        for v in [1, 3, 3, 3, 3, 3, 7, 7] {
            b.push(v);
        }
        assert_eq!(a, b);
        assert_eq!(a.dist(), Dist::of(&mut [3, 3, 7, 3, 3, 3, 1, 7]));
        let mut one = vec![7];
        assert_eq!(Dist::of(&mut one).unwrap().p99_ns, 7);
    }

    #[test]
    fn outcome_index_is_its_position() {
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i);
        }
    }

    #[test]
    fn header_matches_record_width() {
        let s = RunSummary::new(1, 0, 10);
        assert_eq!(RunSummary::header().len(), s.record().len());
    }
}
