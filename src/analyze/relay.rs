//! `analyze --workers N` over legacy pcap files: each read block is read from the
//! file, cut into records and sharded by one worker, and every worker analyses its
//! frames of it from that one buffer.
//!
//! Before, every worker read the whole file itself and kept its own frames. That cost
//! each worker the kernel's copy of the whole file, a walk over every record and a
//! sharding decode of every frame, a fifth of its time: on 1 GB, two workers ran
//! 1.0–1.2 times as fast as one. Here each of those is done once per block, by
//! whichever worker needs the block first; the others read only the block's frame
//! lists (the time of every frame, the offsets of their own) and their own frames.
//! Those frames come from the cache of the core that read the block, which is the
//! cost of this design: on this VM's EPYC, a third of `process_shared`'s time is
//! that fetch (README, performance).
//!
//! Blocks are cut in file order, one at a time (the reader and the sharder carry
//! state from block to block: a record split by a read, the first fragment of a
//! tunnelled datagram), but the cutting runs outside the lock, so one worker cuts
//! while the others analyse. A worker that has taken a block cuts the next one before
//! it analyses, so the others seldom wait for a cut.
//!
//! Memory: at most `MAX_AHEAD` bytes of blocks are held for the slowest worker (and
//! one block, however large its records); a worker that would cut past that waits
//! for it. Every worker keeps to the input order, so the
//! slowest worker never waits for a faster one here, and no two wait for each other
//! (see `threads::Progress` for the other wait, on the shared expectations).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::capture::{CaptureError, CaptureFile, RecordBlock};
use crate::threads::lock;
use crate::timestamp::Timestamp;
use crate::workers::Sharder;

/// Bytes of blocks cut and not yet analysed by every worker, at most: the memory the
/// relay holds whatever the workers' pace (besides one block of any size, and the
/// spare buffers).
const MAX_AHEAD: usize = 8 * SHARED_BLOCK;
/// Bytes per read. A block is read on one core and its frames on the others, so it
/// should still be in a cache when they come; with 1 MiB of L2 per core, 64 KiB to
/// 512 KiB with 2 to 8 blocks ahead measured the same within this VM's noise.
pub const SHARED_BLOCK: usize = 256 << 10;
/// A spare buffer larger than this (grown for a huge record) is dropped rather than
/// kept for the next read.
const MAX_SPARE: usize = 4 * SHARED_BLOCK;
/// How long a worker waits for another before it checks whether that one has left:
/// only a worker that died (a bug) can hold the others up, and the run must end.
const RECHECK: Duration = Duration::from_millis(100);

/// A block of whole records, split by worker.
pub struct SharedBlock {
    pub records: RecordBlock,
    /// The capture time of every frame, in file order: a worker moves its clock
    /// by the frames of the others.
    pub times: Vec<Timestamp>,
    /// For each worker, its frames: (index in `times`, offset of the record).
    /// Lists rather than a worker per frame: the branch on a frame's worker was
    /// taken at random, and every worker paid for every frame's mispredicted branch.
    pub own: Vec<Vec<(u32, u32)>>,
}

/// The blocks of every file of one run, for `workers` workers.
pub struct Relay {
    workers: usize,
    files: Vec<FileRelay>,
    /// Workers that read no more (ended, or panicked): nobody keeps blocks for them.
    left: Vec<AtomicBool>,
    /// One sharder for the run, used by whoever cuts: its memory of fragmented
    /// datagrams then sees every frame in order, as one reader's would.
    sharder: Mutex<Sharder>,
}

struct FileRelay {
    state: Mutex<FileState>,
    changed: Condvar,
}

struct FileState {
    /// The open file, while nobody cuts from it; None before the first worker
    /// brings it and while a worker cuts.
    reader: Option<CaptureFile>,
    opened: bool,
    /// Blocks cut so far: the sequence number of the next one.
    cut: u64,
    /// The blocks cut and still needed by some worker; the front one is number
    /// `cut - blocks.len()`.
    blocks: VecDeque<Arc<SharedBlock>>,
    /// The sequence number of the next block each worker needs.
    needs: Vec<u64>,
    /// After the last block: the file's end, or why it could not be read on.
    end: Option<Result<(), CaptureError>>,
    /// The error's text, for the workers after the first.
    error_text: Option<String>,
    /// Buffers of blocks every worker is done with, for the next reads.
    spares: Vec<(Vec<u8>, Frames)>,
}

impl Relay {
    pub fn new(files: usize, workers: usize, sharder: Sharder) -> Self {
        Relay {
            workers,
            files: (0..files)
                .map(|_| FileRelay {
                    state: Mutex::new(FileState {
                        reader: None,
                        opened: false,
                        cut: 0,
                        blocks: VecDeque::new(),
                        needs: vec![0; workers],
                        end: None,
                        error_text: None,
                        spares: Vec::new(),
                    }),
                    changed: Condvar::new(),
                })
                .collect(),
            left: (0..workers).map(|_| AtomicBool::new(false)).collect(),
            sharder: Mutex::new(sharder),
        }
    }

    /// Worker `me` reads no more: the others stop keeping blocks for it.
    pub fn leave(&self, me: usize) {
        if let Some(left) = self.left.get(me) {
            left.store(true, Ordering::Release);
        }
        for file in &self.files {
            let mut state = lock(&file.state);
            self.drop_taken(&mut state);
            drop(state);
            file.changed.notify_all();
        }
    }

    /// Worker `me` does not read file `index` (it could not open it).
    pub fn skip(&self, index: usize, me: usize) {
        if let Some(file) = self.files.get(index) {
            let mut state = lock(&file.state);
            if let Some(need) = state.needs.get_mut(me) {
                *need = u64::MAX;
            }
            self.drop_taken(&mut state);
            drop(state);
            file.changed.notify_all();
        }
    }

    /// Worker `me`'s reading of file `index` (a legacy pcap file it opened as
    /// `capture`): `analyse` gets every block in file order, then comes the file's
    /// end or the error that stopped it, as `CaptureFile::read_record_blocks` would
    /// give it. The first worker to come brings its `capture` for all.
    pub fn read(
        &self,
        index: usize,
        me: usize,
        capture: CaptureFile,
        mut analyse: impl FnMut(&SharedBlock),
    ) -> Result<(), CaptureError> {
        let Some(file) = self.files.get(index) else {
            return Ok(());
        };
        let mut capture = Some(capture);
        let mut next = 0u64;
        loop {
            match self.take(file, me, next, &mut capture) {
                Taken::Block(block) => {
                    analyse(&block);
                    self.recycle(file, block);
                    next += 1;
                }
                Taken::End(end) => return end,
            }
        }
    }

    fn take(
        &self,
        file: &FileRelay,
        me: usize,
        next: u64,
        capture: &mut Option<CaptureFile>,
    ) -> Taken {
        let mut state = lock(&file.state);
        if !state.opened {
            state.opened = true;
            state.reader = capture.take();
        }
        loop {
            let first = state.cut - state.blocks.len() as u64;
            let held = next
                .checked_sub(first)
                .and_then(|i| state.blocks.get(usize::try_from(i).ok()?))
                .map(Arc::clone);
            if let Some(block) = held {
                if let Some(need) = state.needs.get_mut(me) {
                    *need = next + 1;
                }
                self.drop_taken(&mut state);
                // Cut the following block before analysing this one, so that it is
                // there when the others come for it.
                if state.cut == next + 1 {
                    state = self.cut(file, state);
                }
                drop(state);
                file.changed.notify_all();
                return Taken::Block(block);
            }
            if next >= state.cut {
                if let Some(end) = state.end.as_mut() {
                    // The error itself goes to the first worker that comes; the
                    // others get its text.
                    let end = match std::mem::replace(end, Ok(())) {
                        Err(e) => Err(e),
                        Ok(()) => match &state.error_text {
                            Some(text) => Err(CaptureError::Relayed(text.clone())),
                            None => Ok(()),
                        },
                    };
                    return Taken::End(end);
                }
                if state.reader.is_some() && state.has_room() {
                    state = self.cut(file, state);
                    continue;
                }
            }
            state = file
                .changed
                .wait_timeout(state, RECHECK)
                .map_or_else(|e| e.into_inner().0, |(state, _)| state);
            self.drop_taken(&mut state);
        }
    }

    /// Cuts the next block from the file, outside the lock, if nobody is cutting,
    /// the file has not ended and the slowest worker is not too far behind.
    fn cut<'a>(
        &self,
        file: &'a FileRelay,
        mut state: MutexGuard<'a, FileState>,
    ) -> MutexGuard<'a, FileState> {
        if state.end.is_some() || !state.has_room() {
            return state;
        }
        let Some(mut reader) = state.reader.take() else {
            return state;
        };
        let (buffer, frames) = state
            .spares
            .pop()
            .unwrap_or_else(|| (Vec::new(), Frames::for_workers(self.workers)));
        drop(state);
        if !buffer.is_empty() {
            reader.give_back(buffer);
        }
        let cut = reader
            .next_record_block()
            .map(|block| block.map(|records| self.shard(records, frames)));
        let mut state = lock(&file.state);
        state.reader = Some(reader);
        match cut {
            Ok(Some(block)) => {
                state.blocks.push_back(Arc::new(block));
                state.cut += 1;
            }
            Ok(None) => state.end = Some(Ok(())),
            Err(e) => {
                state.error_text = Some(e.to_string());
                state.end = Some(Err(e));
            }
        }
        state
    }

    fn shard(&self, records: RecordBlock, frames: Frames) -> SharedBlock {
        let Frames { mut times, mut own } = frames;
        times.clear();
        own.iter_mut().for_each(Vec::clear);
        let mut sharder = lock(&self.sharder);
        for (offset, packet) in records.packets() {
            let index = times.len() as u32;
            times.push(packet.ts);
            if let Some(list) = own.get_mut(sharder.shard(packet.linktype, packet.data)) {
                list.push((index, offset));
            }
        }
        SharedBlock {
            records,
            times,
            own,
        }
    }

    /// Forgets the blocks every worker still reading has taken.
    fn drop_taken(&self, state: &mut FileState) {
        let slowest = state
            .needs
            .iter()
            .zip(&self.left)
            .filter(|(_, left)| !left.load(Ordering::Acquire))
            .map(|(need, _)| *need)
            .min()
            .unwrap_or(u64::MAX);
        while !state.blocks.is_empty() && state.cut - (state.blocks.len() as u64) < slowest {
            state.blocks.pop_front();
        }
    }

    /// The last worker done with a block gives its buffers back for another read.
    fn recycle(&self, file: &FileRelay, block: Arc<SharedBlock>) {
        if let Some(SharedBlock {
            records,
            times,
            own,
        }) = Arc::into_inner(block)
        {
            let mut state = lock(&file.state);
            if state.spares.len() < self.workers + 1 && records.capacity() <= MAX_SPARE {
                state
                    .spares
                    .push((records.into_buffer(), Frames { times, own }));
            }
        }
    }
}

impl FileState {
    /// Whether another block may be cut before the slowest worker takes one.
    fn has_room(&self) -> bool {
        self.held() < MAX_AHEAD
    }

    /// Bytes of the blocks kept for some worker.
    fn held(&self) -> usize {
        self.blocks.iter().map(|b| b.records.capacity()).sum()
    }
}

/// The frame lists of a block, kept for the next one.
struct Frames {
    times: Vec<Timestamp>,
    own: Vec<Vec<(u32, u32)>>,
}

impl Frames {
    fn for_workers(workers: usize) -> Self {
        Frames {
            times: Vec::new(),
            own: vec![Vec::new(); workers],
        }
    }
}

enum Taken {
    Block(Arc<SharedBlock>),
    End(Result<(), CaptureError>),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::build::frame::{ipv4, udp, Pcap};
    use crate::decode::tunnel::Tunnels;

    /// A legacy pcap of `frames` UDP frames between 200 address pairs.
    fn capture(frames: u32) -> Vec<u8> {
        let mut pcap = Pcap::new(Vec::new()).expect("in memory");
        for i in 0..frames {
            let host = (i % 200) as u8;
            let payload = vec![0x5a; 100 + (i % 50) as usize];
            let frame = ipv4(
                [10, 0, 0, host],
                [10, 0, 1, 1],
                17,
                0,
                0,
                &udp(4000, 5000, &payload),
            );
            pcap.frame(&frame).expect("in memory");
        }
        pcap.into_inner()
    }

    fn open(bytes: &[u8], block: usize) -> CaptureFile {
        let reader = std::io::Cursor::new(bytes.to_vec());
        let mut file =
            CaptureFile::from_reader(Path::new("relay.pcap"), reader, 0).expect("a pcap");
        file.read_in_blocks_of(block);
        file
    }

    /// What one worker saw: every frame's time once, and the offsets of its own
    /// frames with their index in the file.
    struct Seen {
        times: usize,
        own: Vec<u64>,
    }

    fn read_as(
        relay: &Relay,
        me: usize,
        bytes: &[u8],
        slow: bool,
    ) -> (Seen, Result<(), CaptureError>) {
        let mut seen = Seen {
            times: 0,
            own: Vec::new(),
        };
        let end = relay.read(0, me, open(bytes, 4096), |block| {
            let base = seen.times as u64;
            seen.times += block.times.len();
            for &(index, offset) in &block.own[me] {
                assert!(
                    block.records.packet_at(offset).is_some(),
                    "offset names a record"
                );
                seen.own.push(base + u64::from(index));
            }
            // Never more ahead than the limit plus the last block cut, which may be
            // the reader's first buffer (1 MiB whatever the block size).
            let held = lock(&relay.files[0].state).held();
            assert!(held < MAX_AHEAD + (1 << 20), "{held} bytes held");
            if slow {
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        relay.leave(me);
        (seen, end)
    }

    /// Workers 0 and 1 reading `bytes` at once, worker 1 slowly if `slow`.
    fn both_read(relay: &Relay, bytes: &[u8], slow: bool) -> [(Seen, Result<(), CaptureError>); 2] {
        std::thread::scope(|scope| {
            let second = scope.spawn(|| read_as(relay, 1, bytes, slow));
            let first = read_as(relay, 0, bytes, false);
            [first, second.join().expect("no panic")]
        })
    }

    /// Two workers, one slow: each sees every frame's time, the frames are split
    /// between them with none lost or twice, and the fast one waits for the slow
    /// one rather than holding more than `MAX_AHEAD` of blocks (the blocks here are
    /// 4 KiB, so that limit is reached many times over).
    #[test]
    fn two_workers_share_every_block_once() {
        let bytes = capture(20_000);
        let relay = Relay::new(1, 2, Sharder::new(2, Tunnels::default()));
        let [fast, slow] = both_read(&relay, &bytes, true);
        for (seen, end) in [&fast, &slow] {
            assert!(end.is_ok());
            assert_eq!(seen.times, 20_000);
        }
        let mut all: Vec<u64> = fast.0.own.iter().chain(&slow.0.own).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..20_000).collect::<Vec<u64>>());
        assert!(fast.0.own.len() > 5_000 && slow.0.own.len() > 5_000);
        let held = lock(&relay.files[0].state).held();
        assert_eq!(held, 0, "nothing kept once both are done");
    }

    /// A worker that stops early (it panicked, or could not read on) must not hold
    /// the other up: its share of the blocks is no longer kept for it.
    #[test]
    fn a_worker_that_leaves_does_not_stop_the_others() {
        let bytes = capture(20_000);
        let relay = Relay::new(1, 2, Sharder::new(2, Tunnels::default()));
        relay.leave(1);
        let (seen, end) = read_as(&relay, 0, &bytes, false);
        assert!(end.is_ok());
        assert_eq!(seen.times, 20_000);
    }

    /// A file cut inside a record: both workers get every whole record before the
    /// cut and then the error, the first to come the error itself and the other
    /// its text.
    #[test]
    fn the_error_that_ends_a_file_reaches_every_worker() {
        let mut bytes = capture(1_000);
        bytes.truncate(bytes.len() - 50);
        let relay = Relay::new(1, 2, Sharder::new(2, Tunnels::default()));
        for (seen, end) in &both_read(&relay, &bytes, false) {
            assert_eq!(seen.times, 999);
            let message = end.as_ref().expect_err("truncated").to_string();
            assert!(
                message.starts_with("relay.pcap: truncated at byte offset"),
                "{message}"
            );
        }
    }
}
