//! MODBUS/TCP (MODBUS Messaging on TCP/IP Implementation Guide v1.0b): the MBAP header
//! is validated so the channel is recognised on any port; its mere presence in clear is
//! the finding (rule 5002).

use crate::flow::{Direction, L4};
use crate::protocols::fact::{ClearChannel, Fact};
use crate::protocols::Probe;
use crate::protocols::{AppProto, Dissector, Registration};

/// MBAP: transaction id (2), protocol id = 0 (2), length (2) counting unit id + PDU,
/// unit id (1), then the function code.
const MBAP_LEN: usize = 7;
/// Largest PDU (253) plus unit id.
const MAX_LENGTH: usize = 254;

/// Any function code: public (1–127 in the specification's tables), user-defined
/// (65–72, 100–110) and vendor ones alike (Schneider UMAS is 0x5a on 502); 0x80 set is
/// an exception response. Only 0 is no function. The MBAP frame itself (protocol id 0,
/// a length that fills the segment exactly) is what identifies the channel.
fn valid_function(code: u8) -> bool {
    code & 0x7f != 0
}

/// One or more complete ADUs exactly filling the segment.
pub fn probe_modbus(data: &[u8]) -> Probe {
    let mut rest = data;
    let mut adus = 0;
    while !rest.is_empty() {
        let Some(header) = rest.get(..MBAP_LEN + 1) else {
            return if adus == 0 && rest.len() < MBAP_LEN + 1 {
                Probe::NeedMore
            } else {
                Probe::NoMatch
            };
        };
        let protocol = u16::from_be_bytes([header[2], header[3]]);
        let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
        if protocol != 0 || !(2..=MAX_LENGTH).contains(&length) || !valid_function(header[7]) {
            return Probe::NoMatch;
        }
        let Some(next) = rest.get(6 + length..) else {
            return Probe::NoMatch;
        };
        rest = next;
        adus += 1;
    }
    Probe::Match
}

/// The first function code seen, for the evidence.
pub fn function_name(code: u8) -> &'static str {
    match code & 0x7f {
        1 => "read coils",
        2 => "read discrete inputs",
        3 => "read holding registers",
        4 => "read input registers",
        5 => "write single coil",
        6 => "write single register",
        15 => "write multiple coils",
        16 => "write multiple registers",
        23 => "read/write multiple registers",
        43 => "encapsulated interface transport",
        90 => "UMAS (Schneider Electric)",
        65..=72 | 100..=110 => "user-defined function",
        _ => "other function",
    }
}

pub const MODBUS: Registration = Registration {
    app_proto: AppProto::Modbus,
    l4: L4::Tcp,
    ports: &[502, 5020],
    probe: probe_modbus,
    start: || Box::new(ModbusDissector::default()),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbap() {
        let read = [0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
        assert_eq!(probe_modbus(&read), Probe::Match);
        let mut two = read.to_vec();
        two.extend_from_slice(&read);
        assert_eq!(probe_modbus(&two), Probe::Match);
        assert_eq!(
            probe_modbus(&[0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 10]),
            Probe::NoMatch,
            "protocol id"
        );
        assert_eq!(
            probe_modbus(&[0, 1, 0, 0, 0, 9, 1, 3, 0, 0, 0, 10]),
            Probe::NoMatch,
            "length"
        );
        // Schneider UMAS (function 0x5a) is MODBUS/TCP too; function 0 is nothing.
        assert_eq!(
            probe_modbus(&[0, 1, 0, 0, 0, 6, 1, 0x5a, 0, 0x02, 0, 10]),
            Probe::Match
        );
        assert_eq!(
            probe_modbus(&[0, 1, 0, 0, 0, 6, 1, 0, 0, 0, 0, 10]),
            Probe::NoMatch,
            "function"
        );
        assert_eq!(probe_modbus(&[0, 1, 0]), Probe::NeedMore);
    }
}

/// Reports the channel once; the register values themselves are not personal data.
#[derive(Default)]
pub struct ModbusDissector {
    reported: bool,
}

impl Dissector for ModbusDissector {
    fn on_data(&mut self, _dir: Direction, data: &[u8], ctx: &mut crate::protocols::Ctx<'_>) {
        if self.reported || probe_modbus(data) != Probe::Match {
            return;
        }
        if let (Some(&unit), Some(&function)) = (data.get(6), data.get(7)) {
            self.reported = true;
            ctx.emit(Fact::ClearChannel(ClearChannel {
                description: format!(
                    "unit {unit}, function {function} ({})",
                    function_name(function)
                ),
                kinds: &[],
            }));
        }
    }
}
