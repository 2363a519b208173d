//! Length-prefixed messages over one direction of a byte stream (PostgreSQL, MySQL):
//! whole messages inside a segment are read in place; only a message split across
//! segments is copied, and at most a cap of it. A longer message is handed over cut
//! at the cap and its remainder skipped unread, so no peer can make a flow hold more.

/// One message: its bytes from the first header byte on.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub bytes: &'a [u8],
    /// The message was longer than the cap: `bytes` is its beginning only.
    pub cut: bool,
}

/// What the framer could not go on with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The data is used up (the rest, if any, is held for the next segment).
    NeedMore,
    /// The header made no sense: message boundaries are lost for this direction.
    Lost,
}

/// One direction's framing state.
#[derive(Debug, Default)]
pub struct Framer {
    pending: Vec<u8>,
    /// `pending` holds a message that was handed over: clear it on the next call.
    delivered: bool,
    /// Bytes of a cut message still to skip.
    skip: usize,
    lost: bool,
}

impl Framer {
    /// Bytes held for a message split across segments (the engine's memory budget).
    pub fn buffered(&self) -> usize {
        self.pending.capacity()
    }

    pub fn lost(&self) -> bool {
        self.lost
    }

    /// A hole in the stream: message boundaries are gone for good.
    pub fn lose(&mut self) {
        self.pending = Vec::new();
        self.lost = true;
    }

    /// The next message from `data` (advanced past what was used). `header` bytes
    /// give the message's whole length through `length`, which says `None` for a
    /// header that cannot be.
    pub fn next<'f, 'd: 'f>(
        &'f mut self,
        data: &mut &'d [u8],
        header: usize,
        cap: usize,
        length: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<Frame<'f>, Stop> {
        if self.delivered {
            self.delivered = false;
            self.pending = Vec::new();
        }
        if self.lost {
            *data = &[];
            return Err(Stop::Lost);
        }
        let skipped = self.skip.min(data.len());
        self.skip -= skipped;
        *data = &data[skipped..];
        if data.is_empty() {
            return Err(Stop::NeedMore);
        }
        if self.pending.is_empty() {
            let Some(head) = data.get(..header) else {
                self.pending.extend_from_slice(data);
                *data = &[];
                return Err(Stop::NeedMore);
            };
            let total = self.total(length(head), header)?;
            let want = total.min(cap);
            if data.len() >= want {
                let bytes = &data[..want];
                self.skip = total - want;
                *data = &data[want..];
                return Ok(Frame {
                    bytes,
                    cut: total > cap,
                });
            }
            self.pending.extend_from_slice(data);
            *data = &[];
            return Err(Stop::NeedMore);
        }
        if self.pending.len() < header {
            let take = (header - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            *data = &data[take..];
            if self.pending.len() < header {
                return Err(Stop::NeedMore);
            }
        }
        let total = self.total(length(&self.pending[..header]), header)?;
        let want = total.min(cap);
        let take = want.saturating_sub(self.pending.len()).min(data.len());
        self.pending.extend_from_slice(&data[..take]);
        *data = &data[take..];
        if self.pending.len() < want {
            return Err(Stop::NeedMore);
        }
        self.skip = total - want;
        self.delivered = true;
        Ok(Frame {
            bytes: &self.pending,
            cut: total > cap,
        })
    }

    fn total(&mut self, length: Option<usize>, header: usize) -> Result<usize, Stop> {
        match length {
            Some(total) if total >= header => Ok(total),
            _ => {
                self.lose();
                Err(Stop::Lost)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One length byte counting itself.
    fn len(head: &[u8]) -> Option<usize> {
        head.first().map(|b| usize::from(*b))
    }

    fn frames(framer: &mut Framer, mut data: &[u8], cap: usize) -> (Vec<(Vec<u8>, bool)>, Stop) {
        let mut out = Vec::new();
        loop {
            match framer.next(&mut data, 1, cap, len) {
                Ok(f) => out.push((f.bytes.to_vec(), f.cut)),
                Err(stop) => return (out, stop),
            }
        }
    }

    #[test]
    fn whole_split_cut_and_lost() {
        let mut f = Framer::default();
        let (got, stop) = frames(&mut f, &[2, 9, 3, 1], 100);
        assert_eq!(got, vec![(vec![2, 9], false)]);
        assert_eq!(stop, Stop::NeedMore);
        assert!(f.buffered() > 0);
        let (got, _) = frames(&mut f, &[2], 100);
        assert_eq!(got, vec![(vec![3, 1, 2], false)]);
        // Messages over the cap: their start, then the rest skipped, also across segments.
        let (got, _) = frames(&mut f, &[4, 7, 7, 7, 2, 5], 2);
        assert_eq!(got, vec![(vec![4, 7], true), (vec![2, 5], false)]);
        let (got, _) = frames(&mut f, &[5, 1], 2);
        assert_eq!(got, vec![(vec![5, 1], true)]);
        let (got, _) = frames(&mut f, &[1, 1, 1, 2, 8], 2);
        assert_eq!(got, vec![(vec![2, 8], false)]);
        // A length below the header's own size: boundaries are gone.
        let (got, stop) = frames(&mut f, &[0, 1, 2], 2);
        assert!(got.is_empty());
        assert_eq!(stop, Stop::Lost);
        assert!(f.lost());
        assert_eq!(f.buffered(), 0);
    }
}
