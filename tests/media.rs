//! Media whose SDP is read after its first packets (early media, a mirror that
//! reorders, a dialog on another worker) is still judged as signalled media.

mod common;

use std::net::Ipv4Addr;

use cleartrace::capture::Packet;
use cleartrace::config::Config;
use cleartrace::engine::Engine;
use cleartrace::output::{FlowEvent, Sink};
use cleartrace::protocols::rtp::MediaConfidence;
use cleartrace::timestamp::Timestamp;

fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), payload: &[u8]) -> Vec<u8> {
    common::ipv4_frame(true, src, dst, 0, payload)
}

/// RTP, PCMA, 20 ms of audio.
fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 8];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn invite(media: (Ipv4Addr, u16)) -> Vec<u8> {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n",
        ip = media.0,
        port = media.1
    );
    format!(
        "INVITE sip:200@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:100@10.0.0.1>;tag=1\r\nTo: <sip:200@10.0.0.2>\r\nCall-ID: late-sdp@test\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

#[derive(Default)]
struct Media(Vec<(u16, MediaConfidence)>);

impl Sink for Media {
    fn flow_ended(&mut self, event: &FlowEvent<'_>) {
        if let Some(media) = event.media {
            self.0.push((event.server.1, media.confidence));
        }
    }
}

#[test]
fn rtp_before_its_sdp_is_still_signalled() {
    let caller = Ipv4Addr::new(10, 0, 0, 1);
    let callee = Ipv4Addr::new(10, 0, 0, 2);
    let mut frames = Vec::new();
    // Three packets of media, then the INVITE announcing where it goes, then more.
    for seq in 0..3 {
        frames.push(udp((caller, 4000), (callee, 5000), &rtp(seq)));
    }
    frames.push(udp((caller, 5060), (callee, 5060), &invite((callee, 5000))));
    for seq in 3..30 {
        frames.push(udp((caller, 4000), (callee, 5000), &rtp(seq)));
    }
    let mut engine = Engine::with_builtin_signatures(&Config::default());
    let mut sink = Media::default();
    for (i, frame) in frames.iter().enumerate() {
        let packet = Packet {
            ts: Timestamp(1_700_000_000_000_000_000 + i as u64 * 20_000_000),
            linktype: 1,
            data: frame,
            wire_len: frame.len() as u32,
        };
        engine.process(&packet, &mut sink);
    }
    engine.finish(&mut sink);
    assert_eq!(sink.0, vec![(5000, MediaConfidence::Signalled)]);
}
