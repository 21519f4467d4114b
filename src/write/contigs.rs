//! The contigs seen so far, in order of first appearance, with the bytes of output each has.
//! Its memory comes from the budget: thousands of scaffolds fit, an unbounded number does not.

use std::collections::HashMap;

use crate::budget::Grant;

/// A contig as a checkpoint keeps it: its name and the bytes its rows take in the output
/// so far. A list of them in id (first-appearance) order rebuilds a table
/// ([`ContigTable::restore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContigBytes {
    /// The contig's name, as in the input's CHROM column.
    pub name: Vec<u8>,
    /// Bytes of output rows of this contig so far.
    pub bytes: u64,
    /// For VCF, the POS of this contig's last record so far, which the next must not be
    /// below (0: none, or not known: a checkpoint of an older hapflow).
    pub last_pos: u64,
}

/// A contig added or grown since the last checkpoint, as [`ContigTable::take_changed`]
/// hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedContig<'a> {
    /// The contig's id: its place in first-appearance order, from 0.
    pub id: u32,
    /// The contig's name.
    pub name: &'a [u8],
    /// Bytes of output rows of this contig so far.
    pub bytes: u64,
    /// For VCF, the POS of its last record so far (0: none).
    pub last_pos: u64,
}

/// Contig names to ids (ids count up in order of first appearance).
pub struct ContigTable {
    ids: HashMap<Box<[u8]>, u32>,
    names: Vec<Box<[u8]>>,
    bytes: Vec<u64>,
    /// For VCF, each contig's last record's POS (0: none).
    last_pos: Vec<u64>,
    current: Option<u32>,
    contiguous: bool,
    /// Bytes the table is counted as using (see [`CONTIG_OVERHEAD`]).
    used: usize,
    /// Contigs added or grown since the last [`ContigTable::take_changed`], each once.
    changed: Vec<u32>,
    is_changed: Vec<bool>,
    grant: Grant,
}

/// What observing one run of rows changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The id of the run's contig.
    pub id: u32,
    /// The contig the input was on before this run, if the input moved to another contig.
    pub left: Option<u32>,
}

/// Bytes of bookkeeping one contig costs besides twice its name.
const CONTIG_OVERHEAD: usize = 104;

impl ContigTable {
    /// A table whose memory grows out of `grant` (which must come from the budget).
    pub fn new(grant: Grant) -> ContigTable {
        ContigTable {
            ids: HashMap::new(),
            names: Vec::new(),
            bytes: Vec::new(),
            last_pos: Vec::new(),
            current: None,
            contiguous: true,
            used: 0,
            changed: Vec::new(),
            is_changed: Vec::new(),
            grant,
        }
    }

    /// Rebuilds a table from a checkpoint: names in id order with their output bytes, the
    /// contig of the last run, and whether the input was contiguous so far.
    pub fn restore(
        grant: Grant,
        contigs: Vec<ContigBytes>,
        current: Option<u32>,
        contiguous: bool,
    ) -> Result<ContigTable, String> {
        let mut t = ContigTable::new(grant);
        for ContigBytes {
            name,
            bytes,
            last_pos,
        } in contigs
        {
            let id = t.insert(&name)?;
            t.bytes[id as usize] = bytes;
            t.last_pos[id as usize] = last_pos;
        }
        if current.is_some_and(|c| c as usize >= t.names.len()) {
            return Err("checkpoint names a contig it does not list".into());
        }
        t.current = current;
        t.contiguous = contiguous;
        t.take_changed(|_| ());
        Ok(t)
    }

    /// Hands each contig added or grown since the last call to `f`, and forgets them: a
    /// checkpoint stores only what changed.
    pub fn take_changed(&mut self, mut f: impl FnMut(ChangedContig<'_>)) {
        for id in self.changed.drain(..) {
            self.is_changed[id as usize] = false;
            f(ChangedContig {
                id,
                name: &self.names[id as usize],
                bytes: self.bytes[id as usize],
                last_pos: self.last_pos[id as usize],
            });
        }
    }

    fn mark_changed(&mut self, id: u32) {
        if !self.is_changed[id as usize] {
            self.is_changed[id as usize] = true;
            self.changed.push(id);
        }
    }

    /// Notes that the input has a run of lines of contig `name` that gave `out_bytes` of
    /// output. Fails only when a new contig does not fit the memory budget.
    pub fn observe(&mut self, name: &[u8], out_bytes: u64) -> Result<Observed, String> {
        let id = match self.current {
            Some(id) if *self.names[id as usize] == *name => id,
            _ => match self.ids.get(name) {
                Some(&id) => {
                    self.contiguous = false;
                    id
                }
                None => self.insert(name)?,
            },
        };
        let left = self.current.filter(|&c| c != id);
        self.current = Some(id);
        if out_bytes > 0 || left.is_some() {
            self.bytes[id as usize] += out_bytes;
            self.mark_changed(id);
        }
        Ok(Observed { id, left })
    }

    fn insert(&mut self, name: &[u8]) -> Result<u32, String> {
        let cost = 2 * name.len() + CONTIG_OVERHEAD;
        if self.used + cost > self.grant.bytes() && !self.grant.try_grow(cost.max(64 << 10)) {
            return Err(format!(
                "too many contigs: {} distinct contigs do not fit the memory limit",
                self.names.len() + 1
            ));
        }
        self.used += cost;
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        self.bytes.push(0);
        self.last_pos.push(0);
        self.is_changed.push(false);
        self.mark_changed(id);
        Ok(id)
    }

    /// The id of the contig named `name`, if it has been seen.
    pub fn id_of(&self, name: &[u8]) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of contig `id`. Panics if there is no such contig.
    pub fn name(&self, id: u32) -> &[u8] {
        &self.names[id as usize]
    }

    /// Bytes of output rows contig `id` has.
    pub fn bytes(&self, id: u32) -> u64 {
        self.bytes[id as usize]
    }

    /// For VCF, the POS of contig `id`'s last record so far (0: none, or not known).
    /// Panics if there is no such contig.
    pub fn last_pos(&self, id: u32) -> u64 {
        self.last_pos[id as usize]
    }

    /// Sets contig `id`'s last record's POS (a checkpoint records it with the contig).
    /// Panics if there is no such contig.
    pub fn set_last_pos(&mut self, id: u32, pos: u64) {
        if self.last_pos[id as usize] != pos {
            self.last_pos[id as usize] = pos;
            self.mark_changed(id);
        }
    }

    /// The contigs' names, in first-appearance order (id order).
    pub fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.names.iter().map(|n| &n[..])
    }

    /// Contigs seen so far.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No contig seen yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// True while every contig's lines have come in one stretch, so the output written in
    /// input order is already grouped.
    pub fn contiguous(&self) -> bool {
        self.contiguous
    }

    /// The contig of the last run seen.
    pub fn current(&self) -> Option<u32> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[test]
    fn ids_follow_first_appearance_and_returns_break_contiguity() {
        let b = Budget::new(1 << 20);
        let mut t = ContigTable::new(b.reserve(1024, "t").unwrap());
        assert_eq!(t.observe(b"b", 10).unwrap(), Observed { id: 0, left: None });
        assert_eq!(t.observe(b"b", 5).unwrap(), Observed { id: 0, left: None });
        assert_eq!(
            t.observe(b"a", 1).unwrap(),
            Observed {
                id: 1,
                left: Some(0)
            }
        );
        assert!(t.contiguous());
        assert_eq!(t.observe(b"b", 2).unwrap().id, 0);
        assert!(!t.contiguous());
        assert_eq!((t.bytes(0), t.bytes(1)), (17, 1));
        assert_eq!(t.id_of(b"a"), Some(1));
    }

    #[test]
    fn changes_are_handed_out_once_and_restore_round_trips() {
        let b = Budget::new(1 << 20);
        let mut t = ContigTable::new(b.reserve(4096, "t").unwrap());
        t.observe(b"x", 5).unwrap();
        t.observe(b"y", 0).unwrap();
        t.observe(b"y", 0).unwrap();
        let mut seen = Vec::new();
        t.take_changed(|c| seen.push((c.id, c.name.to_vec(), c.bytes)));
        assert_eq!(seen, [(0, b"x".to_vec(), 5), (1, b"y".to_vec(), 0)]);
        t.take_changed(|_| panic!("nothing changed since"));
        t.observe(b"x", 7).unwrap();
        let mut again = Vec::new();
        t.take_changed(|c| again.push((c.id, c.bytes)));
        assert_eq!(again, [(0, 12)]);
        assert!(!t.contiguous());

        let r = ContigTable::restore(
            b.reserve(4096, "r").unwrap(),
            vec![
                ContigBytes {
                    name: b"x".to_vec(),
                    bytes: 12,
                    last_pos: 40,
                },
                ContigBytes {
                    name: b"y".to_vec(),
                    bytes: 0,
                    last_pos: 0,
                },
            ],
            Some(0),
            false,
        )
        .unwrap();
        assert_eq!(
            (r.len(), r.bytes(0), r.current(), r.contiguous()),
            (2, 12, Some(0), false)
        );
        assert_eq!(r.id_of(b"y"), Some(1));
        assert_eq!((r.last_pos(0), r.last_pos(1)), (40, 0));
    }

    #[test]
    fn contigs_beyond_the_budget_are_an_error() {
        let b = Budget::new(200 << 10);
        let mut t = ContigTable::new(b.reserve(0, "t").unwrap());
        let err = (0..10_000)
            .map(|i| t.observe(format!("scaffold_{i:06}").as_bytes(), 0))
            .find_map(Result::err)
            .expect("a 200 KiB budget cannot hold 10,000 contigs");
        assert!(err.contains("too many contigs"), "{err}");
    }
}
