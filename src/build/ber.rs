//! BER (X.690) as LDAP and SNMP send it: definite lengths in their shortest form, the
//! framing `protocols::ber` reads.

/// Appends a TLV whose content `f` writes (X.690 §8.1.3: short form below 128, else the
/// long form in as few octets as needed).
pub fn push_tlv(out: &mut Vec<u8>, tag: u8, f: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let start = out.len();
    f(out);
    let len = out.len() - start;
    let length: Vec<u8> = if len < 0x80 {
        vec![len as u8]
    } else {
        let octets: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        std::iter::once(0x80 | octets.len() as u8)
            .chain(octets)
            .collect()
    };
    out.splice(start..start, length);
}

/// Appends a TLV around `content` (an OCTET STRING, a context-tagged string).
pub fn push_bytes(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    push_tlv(out, tag, |o| o.extend_from_slice(content));
}

/// A TLV around `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 4);
    push_bytes(&mut out, tag, content);
    out
}

/// Appends an INTEGER (or an implicitly tagged one) in its shortest two's-complement
/// form (X.690 §8.3).
pub fn push_integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    let bytes = value.to_be_bytes();
    let mut first = 0;
    while first < 7
        && ((bytes[first] == 0 && bytes[first + 1] & 0x80 == 0)
            || (bytes[first] == 0xff && bytes[first + 1] & 0x80 != 0))
    {
        first += 1;
    }
    push_tlv(out, tag, |o| o.extend_from_slice(&bytes[first..]));
}

/// Appends an OBJECT IDENTIFIER (X.690 §8.19); `arcs` has at least two arcs.
pub fn push_oid(out: &mut Vec<u8>, arcs: &[u32]) {
    push_tlv(out, 0x06, |o| {
        if let [first, second, rest @ ..] = arcs {
            o.push((first * 40 + second) as u8);
            for &arc in rest {
                let groups = (0..5)
                    .rev()
                    .map(|k| ((arc >> (7 * k)) & 0x7f) as u8)
                    .skip_while(|&g| g == 0)
                    .collect::<Vec<u8>>();
                let groups = if groups.is_empty() { vec![0] } else { groups };
                let last = groups.len() - 1;
                o.extend(
                    groups
                        .iter()
                        .enumerate()
                        .map(|(i, g)| if i < last { g | 0x80 } else { *g }),
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::ber;

    #[test]
    fn lengths_in_their_shortest_form_read_back() {
        for len in [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1_0000] {
            let encoded = tlv(0x04, &vec![b'x'; len]);
            let header = encoded.len() - len;
            assert_eq!(
                header,
                if len < 0x80 {
                    2
                } else if len < 0x100 {
                    3
                } else if len < 0x1_0000 {
                    4
                } else {
                    5
                }
            );
            let (tag, content, rest) = ber::tlv(&encoded).expect("one TLV");
            assert_eq!((tag, content.len(), rest.len()), (0x04, len, 0));
        }
    }

    #[test]
    fn integers_and_oids() {
        let mut out = Vec::new();
        push_integer(&mut out, 0x02, 0);
        push_integer(&mut out, 0x02, 128);
        push_integer(&mut out, 0x02, -1);
        assert_eq!(out, [2, 1, 0, 2, 2, 0, 128, 2, 1, 0xff]);
        let mut oid = Vec::new();
        push_oid(&mut oid, &[1, 3, 6, 1, 2, 1, 1, 4, 0, 200]);
        assert_eq!(oid, [6, 10, 0x2b, 6, 1, 2, 1, 1, 4, 0, 0x81, 0x48]);
    }
}
