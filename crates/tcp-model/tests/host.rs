//! Two `Host`s back to back (tests/common): whole lifecycles, losses, ports, TIME-WAIT.

mod common;

use common::*;
use tcp_model::*;

fn zero_isn() -> TcpConfig {
    TcpConfig {
        isn: IsnPolicy::Zero,
        ..TcpConfig::default()
    }
}

use State::*;

mod lifecycle {
    use super::*;

    #[test]
    fn client_closes_first() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        let c = net.connect(1);
        net.run();
        // One id per connection for its whole life, TIME-WAIT record included.
        let ids = |h| {
            let mut v: Vec<_> = net
                .events
                .iter()
                .filter(|e| e.1 == h)
                .filter_map(|e| match e.2 {
                    HostEvent::Conn { conn, .. } | HostEvent::Incoming { conn, .. } => Some(conn),
                    _ => None,
                })
                .collect();
            v.dedup();
            v
        };
        assert_eq!(ids(C), [c]);
        assert_eq!(ids(S).len(), 1);
        assert_eq!(
            net.states(C),
            [
                (ms(0), Closed, SynSent),
                (ms(20), SynSent, Established),
                (ms(40), Established, FinWait1),
                (ms(60), FinWait1, FinWait2),
                (ms(60), FinWait2, TimeWait),
                (ms(60_060), TimeWait, Closed),
            ]
        );
        assert_eq!(
            net.states(S),
            [
                (ms(10), Listen, SynReceived),
                (ms(30), SynReceived, Established),
                (ms(50), Established, CloseWait),
                (ms(50), CloseWait, LastAck),
                (ms(70), LastAck, Closed),
            ]
        );
        assert_eq!(net.closes(C), [(ms(60_060), CloseReason::Normal)]);
        assert_eq!(net.closes(S), [(ms(70), CloseReason::Normal)]);
        for h in [C, S] {
            assert_eq!(net.hosts[h].connections(), 0);
            assert_eq!(net.hosts[h].stats().retransmits.total(), 0);
            assert_eq!(net.hosts[h].stats().unexpected_segments, 0);
        }
        assert_eq!(net.hosts[C].stats().time_wait_peak, 1);
        assert_eq!(net.hosts[S].stats().time_wait_peak, 0);
        // The passive side is tagged with the SYN's incarnation.
        assert!(matches!(
            net.events.iter().find(|e| e.1 == S).unwrap().2,
            HostEvent::Incoming { tag: 1, .. }
        ));
    }

    #[test]
    fn server_closes_first() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, false);
        net.connect(1);
        net.run();
        assert_eq!(
            net.states(S),
            [
                (ms(10), Listen, SynReceived),
                (ms(30), SynReceived, Established),
                (ms(30), Established, FinWait1),
                (ms(50), FinWait1, FinWait2),
                (ms(50), FinWait2, TimeWait),
                (ms(60_050), TimeWait, Closed),
            ]
        );
        assert_eq!(net.closes(C), [(ms(60), CloseReason::Normal)]);
        assert_eq!(net.hosts[S].stats().time_wait_peak, 1);
        assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
    }

    #[test]
    fn request_and_response_in_several_mss_segments() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(3000, 10_000, true);
        net.connect(1);
        net.run();
        let data = |h| {
            net.sent
                .iter()
                .filter(|s| s.1 == h && s.2.payload_len > 0)
                .map(|s| s.2.payload_len)
                .collect::<Vec<_>>()
        };
        assert_eq!(data(C), [1460, 1460, 80]);
        assert_eq!(data(S), [1460, 1460, 1460, 1460, 1460, 1460, 1240]);
        let received = |h| {
            net.conn_events(h)
                .iter()
                .map(|e| match e.1 {
                    Event::Received { bytes } => bytes as u64,
                    _ => 0,
                })
                .sum::<u64>()
        };
        assert_eq!((received(C), received(S)), (10_000, 3000));
        assert_eq!(net.closes(C).len() + net.closes(S).len(), 2);
    }

    #[test]
    fn simultaneous_close_through_closing() {
        let mut net = Net::new(TcpConfig::default());
        let c = net.connect(1);
        net.run_until(ms(100));
        let s = net
            .events
            .iter()
            .find_map(|e| match e.2 {
                HostEvent::Incoming { conn, .. } => Some(conn),
                _ => None,
            })
            .unwrap();
        net.hosts[C].close(ms(100), c);
        net.hosts[S].close(ms(100), s);
        net.run();
        for h in [C, S] {
            let st: Vec<_> = net.states(h).into_iter().skip(2).collect();
            assert_eq!(
                st,
                [
                    (ms(100), Established, FinWait1),
                    (ms(110), FinWait1, Closing),
                    (ms(120), Closing, TimeWait),
                    (ms(60_120), TimeWait, Closed),
                ]
            );
        }
    }

    #[test]
    fn abort_resets_the_peer() {
        let mut net = Net::new(TcpConfig::default());
        let c = net.connect(1);
        net.run_until(ms(100));
        net.hosts[C].abort(ms(100), c);
        net.run();
        assert_eq!(net.closes(C), [(ms(100), CloseReason::Aborted)]);
        assert_eq!(net.closes(S), [(ms(110), CloseReason::Reset)]);
        assert_eq!(net.hosts[C].stats().rst_sent, 1);
        assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
    }

    #[test]
    fn connection_refused_by_rst() {
        let mut net = Net::new(TcpConfig::default());
        net.hosts[C]
            .connect(
                ms(0),
                Addr {
                    ip: SERVER_IP,
                    port: 81,
                },
                1,
                1,
            )
            .unwrap();
        net.run();
        assert_eq!(net.closes(C), [(ms(20), CloseReason::Reset)]);
        assert_eq!(net.hosts[S].stats().segments_no_connection, 1);
        assert_eq!(net.hosts[S].stats().rst_sent, 1);
    }
}

mod losses {
    use super::*;

    #[test]
    fn lost_syn_retransmitted_at_1s_then_3s() {
        let mut net = Net::new(TcpConfig::default());
        net.lose = Box::new(|t, h, s| h == C && s.flags == Flags::SYN && t < ms(3000));
        net.app = request_response(10, 10, true);
        net.connect(1);
        net.run();
        let syns: Vec<_> = net
            .sent_by(C)
            .into_iter()
            .filter(|s| s.1 == Flags::SYN)
            .collect();
        assert_eq!(
            syns,
            [
                (ms(0), Flags::SYN, true),
                (ms(1000), Flags::SYN, true),
                (ms(3000), Flags::SYN, false)
            ]
        );
        assert_eq!(net.states(C)[1], (ms(3020), SynSent, Established));
        assert_eq!(net.hosts[C].stats().retransmits.syn, 2);
    }

    #[test]
    fn connect_timeout_after_syn_retries() {
        let mut net = Net::new(TcpConfig {
            ephemeral_ports: [40000, 40000],
            ..TcpConfig::default()
        });
        net.lose = Box::new(|_, h, _| h == C);
        net.connect(1);
        net.run();
        let times: Vec<_> = net.sent_by(C).into_iter().map(|s| s.0).collect();
        assert_eq!(times, [0, 1000, 3000, 7000, 15000, 31000, 63000].map(ms));
        assert_eq!(net.closes(C), [(ms(127_000), CloseReason::ConnectTimeout)]);
        assert_eq!(net.hosts[C].connections(), 0);
        // The only port is free again.
        assert!(net.hosts[C].connect(net.now, SERVER, 2, 2).is_ok());
    }

    #[test]
    fn lost_syn_ack_retransmitted_at_1s_and_duplicate_syn_answered() {
        let mut net = Net::new(TcpConfig::default());
        let mut first = true;
        net.lose = Box::new(move |_, h, s| {
            let lose = h == S && s.flags == Flags::SYN | Flags::ACK && first;
            first &= !lose;
            lose
        });
        net.connect(1);
        net.run_until(ms(2000));
        let synacks: Vec<_> = net
            .sent_by(S)
            .into_iter()
            .filter(|s| s.1 == Flags::SYN | Flags::ACK)
            .collect();
        // Lost at 10 ms; the server's RTO at 1010 ms and the client's SYN retransmitted at 1000 ms
        // (arriving at 1010 ms) each bring one.
        assert_eq!(
            synacks,
            [
                (ms(10), Flags::SYN | Flags::ACK, true),
                (ms(1010), Flags::SYN | Flags::ACK, false),
                (ms(1010), Flags::SYN | Flags::ACK, false)
            ]
        );
        assert_eq!(net.states(C)[1], (ms(1020), SynSent, Established));
        assert_eq!(net.states(S)[1], (ms(1030), SynReceived, Established));
        assert_eq!(net.hosts[S].stats().retransmits.syn_ack, 2);
        assert_eq!(
            net.hosts[S].connections(),
            1,
            "the duplicate SYN made no second connection"
        );
    }

    #[test]
    fn lost_final_ack_last_ack_retransmits_fin_and_time_wait_restarts() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        net.lose = Box::new(|t, h, s| h == C && s.flags == Flags::ACK && t == ms(60));
        net.connect(1);
        net.run();
        assert!(net.sent.iter().any(|s| s.3), "the final ACK was lost");
        // LAST-ACK since 50 ms; on this 20 ms RTT Linux's RTO is SRTT + rto_min = 220 ms:
        // the FIN again at 270 ms.
        let fins: Vec<_> = net
            .sent_by(S)
            .into_iter()
            .filter(|s| s.1.contains(Flags::FIN))
            .map(|s| s.0)
            .collect();
        assert_eq!(fins, [ms(50), ms(270)]);
        assert_eq!(net.hosts[S].stats().retransmits.fin, 1);
        assert_eq!(net.closes(S), [(ms(290), CloseReason::Normal)]);
        // TIME-WAIT re-ACKed the FIN at 280 ms and restarted: 280 + 60 s.
        assert_eq!(net.closes(C), [(ms(60_280), CloseReason::Normal)]);
        assert_eq!(net.hosts[C].stats().time_wait_entered, 1);
    }
}

mod resets {
    use super::*;

    fn to_server(port: u16, seq: u32, ack: u32, flags: Flags, len: u32) -> Segment {
        Segment {
            src: Addr {
                ip: CLIENT_IP,
                port: 5555,
            },
            dst: Addr {
                ip: SERVER_IP,
                port,
            },
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 1000,
            mss: 0,
            payload_len: len,
            incarnation: 9,
        }
    }

    #[test]
    fn segment_for_no_connection_gets_rst_in_both_forms() {
        let mut h = Host::new(SERVER_IP, TcpConfig::default(), 1);
        h.handle_segment(ms(0), &to_server(81, 100, 777, Flags::ACK, 10));
        let r = h.poll_transmit().unwrap();
        assert_eq!(
            (r.seq, r.flags, r.dst.port, r.src.port),
            (SeqNum(777), Flags::RST, 5555, 81)
        );
        h.handle_segment(ms(0), &to_server(81, 100, 0, Flags::SYN, 0));
        let r = h.poll_transmit().unwrap();
        assert_eq!(
            (r.seq, r.ack, r.flags),
            (SeqNum(0), SeqNum(101), Flags::RST | Flags::ACK)
        );
        assert_eq!(
            r.incarnation, 9,
            "a reply carries the incarnation it answers"
        );
        h.handle_segment(ms(0), &to_server(81, 100, 0, Flags::FIN, 20));
        assert_eq!(h.poll_transmit().unwrap().ack, SeqNum(121));
        h.handle_segment(ms(0), &to_server(81, 100, 0, Flags::RST, 0));
        assert_eq!(h.poll_transmit(), None, "never a RST for a RST");
        assert_eq!(h.stats().segments_no_connection, 4);
        assert_eq!(h.stats().rst_sent, 3);
        // A listener resets an ACK, ignores a RST.
        h.listen(81).unwrap();
        h.handle_segment(ms(0), &to_server(81, 100, 555, Flags::ACK, 0));
        assert_eq!(
            h.poll_transmit().map(|r| (r.seq, r.flags)),
            Some((SeqNum(555), Flags::RST))
        );
        h.handle_segment(ms(0), &to_server(81, 100, 0, Flags::RST, 0));
        assert_eq!(h.poll_transmit(), None);
        assert_eq!(h.connections(), 0);
        // Not our address: dropped.
        let mut s = to_server(81, 1, 0, Flags::SYN, 0);
        s.dst.ip = 99;
        h.handle_segment(ms(0), &s);
        assert_eq!((h.poll_transmit(), h.stats().misaddressed), (None, 1));
        assert_eq!(
            h.listen(81),
            Err(ListenError::AlreadyListening { port: 81 })
        );
        assert_eq!(h.listen(0), Err(ListenError::InvalidPort));
    }

    #[test]
    fn half_open_discovered_when_the_client_sends() {
        // The server host crashes and restarts at 1 s with no state; the client, idle, sends
        // at 5 s: the server's listener answers the ACK with <SEQ=SEG.ACK><CTL=RST>, whose
        // SEQ is exactly the client's RCV.NXT (RFC 9293 §3.5.2, RFC 5961 §3.2).
        let mut net = Net::new(zero_isn());
        let c = net.connect(1);
        net.run_until(ms(1000));
        assert_eq!(net.hosts[C].conn_state(c), Some(State::Established));
        let mut fresh = Host::new(SERVER_IP, zero_isn(), 3);
        fresh.listen(PORT).unwrap();
        net.hosts[S] = fresh;
        net.run_until(ms(5000));
        net.hosts[C].send(ms(5000), c, 100);
        net.drain(C);
        net.run();
        let rst: Vec<_> = net
            .sent
            .iter()
            .filter(|s| s.1 == S && s.0 >= ms(5000))
            .map(|s| s.2)
            .collect();
        assert_eq!(rst.len(), 1);
        assert_eq!((rst[0].flags, rst[0].seq), (Flags::RST, SeqNum(1)));
        assert_eq!(net.closes(C), [(ms(5020), CloseReason::Reset)]);
        assert_eq!(net.hosts[C].connections(), 0);
        assert_eq!(net.hosts[S].connections(), 0);
        assert_eq!(net.hosts[S].stats().unexpected_segments, 1);
    }

    #[test]
    fn valid_rst_kills_an_established_connection() {
        let mut net = Net::new(zero_isn());
        net.connect(1);
        net.run_until(ms(100));
        let port = net.sent[0].2.src.port;
        // Server's RCV.NXT is 1 (client ISS 0 + SYN).
        let mut rst = Segment {
            src: Addr {
                ip: CLIENT_IP,
                port,
            },
            dst: SERVER,
            seq: SeqNum(5),
            flags: Flags::RST,
            incarnation: 1,
            ..Segment::default()
        };
        net.inject(S, rst);
        assert_eq!(
            net.hosts[S].stats().challenge_acks,
            1,
            "in window, not exact: challenge ACK"
        );
        rst.seq = SeqNum(1);
        net.inject(S, rst);
        assert_eq!(net.closes(S), [(ms(100), CloseReason::Reset)]);
        assert_eq!(net.hosts[S].connections(), 0);
    }
}

mod ports {
    use super::*;

    #[test]
    fn exhaustion_after_the_range_is_used() {
        let cfg = TcpConfig {
            ephemeral_ports: [40000, 40003],
            ..TcpConfig::default()
        };
        let mut h = Host::new(CLIENT_IP, cfg, 1);
        let mut ports = Vec::new();
        for i in 0..4 {
            h.connect(ms(0), SERVER, i, i as u64).unwrap();
            ports.push(h.poll_transmit().unwrap().src.port);
        }
        assert_eq!(ports, [40000, 40001, 40002, 40003]);
        for _ in 0..1000 {
            assert_eq!(
                h.connect(ms(0), SERVER, 9, 9),
                Err(ConnectError::PortExhausted { remote: SERVER })
            );
        }
        assert_eq!(h.stats().port_exhausted, 1000);
        // Ports are per remote: another server still has all four.
        let other = Addr {
            ip: SERVER_IP,
            port: 8080,
        };
        assert!(h.connect(ms(0), other, 5, 5).is_ok());
        assert_eq!(
            h.connect(ms(0), Addr { ip: 1, port: 0 }, 1, 1),
            Err(ConnectError::InvalidRemote {
                remote: Addr { ip: 1, port: 0 }
            })
        );
    }

    #[test]
    fn random_selection_is_deterministic_and_covers_the_range() {
        let cfg = TcpConfig {
            ephemeral_ports: [50000, 50009],
            port_selection: PortSelection::Random,
            ..TcpConfig::default()
        };
        let run = || {
            let mut h = Host::new(CLIENT_IP, cfg.clone(), 42);
            (0..10)
                .map(|i| {
                    h.connect(ms(0), SERVER, i, 0).unwrap();
                    h.poll_transmit().unwrap().src.port
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (50000..50010).collect::<Vec<_>>());
        assert_ne!(a, sorted, "not sequential");
    }

    #[test]
    fn time_wait_holds_the_port_until_expiry() {
        let cfg = TcpConfig {
            ephemeral_ports: [40000, 40000],
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        net.app = request_response(0, 0, true);
        net.connect(1);
        net.run_until(ms(1000));
        assert_eq!(net.hosts[C].time_wait_count(), 1);
        // TIME-WAIT entered at 40 ms (no data): it holds 40000 until 60.040 s.
        assert_eq!(net.states(C).last(), Some(&(ms(40), FinWait2, TimeWait)));
        net.run_until(ms(60_039));
        assert!(matches!(
            net.hosts[C].connect(net.now, SERVER, 2, 2),
            Err(ConnectError::PortExhausted { .. })
        ));
        net.run_until(ms(60_040));
        assert_eq!(net.hosts[C].time_wait_count(), 0);
        let c = net.hosts[C].connect(net.now, SERVER, 2, 2).unwrap();
        net.drain(C);
        assert_eq!(net.sent.last().unwrap().2.src.port, 40000);
        net.run();
        assert_eq!(net.hosts[C].conn_state(c), None);
        assert_eq!(net.closes(C).len(), 2);
    }
}

/// Two hosts that both `connect_from` toward each other (RFC 9293 §3.5, Figure 8): the
/// server's port 7000 has no listener unless a test adds one.
mod simultaneous_open {
    use super::*;

    const CPORT: u16 = 5000;
    const SPORT: u16 = 7000;
    const TO_S: Addr = Addr {
        ip: SERVER_IP,
        port: SPORT,
    };
    const TO_C: Addr = Addr {
        ip: CLIENT_IP,
        port: CPORT,
    };

    /// The client opens at 0 and the server `skew_ms` later.
    fn open(skew_ms: u64) -> (Net, ConnId, Option<ConnId>) {
        let mut net = Net::new(TcpConfig::default());
        let c = net.hosts[C].connect_from(ms(0), CPORT, TO_S, 1, 1).unwrap();
        net.drain(C);
        net.run_until(ms(skew_ms));
        let s = net.hosts[S]
            .connect_from(ms(skew_ms), SPORT, TO_C, 1, 1)
            .ok();
        net.drain(S);
        (net, c, s)
    }

    #[test]
    fn crossing_syns_open_in_one_round_trip_with_four_segments() {
        let (mut net, c, s) = open(0);
        net.run_until(ms(100));
        for h in [C, S] {
            // SYN at 0; the peer's SYN at 10 ms: SYN-RECEIVED, SYN-ACK; the peer's SYN-ACK
            // at 20 ms: ESTABLISHED, nothing more to send.
            assert_eq!(
                net.states(h),
                [
                    (ms(0), Closed, SynSent),
                    (ms(10), SynSent, SynReceived),
                    (ms(20), SynReceived, Established),
                ]
            );
            assert_eq!(
                net.sent_by(h)
                    .iter()
                    .map(|&(t, f, _)| (t, f))
                    .collect::<Vec<_>>(),
                [(ms(0), Flags::SYN), (ms(10), Flags::SYN | Flags::ACK)]
            );
            assert!(net.incoming(h).is_empty(), "no listener took part");
        }
        assert_eq!(net.hosts[C].conn_state(c), Some(Established));
        assert_eq!(net.hosts[S].conn_state(s.unwrap()), Some(Established));
        // And it closes like any connection: the client first, so it holds TIME-WAIT.
        net.hosts[C].close(ms(100), c);
        net.run_until(ms(200));
        net.hosts[S].close(ms(200), s.unwrap());
        net.run();
        assert_eq!(net.closes(C), [(ms(60_210), CloseReason::Normal)]);
        assert_eq!(net.closes(S), [(ms(220), CloseReason::Normal)]);
    }

    #[test]
    fn a_skew_below_the_one_way_delay_still_crosses() {
        let (mut net, _, _) = open(9);
        net.run_until(ms(100));
        assert_eq!(
            net.states(C),
            [
                (ms(0), Closed, SynSent),
                (ms(19), SynSent, SynReceived),
                (ms(20), SynReceived, Established),
            ]
        );
        assert_eq!(
            net.states(S),
            [
                (ms(9), Closed, SynSent),
                (ms(10), SynSent, SynReceived),
                (ms(29), SynReceived, Established),
            ]
        );
    }

    #[test]
    fn a_syn_that_finds_no_socket_is_refused_and_then_so_is_the_late_one() {
        // The client's SYN reaches the server at 10 ms, 1 ms before its connect: RST, and
        // the client's connection is refused at 20 ms. The server's SYN reaches the client's
        // port at 21 ms, closed by then: refused in turn at 31 ms.
        let (mut net, _, s) = open(11);
        assert!(s.is_some());
        net.run();
        assert_eq!(net.closes(C), [(ms(20), CloseReason::Reset)]);
        assert_eq!(net.closes(S), [(ms(31), CloseReason::Reset)]);
        assert_eq!(net.hosts[S].stats().segments_no_connection, 1);
        assert_eq!(net.hosts[C].stats().segments_no_connection, 1);
    }

    #[test]
    fn a_listener_on_the_port_does_not_stop_it() {
        let mut net = Net::new(TcpConfig::default());
        net.hosts[S].listen(SPORT).unwrap();
        net.hosts[C].connect_from(ms(0), CPORT, TO_S, 1, 1).unwrap();
        net.hosts[S].connect_from(ms(0), SPORT, TO_C, 1, 1).unwrap();
        net.run_until(ms(100));
        assert!(net.incoming(S).is_empty(), "the exact 4-tuple comes first");
        assert_eq!(
            net.states(S).last(),
            Some(&(ms(20), SynReceived, Established))
        );
    }

    #[test]
    fn a_four_tuple_in_use_is_refused_and_ports_are_accounted() {
        let cfg = TcpConfig {
            ephemeral_ports: [40000, 40001],
            ..TcpConfig::default()
        };
        let mut h = Host::new(CLIENT_IP, cfg, 1);
        assert_eq!(
            h.connect_from(ms(0), 0, TO_S, 1, 1),
            Err(ConnectError::InvalidLocalPort)
        );
        // A fixed port inside the ephemeral range holds it toward that remote: `connect`
        // has one port left, then none.
        let fixed = h.connect_from(ms(0), 40000, TO_S, 1, 1).unwrap();
        assert_eq!(
            h.connect_from(ms(0), 40000, TO_S, 2, 2),
            Err(ConnectError::AddrInUse {
                local_port: 40000,
                remote: TO_S
            })
        );
        assert_eq!(h.stats().addr_in_use, 1);
        h.connect(ms(0), TO_S, 3, 3).unwrap();
        assert!(matches!(
            h.connect(ms(0), TO_S, 4, 4),
            Err(ConnectError::PortExhausted { .. })
        ));
        // Aborting it gives the port back; a port outside the range holds nothing.
        h.abort(ms(1), fixed);
        assert_eq!(h.local_addr(fixed), None);
        h.connect_from(ms(1), 6000, TO_S, 5, 5).unwrap();
        let again = h.connect(ms(1), TO_S, 6, 6).unwrap();
        assert_eq!(h.local_addr(again).map(|a| a.port), Some(40000));
    }

    #[test]
    fn a_listening_port_in_the_range_is_not_counted_twice() {
        // Three ephemeral ports, one of them listening: `connect` has two. Connecting out
        // of the listening port (a simultaneous open from a server's port) takes none of
        // them, so both remain; before, that port was counted once as a listener and once
        // as held, and the second `connect` was refused.
        let cfg = TcpConfig {
            ephemeral_ports: [40000, 40002],
            ..TcpConfig::default()
        };
        let mut h = Host::new(CLIENT_IP, cfg, 1);
        h.listen(40001).unwrap();
        let fixed = h.connect_from(ms(0), 40001, TO_S, 1, 1).unwrap();
        let a = h.connect(ms(0), TO_S, 2, 2).unwrap();
        let b = h.connect(ms(0), TO_S, 3, 3).unwrap();
        let ports = [a, b].map(|c| h.local_addr(c).unwrap().port);
        assert_eq!(ports, [40000, 40002]);
        assert!(matches!(
            h.connect(ms(0), TO_S, 4, 4),
            Err(ConnectError::PortExhausted { .. })
        ));
        // Its close releases nothing it did not hold: still exhausted, and the two
        // `connect` ports come back one each.
        h.abort(ms(1), fixed);
        assert!(matches!(
            h.connect(ms(1), TO_S, 5, 5),
            Err(ConnectError::PortExhausted { .. })
        ));
        h.abort(ms(1), a);
        h.connect(ms(1), TO_S, 6, 6).unwrap();
        assert!(matches!(
            h.connect(ms(1), TO_S, 7, 7),
            Err(ConnectError::PortExhausted { .. })
        ));
    }
}

mod time_wait {
    use super::*;

    /// Drives a standalone `Endpoint` and a client `Host` with the same script and checks that
    /// they send the same segments and report the same events, TIME-WAIT included.
    struct Twin {
        cfg: TcpConfig,
        ep: Endpoint,
        host: Host,
        timers: Vec<(SimTime, TimerToken)>,
        local: Addr,
        conn: ConnId,
        /// Host events produced by wake-ups, waiting for `compare`.
        stash: Vec<Event>,
    }

    impl Twin {
        fn new(cfg: TcpConfig) -> Twin {
            let mut host = Host::new(CLIENT_IP, cfg.clone(), 1);
            let conn = host.connect(ms(0), SERVER, 1, 1).unwrap();
            let local = Addr {
                ip: CLIENT_IP,
                port: cfg.ephemeral_ports[0],
            };
            let ep = Endpoint::connect(&cfg, ms(0), local, SERVER, SeqNum(0), 1);
            let mut t = Twin {
                cfg,
                ep,
                host,
                timers: Vec::new(),
                local,
                conn,
                stash: Vec::new(),
            };
            t.compare(ms(0));
            t
        }

        #[track_caller]
        fn compare(&mut self, now: SimTime) -> (Vec<Segment>, Vec<Event>) {
            let segs_ep: Vec<_> =
                std::iter::from_fn(|| self.ep.poll_transmit(&self.cfg, now)).collect();
            let ev_ep: Vec<_> = std::iter::from_fn(|| self.ep.poll_event()).collect();
            let segs_host: Vec<_> = std::iter::from_fn(|| self.host.poll_transmit()).collect();
            let mut ev_host = std::mem::take(&mut self.stash);
            while let Some(e) = self.host.poll_event() {
                match e {
                    HostEvent::Timer { token, at } | HostEvent::TimerMoved { token, at } => {
                        self.timers.push((at, token))
                    }
                    HostEvent::Conn { event, tag, .. } => {
                        assert_eq!(tag, 1);
                        ev_host.push(event)
                    }
                    HostEvent::Incoming { .. } => panic!("no listener"),
                    HostEvent::TimerCancelled { .. } => {}
                }
            }
            assert_eq!(segs_ep, segs_host, "segments differ at {now:?}");
            assert_eq!(ev_ep, ev_host, "events differ at {now:?}");
            (segs_ep, ev_ep)
        }

        fn segment(
            &mut self,
            now: SimTime,
            seq: u32,
            ack: u32,
            flags: Flags,
            len: u32,
            inc: u32,
        ) -> (Vec<Segment>, Vec<Event>) {
            let s = Segment {
                src: SERVER,
                dst: self.local,
                seq: SeqNum(seq),
                ack: SeqNum(ack),
                flags,
                window: 65535,
                mss: if flags.contains(Flags::SYN) { 1460 } else { 0 },
                payload_len: len,
                incarnation: inc,
            };
            self.ep.handle_segment(&self.cfg, now, &s);
            self.host.handle_segment(now, &s);
            self.compare(now)
        }

        fn timeout(&mut self, now: SimTime) -> (Vec<Segment>, Vec<Event>) {
            self.ep.handle_timeout(&self.cfg, now);
            self.timers.sort_by_key(|t| t.0);
            while let Some(&(at, tok)) = self.timers.first() {
                if at > now {
                    break;
                }
                self.timers.remove(0);
                self.host.handle_timeout(at, tok);
                while let Some(e) = self.host.poll_event() {
                    match e {
                        HostEvent::Timer { token, at } | HostEvent::TimerMoved { token, at } => {
                            self.timers.push((at, token))
                        }
                        HostEvent::Conn { event, .. } => self.stash.push(event),
                        HostEvent::Incoming { .. } => panic!("no listener"),
                        HostEvent::TimerCancelled { .. } => {}
                    }
                }
                self.timers.sort_by_key(|t| t.0);
            }
            self.compare(now)
        }

        /// SYN-ACK at 20 ms, close at 20 ms, the peer's ACK at 40 ms: FIN-WAIT-2.
        fn into_fin_wait_2(cfg: TcpConfig) -> Twin {
            let mut t = Twin::new(cfg);
            t.segment(ms(20), 0, 1, Flags::SYN | Flags::ACK, 0, 1);
            t.ep.close(&t.cfg, ms(20));
            t.host.close(ms(20), t.conn);
            t.compare(ms(20));
            t.segment(ms(40), 1, 2, Flags::ACK, 0, 1);
            assert_eq!(t.ep.state(), FinWait2);
            t
        }

        /// `into_time_wait` with TIME-WAIT answering by rule `acks`.
        fn time_wait_answering(acks: TwAcks) -> Twin {
            Twin::into_time_wait(TcpConfig {
                tw_acks: acks,
                ..zero_isn()
            })
        }

        /// A SYN of incarnation 2 numbered past the old connection (one that may reopen it).
        fn newer_syn(&self) -> Segment {
            Segment {
                src: SERVER,
                dst: self.local,
                seq: SeqNum(100_000),
                flags: Flags::SYN,
                incarnation: 2,
                ..Segment::default()
            }
        }

        /// As `into_fin_wait_2`, then the peer's FIN at 40 ms: TIME-WAIT.
        fn into_time_wait(cfg: TcpConfig) -> Twin {
            let mut t = Twin::into_fin_wait_2(cfg);
            let (segs, ev) = t.segment(ms(40), 1, 2, Flags::FIN | Flags::ACK, 0, 1);
            assert_eq!(segs.len(), 1);
            assert_eq!(
                ev.last(),
                Some(&Event::StateChanged {
                    from: FinWait2,
                    to: TimeWait
                })
            );
            assert_eq!(t.host.time_wait_count(), 1);
            assert_eq!(t.ep.state(), TimeWait);
            t
        }
    }

    const FA: Flags = Flags::FIN.union(Flags::ACK);

    #[test]
    fn endpoint_and_host_time_wait_behave_identically() {
        let cfg = zero_isn();
        for ending in ["expiry", "rst", "reopen", "restart"] {
            let mut t = Twin::into_time_wait(cfg.clone());
            // Retransmitted FIN: ACK, restart to 1.000 + 60 s.
            let (s, _) = t.segment(ms(1000), 1, 2, FA, 0, 1);
            assert_eq!(s.len(), 1);
            // Old data: ACK. Pure in-window ACK: nothing. In-window RST: dropped (Linux).
            assert_eq!(t.segment(ms(2000), 0, 2, Flags::ACK, 2, 1).0.len(), 1);
            assert_eq!(t.segment(ms(3000), 2, 2, Flags::ACK, 0, 1).0.len(), 0);
            assert_eq!(t.segment(ms(4000), 9, 0, Flags::RST, 0, 1).0.len(), 0);
            // Old SYN: ACK. A stale FIN from incarnation 99: accepted, reported, restarts.
            assert_eq!(t.segment(ms(5000), 1, 0, Flags::SYN, 0, 1).0.len(), 1);
            let (_, ev) = t.segment(ms(6000), 1, 2, FA, 0, 99);
            assert_eq!(
                ev,
                [Event::StaleAccepted {
                    kind: StaleKind::Fin
                }]
            );
            // Nothing due at the original or first restarted expiry.
            assert_eq!(t.timeout(ms(60_040)).1, []);
            assert_eq!(t.timeout(ms(61_000)).1, []);
            let killed = [
                Event::StateChanged {
                    from: TimeWait,
                    to: Closed,
                },
                Event::Closed {
                    reason: CloseReason::TimeWaitKilled,
                },
            ];
            match ending {
                "expiry" => {
                    assert_eq!(t.timeout(ms(65_999)).1, []);
                    let (_, ev) = t.timeout(ms(66_000));
                    assert_eq!(
                        ev[1],
                        Event::Closed {
                            reason: CloseReason::Normal
                        }
                    );
                }
                "rst" => assert_eq!(t.segment(ms(7000), 2, 0, Flags::RST, 0, 1).1, killed),
                "reopen" => {
                    // A SYN numbered past the old connection. The lone endpoint stands for
                    // an application that takes the 4-tuple again: its TIME-WAIT ends. The
                    // host has no listener on the port: like Linux (`TCP_TW_SYN` finds none
                    // and falls through to `TCP_TW_ACK`) it keeps TIME-WAIT and ACKs.
                    let s = t.newer_syn();
                    t.ep.handle_segment(&t.cfg, ms(7000), &s);
                    t.host.handle_segment(ms(7000), &s);
                    let a = t.host.poll_transmit().unwrap();
                    assert_eq!(a.flags, Flags::ACK);
                    assert!(t.host.poll_transmit().is_none());
                    assert_eq!(t.host.time_wait_count(), 1);
                    assert_eq!(t.host.stats().time_wait_reopened, 0);
                    assert_eq!(t.ep.state(), Closed);
                    let mut ev = Vec::new();
                    while let Some(e) = t.ep.poll_event() {
                        ev.push(e);
                    }
                    assert_eq!(ev, killed);
                    // A listener makes the host reopen too: RST is never the answer.
                    t.host.listen(t.local.port).unwrap();
                    t.host.handle_segment(ms(7001), &s);
                    assert_eq!(t.host.stats().time_wait_reopened, 1);
                    let r = t.host.poll_transmit().unwrap();
                    assert_eq!(r.flags, Flags::SYN | Flags::ACK);
                    assert_eq!(t.host.time_wait_count(), 0);
                }
                _ => {
                    let (s, _) = t.segment(ms(30_000), 1, 2, FA, 0, 1);
                    assert_eq!(s.len(), 1);
                    assert_eq!(t.timeout(ms(89_999)).1, []);
                    assert_eq!(
                        t.timeout(ms(90_000)).1[1],
                        Event::Closed {
                            reason: CloseReason::Normal
                        }
                    );
                }
            }
            assert_eq!(t.ep.state(), Closed);
            // After "reopen" the host holds the new connection in SYN-RECEIVED.
            assert_eq!(t.host.connections(), usize::from(ending == "reopen"));
        }
    }

    #[test]
    fn both_answer_in_window_segments_by_the_same_rule() {
        // RCV.NXT is 2. Under Linux's rule every segment but the bare ACK there is ACKed and
        // no RST is; under the RFC's, in-window text is ignored and an in-window RST gets a
        // challenge ACK. (Seconds apart: no answer is held back by the rate limit.)
        for (acks, data, off_nxt, rst) in [(TwAcks::Linux, 1, 1, 0), (TwAcks::Rfc9293, 0, 0, 1)] {
            let mut t = Twin::time_wait_answering(acks);
            let push = Flags::PSH | Flags::ACK;
            assert_eq!(
                t.segment(ms(1000), 2, 2, push, 10, 1).0.len(),
                data,
                "{acks:?}"
            );
            assert_eq!(
                t.segment(ms(2000), 9, 2, Flags::ACK, 0, 1).0.len(),
                off_nxt,
                "{acks:?}"
            );
            assert_eq!(
                t.segment(ms(3000), 9, 0, Flags::RST, 0, 1).0.len(),
                rst,
                "{acks:?}"
            );
            assert_eq!(
                t.segment(ms(4000), 2, 2, Flags::ACK, 0, 1).0.len(),
                0,
                "{acks:?}"
            );
            assert_eq!(t.host.time_wait_count(), 1);
        }
    }

    #[test]
    fn both_restart_on_a_bare_ack_under_linux_but_not_rfc9293() {
        for (restart, end) in [(TwRestart::Ack, 70_000), (TwRestart::Fin, 60_040)] {
            let cfg = TcpConfig {
                tw_restart: restart,
                ..zero_isn()
            };
            // Entered at 40 ms. A bare ACK exactly at RCV.NXT at 10 s: no answer.
            let mut t = Twin::into_time_wait(cfg);
            assert_eq!(t.segment(ms(10_000), 2, 2, Flags::ACK, 0, 1).0.len(), 0);
            assert_eq!(t.timeout(ms(end - 1)).1, [], "{restart:?}");
            assert_eq!(
                t.timeout(ms(end)).1[1],
                Event::Closed {
                    reason: CloseReason::Normal
                },
                "{restart:?}"
            );
            assert_eq!(t.host.time_wait_count(), 0);
        }
    }

    #[test]
    fn both_start_time_wait_with_no_answer_on_record() {
        // Linux tcp_time_wait: tw_last_oow_ack_time = 0. FIN-WAIT-2 answers an unacceptable
        // ACK at 50 ms; 50 ms later, in TIME-WAIT, the next is answered too, by both.
        let mut t = Twin::into_fin_wait_2(zero_isn());
        let far = 2 + 70_000;
        assert_eq!(t.segment(ms(50), far, 2, Flags::ACK, 0, 1).0.len(), 1);
        assert_eq!(t.segment(ms(60), 1, 2, FA, 0, 1).0.len(), 1);
        assert_eq!(t.ep.state(), TimeWait);
        assert_eq!(t.segment(ms(100), far, 2, Flags::ACK, 0, 1).0.len(), 1);
        assert_eq!(t.host.stats().acks_rate_limited, 0);
    }

    #[test]
    fn a_held_back_challenge_is_not_counted_as_sent() {
        // Old SYNs (not after RCV.NXT): an ACK, then one held back. Only the RFC's answer is a
        // challenge ACK (RFC 5961 §4); Linux's TIME-WAIT sends a plain TCP_TW_ACK.
        for (acks, challenges) in [(TwAcks::Rfc9293, 1), (TwAcks::Linux, 0)] {
            let mut t = Twin::time_wait_answering(acks);
            assert_eq!(t.segment(ms(1000), 1, 0, Flags::SYN, 0, 1).0.len(), 1);
            assert_eq!(t.segment(ms(1100), 1, 0, Flags::SYN, 0, 1).0.len(), 0);
            assert_eq!(t.host.stats().challenge_acks, challenges, "{acks:?}");
            assert_eq!(t.host.stats().acks_rate_limited, 1, "{acks:?}");
            assert_eq!(t.ep.stats().challenge_acks, challenges, "{acks:?}");
        }
    }

    #[test]
    fn a_newer_syn_with_no_listener_is_always_answered() {
        // Linux tcp_v4_rcv: TCP_TW_SYN with no listener falls through to TCP_TW_ACK, which
        // no rate limit holds back. (The lone endpoint would reopen instead: host only.)
        let mut t = Twin::into_time_wait(zero_isn());
        let far = 2 + 70_000;
        assert_eq!(t.segment(ms(1000), far, 2, Flags::ACK, 0, 1).0.len(), 1);
        let syn = t.newer_syn();
        t.host.handle_segment(ms(1100), &syn);
        let a = t.host.poll_transmit().expect("answered");
        assert_eq!(a.flags, Flags::ACK);
        assert_eq!(t.host.time_wait_count(), 1);
        assert_eq!(t.host.stats().acks_rate_limited, 0);
    }

    #[test]
    fn both_answer_loop_prone_segments_at_most_every_500ms() {
        // Linux tcp_timewait_check_oow_rate_limit: anything but data or a FIN without SYN.
        let mut t = Twin::into_time_wait(zero_isn());
        let far = 2 + 70_000; // beyond RCV.NXT + RCV.WND: unacceptable
        assert_eq!(t.segment(ms(1000), far, 2, Flags::ACK, 0, 1).0.len(), 1);
        assert_eq!(t.segment(ms(1100), far, 2, Flags::ACK, 0, 1).0.len(), 0);
        // An old SYN's challenge ACK is limited too.
        assert_eq!(t.segment(ms(1100), 1, 0, Flags::SYN, 0, 1).0.len(), 0);
        // Old data and a retransmitted FIN are answered, and do not count.
        assert_eq!(t.segment(ms(1100), 0, 2, Flags::ACK, 2, 1).0.len(), 1);
        assert_eq!(t.segment(ms(1200), 1, 2, FA, 0, 1).0.len(), 1);
        assert_eq!(t.segment(ms(1499), far, 2, Flags::ACK, 0, 1).0.len(), 0);
        assert_eq!(t.segment(ms(1500), far, 2, Flags::ACK, 0, 1).0.len(), 1);
        assert_eq!(t.host.stats().acks_rate_limited, 3);
        assert_eq!(t.ep.stats().acks_rate_limited, 3);
        assert_eq!(t.host.time_wait_count(), 1);
    }

    #[test]
    fn a_new_record_does_not_inherit_the_rate_limit_of_the_last_one() {
        // TIME-WAIT of 200 ms, one ephemeral port: the second connection's record takes the
        // first's place while the first's last answer is less than 500 ms old.
        let cfg = TcpConfig {
            msl: SimDuration::from_millis(100),
            ephemeral_ports: [40000, 40000],
            ..zero_isn()
        };
        let mut host = Host::new(CLIENT_IP, cfg, 1);
        let mut timers: Vec<(SimTime, TimerToken)> = Vec::new();
        let mut sent = Vec::new();
        let mut pump = |host: &mut Host, now: SimTime, sent: &mut Vec<Segment>| loop {
            sent.extend(std::iter::from_fn(|| host.poll_transmit()));
            while let Some(e) = host.poll_event() {
                if let HostEvent::Timer { token, at } | HostEvent::TimerMoved { token, at } = e {
                    timers.push((at, token));
                }
            }
            timers.sort_by_key(|t| t.0);
            match timers.first() {
                Some(&(at, token)) if at <= now => {
                    timers.remove(0);
                    host.handle_timeout(at, token);
                }
                _ => return,
            }
        };
        let local = Addr {
            ip: CLIENT_IP,
            port: 40000,
        };
        let from_server = |seq: u32, ack: u32, flags: Flags, inc: u32| Segment {
            src: SERVER,
            dst: local,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 65535,
            mss: if flags.contains(Flags::SYN) { 1460 } else { 0 },
            incarnation: inc,
            ..Segment::default()
        };
        let far = 2 + 70_000;
        for (inc, t0) in [(1, 0), (2, 300)] {
            let conn = host.connect(ms(t0), SERVER, inc, inc as u64).unwrap();
            pump(&mut host, ms(t0), &mut sent);
            host.handle_segment(
                ms(t0 + 10),
                &from_server(0, 1, Flags::SYN | Flags::ACK, inc),
            );
            host.close(ms(t0 + 10), conn);
            host.handle_segment(ms(t0 + 20), &from_server(1, 2, Flags::ACK, inc));
            host.handle_segment(ms(t0 + 20), &from_server(1, 2, FA, inc));
            pump(&mut host, ms(t0 + 20), &mut sent);
            assert_eq!(host.time_wait_count(), 1);
            sent.clear();
            host.handle_segment(ms(t0 + 30), &from_server(far, 2, Flags::ACK, inc));
            pump(&mut host, ms(t0 + 30), &mut sent);
            assert_eq!(sent.len(), 1, "connection {inc}: the first answer goes");
            // TIME-WAIT ends at t0 + 230 ms (the ACK at t0 + 30 ms restarted it) and frees
            // the record.
            pump(&mut host, ms(t0 + 250), &mut sent);
            assert_eq!(host.time_wait_count(), 0);
        }
        assert_eq!(host.stats().acks_rate_limited, 0);
    }

    #[test]
    fn rfc1337_ignores_rst_in_both() {
        let cfg = TcpConfig {
            rst_in_time_wait: RstInTimeWait::Ignore,
            ..zero_isn()
        };
        let mut t = Twin::into_time_wait(cfg);
        assert_eq!(t.segment(ms(100), 2, 0, Flags::RST, 0, 1), (vec![], vec![]));
        assert_eq!(t.segment(ms(100), 9, 0, Flags::RST, 0, 1), (vec![], vec![]));
        assert_eq!(t.host.time_wait_count(), 1);
    }

    #[test]
    fn reopen_by_newer_syn_goes_to_listener_with_linux_iss() {
        // Clock ISNs: the client's second SYN is numbered after everything of the first.
        let cfg = TcpConfig {
            isn: IsnPolicy::Clock,
            ephemeral_ports: [40000, 40000],
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        net.app = request_response(100, 100, false);
        net.connect(1);
        net.run_until(ms(1000));
        assert_eq!(net.hosts[S].time_wait_count(), 1);
        let tw_snd_nxt = net.sent.iter().rev().find(|s| s.1 == S).unwrap().2.seq;
        net.app = Box::new(|_, _, _, _| {});
        net.connect(2);
        net.run_until(ms(1100));
        assert_eq!(net.hosts[S].stats().time_wait_reopened, 1);
        assert_eq!(
            net.closes(S).last(),
            Some(&(ms(1010), CloseReason::TimeWaitKilled))
        );
        let synack = net
            .sent
            .iter()
            .rev()
            .find(|s| s.1 == S && s.2.flags == Flags::SYN | Flags::ACK)
            .unwrap()
            .2;
        assert_eq!(synack.seq, tw_snd_nxt + TW_REOPEN_ISS_OFFSET);
        assert_eq!(synack.incarnation, 2);
        assert_eq!(
            net.states(C).last(),
            Some(&(ms(1020), SynSent, Established))
        );
    }

    #[test]
    fn rfc6191_reopen_takes_the_iss_from_the_generator() {
        let cfg = TcpConfig {
            isn: IsnPolicy::Clock,
            tw_reopen: TwReopen::Rfc6191,
            ephemeral_ports: [40000, 40000],
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        net.app = request_response(100, 100, false);
        net.connect(1);
        net.run_until(ms(1000));
        assert_eq!(net.hosts[S].time_wait_count(), 1);
        net.app = Box::new(|_, _, _, _| {});
        net.connect(2);
        net.run_until(ms(1100));
        assert_eq!(net.hosts[S].stats().time_wait_reopened, 1);
        let synack = net
            .sent
            .iter()
            .rev()
            .find(|s| s.1 == S && s.2.flags == Flags::SYN | Flags::ACK)
            .unwrap()
            .2;
        // The 4 us clock at 1010 ms: 252500 ticks.
        assert_eq!(synack.seq, SeqNum(252_500));
        assert_eq!(
            net.states(C).last(),
            Some(&(ms(1020), SynSent, Established))
        );
    }
}

mod stale {
    use super::*;

    /// Zero ISNs and one ephemeral port: the second incarnation reuses the 4-tuple and the
    /// sequence numbers of the first, so an old data segment fits its window.
    #[test]
    fn old_duplicate_accepted_by_a_new_incarnation_is_counted() {
        let cfg = TcpConfig {
            ephemeral_ports: [40000, 40000],
            ..zero_isn()
        };
        let mut net = Net::new(cfg);
        net.app = request_response(100, 100, false);
        net.connect(1);
        net.run_until(ms(1000));
        let old = net
            .sent
            .iter()
            .find(|s| s.1 == C && s.2.payload_len == 100)
            .unwrap()
            .2;
        assert_eq!((old.seq, old.incarnation), (SeqNum(1), 1));
        assert_eq!(net.hosts[S].time_wait_count(), 1);
        // Incarnation 2: its SYN (SEQ 0, not beyond RCV.NXT) is ACKed by TIME-WAIT; SYN-SENT
        // resets that ACK with SEQ = RCV.NXT, which kills TIME-WAIT; the SYN sent again at
        // +1 s reaches the listener.
        net.app = Box::new(|_, _, _, _| {});
        net.connect(2);
        net.run_until(ms(1030));
        assert_eq!(
            net.closes(S).last(),
            Some(&(ms(1030), CloseReason::TimeWaitKilled))
        );
        net.run_until(ms(2010));
        assert_eq!(net.states(S).last().map(|s| s.2), Some(SynReceived));
        // The old request arrives now: its ACK completes the new handshake and its data is
        // taken as the new connection's.
        net.inject(S, old);
        let ev: Vec<_> = net
            .conn_events(S)
            .into_iter()
            .rev()
            .take(4)
            .map(|e| e.1)
            .collect();
        assert_eq!(
            ev,
            [
                Event::StaleAccepted {
                    kind: StaleKind::Data
                },
                Event::Received { bytes: 100 },
                Event::Connected,
                Event::StateChanged {
                    from: SynReceived,
                    to: Established
                }
            ]
        );
        assert_eq!(net.hosts[S].stats().stale_accepted.data, 1);
        // The RST of incarnation 2 that ended incarnation 1's TIME-WAIT counts too.
        assert_eq!(net.hosts[S].stats().stale_accepted.rst, 1);
        assert_eq!(net.hosts[S].stats().stale_accepted.total(), 2);
    }
}

mod timers {
    use super::*;

    #[test]
    fn wake_ups_are_requested_only_when_a_deadline_moves_earlier() {
        // RFC 6298's RTO, whose second sample moves the deadline by a round number.
        let cfg = TcpConfig {
            rto_estimator: RtoEstimator::Rfc6298,
            ..zero_isn()
        };
        let mut h = Host::new(CLIENT_IP, cfg, 1);
        let c = h.connect(ms(0), SERVER, 1, 1).unwrap();
        let syn = h.poll_transmit().unwrap();
        let timers = |h: &mut Host| {
            std::iter::from_fn(|| h.poll_event())
                .filter_map(|e| match e {
                    HostEvent::Timer { token, at } => Some((token, at)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let t1 = timers(&mut h);
        assert_eq!(t1.len(), 1);
        assert_eq!(t1[0].1, ms(1000));
        let seg = |seq: u32, ack: u32, flags: Flags| Segment {
            src: SERVER,
            dst: syn.src,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 65535,
            mss: 1460,
            payload_len: 0,
            incarnation: 1,
        };
        h.handle_segment(ms(100), &seg(0, 1, Flags::SYN | Flags::ACK));
        // RTT 100 ms: RTO 300 ms. Data at 100 ms: deadline 400 ms, earlier than 1 s: requested.
        h.send(ms(100), c, 3000);
        let t2 = timers(&mut h);
        assert_eq!(t2.iter().map(|t| t.1).collect::<Vec<_>>(), [ms(400)]);
        // A partial ACK moves the deadline later (450 ms): nothing new is requested.
        h.handle_segment(ms(200), &seg(1, 1461, Flags::ACK));
        assert_eq!(timers(&mut h), []);
        while h.poll_transmit().is_some() {}
        // The 400 ms wake-up finds nothing due and asks for the real deadline: the partial
        // ACK gave a second sample (RTT 100 ms, RTTVAR 37.5 ms, RTO 250 ms), so 450 ms.
        h.handle_timeout(ms(400), t2[0].0);
        assert_eq!(h.poll_transmit(), None);
        assert_eq!(
            timers(&mut h).iter().map(|t| t.1).collect::<Vec<_>>(),
            [ms(450)]
        );
        h.handle_timeout(ms(450), t2[0].0);
        let rtx: Vec<_> = std::iter::from_fn(|| h.poll_transmit()).collect();
        assert_eq!(
            rtx.len(),
            2,
            "the RTO resends the two unacknowledged segments"
        );
        assert_eq!(rtx[0].seq, SeqNum(1461));
        // Backed off to 500 ms: 950 ms, earlier than the 1 s wake-up still outstanding.
        assert_eq!(
            timers(&mut h).iter().map(|t| t.1).collect::<Vec<_>>(),
            [ms(950)]
        );
        // A superseded wake-up firing before the current one is harmless.
        h.handle_timeout(ms(900), t1[0].0);
        assert_eq!(h.poll_transmit(), None);
        assert_eq!(h.stats().retransmits.data, 1);
    }

    #[test]
    fn a_moved_wake_up_is_one_event_instead_of_a_cancellation_and_a_request() {
        // The same lifecycles (data both ways, so each end's deadline moves earlier when it
        // first sends: the 1 s handshake RTO gives way to a data RTO), reported both ways.
        let run = |moved: bool| {
            let mut net = Net::new(TcpConfig::default());
            for h in &mut net.hosts {
                h.report_moved_timers(moved);
            }
            net.app = request_response(3000, 3000, true);
            for inc in 1..=3 {
                net.connect(inc);
            }
            net.run();
            assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
            net.log
        };
        let (pairs, moved) = (run(false), run(true));
        // Each TimerCancelled followed at once by a Timer with its token is one TimerMoved.
        let mut folded: Vec<(SimTime, usize, HostEvent)> = Vec::new();
        for (t, h, e) in pairs {
            match (folded.last_mut(), e) {
                (
                    Some((t0, h0, HostEvent::TimerCancelled { token: old })),
                    HostEvent::Timer { token, at },
                ) if (*t0, *h0, *old) == (t, h, token) => {
                    folded.last_mut().unwrap().2 = HostEvent::TimerMoved { token, at };
                }
                _ => folded.push((t, h, e)),
            }
        }
        assert_eq!(folded, moved);
        let n = |h: usize| {
            moved
                .iter()
                .filter(|e| e.1 == h && matches!(e.2, HostEvent::TimerMoved { .. }))
                .count()
        };
        assert!(n(C) >= 3 && n(S) >= 3, "{} and {} moves", n(C), n(S));
    }

    #[test]
    fn stale_tokens_are_ignored() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(10, 10, false);
        net.connect(1);
        net.run();
        // Wake-ups of finished connections fired and did nothing.
        assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
        assert!(
            net.hosts[C].stats().stale_timer_tokens + net.hosts[S].stats().stale_timer_tokens > 0
        );
    }
}

#[test]
fn many_lifecycles_are_deterministic_and_clean_up() {
    let run = || {
        let cfg = TcpConfig {
            msl: SimDuration::from_millis(500),
            port_selection: PortSelection::Random,
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        let mut every_other = 0u32;
        net.lose = Box::new(move |_, _, _| {
            every_other += 1;
            let lose = every_other == 23;
            if lose {
                every_other = 0;
            }
            lose
        });
        net.app = request_response(500, 3000, true);
        for i in 0..300u32 {
            net.run_until(ms(i as u64 * 5));
            net.connect(i);
            for h in [C, S] {
                net.hosts[h].check_demux().unwrap();
            }
        }
        net.run();
        for h in [C, S] {
            net.hosts[h].check_demux().unwrap();
        }
        (
            net.sent.clone(),
            *net.hosts[C].stats(),
            *net.hosts[S].stats(),
            net.hosts[C].connections() + net.hosts[S].connections(),
        )
    };
    let a = run();
    let b = run();
    assert_eq!(a.0, b.0, "same inputs, same packets");
    let (_, c, s, left) = a;
    assert_eq!(left, 0);
    assert_eq!(c.closed.total(), 300);
    assert_eq!(s.closed.total(), 300);
    assert_eq!(c.closed.get(CloseReason::Normal), 300);
    assert!(
        c.retransmits.total() + s.retransmits.total() > 0,
        "some losses happened"
    );
    assert!(c.time_wait_peak > 10);
}

#[test]
fn reserving_room_changes_no_outcome_and_spares_the_growth() {
    // The same lossy lifecycles as above, with the 4-tuple tables sized first or not: the
    // reserved tables never grow, and every packet is the same.
    let run = |reserve: usize| {
        let cfg = TcpConfig {
            msl: SimDuration::from_millis(500),
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        let mut n = 0u32;
        net.lose = Box::new(move |_, _, _| {
            n += 1;
            n.is_multiple_of(17)
        });
        net.app = request_response(500, 3000, true);
        let mut capacity = [0; 2];
        for h in [C, S] {
            net.hosts[h].reserve(reserve);
            capacity[h] = net.hosts[h].demux_capacity();
        }
        for i in 0..400u32 {
            net.run_until(ms(i as u64 * 2));
            net.connect(i);
        }
        net.run();
        for h in [C, S] {
            net.hosts[h].check_demux().unwrap();
        }
        let grew = [C, S].map(|h| net.hosts[h].demux_capacity() != capacity[h]);
        (net.sent.clone(), grew, net.hosts[C].stats().time_wait_peak)
    };
    let (grown, grew, peak) = run(0);
    assert_eq!(grew, [true, true]);
    assert!(peak > 200, "{peak} at once in TIME-WAIT");
    // Twice the peak: removals leave deleted markers that use up room too, and a table at
    // most half full clears them in place instead of growing.
    let (reserved, grew, _) = run(800);
    assert_eq!(grew, [false, false]);
    assert_eq!(grown, reserved);
    // Too small a reservation only means growth later.
    assert_eq!(run(10).0, grown);
    // A limit on everything: the reservation stops at MAX_RESERVE.
    let mut h = Host::new(CLIENT_IP, TcpConfig::default(), 1);
    h.reserve(usize::MAX);
    assert!((MAX_RESERVE..2 * MAX_RESERVE).contains(&h.demux_capacity()));
}

/// The listen queue (Linux `tcp_conn_request`, `cookie_v4_check`, `tcp_check_req`): SYN
/// queue limits, SYN cookies, the accept queue under `AcceptMode::Manual`.
mod listen_queue {
    use super::*;

    /// A SYN from an address nobody answers for (a SYN flood's spoofed source `i`).
    fn spoofed_syn(i: u32) -> Segment {
        Segment {
            src: Addr::new(0x0b00_0000 + i, 1024 + (i % 60_000) as u16),
            dst: SERVER,
            seq: SeqNum(i.wrapping_mul(1000)),
            ack: SeqNum(0),
            flags: Flags::SYN,
            window: 65535,
            mss: 1460,
            payload_len: 0,
            incarnation: 1000 + i,
        }
    }

    fn out(h: &mut Host) -> Vec<Segment> {
        std::iter::from_fn(|| h.poll_transmit()).collect()
    }

    fn queue(h: &Host) -> (u32, u32) {
        let q = h.listen_queue(PORT).unwrap();
        (q.syn_received, q.unaccepted)
    }

    /// (time, from, to) of one connection of host `h`.
    fn conn_states(net: &Net, h: usize, c: ConnId) -> Vec<(SimTime, State, State)> {
        net.events
            .iter()
            .filter_map(|&(t, host, e)| match e {
                HostEvent::Conn {
                    conn,
                    event: Event::StateChanged { from, to },
                    ..
                } if host == h && conn == c => Some((t, from, to)),
                _ => None,
            })
            .collect()
    }

    fn received(net: &Net, h: usize, c: ConnId) -> u64 {
        net.events
            .iter()
            .filter_map(|&(_, host, e)| match e {
                HostEvent::Conn {
                    conn,
                    event: Event::Received { bytes },
                    ..
                } if host == h && conn == c => Some(bytes as u64),
                _ => None,
            })
            .sum()
    }

    #[test]
    fn syn_queue_holds_accept_backlog_then_drops_without_cookies() {
        let cfg = TcpConfig {
            syn_cookies: SynCookies::Off,
            accept_backlog: 4,
            ..zero_isn()
        };
        let mut h = Host::new(SERVER_IP, cfg, 2);
        h.listen(PORT).unwrap();
        assert_eq!(h.listen_queue(81), None);
        for i in 0..4 {
            h.handle_segment(ms(0), &spoofed_syn(i));
            let o = out(&mut h);
            assert_eq!(o.len(), 1);
            assert_eq!(o[0].flags, Flags::SYN | Flags::ACK);
        }
        assert_eq!(queue(&h), (4, 0));
        // inet_csk_reqsk_queue_is_full: 4 >= 4, and no cookies: dropped.
        h.handle_segment(ms(1), &spoofed_syn(4));
        assert_eq!(out(&mut h), []);
        let st = *h.stats();
        assert_eq!(st.syn_dropped_queue_full, 1);
        assert_eq!((st.passive_opens, st.syn_queue_peak), (4, 4));
        assert_eq!((st.syn_cookies_sent, st.unexpected_segments), (0, 0));
        assert_eq!(h.connections(), 4);
        // A retransmitted SYN of a queued connection is that connection's, not a new one.
        h.handle_segment(ms(2), &spoofed_syn(0));
        assert_eq!(out(&mut h).len(), 1, "SYN-ACK again");
        assert_eq!(h.stats().syn_dropped_queue_full, 1);
        // A RST takes one out of SYN-RECEIVED (back to LISTEN: the listener stays) ...
        let mut rst = spoofed_syn(1);
        rst.seq += 1;
        rst.flags = Flags::RST;
        h.handle_segment(ms(3), &rst);
        assert_eq!((queue(&h), h.connections()), ((3, 0), 3));
        // ... which makes room for the next SYN.
        h.handle_segment(ms(4), &spoofed_syn(4));
        assert_eq!(out(&mut h).len(), 1);
        assert_eq!(queue(&h), (4, 0));
        // Immediate mode: nothing ever waits to be accepted.
        assert_eq!(h.accept(PORT), None);
    }

    #[test]
    fn without_cookies_the_last_quarter_of_syn_backlog_is_kept() {
        let run = |cookies| {
            let cfg = TcpConfig {
                syn_cookies: cookies,
                accept_backlog: 100,
                syn_backlog: 8,
                ..zero_isn()
            };
            let mut h = Host::new(SERVER_IP, cfg, 2);
            h.listen(PORT).unwrap();
            for i in 0..20 {
                h.handle_segment(ms(0), &spoofed_syn(i));
            }
            (queue(&h).0, *h.stats())
        };
        // 8 - qlen < 8 >> 2 drops once 7 are queued: 3/4 of the backlog plus one.
        let (q, st) = run(SynCookies::Off);
        assert_eq!(q, 7);
        assert_eq!(st.syn_dropped_syn_backlog, 13);
        assert_eq!(st.syn_dropped_queue_full, 0);
        // With cookies enabled the clause does not apply (only the accept backlog does).
        let (q, st) = run(SynCookies::OnOverflow);
        assert_eq!(q, 20);
        assert_eq!(st.syn_dropped_syn_backlog + st.syn_cookies_sent, 0);
    }

    #[test]
    fn on_overflow_sends_a_cookie_and_its_ack_makes_an_established_connection() {
        let cfg = TcpConfig {
            accept_backlog: 2,
            ..zero_isn()
        };
        let mut net = Net::new(cfg.clone());
        // The client's MSS 1400 travels in the cookie as 1300 (the entry below it).
        net.hosts[C] = Host::new(CLIENT_IP, TcpConfig { mss: 1400, ..cfg }, 1);
        net.lose = Box::new(|_, h, s| h == S && s.dst.ip != CLIENT_IP);
        net.inject(S, spoofed_syn(0));
        net.inject(S, spoofed_syn(1));
        assert_eq!(queue(&net.hosts[S]), (2, 0));
        net.app = request_response(100, 3000, true);
        net.connect(1);
        net.run_until(ms(15));
        let synack = net.sent.last().unwrap().2;
        assert_eq!(synack.flags, Flags::SYN | Flags::ACK);
        assert_eq!((synack.ack, synack.mss), (SeqNum(1), 1460));
        assert_ne!(synack.seq, SeqNum(0), "a cookie, not the zero ISN");
        assert_eq!(net.hosts[S].connections(), 2, "no state kept");
        assert_eq!(net.hosts[S].stats().syn_cookies_sent, 1);
        // The client's first data segment carries the ACK: the connection is made from it,
        // ESTABLISHED at once, and its 100 bytes are delivered.
        net.run_until(ms(35));
        let s = net.incoming(S)[2];
        assert_eq!(
            conn_states(&net, S, s),
            [
                (ms(30), Listen, SynReceived),
                (ms(30), SynReceived, Established)
            ]
        );
        assert_eq!(net.hosts[S].stats().syn_cookies_validated, 1);
        assert_eq!(received(&net, S, s), 100);
        assert_eq!(
            queue(&net.hosts[S]),
            (2, 0),
            "a cookie connection never queues"
        );
        net.run();
        // ISS = the cookie: the response starts at cookie + 1, acknowledges the request, and
        // is cut at the MSS the cookie carried.
        let resp: Vec<_> = net
            .sent
            .iter()
            .filter(|x| x.1 == S && x.2.payload_len > 0)
            .map(|x| (x.2.seq, x.2.ack, x.2.payload_len))
            .collect();
        let iss = synack.seq;
        assert_eq!(
            resp,
            [
                (iss + 1, SeqNum(101), 1300),
                (iss + 1301, SeqNum(101), 1300),
                (iss + 2601, SeqNum(101), 400)
            ]
        );
        assert_eq!(net.closes(C), [(ms(60_060), CloseReason::Normal)]);
        let st = *net.hosts[S].stats();
        assert_eq!(st.closed.get(CloseReason::Normal), 1);
        assert_eq!(st.closed.get(CloseReason::HandshakeTimeout), 2);
        assert_eq!((st.syn_cookies_failed, st.rst_sent), (0, 0));
        assert_eq!(queue(&net.hosts[S]), (0, 0));
        assert_eq!(net.hosts[S].connections(), 0);
    }

    #[test]
    fn forged_and_stale_cookie_acks_are_reset() {
        let cfg = TcpConfig {
            syn_cookies: SynCookies::Always,
            ..TcpConfig::default()
        };
        let mut h = Host::new(SERVER_IP, cfg, 2);
        h.listen(PORT).unwrap();
        let peer = Addr::new(CLIENT_IP, 5555);
        let syn = Segment {
            src: peer,
            dst: SERVER,
            seq: SeqNum(1000),
            flags: Flags::SYN,
            window: 65535,
            mss: 1460,
            incarnation: 1,
            ..Segment::default()
        };
        let ack = |seq: SeqNum, ack: SeqNum| Segment {
            src: peer,
            dst: SERVER,
            seq,
            ack,
            flags: Flags::ACK,
            window: 65535,
            incarnation: 1,
            ..Segment::default()
        };
        let rst_seq = |h: &mut Host| match out(h).as_slice() {
            [r] if r.flags == Flags::RST => Some(r.seq),
            _ => None,
        };
        // No cookie sent in the last 2 minutes: an ACK is not even checked.
        h.handle_segment(ms(0), &ack(SeqNum(1001), SeqNum(5)));
        assert_eq!(rst_seq(&mut h), Some(SeqNum(5)));
        assert_eq!(h.stats().syn_cookies_failed, 0);
        h.handle_segment(ms(0), &syn);
        let c = out(&mut h)[0];
        assert_eq!(c.flags, Flags::SYN | Flags::ACK);
        // Forged: another cookie, or the right one with another ISN.
        h.handle_segment(ms(10), &ack(SeqNum(1001), c.seq + 1001));
        assert_eq!(rst_seq(&mut h), Some(c.seq + 1001));
        h.handle_segment(ms(10), &ack(SeqNum(1008), c.seq + 1));
        assert_eq!(rst_seq(&mut h), Some(c.seq + 1));
        assert_eq!(h.stats().syn_cookies_failed, 2);
        // Stale: another SYN at 119 s keeps cookies checked, but this one is 130 s old.
        let mut other = syn;
        other.src.port = 6666;
        h.handle_segment(ms(119_000), &other);
        out(&mut h);
        h.handle_segment(ms(130_000), &ack(SeqNum(1001), c.seq + 1));
        assert_eq!(rst_seq(&mut h), Some(c.seq + 1));
        assert_eq!(h.stats().syn_cookies_failed, 3);
        assert_eq!(h.connections(), 0);
        // A fresh cookie passes.
        h.handle_segment(ms(130_000), &syn);
        let c2 = out(&mut h)[0];
        h.handle_segment(ms(130_010), &ack(SeqNum(1001), c2.seq + 1));
        assert_eq!(out(&mut h), []);
        let st = *h.stats();
        assert_eq!((st.syn_cookies_validated, st.syn_cookies_failed), (1, 3));
        assert_eq!(h.connections(), 1);
        // More than 2 minutes after the last cookie, ACKs are plain ACKs to a listener.
        let mut late = ack(SeqNum(1), SeqNum(77));
        late.src.port = 7777;
        h.handle_segment(ms(260_000), &late);
        assert_eq!(rst_seq(&mut h), Some(SeqNum(77)));
        assert_eq!(h.stats().syn_cookies_failed, 3);
        // A SYN-ACK to a listener is never taken for a cookie.
        let mut sa = ack(SeqNum(1001), c2.seq + 1);
        sa.src.port = 8888;
        sa.flags = Flags::SYN | Flags::ACK;
        h.handle_segment(ms(130_020), &sa);
        assert_eq!(rst_seq(&mut h), Some(c2.seq + 1));
        assert_eq!(h.stats().syn_cookies_failed, 3);
    }

    #[test]
    fn always_mode_never_keeps_syn_received_state() {
        let cfg = TcpConfig {
            syn_cookies: SynCookies::Always,
            ..TcpConfig::default()
        };
        let mut net = Net::new(cfg);
        net.app = request_response(100, 1000, true);
        let mut first = true;
        net.lose = Box::new(move |_, h, s| {
            let lose = h == S && s.flags == Flags::SYN | Flags::ACK && first;
            first &= !lose;
            lose
        });
        for i in 0..5u32 {
            net.run_until(ms(i as u64 * 5));
            net.connect(i + 1);
        }
        net.run_until(ms(31));
        // Five SYNs answered by 30 ms (the first SYN-ACK lost), no ACK back before 35 ms:
        // nothing is held for any of them.
        assert_eq!(net.hosts[S].stats().syn_cookies_sent, 5);
        assert_eq!(net.hosts[S].connections(), 0);
        assert_eq!(queue(&net.hosts[S]), (0, 0));
        net.run();
        let st = *net.hosts[S].stats();
        // The first client's SYN, sent again at 1 s, gets a second cookie; the server itself
        // never retransmits a SYN-ACK: it has nothing to retransmit from.
        assert_eq!((st.syn_cookies_sent, st.syn_cookies_validated), (6, 5));
        assert_eq!(st.retransmits.syn_ack, 0);
        assert_eq!(st.syn_queue_peak, 0);
        assert_eq!(
            (st.passive_opens, st.closed.get(CloseReason::Normal)),
            (5, 5)
        );
        for s in net.incoming(S) {
            let st = conn_states(&net, S, s);
            assert_eq!((st[0].1, st[0].2), (Listen, SynReceived));
            assert_eq!((st[1].0, st[1].2), (st[0].0, Established));
        }
        assert_eq!(net.closes(C).len(), 5);
        assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
    }

    /// 100 spoofed SYNs at once, then a real client at 100 ms.
    fn syn_flood(cookies: SynCookies) -> Net {
        let cfg = TcpConfig {
            syn_cookies: cookies,
            accept_backlog: 16,
            synack_retries: 2,
            ..zero_isn()
        };
        let mut net = Net::new(cfg);
        net.lose = Box::new(|_, h, s| h == S && s.dst.ip != CLIENT_IP);
        for i in 0..100 {
            net.inject(S, spoofed_syn(i));
        }
        net.run_until(ms(100));
        net.connect(1);
        net.run_until(ms(20_000));
        net
    }

    #[test]
    fn syn_flood_without_cookies_locks_out_a_client_until_synack_retries_run_out() {
        let net = syn_flood(SynCookies::Off);
        let st = *net.hosts[S].stats();
        assert_eq!(st.syn_queue_peak, 16);
        // The half-open entries send SYN-ACKs at 0, 1 and 3 s and give up at 7 s; the
        // client's SYNs at 0.1, 1.1 and 3.1 s are dropped, the one at 7.1 s gets in.
        let timeouts: Vec<_> = net
            .closes(S)
            .into_iter()
            .filter(|c| c.1 == CloseReason::HandshakeTimeout)
            .collect();
        assert_eq!(timeouts, [(ms(7000), CloseReason::HandshakeTimeout); 16]);
        assert_eq!(st.syn_dropped_queue_full, 84 + 3);
        assert_eq!(net.hosts[C].stats().retransmits.syn, 3);
        assert_eq!(net.states(C)[1], (ms(7120), SynSent, Established));
        assert_eq!(queue(&net.hosts[S]), (0, 0));
        assert_eq!(net.hosts[S].connections(), 1);
    }

    #[test]
    fn syn_flood_with_cookies_lets_a_client_in_at_once() {
        let net = syn_flood(SynCookies::OnOverflow);
        let st = *net.hosts[S].stats();
        assert_eq!(st.syn_queue_peak, 16);
        assert_eq!(st.syn_cookies_sent, 84 + 1);
        assert_eq!(st.syn_dropped_queue_full, 0);
        assert_eq!(net.hosts[C].stats().retransmits.syn, 0);
        assert_eq!(net.states(C)[1], (ms(120), SynSent, Established));
        let s = *net.incoming(S).last().unwrap();
        assert_eq!(
            conn_states(&net, S, s),
            [
                (ms(130), Listen, SynReceived),
                (ms(130), SynReceived, Established)
            ]
        );
        assert_eq!(st.syn_cookies_validated, 1);
        assert_eq!(queue(&net.hosts[S]), (0, 0));
    }

    /// A listener with room for 16 half-open connections and no cookies, whose SYN-ACKs go
    /// nowhere: `n` spoofed SYNs at 0 s, and `late` more at `late_at`.
    fn half_open(n: u32, late: u32, late_at: SimTime, prune: bool) -> Net {
        let cfg = TcpConfig {
            syn_cookies: SynCookies::Off,
            accept_backlog: 16,
            syn_queue_prune: prune,
            ..zero_isn()
        };
        let mut net = Net::new(cfg);
        net.lose = Box::new(|_, h, s| h == S && s.dst.ip != CLIENT_IP);
        for i in 0..n {
            net.inject(S, spoofed_syn(i));
        }
        net.run_until(late_at);
        for i in n..n + late {
            net.inject(S, spoofed_syn(i));
        }
        net.run_until(ms(70_000));
        net
    }

    fn handshake_timeouts(net: &Net) -> Vec<(SimTime, usize)> {
        let mut at: Vec<(SimTime, usize)> = Vec::new();
        for (t, r) in net.closes(S) {
            assert_eq!(r, CloseReason::HandshakeTimeout);
            match at.last_mut() {
                Some(l) if l.0 == t => l.1 += 1,
                _ => at.push((t, 1)),
            }
        }
        at
    }

    #[test]
    fn a_syn_queue_more_than_half_full_gives_up_on_old_entries_after_two_retries() {
        // 12 > 16 / 2 entries, all SYN-ACKs lost. At 1 s each timer finds fewer young
        // entries (those not yet timed out), but every entry is still below 2 retries; at
        // 3 s none is young (limit 2) and each resends its second. At 7 s each timer finds
        // its entry out of 2 retries and drops it while the queue holds more than 8: 4 go at
        // 7 s instead of synack_retries' 63 s, and the 8 left keep their 5 retries.
        let net = half_open(12, 0, ms(0), true);
        assert_eq!(handshake_timeouts(&net), [(ms(7000), 4), (ms(63_000), 8)]);
        let st = *net.hosts[S].stats();
        assert_eq!(
            (st.syn_queue_pruned, st.retransmits.syn_ack),
            (4, 4 * 2 + 8 * 5)
        );
        let q = net.hosts[S].listen_queue(PORT).unwrap();
        assert_eq!((q.syn_received, q.syn_received_old), (0, 0));
        // At most half full (8 of 16), or with pruning off: all 5 retries, gone at 63 s.
        for (n, prune) in [(8, true), (16, false)] {
            let net = half_open(n, 0, ms(0), prune);
            assert_eq!(handshake_timeouts(&net), [(ms(63_000), n as usize)]);
            let st = *net.hosts[S].stats();
            assert_eq!(
                (st.syn_queue_pruned, st.retransmits.syn_ack),
                (0, 5 * n as u64)
            );
        }
    }

    #[test]
    fn young_entries_buy_the_old_ones_more_retries() {
        // 9 entries from 0 s are old from 1 s on. Without company, the first of them to time
        // out at 7 s is out of its 2 retries and dropped, which leaves 8 (half): the other 8
        // keep their 5 retries.
        let net = half_open(9, 0, ms(6500), true);
        assert_eq!(handshake_timeouts(&net), [(ms(7000), 1), (ms(63_000), 8)]);
        // 7 young ones join at 6.5 s, so at 7 s the queue holds 16 with 7 young:
        // 2 * 7 <= 16 takes one retry off (4 left), 4 * 7 > 16 stops there, and the 9
        // resend their third SYN-ACK. The 7 are old from 7.5 s on; at 13.5 s they are out of
        // their 2 retries and dropped (the queue holds 16 down to 10 as they go), and at
        // 15 s one of the 9 is, which leaves 8.
        let net = half_open(9, 7, ms(6500), true);
        assert_eq!(
            handshake_timeouts(&net),
            [(ms(13_500), 7), (ms(15_000), 1), (ms(63_000), 8)]
        );
        let st = *net.hosts[S].stats();
        assert_eq!(
            (st.syn_queue_pruned, st.retransmits.syn_ack),
            (8, 3 + 8 * 5 + 7 * 2)
        );
    }

    #[test]
    fn an_old_entry_that_leaves_the_syn_queue_is_no_longer_counted() {
        let net_cfg = TcpConfig {
            syn_cookies: SynCookies::Off,
            accept_backlog: 16,
            ..zero_isn()
        };
        let mut net = Net::new(net_cfg);
        net.lose = Box::new(|_, h, s| h == S && s.dst.ip != CLIENT_IP);
        for i in 0..3 {
            net.inject(S, spoofed_syn(i));
        }
        net.run_until(ms(1500));
        let q = net.hosts[S].listen_queue(PORT).unwrap();
        assert_eq!((q.syn_received, q.syn_received_old), (3, 3));
        // A RST for one (it leaves SYN-RECEIVED) ...
        let mut rst = spoofed_syn(1);
        rst.seq += 1;
        rst.flags = Flags::RST;
        net.inject(S, rst);
        // ... and the final ACK of another (it is established).
        let mut ack = spoofed_syn(2);
        ack.seq += 1;
        ack.ack = SeqNum(1);
        ack.flags = Flags::ACK;
        net.inject(S, ack);
        let q = net.hosts[S].listen_queue(PORT).unwrap();
        assert_eq!((q.syn_received, q.syn_received_old), (1, 1));
        // A young one counts in the queue only.
        net.inject(S, spoofed_syn(3));
        let q = net.hosts[S].listen_queue(PORT).unwrap();
        assert_eq!((q.syn_received, q.syn_received_old), (2, 1));
    }

    #[test]
    fn manual_accept_queue_overflow_drops_the_final_ack_until_accept() {
        let cfg = TcpConfig {
            accept_backlog: 2,
            ..zero_isn()
        };
        let mut net = Net::with_accept_mode(cfg, AcceptMode::Manual);
        // Once accepted, the server closes when the client does.
        net.app = Box::new(|host, h, now, ev| {
            if let HostEvent::Conn {
                conn,
                event: Event::PeerFin,
                ..
            } = *ev
            {
                if h == S {
                    host.close(now, conn);
                }
            }
        });
        let a = net.connect(1);
        let b = net.connect(2);
        net.run_until(ms(100));
        assert_eq!(queue(&net.hosts[S]), (0, 2));
        let inc = net.incoming(S);
        // Unaccepted connections receive and acknowledge data; the application cannot use
        // them yet.
        net.hosts[C].send(ms(100), a, 100);
        net.drain(C);
        net.hosts[S].send(ms(100), inc[0], 10);
        assert_eq!(net.hosts[S].stats().ignored_app_calls, 1);
        net.run_until(ms(200));
        assert_eq!(received(&net, S, inc[0]), 100);
        // C and D arrive together. C's final ACK makes three waiting (accept_backlog + 1:
        // Linux's `>`); D's is dropped and D stays in SYN-RECEIVED.
        let c = net.connect(3);
        let d = net.connect(4);
        net.run_until(ms(300));
        let inc = net.incoming(S);
        assert_eq!(inc.len(), 4);
        assert_eq!(queue(&net.hosts[S]), (1, 3));
        assert_eq!(net.hosts[S].stats().accept_queue_overflows, 1);
        assert_eq!(net.hosts[S].conn_state(inc[3]), Some(SynReceived));
        assert_eq!(net.hosts[C].conn_state(d), Some(Established));
        // The application takes the oldest at 500 ms.
        net.run_until(ms(500));
        assert_eq!(net.hosts[S].accept(PORT), Some(inc[0]));
        assert_eq!(queue(&net.hosts[S]), (1, 2));
        // D's SYN-ACK, retransmitted by its RTO at 1210 ms, draws the client's ACK, which
        // now fits.
        net.run_until(ms(1300));
        assert!(net
            .sent
            .iter()
            .any(|x| x.0 == ms(1210) && x.1 == S && x.2.flags == Flags::SYN | Flags::ACK));
        assert_eq!(
            conn_states(&net, S, inc[3]),
            [
                (ms(210), Listen, SynReceived),
                (ms(1230), SynReceived, Established)
            ]
        );
        assert_eq!(queue(&net.hosts[S]), (0, 3));
        // Full again: a SYN is dropped now (sk_acceptq_is_full in tcp_conn_request).
        let e = net.connect(5);
        net.run_until(ms(1400));
        assert_eq!(net.hosts[S].stats().accept_queue_overflows, 2);
        assert_eq!(net.incoming(S).len(), 4);
        // Accepted in arrival order; E's SYN, sent again at 2.3 s, then gets in.
        assert_eq!(net.hosts[S].accept(PORT), Some(inc[1]));
        assert_eq!(net.hosts[S].accept(PORT), Some(inc[2]));
        assert_eq!(net.hosts[S].accept(PORT), Some(inc[3]));
        assert_eq!(net.hosts[S].accept(PORT), None);
        net.run_until(ms(3000));
        assert_eq!(net.hosts[C].conn_state(e), Some(Established));
        assert_eq!(queue(&net.hosts[S]), (0, 1));
        assert_eq!(net.hosts[S].accept(PORT), Some(net.incoming(S)[4]));
        for conn in [a, b, c, d, e] {
            net.hosts[C].close(ms(3000), conn);
        }
        net.drain(C);
        net.run();
        assert_eq!(queue(&net.hosts[S]), (0, 0));
        assert_eq!(net.hosts[S].stats().accept_queue_peak, 3);
        assert_eq!(net.closes(S).len(), 5);
        assert_eq!(net.hosts[C].connections() + net.hosts[S].connections(), 0);
        assert_eq!(
            net.hosts[C].stats().retransmits.data,
            0,
            "the 100 bytes were ACKed"
        );
    }

    #[test]
    fn a_connection_reset_while_waiting_leaves_the_accept_queue() {
        let mut net = Net::with_accept_mode(zero_isn(), AcceptMode::Manual);
        let a = net.connect(1);
        net.connect(2);
        net.run_until(ms(100));
        assert_eq!(queue(&net.hosts[S]), (0, 2));
        net.hosts[C].abort(ms(100), a);
        net.drain(C);
        net.run_until(ms(200));
        let inc = net.incoming(S);
        assert_eq!(net.closes(S), [(ms(110), CloseReason::Reset)]);
        assert_eq!(queue(&net.hosts[S]), (0, 1));
        // The reset one is skipped; the application gets the live one.
        assert_eq!(net.hosts[S].accept(PORT), Some(inc[1]));
        assert_eq!(net.hosts[S].accept(PORT), None);
        assert_eq!(queue(&net.hosts[S]), (0, 0));
        // Now it is the application's: close works.
        net.hosts[S].close(ms(200), inc[1]);
        assert_eq!(net.hosts[S].conn_state(inc[1]), Some(FinWait1));
    }

    #[test]
    fn a_cookie_connection_has_no_rtt_sample_so_linux_starts_from_3s() {
        // The cookie's SYN-ACK left no send time to measure the final ACK by (tcpsim has no
        // timestamps), so Linux's tcp_init_metrics finds srtt 0 and sets the RTO to
        // TCP_TIMEOUT_FALLBACK: the server's lost response comes again 3 s after it left.
        // RFC 6298 §5.7 falls back only after a retransmitted handshake: 1 s.
        let resent_after = |rto_estimator| {
            let cfg = TcpConfig {
                syn_cookies: SynCookies::Always,
                rto_estimator,
                ..zero_isn()
            };
            let mut net = Net::new(cfg);
            net.app = request_response(100, 1000, true);
            net.lose = Box::new(|t, h, s| h == S && s.payload_len > 0 && t == ms(30));
            net.connect(1);
            net.run_until(ms(5000));
            assert_eq!(net.hosts[S].stats().syn_cookies_validated, 1);
            let data: Vec<_> = net
                .sent
                .iter()
                .filter(|s| s.1 == S && s.2.payload_len > 0)
                .map(|s| s.0)
                .collect();
            assert_eq!(data[0], ms(30), "{data:?}");
            data[1] - data[0]
        };
        assert_eq!(resent_after(RtoEstimator::Linux), SimDuration::from_secs(3));
        assert_eq!(
            resent_after(RtoEstimator::Rfc6298),
            SimDuration::from_secs(1)
        );
    }

    #[test]
    fn cookie_ack_finding_the_accept_queue_full_is_dropped_and_its_data_retried() {
        let cfg = TcpConfig {
            accept_backlog: 1,
            syn_cookies: SynCookies::Always,
            ..zero_isn()
        };
        let mut net = Net::with_accept_mode(cfg, AcceptMode::Manual);
        net.app = Box::new(|host, h, now, ev| {
            if let HostEvent::Conn {
                conn,
                event: Event::Connected,
                ..
            } = *ev
            {
                if h == C {
                    host.send(now, conn, 100);
                }
            }
        });
        for i in 1..=3 {
            net.connect(i);
        }
        net.run_until(ms(100));
        // Three cookies; the first two ACKs fill the queue; the third client's ACK and its
        // data segment right behind it both carry a valid cookie and are both dropped.
        let st = *net.hosts[S].stats();
        assert_eq!((st.syn_cookies_sent, st.syn_cookies_validated), (3, 4));
        assert_eq!(st.accept_queue_overflows, 2);
        assert_eq!(queue(&net.hosts[S]), (0, 2));
        assert_eq!(net.hosts[S].connections(), 2);
        // Its data, retransmitted at 240 ms (RTO 220 ms on this 20 ms RTT), is dropped again
        // (nothing accepted yet); at 680 ms it carries the same cookie into the room left by
        // accept at 300 ms.
        net.run_until(ms(300));
        let first = net.hosts[S].accept(PORT).unwrap();
        assert_eq!(first, net.incoming(S)[0]);
        net.run_until(ms(1000));
        let st = *net.hosts[S].stats();
        assert_eq!(
            (st.syn_cookies_validated, st.accept_queue_overflows),
            (6, 3)
        );
        assert_eq!(queue(&net.hosts[S]), (0, 2));
        let third = net.incoming(S)[2];
        assert_eq!(
            conn_states(&net, S, third)[1],
            (ms(690), SynReceived, Established)
        );
        assert_eq!(received(&net, S, third), 100);
    }
}

/// TIME-WAIT records share one wake-up (the lane); live connections' wake-ups are cancelled
/// when they are no longer needed; the state filter and the per-state counts.
mod lane_and_timers {
    use super::*;

    #[test]
    fn records_expire_in_order_and_a_restart_moves_behind_later_ones() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        // Connection 2's final ACK (at 160 ms) is lost: the FIN comes again after the
        // server's RTO (220 ms on this 20 ms RTT), so its TIME-WAIT restarts at 380 ms, after
        // connection 3 entered TIME-WAIT at 260 ms.
        net.lose = Box::new(|t, h, s| h == C && s.flags == Flags::ACK && t == ms(160));
        net.connect(1);
        net.run_until(ms(100));
        net.connect(2);
        net.run_until(ms(200));
        net.connect(3);
        net.run_until(ms(300));
        assert_eq!(net.hosts[C].time_wait_count(), 3);
        net.run();
        assert_eq!(
            net.closes(C),
            [
                (ms(60_060), CloseReason::Normal),
                (ms(60_260), CloseReason::Normal),
                (ms(60_380), CloseReason::Normal),
            ]
        );
        assert_eq!(net.hosts[C].time_wait_count(), 0);
        // Each connection's live wake-up was cancelled when it became a TIME-WAIT record.
        let cancelled = net
            .events
            .iter()
            .filter(|(_, h, e)| *h == C && matches!(e, HostEvent::TimerCancelled { .. }))
            .count();
        assert!(cancelled >= 3, "{cancelled} cancellations");
    }

    #[test]
    fn lane_entries_seconds_apart_keep_their_times() {
        // The lane keeps each expiry as a 32-bit delta in ns from the previous one: 5, 15
        // and 10 s (over 2^32 ns) between records, a stale entry among them (connection
        // 2's final ACK is lost at 5.06 s, so its TIME-WAIT restarts at 5.28 s), and an
        // empty lane in between (connection 5).
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        net.lose = Box::new(|t, h, s| h == C && s.flags == Flags::ACK && t == ms(5_060));
        for (inc, at) in [(1, 0), (2, 5_000), (3, 20_000), (4, 30_000), (5, 200_000)] {
            net.run_until(ms(at));
            net.connect(inc);
        }
        net.run();
        assert_eq!(
            net.closes(C),
            [60_060, 65_280, 80_060, 90_060, 260_060].map(|t| (ms(t), CloseReason::Normal))
        );
        assert_eq!(net.hosts[C].time_wait_count(), 0);
    }

    #[test]
    fn a_tag_wider_than_32_bits_survives_time_wait() {
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        let wide = 0xdead_beef_0000_0007;
        let c1 = net.hosts[C].connect(net.now, SERVER, 7, wide).unwrap();
        net.drain(C);
        // The second connection's record reuses the first one's, with a narrow tag.
        net.run_until(ms(61_000));
        let c2 = net.hosts[C].connect(net.now, SERVER, 8, 8).unwrap();
        net.drain(C);
        net.run();
        let tags: Vec<(ConnId, u64)> = net
            .events
            .iter()
            .filter_map(|e| match e.2 {
                HostEvent::Conn { conn, tag, .. } if e.1 == C => Some((conn, tag)),
                _ => None,
            })
            .collect();
        assert!(tags
            .iter()
            .all(|&(c, t)| (c == c1 && t == wide) || (c == c2 && t == 8)));
        assert_eq!(
            net.closes(C),
            [60_060, 121_060].map(|t| (ms(t), CloseReason::Normal))
        );
        // Both Closed events come from TIME-WAIT records and carry their tags.
        let last_tags: Vec<u64> = net
            .events
            .iter()
            .filter_map(|e| match e.2 {
                HostEvent::Conn {
                    tag,
                    event: Event::Closed { .. },
                    ..
                } if e.1 == C => Some(tag),
                _ => None,
            })
            .collect();
        assert_eq!(last_tags, [wide, 8]);
    }

    #[test]
    fn a_tag_other_than_the_incarnation_survives_time_wait() {
        // A TIME-WAIT record keeps no tag of its own, only the incarnation: other tags are
        // kept aside, narrow ones too.
        let mut net = Net::new(TcpConfig::default());
        net.app = request_response(100, 1000, true);
        let c1 = net.hosts[C].connect(net.now, SERVER, 9, 5).unwrap();
        net.drain(C);
        net.run();
        let closed: Vec<(ConnId, u64)> = net
            .events
            .iter()
            .filter_map(|e| match e.2 {
                HostEvent::Conn {
                    conn,
                    tag,
                    event: Event::Closed { .. },
                } if e.1 == C => Some((conn, tag)),
                _ => None,
            })
            .collect();
        assert_eq!(closed, [(c1, 5)]);
        assert_eq!(net.closes(C), [(ms(60_060), CloseReason::Normal)]);
    }

    #[test]
    fn state_filter_and_per_state_counts() {
        let mut net = Net::new(TcpConfig::default());
        net.hosts[C].report_state_changes(&[State::TimeWait]);
        net.app = request_response(100, 1000, true);
        net.connect(1);
        net.run_until(ms(100));
        let st = net.hosts[C].stats().in_state;
        assert_eq!(st[State::TimeWait as usize], 1);
        assert_eq!(st[State::Established as usize], 0);
        assert_eq!(net.hosts[S].stats().in_state[State::LastAck as usize], 0);
        net.run();
        let into: Vec<State> = net.states(C).into_iter().map(|s| s.2).collect();
        assert_eq!(
            into,
            [State::TimeWait],
            "only TIME-WAIT entries are reported"
        );
        // The server reports every transition (no filter).
        assert!(net.states(S).len() >= 4);
        for h in [C, S] {
            let st = net.hosts[h].stats().in_state;
            for s in [
                State::SynSent,
                State::Established,
                State::TimeWait,
                State::LastAck,
            ] {
                assert_eq!(st[s as usize], 0, "host {h} still counts {s:?}");
            }
        }
    }
}

/// `queued_segment`/`queued_event` with `clear_transmit`/`clear_events` take exactly what
/// `poll_transmit`/`poll_event` would, including what is queued while the queue is read.
mod one_pass_drain {
    use super::*;

    fn pair() -> [Host; 2] {
        let mut server = Host::new(SERVER_IP, TcpConfig::default(), 2);
        server.listen(PORT).unwrap();
        [Host::new(CLIENT_IP, TcpConfig::default(), 1), server]
    }

    fn polled(h: &mut Host) -> (Vec<Segment>, Vec<HostEvent>) {
        (
            std::iter::from_fn(|| h.poll_transmit()).collect(),
            std::iter::from_fn(|| h.poll_event()).collect(),
        )
    }

    fn read(h: &mut Host) -> (Vec<Segment>, Vec<HostEvent>) {
        let mut segs = Vec::new();
        while let Some(s) = h.queued_segment(segs.len()) {
            segs.push(s);
        }
        h.clear_transmit();
        let mut events = Vec::new();
        while let Some(e) = h.queued_event(events.len()) {
            events.push(e);
        }
        h.clear_events();
        assert_eq!((h.poll_transmit(), h.poll_event()), (None, None));
        (segs, events)
    }

    #[test]
    fn an_index_past_the_queue_finds_nothing_after_a_poll() {
        let [mut client, _] = pair();
        client.connect(SimTime::ZERO, SERVER, 1, 1).unwrap();
        client.connect(SimTime::ZERO, SERVER, 2, 2).unwrap();
        // Two SYNs and their events queued; one of each taken, still in the buffer.
        let (first_syn, first_ev) = (client.poll_transmit(), client.poll_event());
        assert!(first_syn.is_some() && first_ev.is_some());
        let second_syn = client.queued_segment(0).expect("the second SYN");
        assert_eq!(second_syn.incarnation, 2);
        assert_ne!(client.queued_event(0), None);
        for i in [1, usize::MAX] {
            assert_eq!(client.queued_segment(i), None, "segment {i}");
        }
        let events = std::iter::from_fn(|| client.poll_event()).count();
        client.connect(SimTime::ZERO, SERVER, 3, 3).unwrap();
        let _ = client.poll_event();
        assert!(events > 0);
        assert_eq!(client.queued_event(usize::MAX), None);
    }

    #[test]
    fn a_lifecycle_drained_in_one_pass_matches_polling() {
        let (mut a, mut b) = (pair(), pair());
        let t0 = SimTime::ZERO;
        let (ca, cb) = (
            a[0].connect(t0, SERVER, 1, 1).unwrap(),
            b[0].connect(t0, SERVER, 1, 1).unwrap(),
        );
        let mut segments = 0;
        let (mut closed, mut server_closed) = (false, false);
        let mut server = None;
        for step in 1..20u64 {
            let now = t0 + SimDuration::from_millis(10 * step);
            for side in 0..2 {
                let (pa, pb) = (polled(&mut a[side]), read(&mut b[side]));
                assert_eq!(pa, pb, "step {step}, host {side}");
                segments += pa.0.len();
                for e in &pa.1 {
                    if let HostEvent::Incoming { conn, .. } = *e {
                        server = Some(conn);
                    }
                }
                for seg in &pa.0 {
                    a[1 - side].handle_segment(now, seg);
                    b[1 - side].handle_segment(now, seg);
                }
            }
            if !closed && a[0].conn_state(ca) == Some(State::Established) {
                a[0].close(now, ca);
                b[0].close(now, cb);
                closed = true;
            }
            let s = server.expect("the SYN is out by now");
            if !server_closed && a[1].conn_state(s) == Some(State::CloseWait) {
                // Both servers numbered their connection alike (the events matched).
                a[1].close(now, s);
                b[1].close(now, s);
                server_closed = true;
            }
        }
        assert!(closed && server_closed);
        // SYN, SYN-ACK, ACK, FIN, ACK, FIN, ACK.
        assert_eq!(segments, 7);
        assert_eq!(a[1].connections(), 0);
    }

    #[test]
    fn events_queued_while_reading_are_read_in_the_same_pass() {
        let [mut c, _] = pair();
        let t0 = SimTime::ZERO;
        c.connect(t0, SERVER, 1, 1).unwrap();
        let mut n = 0;
        while c.queued_event(n).is_some() {
            n += 1;
        }
        assert!(n > 0);
        // A call into the host between reads appends its events behind the unread ones.
        c.connect(t0, SERVER, 2, 2).unwrap();
        let first = c.queued_event(0);
        assert!(c.queued_event(n).is_some());
        assert_eq!(c.poll_event(), first);
        c.clear_events();
        assert_eq!(c.poll_event(), None);
        assert!(c.queued_segment(1).is_some());
        c.clear_transmit();
        assert_eq!(c.poll_transmit(), None);
    }
}

mod prefetch_hint {
    use super::*;

    fn timer_slot(h: &mut Host) -> Option<u32> {
        std::iter::from_fn(|| h.poll_event()).find_map(|e| match e {
            HostEvent::Timer { token, .. } => token.slot(),
            _ => None,
        })
    }

    #[test]
    fn prefetch_for_names_the_slot_of_the_segments_connection() {
        let mut server = Host::new(SERVER_IP, TcpConfig::default(), 2);
        server.listen(PORT).unwrap();
        let mut client = Host::new(CLIENT_IP, TcpConfig::default(), 1);
        let t0 = SimTime::ZERO;
        // Two connections, so that slot 0 is not the answer by chance.
        client.connect(t0, SERVER, 6, 6).unwrap();
        let _ = timer_slot(&mut client);
        let _ = client.poll_transmit();
        client.connect(t0, SERVER, 7, 7).unwrap();
        let client_slot = timer_slot(&mut client);
        assert_eq!(client_slot, Some(1));
        let syn = client.poll_transmit().unwrap();
        // Nothing with this incarnation on the server yet.
        assert_eq!(server.prefetch_for(&syn), None);
        server.handle_segment(t0, &syn);
        let server_slot = timer_slot(&mut server);
        assert!(server_slot.is_some());
        let synack = server.poll_transmit().unwrap();
        assert_eq!(client.prefetch_for(&synack), client_slot);
        client.handle_segment(t0, &synack);
        let ack = client.poll_transmit().unwrap();
        assert_eq!(server.prefetch_for(&ack), server_slot);
        // A segment of an incarnation neither host has seen.
        let stray = Segment {
            incarnation: 12_345,
            ..ack
        };
        assert_eq!(server.prefetch_for(&stray), None);
    }
}
