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
        assert_eq!(s.ep.srtt(), Some(SimDuration::from_millis(100)));
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
        assert_eq!(s.ep.srtt(), None);
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
    fn simultaneous_open() {
        let mut s = Sc::client();
        s.events();
        // The peer's SYN crosses ours: SYN-RECEIVED, and our SYN again, now with ACK.
        s.send(s.i(S_ISS, 0, SYN, 0));
        s.recv(s.o(C_ISS, S_ISS + 1, SYN | ACK, 0));
        assert_eq!(s.events(), [changed(State::SynSent, State::SynReceived)]);
        // The peer's SYN-ACK repeats its SYN: outside the window, so it is ACKed.
        s.send(s.i(S_ISS, C_ISS + 1, SYN | ACK, 0));
        s.recv(s.o(C_ISS + 1, S_ISS + 1, ACK, 0));
        // Its ACK of our SYN completes the open.
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
        // RTT 20 ms: RTO = 20 + 4 * 10 = 60 ms, floored to rto_min.
        assert_eq!(s.ep.srtt(), Some(SimDuration::from_millis(20)));
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
        assert_eq!(
            s.timeout(),
            Some(ms(250)),
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
    fn syn_gets_challenge_ack() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 0, SYN, 0));
        s.recv(s.o(1001, 5001, ACK, 0));
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
    }

    #[test]
    fn ack_of_unsent_data_is_answered_and_dropped() {
        let mut s = Sc::established_client();
        s.send(s.i(5001, 9999, ACK, 10));
        s.recv(s.o(1001, 5001, ACK, 0));
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
    fn fin_beyond_a_gap_is_not_accepted() {
        let mut s = Sc::established_client();
        s.close();
        s.recv(s.o(1001, 5001, FIN | ACK, 0));
        s.send(s.i(5001, 1002, ACK, 0));
        s.send(s.i(5101, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5001, ACK, 0));
        assert_eq!(s.ep.state(), State::FinWait2);
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
        let mut s = Sc::time_wait_client(cfg(), 0);
        s.at(10_000);
        s.send(s.i(5001, 1002, FIN | ACK, 0));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.timeout(), Some(ms(70_000)));
        // Old data is ACKed but does not restart the timer.
        s.at(20_000);
        s.send(s.i(4000, 1002, ACK, 100));
        s.recv(s.o(1002, 5002, ACK, 0));
        assert_eq!(s.timeout(), Some(ms(70_000)));
        assert_eq!(s.events(), []);
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
