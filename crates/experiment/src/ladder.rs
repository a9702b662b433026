//! A [`Trace`] as a two-column sequence ("ladder") diagram: the client's lifeline on the left,
//! the server's on the right, simulated time down the left margin.
//!
//! ```text
//!   time ms  client                                                   server
//!            | CLOSED                                                 | LISTEN
//!            |                                                        |
//!     0.000  |----------------- SYN seq=0 mss=1460 ------------------>| arrives 10.000
//!            | CLOSED -> SYN_SENT (connect)                           |
//!            |                                                        |
//!    10.000  |<------------ SYN|ACK seq=0 ack=1 mss=1460 -------------| arrives 20.000
//!            |                                                        | LISTEN -> SYN_RECEIVED
//!            |                                                        | (rcvd SYN)
//!            |                                                        |
//! ```
//!
//! Choices, all for readability of retransmission stories:
//! - Arrows are horizontal and drawn at the instant the segment is *sent*, in trace order (the
//!   arrow first, then the state change it came with, as in a textbook ladder). Where it went
//!   is the arrow's fate, in the right margin: `arrives T` (arrival instant), `arrives T1 and
//!   T2` for a segment the link duplicated (its label then ends in `(duplicated)`), or
//!   `LOST (reason)` with the arrow ending in `X` part-way across. Slanted arrows would cross
//!   each other and the state notes as soon as two segments are in flight.
//! - Deliveries therefore get no row of their own; the receiver's reaction (state change,
//!   answer) follows at the arrival instant, and a state change names the flags that caused it.
//! - Labels carry flags, sequence/ack numbers relative to each side's ISN, `len` (payload) and
//!   `mss`; the window is left to the text trace. A label too long for the arrow goes on the
//!   rows just above it.
//! - Pure ASCII (`|`, `-`, `>`, `X`): box-drawing characters are "ambiguous width" in East
//!   Asian terminals and would break the columns there.
//! - Every line is at most [`LADDER_MAX_WIDTH`] columns: long notes wrap, and the time margin
//!   widens for long runs at the expense of the arrows. Time is in milliseconds with three
//!   decimals (microseconds; the CSV trace has the exact nanoseconds); it is printed once per
//!   instant, and an empty row separates instants.

use std::io::{self, Write};

use sim_core::SimTime;
use tcp_model::{Flags, Segment, State};

use crate::engine::Side;
use crate::trace::{drop_reason_name, other, state_label, AppCall, Cause, TimerKind};
use crate::trace::{Trace, TraceKind};

/// Widest line of the diagram, in columns (= bytes: the diagram is ASCII). 100 fits a
/// side-by-side terminal or a code review pane.
pub const LADDER_MAX_WIDTH: usize = 100;

/// Narrowest time margin: `60060.000` (a 60 s TIME-WAIT, Linux's 2×MSL) fits.
const MIN_TIME_WIDTH: usize = 9;
/// The server's notes, right of its lifeline: `SYN_RECEIVED -> ESTABLISHED` fits on one line.
const NOTE_WIDTH: usize = 30;
/// Columns besides the time margin, the space between lifelines and the server's notes: two
/// spaces after the time, two lifelines, one space before the server's notes.
const FRAME_WIDTH: usize = 5;
/// Arrows never get narrower than this, however long the time margin.
const MIN_MIDDLE_WIDTH: usize = 40;

/// Renders `trace` as a ladder diagram; see the module documentation for the layout.
pub fn write_ladder(trace: &Trace, w: &mut impl Write) -> io::Result<()> {
    let arrivals = arrivals(trace);
    let time_width = trace
        .events
        .iter()
        .map(|e| millis(e.time).len())
        .max()
        .unwrap_or(0)
        .max(MIN_TIME_WIDTH);
    let middle = LADDER_MAX_WIDTH
        .saturating_sub(time_width + FRAME_WIDTH + NOTE_WIDTH)
        .max(MIN_MIDDLE_WIDTH);
    let mut out = Ladder {
        w,
        time_width,
        middle,
        last_time: None,
    };
    out.header(trace)?;
    let mut i = 0;
    while i < trace.events.len() {
        let e = &trace.events[i];
        match &e.kind {
            TraceKind::Send {
                seg,
                retransmission,
                state,
            } => {
                if seg.incarnation != trace.connection {
                    // Another connection's answer to this one's segment (see
                    // `Tracer::adopted`): say who sends it, before the arrow.
                    out.note(
                        e.time,
                        e.side,
                        &format!(
                            "{} of connection {} answers",
                            state_label(*state),
                            seg.incarnation
                        ),
                    )?;
                }
                let mut label = seg_label(trace, e.side, seg);
                if *retransmission {
                    label.push_str(" (retransmission)");
                }
                // The link's verdict on a segment immediately follows its send.
                let verdict = trace
                    .events
                    .get(i + 1)
                    .filter(|n| n.side == e.side)
                    .map(|n| &n.kind);
                let fate = match verdict {
                    Some(TraceKind::Drop { seg: s, reason }) if s == seg => {
                        i += 1;
                        Fate::Lost(drop_reason_name(*reason))
                    }
                    Some(TraceKind::Duplicate {
                        seg: s,
                        first_at,
                        second_at,
                    }) if s == seg => {
                        i += 1;
                        label.push_str(" (duplicated)");
                        Fate::Duplicated(*first_at, *second_at)
                    }
                    _ => Fate::Arrived(arrivals[i]),
                };
                out.arrow(e.time, e.side, &label, fate)?;
            }
            TraceKind::Drop { seg, reason } => out.note(
                e.time,
                e.side,
                &format!(
                    "{} {} lost ({})",
                    seg.flags,
                    seq_text(trace, e.side, seg),
                    drop_reason_name(*reason)
                ),
            )?,
            TraceKind::Duplicate {
                seg,
                first_at,
                second_at,
            } => out.note(
                e.time,
                e.side,
                &format!(
                    "{} {} duplicated, at {} and {}",
                    seg.flags,
                    seq_text(trace, e.side, seg),
                    millis(*first_at),
                    millis(*second_at)
                ),
            )?,
            TraceKind::Deliver { .. } => {}
            // The arrow above shows the segment; the note says what became of it.
            TraceKind::Discard { seg, reason } => out.note_parts(
                e.time,
                e.side,
                &[
                    format!("{} not accepted:", seg.flags),
                    reason.name().to_string(),
                ],
            )?,
            TraceKind::State {
                from,
                to,
                cause,
                closed,
            } => {
                // Parts wrap as units: `LAST_ACK -> CLOSED` / `(rcvd ACK)` / `closed: normal`.
                let mut parts = vec![format!("{} -> {}", state_label(*from), state_label(*to))];
                let c = cause_text(trace, cause);
                if !c.is_empty() {
                    parts.push(format!("({c})"));
                }
                if let Some(r) = closed {
                    parts.push(format!("closed: {}", r.name()));
                }
                out.note_parts(e.time, e.side, &parts)?;
            }
            TraceKind::App { call, failed } => {
                let s = match (call, failed) {
                    (_, true) => format!(
                        "{} failed: {}",
                        call.name(),
                        crate::trace::connect_failure(e.side)
                    ),
                    (AppCall::Send { bytes }, false) => format!("app sends {bytes} bytes"),
                    (c, false) => format!("app calls {}", c.name()),
                };
                out.note(e.time, e.side, &s)?;
            }
            TraceKind::Timer { timer } => {
                out.note(e.time, e.side, &format!("{} fires", timer_text(*timer)))?
            }
        }
        i += 1;
    }
    if trace.truncated {
        writeln!(
            out.w,
            "(trace truncated after {} events)",
            trace.events.len()
        )?;
    }
    Ok(())
}

/// Where an arrow went.
enum Fate {
    /// Delivered once, at this instant (`None`: the trace ends before it arrives).
    Arrived(Option<SimTime>),
    Duplicated(SimTime, SimTime),
    Lost(&'static str),
}

/// For each send event, the instant its (only) copy reached the other side: deliveries are
/// matched to the earliest earlier send of an identical segment still in flight. Identical
/// segments are interchangeable, so a swap among them changes nothing shown.
fn arrivals(trace: &Trace) -> Vec<Option<SimTime>> {
    let ev = &trace.events;
    let mut at = vec![None; ev.len()];
    // (send index, copies still expected); bounded by the segments in flight.
    let mut in_flight: Vec<(usize, u8)> = Vec::new();
    for (i, e) in ev.iter().enumerate() {
        match &e.kind {
            TraceKind::Send { seg, .. } => {
                let copies = match ev.get(i + 1).map(|n| &n.kind) {
                    Some(TraceKind::Drop { seg: s, .. }) if s == seg => 0,
                    Some(TraceKind::Duplicate { seg: s, .. }) if s == seg => 2,
                    _ => 1,
                };
                if copies > 0 {
                    in_flight.push((i, copies));
                }
            }
            TraceKind::Deliver { seg } => {
                let found = in_flight.iter().position(|&(s, _)| {
                    ev[s].side == other(e.side)
                        && matches!(&ev[s].kind, TraceKind::Send { seg: x, .. } if x == seg)
                });
                if let Some(p) = found {
                    let (s, copies) = &mut in_flight[p];
                    at[*s].get_or_insert(e.time);
                    *copies -= 1;
                    if *copies == 0 {
                        in_flight.remove(p);
                    }
                }
            }
            _ => {}
        }
    }
    at
}

/// `1020.000`: milliseconds with microsecond decimals.
fn millis(t: SimTime) -> String {
    let ns = t.as_nanos();
    format!("{}.{:03}", ns / 1_000_000, ns % 1_000_000 / 1_000)
}

/// `seq=1 ack=101`, relative when the ISNs are known, else absolute marked `(abs)`.
fn seq_text(trace: &Trace, from: Side, seg: &Segment) -> String {
    let mut s = match trace.rel_seq(from, seg) {
        Some(r) => format!("seq={r}"),
        None => format!("seq={}(abs)", seg.seq.0),
    };
    if seg.flags.contains(Flags::ACK) {
        match trace.rel_ack(from, seg) {
            Some(r) => s.push_str(&format!(" ack={r}")),
            None => s.push_str(&format!(" ack={}(abs)", seg.ack.0)),
        }
    }
    s
}

/// `PSH|ACK seq=1 ack=1 len=100`, `SYN seq=0 mss=1460`.
fn seg_label(trace: &Trace, from: Side, seg: &Segment) -> String {
    let mut s = format!("{} {}", seg.flags, seq_text(trace, from, seg));
    if seg.payload_len > 0 {
        s.push_str(&format!(" len={}", seg.payload_len));
    }
    if seg.mss != 0 {
        s.push_str(&format!(" mss={}", seg.mss));
    }
    s
}

fn timer_text(t: TimerKind) -> &'static str {
    match t {
        TimerKind::Rto => "RTO timer",
        TimerKind::TimeWait => "2MSL timer",
        TimerKind::FinWait2 => "FIN_WAIT_2 timer",
    }
}

/// The cause of a state change, short: the arrow just above usually shows the segment.
fn cause_text(trace: &Trace, cause: &Cause) -> String {
    match cause {
        Cause::Rcvd(seg) if seg.incarnation != trace.connection => {
            format!("rcvd {} of connection {}", seg.flags, seg.incarnation)
        }
        Cause::Rcvd(seg) => format!("rcvd {}", seg.flags),
        Cause::Timer(t) => timer_text(*t).to_string(),
        Cause::App(a) => a.name().to_string(),
        Cause::Unknown => String::new(),
    }
}

/// Splits `text` at spaces into lines of at most `width` columns (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word;
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // ASCII in practice; cut at a char boundary all the same.
            let mut cut = width;
            while !word.is_char_boundary(cut) {
                cut -= 1;
            }
            lines.push(word[..cut].to_string());
            word = &word[cut..];
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Packs `parts` (joined by spaces) into lines of at most `width` columns, breaking only
/// between parts unless a part alone is too long.
fn wrap_parts(parts: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for part in parts {
        if !line.is_empty() && line.len() + 1 + part.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if part.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let mut w = wrap(part, width);
            line = w.pop().unwrap_or_default();
            lines.extend(w);
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(part);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

struct Ladder<'a, W: Write> {
    w: &'a mut W,
    time_width: usize,
    /// Columns strictly between the two lifelines.
    middle: usize,
    /// The instant of the last row that showed its time.
    last_time: Option<SimTime>,
}

impl<W: Write> Ladder<'_, W> {
    /// One line: time margin, client lifeline, `mid` (padded), server lifeline, `right`.
    fn row(&mut self, time: &str, mid: &str, right: &str) -> io::Result<()> {
        let mut line = format!(
            "{time:>tw$}  |{mid:<m$}|",
            tw = self.time_width,
            m = self.middle
        );
        if !right.is_empty() {
            line.push(' ');
            line.push_str(right);
        }
        writeln!(self.w, "{}", line.trim_end())
    }

    /// The time to show on the first row for an event at `t`: once per instant, after an
    /// empty row separating it from the previous instant.
    fn time_cell(&mut self, t: SimTime) -> io::Result<String> {
        if self.last_time == Some(t) {
            return Ok(String::new());
        }
        self.row("", "", "")?;
        self.last_time = Some(t);
        Ok(millis(t))
    }

    fn header(&mut self, trace: &Trace) -> io::Result<()> {
        let first_from = |side: Side, default: State| {
            trace
                .events
                .iter()
                .find_map(|e| match e.kind {
                    TraceKind::State { from, .. } if e.side == side => Some(from),
                    _ => None,
                })
                .unwrap_or(default)
        };
        let line = format!(
            "{:>tw$}  {:<m$}{}",
            "time ms",
            "client",
            "server",
            tw = self.time_width,
            m = self.middle + 1
        );
        writeln!(self.w, "{line}")?;
        let client = format!(" {}", state_label(first_from(Side::Client, State::Closed)));
        let start = if trace.server_listens {
            State::Listen
        } else {
            State::Closed
        };
        let server = state_label(first_from(Side::Server, start));
        self.row("", &client, &server)
    }

    /// A note in `side`'s column: between the lifelines for the client, right of the server's.
    fn note(&mut self, t: SimTime, side: Side, text: &str) -> io::Result<()> {
        self.note_parts(t, side, &[text.to_string()])
    }

    /// A note made of parts that wrap as units where they can.
    fn note_parts(&mut self, t: SimTime, side: Side, parts: &[String]) -> io::Result<()> {
        let mut time = self.time_cell(t)?;
        let width = match side {
            Side::Client => self.middle - 1,
            Side::Server => NOTE_WIDTH,
        };
        for line in wrap_parts(parts, width) {
            match side {
                Side::Client => self.row(&time, &format!(" {line}"), "")?,
                Side::Server => self.row(&time, "", &line)?,
            }
            time.clear();
        }
        Ok(())
    }

    fn arrow(&mut self, t: SimTime, from: Side, label: &str, fate: Fate) -> io::Result<()> {
        let mut time = self.time_cell(t)?;
        let m = self.middle;
        let lost = matches!(fate, Fate::Lost(_));
        // A lost arrow stops about two thirds of the way, longer if its label needs it.
        let room = m - 1;
        let inline = label.len() + 2 + 4 <= room;
        let shaft = if !lost {
            room
        } else if inline {
            (m * 2 / 3).max(label.len() + 2 + 4).min(room)
        } else {
            m * 2 / 3
        };
        if !inline {
            for line in wrap(label, m - 2) {
                let pad = (m - line.len()) / 2;
                self.row(&time, &format!("{:pad$}{line}", ""), "")?;
                time.clear();
            }
        }
        // `shaft` columns of dashes with the label centred, then the head (`>`, `<`, `X`).
        let body = if inline {
            let dashes = shaft - label.len() - 2;
            let left = dashes / 2;
            format!("{} {label} {}", "-".repeat(left), "-".repeat(dashes - left))
        } else {
            "-".repeat(shaft)
        };
        let mid = match (from, lost) {
            (Side::Client, false) => format!("{body}>"),
            (Side::Client, true) => format!("{body}X"),
            (Side::Server, false) => format!("<{body}"),
            (Side::Server, true) => format!("{:pad$}X{body}", "", pad = m - 1 - shaft),
        };
        let right = match fate {
            Fate::Arrived(Some(a)) => format!("arrives {}", millis(a)),
            Fate::Arrived(None) => "still in flight at the end".to_string(),
            Fate::Duplicated(a, b) => format!("arrives {} and {}", millis(a), millis(b)),
            Fate::Lost(reason) => format!("LOST ({reason})"),
        };
        let right = wrap(&right, NOTE_WIDTH);
        for (k, r) in right.iter().enumerate() {
            if k == 0 {
                self.row(&time, &mid, r)?;
            } else {
                self.row("", "", r)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_splits_at_spaces_and_cuts_long_words() {
        assert_eq!(
            wrap("LAST_ACK -> CLOSED (rcvd ACK)", 18),
            ["LAST_ACK -> CLOSED", "(rcvd ACK)"]
        );
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("", 5), [""]);
        let parts = ["LISTEN -> SYN_RECEIVED", "(rcvd SYN)", "x"].map(String::from);
        assert_eq!(
            wrap_parts(&parts, 30),
            ["LISTEN -> SYN_RECEIVED", "(rcvd SYN) x"]
        );
        assert_eq!(
            wrap_parts(&parts[..2], 40),
            ["LISTEN -> SYN_RECEIVED (rcvd SYN)"]
        );
        assert_eq!(
            wrap_parts(&parts[..1], 10),
            ["LISTEN ->", "SYN_RECEIV", "ED"]
        );
    }

    /// A hand-made trace whose server ISN is unknown, so labels carry long absolute numbers:
    /// the label moves above its arrow; a truncated trace says so.
    #[test]
    fn long_labels_go_above_the_arrow_and_truncation_is_reported() {
        use crate::trace::TraceEvent;
        use tcp_model::{Addr, SeqNum};
        let seg = Segment {
            src: Addr::new(0x0a00_0002, 80),
            dst: Addr::new(0x0a00_0001, 40_000),
            seq: SeqNum(4_000_000_000),
            ack: SeqNum(4_100_000_000),
            flags: Flags::FIN | Flags::PSH | Flags::ACK,
            window: 65_535,
            mss: 0,
            payload_len: 65_000,
            incarnation: 0,
        };
        let t = Trace {
            connection: 0,
            events: vec![TraceEvent {
                time: SimTime::from_nanos(5_000_000),
                side: Side::Server,
                kind: TraceKind::Send {
                    seg,
                    state: State::Established,
                    retransmission: true,
                },
            }],
            isn: [None, None],
            unnumbered: Vec::new(),
            truncated: true,
            server_listens: true,
        };
        let mut v = Vec::new();
        write_ladder(&t, &mut v).unwrap();
        let s = String::from_utf8(v).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines.iter().all(|l| l.len() <= LADDER_MAX_WIDTH), "{s}");
        assert!(lines[3].starts_with("    5.000  |  ") && lines[3].contains("FIN|PSH|ACK"));
        assert!(lines[3].contains("seq=4000000000(abs)"), "{s}");
        assert!(lines[4].contains("len=65000 (retransmission)"), "{s}");
        assert!(
            lines[5].starts_with("           |<-----")
                && lines[5].ends_with("-| still in flight at the end"),
            "{s}"
        );
        assert_eq!(lines[6], "(trace truncated after 1 events)");
    }

    #[test]
    fn millis_has_three_decimals() {
        assert_eq!(millis(SimTime::from_nanos(1_020_000_999)), "1020.000");
        assert_eq!(millis(SimTime::from_nanos(1_500)), "0.001");
    }
}
