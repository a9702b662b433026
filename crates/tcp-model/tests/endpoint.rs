//! Packet scripts for one `Endpoint`, in the style of smoltcp's socket tests: `send` a
//! segment to it, `recv` exactly the segment it must answer with. One module per state.

use tcp_model::*;

const CLIENT: Addr = Addr {
    ip: 0x0a00_0001,
    port: 49152,
};
const SERVER: Addr = Addr {
    ip: 0x0a00_0002,
    port: 80,
};
const INC: u32 = 7;
const C_ISS: u32 = 1000;
const S_ISS: u32 = 5000;

fn ms(t: u64) -> SimTime {
    SimTime::from_nanos(t * 1_000_000)
}

fn cfg() -> TcpConfig {
    TcpConfig::default()
}

/// A segment; `ack` is ignored unless `flags` has ACK. SYNs carry MSS 1460.
fn seg(src: Addr, dst: Addr, seq: u32, ack: u32, flags: Flags, len: u32) -> Segment {
    Segment {
        src,
        dst,
        seq: SeqNum(seq),
        ack: SeqNum(if flags.contains(Flags::ACK) { ack } else { 0 }),
        flags,
        window: 65535,
        mss: if flags.contains(Flags::SYN) { 1460 } else { 0 },
        payload_len: len,
        incarnation: INC,
    }
}

const SYN: Flags = Flags::SYN;
const ACK: Flags = Flags::ACK;
const FIN: Flags = Flags::FIN;
const RST: Flags = Flags::RST;
const PSH: Flags = Flags::PSH;

fn changed(from: State, to: State) -> Event {
    Event::StateChanged { from, to }
}
fn closed(reason: CloseReason) -> Event {
    Event::Closed { reason }
}

struct Sc {
    ep: Endpoint,
    cfg: TcpConfig,
    now: SimTime,
    local: Addr,
    remote: Addr,
}

impl Sc {
    /// Client at t=0 in SYN-SENT, its SYN already taken.
    fn client_with(cfg: TcpConfig, iss: u32) -> Sc {
        let ep = Endpoint::connect(&cfg, SimTime::ZERO, CLIENT, SERVER, SeqNum(iss), INC);
        let mut s = Sc {
            ep,
            cfg,
            now: SimTime::ZERO,
            local: CLIENT,
            remote: SERVER,
        };
        s.recv(s.o(iss, 0, SYN, 0));
        s
    }
    fn client() -> Sc {
        Sc::client_with(cfg(), C_ISS)
    }
    /// Client ESTABLISHED at t=0 (RTT 0, so RTO = rto_min = 200 ms); events drained.
    fn established_client_with(cfg: TcpConfig) -> Sc {
        let mut s = Sc::client_with(cfg, C_ISS);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.events();
        s
    }
    fn established_client() -> Sc {
        Sc::established_client_with(cfg())
    }
    /// Server at t=0 in SYN-RECEIVED, its SYN-ACK already taken.
    fn server_with(cfg: TcpConfig) -> Sc {
        let syn = seg(CLIENT, SERVER, C_ISS, 0, SYN, 0);
        let ep = Endpoint::accept(&cfg, SimTime::ZERO, SERVER, &syn, SeqNum(S_ISS));
        let mut s = Sc {
            ep,
            cfg,
            now: SimTime::ZERO,
            local: SERVER,
            remote: CLIENT,
        };
        s.recv(s.o(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s
    }
    fn server() -> Sc {
        Sc::server_with(cfg())
    }
    /// Client in TIME-WAIT entered at `t_ms` (client closed first); events drained.
    fn time_wait_client(cfg: TcpConfig, t_ms: u64) -> Sc {
        let mut s = Sc::established_client_with(cfg);
        s.close();
        s.recv(s.o(C_ISS + 1, S_ISS + 1, FIN | ACK, 0));
        s.send(s.i(S_ISS + 1, C_ISS + 2, ACK, 0));
        s.at(t_ms);
        s.send(s.i(S_ISS + 1, C_ISS + 2, FIN | ACK, 0));
        s.recv(s.o(C_ISS + 2, S_ISS + 2, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
        s.events();
        s
    }

    /// A segment from the endpoint.
    fn o(&self, seq: u32, ack: u32, flags: Flags, len: u32) -> Segment {
        seg(self.local, self.remote, seq, ack, flags, len)
    }
    /// A RST from the endpoint: `<SEQ=seq><CTL=RST>`, window 0.
    fn rst_out(&self, seq: u32) -> Segment {
        Segment {
            window: 0,
            ..self.o(seq, 0, Flags::RST, 0)
        }
    }
    /// A segment to the endpoint.
    fn i(&self, seq: u32, ack: u32, flags: Flags, len: u32) -> Segment {
        seg(self.remote, self.local, seq, ack, flags, len)
    }
    fn at(&mut self, t_ms: u64) {
        self.now = ms(t_ms);
    }
    fn at_ns(&mut self, ns: u64) {
        self.now = SimTime::from_nanos(ns);
    }
    fn send(&mut self, s: Segment) {
        self.ep.handle_segment(&self.cfg, self.now, &s);
    }
    #[track_caller]
    fn recv(&mut self, expected: Segment) {
        let got = self.ep.poll_transmit(&self.cfg, self.now);
        assert_eq!(
            got,
            Some(expected),
            "\n got: {}\nwant: {expected}",
            got.map(|g| g.to_string()).unwrap_or_default()
        );
    }
    #[track_caller]
    fn recv_nothing(&mut self) {
        let got = self.ep.poll_transmit(&self.cfg, self.now);
        assert_eq!(
            got,
            None,
            "unexpected {}",
            got.map(|g| g.to_string()).unwrap_or_default()
        );
    }
    fn tick(&mut self) {
        self.ep.handle_timeout(&self.cfg, self.now);
    }
    fn app_send(&mut self, bytes: u64) {
        self.ep.send(&self.cfg, self.now, bytes);
    }
    fn close(&mut self) {
        self.ep.close(&self.cfg, self.now);
    }
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }
    fn timeout(&self) -> Option<SimTime> {
        self.ep.poll_timeout()
    }
}

mod syn_sent {
    use super::*;

    #[test]
    fn syn_ack_establishes_and_acks() {
        let mut s = Sc::client();
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(1000)));
        s.at(100);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::Closed, State::SynSent),
                changed(State::SynSent, State::Established),
                Event::Connected
            ]
        );
        // RFC 6298 §2.2: SRTT = 100 ms, RTTVAR = 50 ms, RTO = 100 + 4 * 50 = 300 ms.
        assert_eq!(s.ep.srtt(&s.cfg), Some(SimDuration::from_millis(100)));
        assert_eq!(s.ep.rto(), SimDuration::from_millis(300));
        assert_eq!(s.timeout(), None, "nothing outstanding");
        assert_eq!(s.ep.send_mss(), 1460);
    }

    #[test]
    fn lost_syn_backs_off_then_connect_timeout_at_127s() {
        let mut s = Sc::client();
        s.events();
        let mut expect_at = 1000;
        let mut rto = 1000;
        for _ in 0..6 {
            s.at(expect_at - 1);
            s.tick();
            s.recv_nothing();
            s.at(expect_at);
            s.tick();
            s.recv(s.o(C_ISS, 0, SYN, 0));
            assert_eq!(s.events(), [Event::Retransmit { kind: RtxKind::Syn }]);
            rto *= 2;
            expect_at += rto;
            assert_eq!(s.timeout(), Some(ms(expect_at)));
        }
        // Retransmissions at 1, 3, 7, 15, 31, 63 s; the seventh expiry gives up.
        assert_eq!(expect_at, 127_000);
        s.at(127_000);
        s.tick();
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::Closed);
        assert_eq!(
            s.events(),
            [
                changed(State::SynSent, State::Closed),
                closed(CloseReason::ConnectTimeout)
            ]
        );
        assert_eq!(s.ep.stats().retransmits.syn, 6);
        assert_eq!(s.timeout(), None);
    }

    #[test]
    fn connect_timeout_ends_before_syn_retries() {
        let c = TcpConfig {
            connect_timeout: Some(SimDuration::from_secs(5)),
            ..cfg()
        };
        let mut s = Sc::client_with(c, C_ISS);
        s.events();
        assert_eq!(s.timeout(), Some(ms(1000)), "the RTO comes first");
        for t in [1000, 3000] {
            s.at(t);
            s.tick();
            s.recv(s.o(C_ISS, 0, SYN, 0));
        }
        // The next RTO would be at 7 s; the connect deadline at 5 s wins.
        assert_eq!(s.timeout(), Some(ms(5000)));
        s.at(5000);
        s.tick();
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                Event::Retransmit { kind: RtxKind::Syn },
                Event::Retransmit { kind: RtxKind::Syn },
                changed(State::SynSent, State::Closed),
                closed(CloseReason::ConnectTimeout)
            ]
        );
        assert_eq!(s.timeout(), None);
    }

    #[test]
    fn connect_timeout_is_cancelled_by_established() {
        let c = TcpConfig {
            connect_timeout: Some(SimDuration::from_millis(500)),
            ..cfg()
        };
        let mut s = Sc::client_with(c, C_ISS);
        s.at(100);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        assert_eq!(s.timeout(), None);
        s.at(500);
        s.tick();
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn handshake_after_syn_retransmit_uses_3s_fallback_rto() {
        let mut s = Sc::client();
        s.at(1000);
        s.tick();
        s.recv(s.o(C_ISS, 0, SYN, 0));
        s.at(1100);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        // Karn: no sample from the retransmitted SYN; RFC 6298 §5.7: RTO = 3 s.
        assert_eq!(s.ep.srtt(&s.cfg), None);
        assert_eq!(s.ep.rto(), SimDuration::from_secs(3));
        s.app_send(10);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, PSH | ACK, 10));
        assert_eq!(s.timeout(), Some(ms(4100)));
    }

    #[test]
    fn rst_with_acceptable_ack_refuses() {
        let mut s = Sc::client();
        s.events();
        // A RST without ACK cannot be validated in SYN-SENT: ignored.
        s.send(s.i(0, 0, RST, 0));
        assert_eq!(s.ep.state(), State::SynSent);
        // A reset answering our SYN: <SEQ=0><ACK=ISS+1><CTL=RST,ACK>.
        s.send(s.i(0, C_ISS + 1, RST | ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::SynSent, State::Closed),
                closed(CloseReason::Reset)
            ]
        );
    }

    #[test]
    fn bad_ack_is_reset_and_ignored() {
        let mut s = Sc::client();
        s.send(s.i(S_ISS, C_ISS + 5, SYN | ACK, 0));
        // <SEQ=SEG.ACK><CTL=RST>
        let mut rst = s.o(C_ISS + 5, 0, RST, 0);
        rst.window = 0;
        s.recv(rst);
        assert_eq!(s.ep.state(), State::SynSent);
        // A bad ACK on a RST is not answered.
        s.send(s.i(S_ISS, C_ISS, RST | ACK, 0));
        s.recv_nothing();
        assert_eq!(s.ep.stats().unexpected_segments, 2);
    }

    #[test]
    fn peer_without_mss_option_gets_536() {
        let mut s = Sc::client();
        let mut sa = s.i(S_ISS, C_ISS + 1, SYN | ACK, 0);
        sa.mss = 0;
        s.send(sa);
        assert_eq!(s.ep.send_mss(), 536);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.app_send(600);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 536));
        s.recv(s.o(C_ISS + 537, S_ISS + 1, PSH | ACK, 64));
    }

    #[test]
    fn tiny_peer_mss_is_raised_to_linux_floor() {
        let mut s = Sc::client();
        let mut sa = s.i(S_ISS, C_ISS + 1, SYN | ACK, 0);
        sa.mss = 1;
        s.send(sa);
        assert_eq!(s.ep.send_mss(), MIN_SND_MSS);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.app_send(100);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 48));
        s.recv(s.o(C_ISS + 49, S_ISS + 1, ACK, 48));
        s.recv(s.o(C_ISS + 97, S_ISS + 1, PSH | ACK, 4));
    }

    #[test]
    fn simultaneous_open() {
        let mut s = Sc::client();
        s.events();
        // The peer's SYN crosses ours: SYN-RECEIVED, and our SYN again, now with ACK.
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        assert_eq!(s.events(), [changed(State::SynSent, State::SynReceived)]);
        // The peer's SYN-ACK (its SYN again, with the ACK of ours) completes the open, and
        // needs no answer: §3.5 Figure 8, line 6.
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::SynReceived, State::Established),
                Event::Connected
            ]
        );
        // A second copy of it is an old duplicate now: ACKed.
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
    }

    #[test]
    fn simultaneous_open_completed_by_a_plain_ack() {
        // The peer's SYN-ACK was lost, or it answered our SYN-ACK with an ACK: that completes
        // the open as in any SYN-RECEIVED.
        let mut s = Sc::client();
        s.events();
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.events();
        s.send(s.i(S_ISS + 1, C_ISS + 1, ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::SynReceived, State::Established),
                Event::Connected
            ]
        );
    }

    #[test]
    fn simultaneous_open_takes_no_rtt_sample_across_the_resent_syn() {
        // Our SYN was lost; the peer's SYN arrives 3 s later and our SYN goes out again in
        // the SYN-ACK. The ACK that completes the open may answer either copy (Karn's rule):
        // no sample of 3 s, and the RTO stays the initial 1 s (RFC 6298: only a handshake
        // that retransmitted falls back to 3 s).
        let mut s = Sc::client_with(
            TcpConfig {
                rto_estimator: RtoEstimator::Rfc6298,
                ..cfg()
            },
            C_ISS,
        );
        s.events();
        s.at(3000);
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.at(3020);
        s.send(s.i(S_ISS + 1, C_ISS + 1, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.ep.srtt(&s.cfg), None);
        assert_eq!(s.ep.rto(), SimDuration::from_secs(1));
        // The first segment sent after the open is timed as usual.
        s.app_send(10);
        s.recv(s.o(C_ISS + 1, S_ISS + 1, PSH | ACK, 10));
        s.at(3040);
        s.send(s.i(S_ISS + 1, C_ISS + 11, ACK, 0));
        assert_eq!(s.ep.srtt(&s.cfg), Some(SimDuration::from_millis(20)));
    }

    #[test]
    fn simultaneous_open_times_the_syn_ack_like_linux() {
        // The same crossing under the Linux estimator: `tcp_send_synack` stamps the SYN's
        // buffer anew as it leaves as the SYN-ACK, so the ACK 20 ms later is a sample of
        // 20 ms: RTO = 20 ms + max(2 * 20 ms, rto_min) = 220 ms.
        let mut s = Sc::client();
        s.events();
        s.at(3000);
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.at(3020);
        s.send(s.i(S_ISS + 1, C_ISS + 1, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.ep.srtt(&s.cfg), Some(SimDuration::from_millis(20)));
        assert_eq!(s.ep.rto(), SimDuration::from_millis(220));
    }

    #[test]
    fn stale_syn_ack_completing_a_simultaneous_open_is_a_stale_syn() {
        let mut s = Sc::client();
        s.events();
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.events();
        let mut old = s.i(S_ISS, C_ISS + 1, SYN | ACK, 0);
        old.incarnation = 3;
        s.send(old);
        assert_eq!(
            s.events(),
            [
                Event::StaleAccepted {
                    kind: StaleKind::Syn
                },
                changed(State::SynReceived, State::Established),
                Event::Connected
            ]
        );
        assert_eq!(s.ep.stats().stale_accepted.total(), 1);
    }

    #[test]
    fn simultaneous_open_syn_ack_acking_nothing_of_ours_is_acked_not_accepted() {
        let mut s = Sc::client();
        s.events();
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.events();
        // Its ACK field is not our SND.NXT: the old rule, ACK and drop, and no open.
        s.send(s.i(S_ISS, C_ISS, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        assert_eq!(s.events(), []);
    }

    #[test]
    fn data_and_fin_on_syn_ack_are_processed() {
        let mut s = Sc::client();
        s.events();
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK | FIN, 100));
        s.recv(s.o(C_ISS + 1, S_ISS + 102, ACK, 0));
        assert_eq!(
            s.events(),
            [
                changed(State::SynSent, State::Established),
                Event::Connected,
                Event::Received { bytes: 100 },
                Event::PeerFin,
                changed(State::Established, State::CloseWait),
            ]
        );
    }

    #[test]
    fn close_in_syn_sent_deletes_the_tcb() {
        let mut s = Sc::client();
        s.events();
        s.close();
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::SynSent, State::Closed),
                closed(CloseReason::Aborted)
            ]
        );
    }
}

mod syn_received {
    use super::*;

    #[test]
    fn ack_establishes() {
        let mut s = Sc::server();
        assert_eq!(s.events(), [changed(State::Listen, State::SynReceived)]);
        assert_eq!(s.ep.incarnation(), INC, "adopts the SYN's incarnation");
        s.at(20);
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::SynReceived, State::Established),
                Event::Connected
            ]
        );
        // The final ACK times the SYN-ACK (Linux `tcp_synack_rtt_meas`): RTT 20 ms, so
        // Linux's RTO = SRTT + max(2 * 20 ms, rto_min) = 220 ms.
        assert_eq!(s.ep.srtt(&s.cfg), Some(SimDuration::from_millis(20)));
        assert_eq!(s.ep.rto(), SimDuration::from_millis(220));
    }

    #[test]
    fn ack_establishes_with_rfc6298_rto() {
        let mut s = Sc::server_with(TcpConfig {
            rto_estimator: RtoEstimator::Rfc6298,
            ..cfg()
        });
        s.at(20);
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        // RTT 20 ms: RTO = 20 + 4 * 10 = 60 ms, floored to rto_min.
        assert_eq!(s.ep.srtt(&s.cfg), Some(SimDuration::from_millis(20)));
        assert_eq!(s.ep.rto(), SimDuration::from_millis(200));
    }

    #[test]
    fn lost_syn_ack_retransmitted_at_1s_and_on_duplicate_syn() {
        let mut s = Sc::server();
        s.events();
        s.at(1000);
        s.tick();
        s.recv(s.o(S_ISS, C_ISS + 1, SYN | ACK, 0));
        assert_eq!(s.timeout(), Some(ms(3000)));
        // The client's own retransmitted SYN arrives: answer with the SYN-ACK again.
        s.send(s.i(C_ISS, 0, SYN, 0));
        s.recv(s.o(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                Event::Retransmit {
                    kind: RtxKind::SynAck
                },
                Event::Retransmit {
                    kind: RtxKind::SynAck
                }
            ]
        );
        s.at(1010);
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.ep.rto(), SimDuration::from_secs(3));
    }

    #[test]
    fn handshake_timeout_after_synack_retries() {
        let mut s = Sc::server();
        s.events();
        for t in [1000, 3000, 7000, 15000, 31000] {
            s.at(t);
            s.tick();
            s.recv(s.o(S_ISS, C_ISS + 1, SYN | ACK, 0));
        }
        assert_eq!(s.timeout(), Some(ms(63000)));
        s.at(63000);
        s.tick();
        s.recv_nothing();
        let ev = s.events();
        assert_eq!(ev.len(), 7);
        assert_eq!(
            ev[5..],
            [
                changed(State::SynReceived, State::Closed),
                closed(CloseReason::HandshakeTimeout)
            ]
        );
    }

    #[test]
    fn bad_ack_gets_reset() {
        let mut s = Sc::server();
        s.send(s.i(C_ISS + 1, S_ISS + 9, ACK, 0));
        let mut rst = s.o(S_ISS + 9, 0, RST, 0);
        rst.window = 0;
        s.recv(rst);
        assert_eq!(s.ep.state(), State::SynReceived);
    }

    #[test]
    fn exact_rst_ends_passive_connection() {
        let mut s = Sc::server();
        s.events();
        s.send(s.i(C_ISS + 1, 0, RST, 0));
        assert_eq!(
            s.events(),
            [
                changed(State::SynReceived, State::Closed),
                closed(CloseReason::Reset)
            ]
        );
    }

    #[test]
    fn close_before_established_sends_fin_after_handshake() {
        let mut s = Sc::server();
        s.close();
        s.recv_nothing();
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.recv(s.o(S_ISS + 1, C_ISS + 1, FIN | ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait1);
    }
}

mod established {
    use super::*;

    #[test]
    fn data_in_mss_segments_and_cumulative_acks() {
        let mut s = Sc::established_client();
        s.app_send(4000);
        s.recv(s.o(1001, 5001, ACK, 1460));
        s.recv(s.o(2461, 5001, ACK, 1460));
        s.recv(s.o(3921, 5001, PSH | ACK, 1080));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(200)));
        s.at(50);
        s.send(s.i(5001, 2461, ACK, 0));
        // The first segment is timed: 50 ms after a handshake RTT of 0, Linux's SRTT is
        // (1 + 8 * 50 ms) / 8 = 6.25 ms and rttvar stays 200 ms, RTO 206.25 ms.
        assert_eq!(
            s.timeout(),
            Some(SimTime::from_nanos((50_000 + 206_250) * 1_000)),
            "RFC 6298 §5.3: restart on new ACK"
        );
        s.send(s.i(5001, 5001, ACK, 0));
        assert_eq!(
            s.timeout(),
            None,
            "RFC 6298 §5.2: stop when all is acknowledged"
        );
        s.recv_nothing();
    }

    #[test]
    fn peer_window_limits_what_is_in_flight() {
        let mut s = Sc::client();
        let mut sa = s.i(S_ISS, C_ISS + 1, SYN | ACK, 0);
        sa.window = 2000;
        s.send(sa);
        s.recv(s.o(1001, 5001, ACK, 0));
        s.app_send(5000);
        s.recv(s.o(1001, 5001, ACK, 1460));
        s.recv(s.o(2461, 5001, ACK, 540));
        s.recv_nothing();
        let mut a = s.i(5001, 2461, ACK, 0);
        a.window = 2000;
        s.send(a);
        s.recv(s.o(3001, 5001, ACK, 1460));
        // SND.UNA 2461 + window 2000 = 4461: exactly one more full segment fits.
        s.recv_nothing();
    }

    #[test]
    fn receives_in_order_keeps_one_out_of_order_range() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 1001, PSH | ACK, 500));
        s.recv(s.o(1001, 5501, ACK, 0));
        assert_eq!(s.events(), [Event::Received { bytes: 500 }]);
        // A gap: duplicate ACK, data kept aside.
        s.send(s.i(6001, 1001, ACK, 500));
        s.recv(s.o(1001, 5501, ACK, 0));
        // A second, disjoint out-of-order range does not fit and is dropped.
        s.send(s.i(7001, 1001, ACK, 100));
        s.recv(s.o(1001, 5501, ACK, 0));
        assert_eq!(s.events(), []);
        // The gap is filled: both ranges delivered, one cumulative ACK.
        s.send(s.i(5501, 1001, ACK, 500));
        s.recv(s.o(1001, 6501, ACK, 0));
        assert_eq!(s.events(), [Event::Received { bytes: 1000 }]);
        // Old duplicate: re-ACK, nothing delivered.
        s.send(s.i(5001, 1001, ACK, 500));
        s.recv(s.o(1001, 6501, ACK, 0));
        assert_eq!(s.events(), []);
        // Overlapping old and new: only the new part counts.
        s.send(s.i(6401, 1001, ACK, 200));
        s.recv(s.o(1001, 6601, ACK, 0));
        assert_eq!(s.events(), [Event::Received { bytes: 100 }]);
        assert_eq!(s.ep.stats().out_of_order, 2);
    }

    #[test]
    fn a_fin_that_overtook_data_closes_when_the_data_comes() {
        let mut s = Sc::established_client();
        // The last segment, data and FIN, arrives before the one before it.
        s.send(s.i(5101, 1001, PSH | FIN | ACK, 100));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.events(), []);
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv(s.o(1001, 5202, ACK, 0));
        assert_eq!(s.ep.state(), State::CloseWait);
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 200 },
                Event::PeerFin,
                changed(State::Established, State::CloseWait)
            ]
        );
        // The peer's retransmission of the FIN, later, is a duplicate: ACKed, nothing else.
        s.send(s.i(5101, 1001, PSH | FIN | ACK, 100));
        s.recv(s.o(1001, 5202, ACK, 0));
        assert_eq!(s.events(), []);
    }

    #[test]
    fn a_bare_fin_beyond_a_gap_is_held_and_counted_out_of_order() {
        let mut s = Sc::established_client();
        s.send(s.i(5101, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.stats().out_of_order, 1);
        // Data that ends short of it leaves it held; the rest delivers it.
        s.send(s.i(5001, 1001, ACK, 60));
        assert_eq!(s.ep.state(), State::Established);
        s.send(s.i(5061, 1001, ACK, 40));
        s.recv(s.o(1001, 5102, ACK, 0));
        assert_eq!(s.ep.state(), State::CloseWait);
    }

    #[test]
    fn a_fin_after_a_second_gap_is_not_held() {
        let mut s = Sc::established_client();
        // Kept: [5101, 5201). The FIN at 5301 lies past a second gap, where nothing is kept.
        s.send(s.i(5101, 1001, ACK, 100));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.send(s.i(5301, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.send(s.i(5001, 1001, ACK, 100));
        s.recv(s.o(1001, 5201, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.ep.stats().fins_held, 0);
        // Nor does data filling the second gap bring it back: the peer sends it again.
        s.send(s.i(5201, 1001, ACK, 100));
        assert_eq!(s.ep.state(), State::Established);
        s.send(s.i(5301, 1001, FIN | ACK, 0));
        assert_eq!(s.ep.state(), State::CloseWait);
    }

    #[test]
    fn data_past_a_held_fin_withdraws_it() {
        let mut s = Sc::established_client();
        s.send(s.i(5101, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        // Out-of-order data running past the FIN's place: the FIN was not the end.
        s.send(s.i(5101, 1001, ACK, 50));
        s.send(s.i(5001, 1001, ACK, 100));
        s.recv(s.o(1001, 5151, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.events(), [Event::Received { bytes: 150 }]);
    }

    #[test]
    fn rto_goes_back_n_and_backs_off() {
        let mut s = Sc::established_client();
        s.app_send(3000);
        s.recv(s.o(1001, 5001, ACK, 1460));
        s.recv(s.o(2461, 5001, ACK, 1460));
        s.recv(s.o(3921, 5001, PSH | ACK, 80));
        s.at(200);
        s.tick();
        assert_eq!(
            s.events(),
            [Event::Retransmit {
                kind: RtxKind::Data
            }]
        );
        s.recv(s.o(1001, 5001, ACK, 1460));
        s.recv(s.o(2461, 5001, ACK, 1460));
        s.recv(s.o(3921, 5001, PSH | ACK, 80));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(600)));
        // An ACK of the first segment moves the retransmission point forward.
        s.at(300);
        s.send(s.i(5001, 2461, ACK, 0));
        assert_eq!(
            s.timeout(),
            Some(ms(700)),
            "backed-off RTO kept until a new sample"
        );
        s.at(700);
        s.tick();
        s.recv(s.o(2461, 5001, ACK, 1460));
        s.recv(s.o(3921, 5001, PSH | ACK, 80));
        assert_eq!(s.ep.stats().retransmits.data, 2);
    }

    #[test]
    fn retries2_exhausted() {
        let mut s = Sc::established_client_with(TcpConfig {
            retries2: 2,
            ..cfg()
        });
        s.app_send(100);
        s.recv(s.o(1001, 5001, PSH | ACK, 100));
        for t in [200, 600] {
            s.at(t);
            s.tick();
            s.recv(s.o(1001, 5001, PSH | ACK, 100));
        }
        s.at(1399);
        s.tick();
        assert_eq!(s.ep.state(), State::Established);
        s.at(1400);
        s.tick();
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::Closed);
        assert_eq!(
            s.events().last(),
            Some(&closed(CloseReason::RetriesExceeded))
        );
    }

    #[test]
    fn rst_exact_kills_in_window_challenges_outside_ignored() {
        let mut s = Sc::established_client();
        s.send(s.i(5002, 0, RST, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.send(s.i(5001 + 70000, 0, RST, 0));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.ep.stats().challenge_acks, 1);
        s.send(s.i(5001, 0, RST, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::Established, State::Closed),
                closed(CloseReason::Reset)
            ]
        );
    }

    #[test]
    fn lengths_past_2_pow_31_are_clipped_to_the_window() {
        // Out of order with a length that wraps the sequence space: only the window is kept.
        let mut s = Sc::established_client();
        s.send(s.i(5002, 1001, ACK, 0x8067_0000));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.send(s.i(5001, 1001, ACK, 1));
        s.recv(s.o(1001, 5001 + 65535, ACK, 0));
        assert_eq!(s.events(), [Event::Received { bytes: 65535 }]);
    }

    #[test]
    fn syn_gets_challenge_ack() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 0, SYN, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn challenge_acks_go_at_most_every_500ms() {
        // RFC 5961 §7, Linux tcp_send_challenge_ack: an in-window RST, a SYN, an old SYN.
        let mut s = Sc::established_client();
        s.send(s.i(5002, 0, RST, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.at(100);
        s.send(s.i(5001, 0, SYN, 0));
        s.recv_nothing();
        // A SYN-ACK copy from before RCV.NXT: unacceptable, and a SYN: limited too.
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv_nothing();
        s.at(500);
        s.send(s.i(5001, 0, SYN, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.stats().challenge_acks, 2);
        assert_eq!(s.ep.stats().acks_rate_limited, 2);
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn retransmitted_syn_ack_is_acked_again() {
        // The client's ACK of the SYN-ACK was lost; the server sends its SYN-ACK again.
        let mut s = Sc::established_client();
        s.at(1000);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.events(), []);
    }

    #[test]
    fn out_of_window_pure_acks_are_answered_at_most_every_500ms() {
        let mut s = Sc::established_client();
        // A pure ACK far behind RCV.NXT: answered (Linux tcp_invalid_ratelimit, 500 ms).
        s.send(s.i(1, 1001, ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.at(499);
        s.send(s.i(1, 1001, ACK, 0));
        s.recv_nothing();
        // Out-of-window data is not part of an ACK loop: always answered.
        s.send(s.i(1, 1001, ACK, 10));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.at(500);
        s.send(s.i(1, 1001, ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.stats().unexpected_segments, 4);
        assert_eq!(s.ep.stats().acks_rate_limited, 1);
    }

    #[test]
    fn ack_of_unsent_data_is_answered_outside_established_whatever_unsent_ack_says() {
        // Linux tcp_rcv_state_process: a challenge ACK in the other synchronized states.
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait1);
        s.send(s.i(5001, 9999, ACK, 0));
        s.recv(s.o(1002, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait1);
    }

    #[test]
    fn ack_of_unsent_data_is_answered_and_dropped_or_only_dropped_like_linux() {
        let rfc = TcpConfig {
            unsent_ack: UnsentAck::Ack,
            ..cfg()
        };
        let mut s = Sc::established_client_with(rfc);
        s.send(s.i(5001, 9999, ACK, 10));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.events(), []);
        // Linux tcp_rcv_established: dropped, no answer, the data not taken.
        let mut s = Sc::established_client();
        s.send(s.i(5001, 9999, ACK, 10));
        s.recv_nothing();
        assert_eq!(s.events(), []);
        assert_eq!(s.ep.stats().unexpected_segments, 1);
        assert_eq!(s.ep.stats().acks_rate_limited, 0);
        // The next in-order data is still what it expects.
        s.send(s.i(5001, 1001, ACK, 10));
        s.recv(s.o(1001, 5011, ACK, 0));
    }

    #[test]
    fn acks_of_unsent_or_ancient_data_are_answered_at_most_every_500ms() {
        // RFC 5961 §7, Linux tcp_send_challenge_ack: data or not. A new connection on an old
        // one's 4-tuple and that one's TIME-WAIT would otherwise answer each other forever.
        let mut s = Sc::established_client_with(TcpConfig {
            unsent_ack: UnsentAck::Ack,
            ..cfg()
        });
        s.send(s.i(5001, 9999, ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        s.at(100);
        s.send(s.i(5001, 9999, ACK, 10));
        s.recv_nothing();
        // Older than SND.UNA - MAX.SND.WND (RFC 5961 §5.2): the same limit.
        let ancient = 1001u32.wrapping_sub(70_000);
        s.send(s.i(5001, ancient, ACK, 0));
        s.recv_nothing();
        s.at(500);
        s.send(s.i(5001, ancient, ACK, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
        assert_eq!(s.ep.stats().acks_rate_limited, 2);
        assert_eq!(s.ep.stats().unexpected_segments, 4);
        assert_eq!(s.ep.state(), State::Established);
        assert_eq!(s.events(), []);
    }

    #[test]
    fn sequence_numbers_wrap_across_2_pow_32() {
        let iss = u32::MAX - 1000;
        let peer = u32::MAX - 10;
        let mut s = Sc::client_with(cfg(), iss);
        s.send(s.i(peer, iss.wrapping_add(1), SYN | ACK, 0));
        let (a, b) = (iss.wrapping_add(1), peer.wrapping_add(1));
        s.recv(s.o(a, b, ACK, 0));
        s.app_send(3000);
        s.recv(s.o(a, b, ACK, 1460));
        s.recv(s.o(a.wrapping_add(1460), b, ACK, 1460));
        s.recv(s.o(a.wrapping_add(2920), b, PSH | ACK, 80));
        assert_eq!(a.wrapping_add(2920), 1920, "crossed 2^32");
        // Data from the peer crossing 2^32 too.
        s.send(s.i(b, a.wrapping_add(3000), ACK, 1460));
        s.recv(s.o(a.wrapping_add(3000), b.wrapping_add(1460), ACK, 0));
        assert_eq!(b.wrapping_add(1460), 1450);
        assert_eq!(s.timeout(), None, "all acknowledged across the wrap");
        s.close();
        s.recv(s.o(a.wrapping_add(3000), 1450, FIN | ACK, 0));
        s.send(s.i(1450, a.wrapping_add(3001), FIN | ACK, 0));
        s.recv(s.o(a.wrapping_add(3001), 1451, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
    }

    #[test]
    fn stale_segments_from_an_older_incarnation_are_reported() {
        let mut s = Sc::established_client();
        s.app_send(100);
        s.recv(s.o(1001, 5001, PSH | ACK, 100));
        let mut old = s.i(5001, 1101, PSH | ACK, 50);
        old.incarnation = 3;
        s.send(old);
        s.recv(s.o(1101, 5051, ACK, 0));
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 50 },
                Event::StaleAccepted {
                    kind: StaleKind::Data
                }
            ]
        );
        // A stale segment that is not accepted is not reported.
        s.send(old);
        s.recv(s.o(1101, 5051, ACK, 0));
        assert_eq!(s.events(), []);
        // A stale pure ACK that advances SND.UNA is.
        s.app_send(10);
        s.recv(s.o(1101, 5051, PSH | ACK, 10));
        let mut ack = s.i(5051, 1111, ACK, 0);
        ack.incarnation = 3;
        s.send(ack);
        assert_eq!(
            s.events(),
            [Event::StaleAccepted {
                kind: StaleKind::Ack
            }]
        );
        assert_eq!(s.ep.stats().stale_accepted.total(), 2);
    }

    #[test]
    fn send_after_close_is_ignored_and_counted() {
        let mut s = Sc::established_client();
        s.close();
        s.app_send(10);
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.recv_nothing();
        assert_eq!(s.ep.stats().ignored_app_calls, 2);
    }

    #[test]
    fn abort_sends_rst() {
        let mut s = Sc::established_client();
        s.ep.abort(&s.cfg.clone(), s.now);
        let mut rst = s.o(1001, 0, RST, 0);
        rst.window = 0;
        s.recv(rst);
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::Established, State::Closed),
                closed(CloseReason::Aborted)
            ]
        );
    }
}

mod fin_wait_1 {
    use super::*;

    #[test]
    fn fin_piggybacks_on_last_data_then_ack_leads_to_fin_wait_2() {
        let mut s = Sc::established_client();
        s.app_send(1500);
        s.close();
        assert_eq!(
            s.ep.state(),
            State::FinWait1,
            "FIN-WAIT-1 at CLOSE, data still queued"
        );
        s.recv(s.o(1001, 5001, ACK, 1460));
        s.recv(s.o(2461, 5001, FIN | PSH | ACK, 40));
        s.recv_nothing();
        s.send(s.i(5001, 2502, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
        assert_eq!(s.timeout(), Some(ms(60_000)), "only the fin_timeout runs");
    }

    #[test]
    fn fin_and_ack_together_go_straight_to_time_wait() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.events();
        s.at(10);
        s.send(s.i(5001, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(
            s.events(),
            [Event::PeerFin, changed(State::FinWait1, State::TimeWait)]
        );
        assert_eq!(s.timeout(), Some(ms(60_010)));
    }

    #[test]
    fn lost_fin_is_retransmitted() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.events();
        s.at(200);
        s.tick();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        assert_eq!(s.events(), [Event::Retransmit { kind: RtxKind::Fin }]);
    }

    /// A client whose SYN-ACK came back after `rtt_ms` closes at 1 s with nothing else
    /// outstanding and its FIN is lost: returns when the FIN goes out again (and checks it
    /// does not go earlier).
    fn lost_fin_resent_at(cfg: TcpConfig, rtt_ms: u64) -> SimTime {
        let mut s = Sc::client_with(cfg, C_ISS);
        s.at(rtt_ms);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.at(1000);
        s.close();
        s.recv(s.o(C_ISS + 1, S_ISS + 1, FIN | ACK, 0));
        s.events();
        let at = s.timeout().expect("the RTO runs");
        s.now = SimTime::from_nanos(at.as_nanos() - 1);
        s.tick();
        s.recv_nothing();
        s.now = at;
        s.tick();
        s.recv(s.o(C_ISS + 1, S_ISS + 1, FIN | ACK, 0));
        assert_eq!(s.events(), [Event::Retransmit { kind: RtxKind::Fin }]);
        at
    }

    #[test]
    fn lost_fin_is_resent_srtt_plus_rto_min_later_on_a_short_path_like_linux() {
        // Linux `tcp_rtt_estimator`: the SYN-ACK's 20 ms sample sets SRTT 20 ms and rttvar
        // max(2 * 20 ms, tcp_rto_min) = 200 ms; RTO = SRTT + rttvar = 220 ms, as a Linux
        // capture shows it on a 20 ms path.
        assert_eq!(lost_fin_resent_at(cfg(), 20), ms(1220));
        // Where 2 * RTT passes rto_min, it is 3 * RTT: 150 + 300 ms.
        assert_eq!(lost_fin_resent_at(cfg(), 150), ms(1450));
    }

    #[test]
    fn lost_fin_is_resent_after_rfc6298_rto() {
        // RFC 6298 §2.2-2.4: SRTT 20 ms, RTTVAR 10 ms, RTO = 20 + 4 * 10 = 60 ms, raised to
        // the floor: rto_min = 1 s under rfc9293 (§2.4), 200 ms with the linux profile's.
        let rfc = TcpConfig::profile(Profile::Rfc9293);
        assert_eq!(rfc.rto_estimator, RtoEstimator::Rfc6298);
        assert_eq!(lost_fin_resent_at(rfc, 20), ms(2000));
        let floor_200ms = TcpConfig {
            rto_estimator: RtoEstimator::Rfc6298,
            ..cfg()
        };
        assert_eq!(lost_fin_resent_at(floor_200ms.clone(), 20), ms(1200));
        // Past the floor: 150 + 4 * 75 = 450 ms, the same as Linux's 3 * RTT here.
        assert_eq!(lost_fin_resent_at(floor_200ms, 150), ms(1450));
    }
}

mod fin_wait_2 {
    use super::*;

    #[test]
    fn data_then_fin_leads_to_time_wait() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5001, 1002, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
        s.events();
        // Half-close: the peer may still send data.
        s.send(s.i(5001, 1002, ACK, 300));
        s.recv(s.o(1002, 5301, ACK, 0));
        s.at(5);
        s.send(s.i(5301, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5302, ACK, 0));
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 300 },
                Event::PeerFin,
                changed(State::FinWait2, State::TimeWait)
            ]
        );
        assert_eq!(s.timeout(), Some(ms(60_005)));
    }

    /// Client closed at 0; the peer ACKs the FIN at `t_ms` and then goes silent.
    fn orphan(cfg: TcpConfig, t_ms: u64) -> Sc {
        let mut s = Sc::established_client_with(cfg);
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.at(t_ms);
        s.send(s.i(5001, 1002, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
        s.events();
        s
    }

    #[test]
    fn orphan_dropped_silently_after_fin_timeout() {
        let mut s = orphan(cfg(), 30);
        // Linux tcp_fin_timeout: 60 s from entering FIN-WAIT-2, not from the close.
        assert_eq!(s.timeout(), Some(ms(60_030)));
        s.at(60_029);
        s.tick();
        assert_eq!(s.ep.state(), State::FinWait2, "not yet");
        s.at(60_030);
        s.tick();
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::FinWait2, State::Closed),
                closed(CloseReason::FinWait2Timeout)
            ]
        );
        assert_eq!(s.timeout(), None);
        // The peer's late FIN finds no connection: RST.
        s.send(s.i(5001, 1002, FIN | ACK, 0));
        s.recv(s.rst_out(1002));
    }

    #[test]
    fn configured_fin_timeout_and_fin_in_time() {
        let c = TcpConfig {
            fin_timeout: Some(SimDuration::from_secs(5)),
            ..cfg()
        };
        let mut s = orphan(c, 10);
        assert_eq!(s.timeout(), Some(ms(5_010)));
        s.at(5_009);
        s.send(s.i(5001, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
        // TIME-WAIT replaces the orphan timeout.
        assert_eq!(s.timeout(), Some(ms(65_009)));
    }

    #[test]
    fn rfc9293_waits_for_the_fin_forever() {
        let mut s = orphan(TcpConfig::profile(Profile::Rfc9293), 10);
        assert_eq!(s.timeout(), None);
        s.at(10_000_000);
        s.tick();
        assert_eq!(s.ep.state(), State::FinWait2);
    }

    #[test]
    fn fin_beyond_a_gap_is_held_until_the_data_before_it_comes() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5001, 1002, ACK, 0));
        s.events();
        // The FIN overtook the peer's last 100 bytes: a duplicate ACK, no TIME-WAIT yet.
        s.send(s.i(5101, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
        assert_eq!(s.events(), []);
        // The data comes: delivered, and the held FIN with it, in one ACK.
        s.send(s.i(5001, 1002, PSH | ACK, 100));
        s.recv(s.o(1002, 5102, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 100 },
                Event::PeerFin,
                changed(State::FinWait2, State::TimeWait)
            ]
        );
        assert_eq!(s.ep.stats().out_of_order, 1);
        assert_eq!(s.ep.stats().fins_held, 1);
    }
}

mod close_wait_and_last_ack {
    use super::*;

    #[test]
    fn passive_close() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5002, ACK, 0));
        assert_eq!(
            s.events(),
            [
                Event::PeerFin,
                changed(State::Established, State::CloseWait)
            ]
        );
        // CLOSE-WAIT can still send.
        s.app_send(100);
        s.recv(s.o(1001, 5002, PSH | ACK, 100));
        s.close();
        s.recv(s.o(1101, 5002, FIN | ACK, 0));
        assert_eq!(s.ep.state(), State::LastAck);
        // The ACK of the data alone does not finish LAST-ACK.
        s.send(s.i(5002, 1101, ACK, 0));
        assert_eq!(s.ep.state(), State::LastAck);
        s.send(s.i(5002, 1102, ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::CloseWait, State::LastAck),
                changed(State::LastAck, State::Closed),
                closed(CloseReason::Normal)
            ]
        );
    }

    #[test]
    fn last_ack_retransmits_fin_until_retries2() {
        let mut s = Sc::established_client_with(TcpConfig {
            retries2: 1,
            ..cfg()
        });
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5002, ACK, 0));
        s.close();
        s.recv(s.o(1001, 5002, FIN | ACK, 0));
        s.events();
        s.at(200);
        s.tick();
        s.recv(s.o(1001, 5002, FIN | ACK, 0));
        s.at(600);
        s.tick();
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                Event::Retransmit { kind: RtxKind::Fin },
                changed(State::LastAck, State::Closed),
                closed(CloseReason::RetriesExceeded)
            ]
        );
    }

    #[test]
    fn data_after_peer_fin_is_ignored() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5002, ACK, 0));
        s.events();
        s.send(s.i(5002, 1001, ACK, 100));
        s.recv_nothing();
        assert_eq!(s.events(), []);
    }
}

mod closing {
    use super::*;

    #[test]
    fn simultaneous_close() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        // The peer's FIN crossed ours: it does not acknowledge our FIN.
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::Closing);
        s.at(30);
        s.send(s.i(5002, 1002, ACK, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::Established, State::FinWait1),
                Event::PeerFin,
                changed(State::FinWait1, State::Closing),
                changed(State::Closing, State::TimeWait)
            ]
        );
        assert_eq!(s.timeout(), Some(ms(60_030)));
    }
}

mod time_wait {
    use super::*;

    #[test]
    fn ends_exactly_2msl_after_entry() {
        let mut s = Sc::time_wait_client(cfg(), 40);
        assert_eq!(s.timeout(), Some(ms(60_040)));
        s.at_ns(ms(60_040).as_nanos() - 1);
        s.tick();
        assert_eq!(s.ep.state(), State::TimeWait);
        s.at(60_040);
        s.tick();
        assert_eq!(
            s.events(),
            [
                changed(State::TimeWait, State::Closed),
                closed(CloseReason::Normal)
            ]
        );
        assert_eq!(s.timeout(), None);
    }

    #[test]
    fn retransmitted_fin_is_acked_and_restarts_2msl() {
        let rfc = TcpConfig {
            tw_restart: TwRestart::Fin,
            ..cfg()
        };
        let mut s = Sc::time_wait_client(rfc, 0);
        s.at(10_000);
        s.send(s.i(5001, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.timeout(), Some(ms(70_000)));
        // RFC 9293: old data is ACKed but does not restart the timer.
        s.at(20_000);
        s.send(s.i(4000, 1002, ACK, 100));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.timeout(), Some(ms(70_000)));
        assert_eq!(s.events(), []);
    }

    #[test]
    fn linux_restarts_2msl_on_every_segment_with_ack() {
        // tcp_timewait_state_process: inet_twsk_reschedule(tw, TCP_TIMEWAIT_LEN) for any
        // segment with ACK that neither kills nor reopens TIME-WAIT.
        let mut s = Sc::time_wait_client(cfg(), 0);
        assert_eq!(s.timeout(), Some(ms(60_000)));
        // Old data: ACKed, restarts.
        s.at(10_000);
        s.send(s.i(4000, 1002, ACK, 100));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.timeout(), Some(ms(70_000)));
        // A bare ACK at RCV.NXT: not answered, restarts.
        s.at(20_000);
        s.send(s.i(5002, 1002, ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(80_000)));
        // A SYN without ACK (not after RCV.NXT) and a RST|ACK out of window: no restart.
        s.at(30_000);
        s.send(s.i(5001, 0, SYN, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        s.send(s.i(100_000, 1002, RST | ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(80_000)));
        s.at(80_000);
        s.tick();
        assert_eq!(
            s.events(),
            [
                changed(State::TimeWait, State::Closed),
                closed(CloseReason::Normal)
            ]
        );
    }

    /// Linux `tcp_timewait_state_process`: "In window segment, it may be only reset or bare
    /// ack" (exactly at RCV.NXT, no data): silent. "Out of window segment. All the segments
    /// are ACKed immediately": everything else, in the window or not.
    #[test]
    fn linux_acks_everything_but_a_bare_ack_at_rcv_nxt() {
        let mut s = Sc::time_wait_client(cfg(), 0);
        // RCV.NXT is 5002. A bare ACK there: silent.
        s.send(s.i(5002, 1002, ACK, 0));
        s.recv_nothing();
        // Data at RCV.NXT (in the window): ACKed, not held back by the rate limit, twice.
        for _ in 0..2 {
            s.send(s.i(5002, 1002, PSH | ACK, 100));
            s.recv(s.o(1002, 5002, ACK, 0));
        }
        // A FIN after the one received: ACKed.
        s.send(s.i(5002, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        // A zero-length segment in the window but off RCV.NXT: ACKed (loop-prone, so once
        // per 500 ms: the second one, at the same instant, is held back).
        s.send(s.i(6000, 1002, ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        s.send(s.i(6000, 1002, ACK, 0));
        s.recv_nothing();
        assert_eq!(s.ep.stats().acks_rate_limited, 1);
        // Out of the window: data and a SYN-ACK (its answer 500 ms after the last one).
        s.at(600);
        s.send(s.i(4000, 1002, PSH | ACK, 100));
        s.recv(s.o(1002, 5002, ACK, 0));
        s.send(s.i(90_000, 1002, SYN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.stats().challenge_acks, 0, "Linux counts none");
        assert_eq!(s.ep.state(), State::TimeWait);
        assert_eq!(s.events(), []);

        // The RFC's answers ignore all of those (text after the FIN, §3.10.7.4).
        let rfc = TcpConfig {
            tw_acks: TwAcks::Rfc9293,
            ..cfg()
        };
        let mut s = Sc::time_wait_client(rfc, 0);
        s.send(s.i(5002, 1002, ACK, 0));
        s.send(s.i(5002, 1002, PSH | ACK, 100));
        s.send(s.i(5002, 1002, FIN | ACK, 0));
        s.send(s.i(6000, 1002, ACK, 0));
        s.recv_nothing();
        // Out of the window, both answer.
        s.send(s.i(4000, 1002, ACK, 100));
        s.recv(s.o(1002, 5002, ACK, 0));
    }

    /// Linux answers no RST in TIME-WAIT: one at RCV.NXT kills it (`tcp_rfc1337 = 0`), any
    /// other is dropped, in the window or not; RFC 5961 §3.2 would send a challenge ACK.
    #[test]
    fn linux_drops_an_in_window_rst_without_a_challenge_ack() {
        let mut s = Sc::time_wait_client(cfg(), 0);
        for seq in [5003, 5002 + 30_000, 4000] {
            s.send(s.i(seq, 0, RST, 0));
            s.recv_nothing();
            assert_eq!(s.ep.state(), State::TimeWait, "RST at {seq}");
        }
        assert_eq!(s.ep.stats().challenge_acks, 0);
        s.send(s.i(5002, 0, RST, 0));
        assert_eq!(s.ep.state(), State::Closed);
    }

    #[test]
    fn rst_kills_unless_rfc1337() {
        let mut s = Sc::time_wait_client(cfg(), 0);
        s.send(s.i(5002, 0, RST, 0));
        assert_eq!(
            s.events(),
            [
                changed(State::TimeWait, State::Closed),
                closed(CloseReason::TimeWaitKilled)
            ]
        );
        let mut s = Sc::time_wait_client(
            TcpConfig {
                rst_in_time_wait: RstInTimeWait::Ignore,
                ..cfg()
            },
            0,
        );
        s.send(s.i(5002, 0, RST, 0));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::TimeWait);
    }

    #[test]
    fn syn_reopens_only_beyond_rcv_nxt_with_linux_policy() {
        let mut s = Sc::time_wait_client(cfg(), 0);
        // An old SYN (SEG.SEQ <= RCV.NXT): ACKed, TIME-WAIT stays.
        s.send(s.i(100, 0, SYN, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
        s.send(s.i(90_000, 0, SYN, 0));
        s.recv_nothing();
        assert_eq!(
            s.events(),
            [
                changed(State::TimeWait, State::Closed),
                closed(CloseReason::TimeWaitKilled)
            ]
        );
        let mut s = Sc::time_wait_client(
            TcpConfig {
                tw_reopen: TwReopen::Refuse,
                ..cfg()
            },
            0,
        );
        s.send(s.i(90_000, 0, SYN, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
    }

    #[test]
    fn rfc6191_reopens_from_rcv_nxt_linux_only_after_it() {
        // RCV.NXT is 5002: the peer's FIN was 5001, its final sequence number.
        let rfc6191 = TcpConfig {
            tw_reopen: TwReopen::Rfc6191,
            ..cfg()
        };
        let mut s = Sc::time_wait_client(rfc6191.clone(), 0);
        s.send(s.i(5001, 0, SYN, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait, "not after the FIN: refused");
        s.send(s.i(5002, 0, SYN, 0));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::Closed, "after the FIN: reopened");
        let mut s = Sc::time_wait_client(cfg(), 0);
        s.send(s.i(5002, 0, SYN, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(
            s.ep.state(),
            State::TimeWait,
            "Linux wants SEG.SEQ > RCV.NXT"
        );
        // A SYN-ACK is never a reopening SYN.
        let mut s = Sc::time_wait_client(rfc6191, 0);
        s.send(s.i(90_000, 1002, SYN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
    }
}

mod closed {
    use super::*;

    #[test]
    fn answers_with_rst_in_both_forms() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 0, RST, 0));
        assert_eq!(s.ep.state(), State::Closed);
        // With ACK: <SEQ=SEG.ACK><CTL=RST>.
        s.send(s.i(5001, 1234, ACK, 10));
        let mut r = s.o(1234, 0, RST, 0);
        r.window = 0;
        s.recv(r);
        // Without ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        s.send(s.i(5001, 0, SYN, 10));
        let mut r = s.o(0, 5012, RST | ACK, 0);
        r.window = 0;
        s.recv(r);
        // Never a RST for a RST.
        s.send(s.i(5001, 0, RST, 0));
        s.recv_nothing();
    }
}

/// What rides together: data on the handshake's ACK, the FIN on the last data segment.
mod piggyback {
    use super::*;

    /// RFC 9293 §3.10.2, SEND in SYN-SENT: "queue the data for transmission after entering
    /// ESTABLISHED". The first data segment then carries the ACK of the SYN-ACK; no bare ACK.
    #[test]
    fn data_queued_in_syn_sent_rides_on_the_third_ack() {
        let mut s = Sc::client();
        s.app_send(300);
        s.recv_nothing();
        s.at(10);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, PSH | ACK, 300));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::Established);
        // More than one segment's worth: the first carries the ACK, the rest follow.
        let mut s = Sc::client();
        s.app_send(2000);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 1460));
        s.recv(s.o(C_ISS + 1461, S_ISS + 1, PSH | ACK, 540));
        s.recv_nothing();
    }

    #[test]
    fn data_queued_in_syn_received_leaves_with_established() {
        let mut s = Sc::server();
        s.app_send(100);
        s.recv_nothing();
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.recv(s.o(S_ISS + 1, C_ISS + 1, PSH | ACK, 100));
        s.recv_nothing();
    }

    /// `send` then `close` before anything is polled: one segment, FIN|PSH|ACK with the data.
    #[test]
    fn fin_rides_on_the_last_data_segment() {
        let mut s = Sc::established_client();
        s.app_send(100);
        s.close();
        s.recv(s.o(1001, 5001, FIN | PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::FinWait1);
        s.send(s.i(5001, 1102, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
    }

    #[test]
    fn fin_rides_on_the_last_data_segment_in_close_wait() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5002, ACK, 0));
        s.app_send(100);
        s.close();
        s.recv(s.o(1001, 5002, FIN | PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::LastAck);
    }

    /// A CLOSE in SYN-RECEIVED waits for ESTABLISHED (§3.10.4); the queued data and the FIN
    /// then leave in one segment.
    #[test]
    fn send_and_close_in_syn_received_leave_in_one_segment() {
        let mut s = Sc::server();
        s.app_send(100);
        s.close();
        s.recv_nothing();
        s.send(s.i(C_ISS + 1, S_ISS + 1, ACK, 0));
        s.recv(s.o(S_ISS + 1, C_ISS + 1, FIN | PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.ep.state(), State::FinWait1);
    }

    /// The request/response pattern: the reply carries the ACK of the request and the FIN;
    /// with delayed ACK no bare ACK precedes it.
    #[test]
    fn response_and_fin_carry_the_ack_of_the_request() {
        let mut s = Sc::server_with(TcpConfig::profile(Profile::Rfc9293));
        s.send(s.i(C_ISS + 1, S_ISS + 1, PSH | ACK, 100));
        s.recv_nothing();
        s.at(1);
        s.app_send(500);
        s.close();
        s.recv(s.o(S_ISS + 1, C_ISS + 101, FIN | PSH | ACK, 500));
        s.recv_nothing();
    }
}

/// Delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2, Linux `__tcp_ack_snd_check`).
mod delayed_ack {
    use super::*;

    fn rfc9293() -> TcpConfig {
        TcpConfig::profile(Profile::Rfc9293)
    }

    #[test]
    fn linux_quick_acks_the_first_16_then_delays_40ms() {
        let mut s = Sc::established_client();
        // Quick-ack mode: min(65535 / (2 * 1460), 16) = 16 ACKs of data go out at once.
        let mut seq = 5001;
        for _ in 0..16 {
            s.send(s.i(seq, 1001, PSH | ACK, 100));
            seq += 100;
            s.recv(s.o(1001, seq, ACK, 0));
        }
        assert_eq!(s.timeout(), None);
        s.at(1);
        s.send(s.i(seq, 1001, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(
            s.timeout(),
            Some(ms(41)),
            "TCP_DELACK_MIN after the segment"
        );
        s.at_ns(ms(41).as_nanos() - 1);
        s.tick();
        s.recv_nothing();
        s.at(41);
        s.tick();
        s.recv(s.o(1001, seq + 100, ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), None);
    }

    #[test]
    fn linux_without_quick_acks_delays_the_first_segment_40ms() {
        let mut s = Sc::established_client_with(TcpConfig {
            quick_acks: 0,
            ..cfg()
        });
        s.at(10);
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(50)));
        s.at(50);
        s.tick();
        s.recv(s.o(1001, 5101, ACK, 0));
    }

    #[test]
    fn quick_acks_is_the_budget() {
        // One quick ACK; then the delay.
        let mut s = Sc::established_client_with(TcpConfig {
            quick_acks: 1,
            ..cfg()
        });
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv(s.o(1001, 5101, ACK, 0));
        s.send(s.i(5101, 1001, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(40)));
    }

    #[test]
    fn rfc9293_delays_200ms_from_the_first_segment() {
        let mut s = Sc::established_client_with(rfc9293());
        s.at(5);
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(205)));
        // A second small segment does not push the deadline back.
        s.at(100);
        s.send(s.i(5101, 1001, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(205)));
        s.at(204);
        s.tick();
        s.recv_nothing();
        s.at(205);
        s.tick();
        s.recv(s.o(1001, 5201, ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), None);
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 100 },
                Event::Received { bytes: 100 }
            ]
        );
    }

    #[test]
    fn every_second_full_sized_segment_is_acked_at_once() {
        let mut s = Sc::established_client_with(rfc9293());
        s.send(s.i(5001, 1001, ACK, 1460));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(200)));
        s.send(s.i(6461, 1001, ACK, 1460));
        s.recv(s.o(1001, 7921, ACK, 0));
        assert_eq!(s.timeout(), None, "the delayed ACK is cancelled");
        // The count starts again from the ACK: the third segment waits.
        s.send(s.i(7921, 1001, ACK, 1460));
        s.recv_nothing();
        // Small segments count by bytes: more than one MSS unacknowledged (Linux's rule).
        s.send(s.i(9381, 1001, PSH | ACK, 1));
        s.recv(s.o(1001, 9382, ACK, 0));
    }

    #[test]
    fn our_data_carries_the_ack_and_cancels_the_delayed_one() {
        let mut s = Sc::established_client_with(rfc9293());
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv_nothing();
        // The application answers within the delay: the ACK rides on the data.
        s.at(50);
        s.app_send(300);
        s.recv(s.o(1001, 5101, PSH | ACK, 300));
        s.recv_nothing();
        assert_eq!(
            s.timeout(),
            Some(ms(1050)),
            "only the RTO (rto_min 1 s) is left"
        );
        s.at(200);
        s.tick();
        s.recv_nothing();
    }

    #[test]
    fn our_fin_carries_the_ack() {
        let mut s = Sc::established_client_with(rfc9293());
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv_nothing();
        s.at(10);
        s.close();
        s.recv(s.o(1001, 5101, FIN | ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(1010)));
    }

    #[test]
    fn none_acks_every_segment_at_once() {
        let c = TcpConfig {
            delayed_ack: None,
            ..rfc9293()
        };
        let mut s = Sc::established_client_with(c);
        s.send(s.i(5001, 1001, PSH | ACK, 100));
        s.recv(s.o(1001, 5101, ACK, 0));
        assert_eq!(s.timeout(), None);
    }

    #[test]
    fn out_of_order_gap_fill_duplicate_and_fin_are_acked_at_once() {
        let mut s = Sc::established_client_with(rfc9293());
        // Out of order: duplicate ACK at once.
        s.send(s.i(5101, 1001, ACK, 100));
        s.recv(s.o(1001, 5001, ACK, 0));
        // Filling the gap: at once (RFC 5681 §4.2).
        s.send(s.i(5001, 1001, ACK, 100));
        s.recv(s.o(1001, 5201, ACK, 0));
        // A duplicate: at once.
        s.send(s.i(5001, 1001, ACK, 100));
        s.recv(s.o(1001, 5201, ACK, 0));
        // In order again: delayed.
        s.send(s.i(5201, 1001, ACK, 100));
        s.recv_nothing();
        // A FIN: at once, and it covers the delayed ACK too.
        s.send(s.i(5301, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5302, ACK, 0));
        s.recv_nothing();
        assert_eq!(s.timeout(), None);
        assert_eq!(s.ep.state(), State::CloseWait);
    }

    #[test]
    fn handshake_acks_are_never_delayed() {
        // Active: the third ACK goes at once, even with data on the SYN-ACK.
        let mut s = Sc::client_with(rfc9293(), C_ISS);
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 100));
        s.recv(s.o(C_ISS + 1, S_ISS + 101, ACK, 0));
        assert_eq!(s.timeout(), None);
        // Passive: the SYN-ACK at once (it is the first transmit of `Sc::server`); then data
        // on the handshake's last ACK is ordinary in-order data, and may wait.
        let mut s = Sc::server_with(rfc9293());
        s.send(s.i(C_ISS + 1, S_ISS + 1, PSH | ACK, 100));
        assert_eq!(s.ep.state(), State::Established);
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(200)));
    }

    #[test]
    fn half_closed_fin_wait_2_delays_too() {
        let mut s = Sc::established_client_with(rfc9293());
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5001, 1002, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
        s.at(10);
        s.send(s.i(5001, 1002, PSH | ACK, 100));
        s.recv_nothing();
        assert_eq!(s.timeout(), Some(ms(210)));
        s.at(210);
        s.tick();
        s.recv(s.o(1002, 5101, ACK, 0));
    }
}

/// RST processing in every synchronized state (RFC 9293 §3.10.7.4 second step, with RFC 5961
/// §3.2): a RST whose SEG.SEQ is exactly RCV.NXT resets the connection; one elsewhere in the
/// receive window only elicits a challenge ACK `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`; one
/// outside the window is dropped silently (and counted).
mod rst_per_state {
    use super::*;

    /// The edges of the window: RCV.NXT + 1 and the last byte inside, RCV.NXT + 65534.
    const IN_WINDOW: [u32; 2] = [1, 65534];
    /// Just left of the window, just right of it, and half the sequence space away.
    const OUT_OF_WINDOW: [u32; 3] = [u32::MAX, 65535, 1 << 31];

    /// Runs the three RST cases against fresh copies of a connection from `make`, which must
    /// be in `state` with SND.NXT = `snd_nxt` and RCV.NXT = `rcv_nxt`, events drained.
    #[track_caller]
    fn check(
        make: fn() -> Sc,
        state: State,
        snd_nxt: u32,
        rcv_nxt: u32,
        exact_reason: CloseReason,
    ) {
        let s = make();
        assert_eq!(s.ep.state(), state);
        assert_eq!(s.ep.seq_numbers(), (SeqNum(snd_nxt), SeqNum(rcv_nxt)));
        // Exact: CLOSED at once, nothing sent, every timer off. A RST|ACK counts the same way
        // (the ACK field of a RST is not checked, §3.10.7.4).
        for flags in [RST, RST | ACK] {
            let mut s = make();
            s.send(s.i(rcv_nxt, snd_nxt.wrapping_add(77), flags, 0));
            s.recv_nothing();
            assert_eq!(
                s.events(),
                [changed(state, State::Closed), closed(exact_reason)],
                "{state}: exact {flags}"
            );
            assert_eq!(s.timeout(), None, "{state}");
        }
        // In window, not exact: challenge ACK, no state change.
        for d in IN_WINDOW {
            let mut s = make();
            let before = s.timeout();
            s.send(s.i(rcv_nxt.wrapping_add(d), 0, RST, 0));
            s.recv(s.o(snd_nxt, rcv_nxt, ACK, 0));
            s.recv_nothing();
            assert_eq!(s.ep.state(), state, "{state}: RCV.NXT + {d}");
            assert_eq!(s.events(), [], "{state}");
            assert_eq!(s.ep.stats().challenge_acks, 1, "{state}");
            assert_eq!(s.timeout(), before, "{state}: timers untouched");
        }
        // Outside the window: dropped without an answer.
        for d in OUT_OF_WINDOW {
            let mut s = make();
            let (before, unexpected) = (s.timeout(), s.ep.stats().unexpected_segments);
            s.send(s.i(rcv_nxt.wrapping_add(d), 0, RST, 0));
            s.recv_nothing();
            assert_eq!(s.ep.state(), state, "{state}: RCV.NXT + {d}");
            assert_eq!(s.events(), [], "{state}");
            assert_eq!(s.ep.stats().challenge_acks, 0, "{state}");
            assert_eq!(s.ep.stats().unexpected_segments, unexpected + 1, "{state}");
            assert_eq!(s.timeout(), before, "{state}");
        }
    }

    fn in_fin_wait_1() -> Sc {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.events();
        s
    }
    fn in_fin_wait_2() -> Sc {
        let mut s = in_fin_wait_1();
        s.send(s.i(5001, 1002, ACK, 0));
        s.events();
        s
    }
    fn in_close_wait() -> Sc {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1001, 5002, ACK, 0));
        s.events();
        s
    }
    fn in_closing() -> Sc {
        let mut s = in_fin_wait_1();
        s.send(s.i(5001, 1001, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        s.events();
        s
    }
    fn in_last_ack() -> Sc {
        let mut s = in_close_wait();
        s.close();
        s.recv(s.o(1001, 5002, FIN | ACK, 0));
        s.events();
        s
    }
    /// Simultaneous open: SYN-SENT, the peer's SYN crosses ours.
    fn in_syn_received_active() -> Sc {
        let mut s = Sc::client();
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        s.events();
        s
    }
    fn in_syn_received_passive() -> Sc {
        let mut s = Sc::server();
        s.events();
        s
    }
    fn in_time_wait_rfc9293_answers() -> Sc {
        let rfc = TcpConfig {
            tw_acks: TwAcks::Rfc9293,
            ..cfg()
        };
        Sc::time_wait_client(rfc, 0)
    }

    #[test]
    fn established() {
        check(
            Sc::established_client,
            State::Established,
            1001,
            5001,
            CloseReason::Reset,
        );
    }
    #[test]
    fn fin_wait_1() {
        check(
            in_fin_wait_1,
            State::FinWait1,
            1002,
            5001,
            CloseReason::Reset,
        );
    }
    #[test]
    fn fin_wait_2() {
        check(
            in_fin_wait_2,
            State::FinWait2,
            1002,
            5001,
            CloseReason::Reset,
        );
    }
    #[test]
    fn close_wait() {
        check(
            in_close_wait,
            State::CloseWait,
            1001,
            5002,
            CloseReason::Reset,
        );
    }
    #[test]
    fn closing() {
        check(in_closing, State::Closing, 1002, 5002, CloseReason::Reset);
    }
    #[test]
    fn last_ack() {
        check(in_last_ack, State::LastAck, 1002, 5002, CloseReason::Reset);
    }
    /// §3.10.7.4: an actively opened SYN-RECEIVED is "connection refused": CLOSED.
    #[test]
    fn syn_received_after_simultaneous_open() {
        check(
            in_syn_received_active,
            State::SynReceived,
            C_ISS + 1,
            S_ISS + 1,
            CloseReason::Reset,
        );
    }
    /// §3.10.7.4: a passively opened SYN-RECEIVED "returns to LISTEN". The listener is the
    /// host's and separate from the TCB, so here the embryonic connection just reaches CLOSED
    /// with `Reset`; the listener keeps listening.
    #[test]
    fn syn_received_after_passive_open() {
        check(
            in_syn_received_passive,
            State::SynReceived,
            S_ISS + 1,
            C_ISS + 1,
            CloseReason::Reset,
        );
    }
    /// TIME-WAIT follows the same three rules (with `rst_in_time_wait = "kill"` and the RFC's
    /// answers; Linux's TIME-WAIT sends no challenge ACK: `time_wait` module).
    #[test]
    fn time_wait() {
        check(
            in_time_wait_rfc9293_answers,
            State::TimeWait,
            1002,
            5002,
            CloseReason::TimeWaitKilled,
        );
    }
}

#[test]
fn sizes() {
    println!(
        "Tcb (per live connection in a Host) = {} bytes, Endpoint = {} bytes, TIME-WAIT record = {} bytes, Segment = {} bytes",
        TCB_SIZE,
        std::mem::size_of::<Endpoint>(),
        TIME_WAIT_RECORD_SIZE,
        std::mem::size_of::<Segment>()
    );
    const {
        assert!(TCB_SIZE <= 128);
        assert!(TIME_WAIT_RECORD_SIZE <= 40);
        assert!(std::mem::size_of::<Segment>() <= 40);
    }
    assert!(
        std::mem::size_of::<HostEvent>() <= 32,
        "{}",
        std::mem::size_of::<HostEvent>()
    );
}

/// A FIN held beyond a gap, at the edges: segments that contradict it, the window, FIN-WAIT-1.
mod held_fin {
    use super::*;

    #[test]
    fn a_segment_filling_the_gap_with_a_fin_of_its_own_takes_the_held_one() {
        let mut s = Sc::established_client();
        s.send(s.i(5101, 1001, FIN | ACK, 100)); // held at 5201
        s.recv(s.o(1001, 5001, ACK, 0));
        // Fills the gap, but its own FIN (an old incarnation's, say) lies at 5101, before the
        // new RCV.NXT: the held FIN at 5201 is the one that counts, taken now, and only once.
        s.send(s.i(5001, 1001, FIN | ACK, 100));
        s.recv(s.o(1001, 5202, ACK, 0));
        assert_eq!(s.ep.state(), State::CloseWait);
        assert_eq!(s.ep.rcv_nxt(), SeqNum(5202));
    }

    #[test]
    fn a_new_range_after_a_taken_fin_carries_no_fin() {
        let mut s = Sc::established_client();
        s.send(s.i(5101, 1001, ACK, 100));
        s.send(s.i(5401, 1001, ACK, 100)); // a second gap: not kept
        s.send(s.i(5001, 1001, ACK, 100));
        assert_eq!(s.ep.rcv_nxt(), SeqNum(5201));
        s.send(s.i(5301, 1001, ACK, 100)); // a new range
        s.send(s.i(5201, 1001, ACK, 100)); // fills it
        assert_eq!(s.ep.rcv_nxt(), SeqNum(5401));
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn a_fin_past_the_window_is_not_held_and_clipped_data_cannot_hide_that() {
        let c = TcpConfig {
            window: 1000,
            ..cfg()
        };
        let ep = Endpoint::connect(&c, SimTime::ZERO, CLIENT, SERVER, SeqNum(C_ISS), INC);
        let mut s = Sc {
            ep,
            cfg: c,
            now: SimTime::ZERO,
            local: CLIENT,
            remote: SERVER,
        };
        while s.ep.poll_transmit(&s.cfg, s.now).is_some() {}
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        while s.ep.poll_transmit(&s.cfg, s.now).is_some() {}
        // Data up to the window's end, its FIN one past it (RCV.NXT 5001 + 1000).
        s.send(s.i(5901, 1001, FIN | ACK, 100));
        assert_eq!(s.ep.stats().fins_held, 0);
        // Data running past that place, clipped to the window: no FIN appears.
        s.send(s.i(5001, 1001, ACK, 1050));
        assert_eq!(s.ep.rcv_nxt(), SeqNum(6001));
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn in_order_data_running_past_a_held_fin_withdraws_it() {
        let mut s = Sc::established_client();
        s.send(s.i(5101, 1001, FIN | ACK, 0)); // held at 5101
        s.send(s.i(5001, 1001, ACK, 150)); // in order, past it
        assert_eq!(s.ep.rcv_nxt(), SeqNum(5151));
        assert_eq!(s.ep.state(), State::Established);
    }

    #[test]
    fn data_not_touching_a_bare_held_fin_replaces_it() {
        // The one out-of-order range holds only a bare FIN: data before it that does not
        // touch it is worth more (the peer resends the FIN with everything else).
        let mut s = Sc::established_client();
        s.send(s.i(5301, 1001, FIN | ACK, 0));
        s.send(s.i(5101, 1001, ACK, 100));
        s.send(s.i(5201, 1001, ACK, 100));
        s.send(s.i(5001, 1001, ACK, 100));
        assert_eq!(s.ep.rcv_nxt(), SeqNum(5301));
        assert_eq!(s.ep.state(), State::Established);
        s.send(s.i(5301, 1001, FIN | ACK, 0));
        assert_eq!(s.ep.state(), State::CloseWait);
    }

    #[test]
    fn in_fin_wait_1_the_gap_fill_acking_our_fin_goes_to_time_wait() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5101, 1001, FIN | ACK, 0));
        s.recv(s.o(1002, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait1);
        s.events();
        s.send(s.i(5001, 1002, ACK, 100));
        s.recv(s.o(1002, 5102, ACK, 0));
        assert_eq!(
            s.events(),
            [
                Event::Received { bytes: 100 },
                Event::PeerFin,
                changed(State::FinWait1, State::TimeWait)
            ]
        );
    }

    #[test]
    fn in_fin_wait_1_the_gap_fill_alone_goes_to_closing() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5101, 1001, FIN | ACK, 0));
        s.recv(s.o(1002, 5001, ACK, 0));
        s.send(s.i(5001, 1001, ACK, 100));
        s.recv(s.o(1002, 5102, ACK, 0));
        assert_eq!(s.ep.state(), State::Closing);
        s.send(s.i(5102, 1002, ACK, 0));
        assert_eq!(s.ep.state(), State::TimeWait);
    }

    #[test]
    fn an_unvalidated_retry_limit_past_127_cannot_reach_the_fin_flag() {
        let c = TcpConfig {
            retries2: 200,
            rto_max: SimDuration::from_secs(1),
            ..cfg()
        };
        let mut s = Sc::established_client_with(c);
        s.app_send(100);
        s.recv(s.o(1001, 5001, PSH | ACK, 100));
        for _ in 0..200 {
            let Some(t) = s.timeout() else { break };
            s.now = t;
            s.tick();
            while s.ep.poll_transmit(&s.cfg, s.now).is_some() {}
        }
        // The count stops at 127 and the connection gives up, with no FIN ever seen.
        assert_eq!(s.ep.state(), State::Closed);
        assert!(!s.events().contains(&Event::PeerFin));
    }
}
