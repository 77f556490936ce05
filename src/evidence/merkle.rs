//! RFC 6962 / RFC 9162 Merkle tree hashing over the evidence log.
//!
//! This module owns the tree arithmetic only: leaf and node hashes, the root of a list of leaf
//! hashes, the [`CompactRange`] that the writer and `verify` extend leaf by leaf in O(log n),
//! and inclusion and consistency proofs with their verification. It does not know what a leaf
//! contains (the parent module builds the canonical leaf bytes) and it does no I/O; the store
//! feeds it hashes it read from SQLite, the public feed will serve its proofs.
//!
//! Hashing follows RFC 6962 section 2.1: a leaf hash is `SHA-256(0x00 || bytes)`, an interior
//! node is `SHA-256(0x01 || left || right)`, the empty tree hashes to `SHA-256("")`, and a tree
//! of `n > 1` leaves splits at the largest power of two smaller than `n`.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, a node hash or a root.
pub(crate) type Hash = [u8; 32];

/// Why a proof could not be produced or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The older tree of a consistency proof is larger than the newer one.
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// The proof has the wrong number of hashes for the sizes it claims.
    #[error("proof has the wrong length")]
    Length,
    /// The proof's hashes do not lead to the expected root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// A proof needs the hash of leaves `start..end`, which the known parts do not give.
    #[error("the hash of leaves {start}..{end} is not known")]
    Unavailable { start: u64, end: u64 },
    /// A compact range was rebuilt from parts that do not fit its size.
    #[error("compact range of size {size} needs {expected} hashes, got {found}")]
    CompactRange { size: u64, expected: usize, found: usize },
}

/// The hash of a leaf with the given canonical bytes.
pub(crate) fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(bytes);
    hasher.finalize().into()
}

/// The hash of an interior node over two children.
pub(crate) fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub(crate) fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The root of the tree over `leaf_hashes`, in O(n) time and O(log n) space.
pub(crate) fn root(leaf_hashes: &[Hash]) -> Hash {
    let mut range = CompactRange::new();
    for leaf in leaf_hashes {
        range.append(*leaf);
    }
    range.root()
}

/// The right edge of a Merkle tree: enough to append leaves and compute the root.
///
/// For a tree of `size` leaves it holds one hash per set bit of `size`, the roots of the
/// perfect subtrees that make up the tree, largest (leftmost) first. Appending a leaf merges
/// equal-sized subtrees like a binary counter; the root folds the peaks from the right.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CompactRange {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The range of the empty tree.
    pub(crate) fn new() -> CompactRange {
        CompactRange::default()
    }

    /// Rebuilds a range from its size and peaks, as stored by [`CompactRange::peaks`].
    pub(crate) fn from_parts(size: u64, peaks: Vec<Hash>) -> Result<CompactRange, ProofError> {
        let expected = size.count_ones() as usize;
        if peaks.len() != expected {
            return Err(ProofError::CompactRange { size, expected, found: peaks.len() });
        }
        Ok(CompactRange { size, peaks })
    }

    /// Rebuilds a range from its size and the concatenated peaks of [`CompactRange::to_bytes`].
    pub(crate) fn from_bytes(size: u64, bytes: &[u8]) -> Result<CompactRange, ProofError> {
        let expected = size.count_ones() as usize;
        if bytes.len() != expected * 32 {
            return Err(ProofError::CompactRange { size, expected, found: bytes.len() / 32 });
        }
        let peaks = bytes
            .chunks_exact(32)
            .map(|chunk| chunk.try_into().expect("chunks_exact yields 32-byte chunks"))
            .collect();
        CompactRange::from_parts(size, peaks)
    }

    /// The number of leaves appended so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The peaks, largest subtree first.
    #[cfg(test)]
    pub(crate) fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// The peaks concatenated, for storage beside a checkpoint.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.peaks.concat()
    }

    /// Appends one leaf hash in O(log n).
    pub(crate) fn append(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut carry = self.size;
        while carry & 1 == 1 {
            let left = self.peaks.pop().expect("a set bit of size always has a peak");
            hash = node_hash(&left, &hash);
            carry >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root of the tree of the current size, in O(log n).
    pub(crate) fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// The audit path of leaf `index` in the tree over `leaves` (RFC 9162 section 2.1.3.1): the
/// reference, over all leaves, that [`Extension`] is tested against.
#[cfg(test)]
pub(crate) fn inclusion_proof(index: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index as usize, leaves, &mut proof);
    Ok(proof)
}

/// Checks that `leaf` is at `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 section 2.1.3.2).
pub(crate) fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if s == 0 {
            return Err(ProofError::Length);
        }
        if f & 1 == 1 || f == s {
            hash = node_hash(sibling, &hash);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            hash = node_hash(&hash, sibling);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::Length);
    }
    if hash != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The proof that the tree of `old_size` leaves is a prefix of the tree over `leaves`
/// (RFC 9162 section 2.1.4.1). Empty when `old_size` is 0 or equals the new size.
#[cfg(test)]
pub(crate) fn consistency_proof(old_size: u64, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    let new_size = leaves.len() as u64;
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old: old_size, new: new_size });
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        subproof(old_size as usize, leaves, true, &mut proof);
    }
    Ok(proof)
}

/// Checks a consistency proof between two tree heads (RFC 9162 section 2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; an empty old tree needs an empty proof
/// and the empty root, and is consistent with every newer tree.
pub(crate) fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old: old_size, new: new_size });
    }
    if old_size == 0 || old_size == new_size {
        return trivial_consistency(old_size, old_root, new_root, proof);
    }
    let mut path = proof.iter();
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or(ProofError::Length)?
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut old_hash, mut new_hash) = (first, first);
    for c in path {
        if s == 0 {
            return Err(ProofError::Length);
        }
        if f & 1 == 1 || f == s {
            old_hash = node_hash(c, &old_hash);
            new_hash = node_hash(c, &new_hash);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            new_hash = node_hash(&new_hash, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::Length);
    }
    if old_hash != *old_root || new_hash != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

fn trivial_consistency(
    old_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if !proof.is_empty() {
        return Err(ProofError::Length);
    }
    let matches = if old_size == 0 { *old_root == empty_root() } else { old_root == new_root };
    if matches {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// A tree known only by the compact range of its first leaves and the hashes of the leaves
/// appended after them: enough for the inclusion proof of any appended leaf and for the
/// consistency proof from any older size at or above the range's, without reading the older
/// leaves. Every node such a proof needs is either a peak of the range, a node over appended
/// leaves only, or a node straddling the range's end, which splits into the two.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extension<'a> {
    base: &'a CompactRange,
    appended: &'a [Hash],
}

impl<'a> Extension<'a> {
    /// The tree of `base` followed by `appended`.
    pub(crate) fn new(base: &'a CompactRange, appended: &'a [Hash]) -> Extension<'a> {
        Extension { base, appended }
    }

    /// The number of leaves of the whole tree.
    pub(crate) fn size(&self) -> u64 {
        self.base.size + self.appended.len() as u64
    }

    /// The audit path of leaf `index`, which must be one of the appended leaves.
    pub(crate) fn inclusion_proof(&self, index: u64) -> Result<Vec<Hash>, ProofError> {
        let size = self.size();
        if index >= size || index < self.base.size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof)?;
        Ok(proof)
    }

    /// The consistency proof from `old_size` (at least the base's size) to the whole tree.
    pub(crate) fn consistency_proof(&self, old_size: u64) -> Result<Vec<Hash>, ProofError> {
        let size = self.size();
        if old_size > size {
            return Err(ProofError::SizeOrder { old: old_size, new: size });
        }
        if old_size < self.base.size {
            return Err(ProofError::Unavailable { start: old_size, end: self.base.size });
        }
        let mut proof = Vec::new();
        if old_size > 0 && old_size < size {
            self.subproof(old_size, 0, size, true, &mut proof)?;
        }
        Ok(proof)
    }

    fn path(
        &self,
        index: u64,
        start: u64,
        end: u64,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        if end - start <= 1 {
            return Ok(());
        }
        let mid = start + split((end - start) as usize) as u64;
        if index < mid {
            self.path(index, start, mid, out)?;
            out.push(self.subtree(mid, end)?);
        } else {
            self.path(index, mid, end, out)?;
            out.push(self.subtree(start, mid)?);
        }
        Ok(())
    }

    fn subproof(
        &self,
        old: u64,
        start: u64,
        end: u64,
        complete: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), ProofError> {
        if old == end {
            if !complete {
                out.push(self.subtree(start, end)?);
            }
            return Ok(());
        }
        let mid = start + split((end - start) as usize) as u64;
        if old <= mid {
            self.subproof(old, start, mid, complete, out)?;
            out.push(self.subtree(mid, end)?);
        } else {
            self.subproof(old, mid, end, false, out)?;
            out.push(self.subtree(start, mid)?);
        }
        Ok(())
    }

    /// The hash of the subtree over leaves `start..end`.
    fn subtree(&self, start: u64, end: u64) -> Result<Hash, ProofError> {
        let known = self.base.size;
        if start >= known {
            let range = (start - known) as usize..(end - known) as usize;
            return Ok(root(&self.appended[range]));
        }
        if let Some(peak) = self.peak(start, end) {
            return Ok(peak);
        }
        if end <= known || end - start < 2 {
            return Err(ProofError::Unavailable { start, end });
        }
        let mid = start + split((end - start) as usize) as u64;
        Ok(node_hash(&self.subtree(start, mid)?, &self.subtree(mid, end)?))
    }

    /// The base's peak covering exactly `start..end`, if there is one.
    fn peak(&self, start: u64, end: u64) -> Option<Hash> {
        let mut offset = 0;
        let mut peaks = self.base.peaks.iter();
        for bit in (0..u64::BITS).rev() {
            let width = 1u64 << bit;
            if self.base.size & width == 0 {
                continue;
            }
            let peak = peaks.next()?;
            if offset == start && offset + width == end {
                return Some(*peak);
            }
            offset += width;
        }
        None
    }
}

/// The largest power of two strictly smaller than `n`, for `n >= 2`.
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// PATH(m, D[n]) of RFC 9162, appended to `out` from the leaf upwards.
#[cfg(test)]
fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// SUBPROOF(m, D[n], b) of RFC 9162, appended to `out`.
#[cfg(test)]
fn subproof(m: usize, leaves: &[Hash], complete: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], complete, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Merkle Tree Hash of RFC 6962 section 2.1, written as its recursive definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }

    fn flip(hash: &Hash) -> Hash {
        let mut out = *hash;
        out[7] ^= 0x20;
        out
    }

    #[test]
    fn an_extension_proves_like_the_whole_tree() {
        let all = leaves(70);
        for base_size in 0..=all.len() {
            let mut base = CompactRange::new();
            for leaf in &all[..base_size] {
                base.append(*leaf);
            }
            for size in base_size..=all.len() {
                let tree = &all[..size];
                let extension = Extension::new(&base, &all[base_size..size]);
                for index in base_size as u64..size as u64 {
                    let expected = inclusion_proof(index, tree).expect("in range");
                    assert_eq!(extension.inclusion_proof(index), Ok(expected), "{index}/{size}");
                }
                for old in base_size as u64..=size as u64 {
                    let expected = consistency_proof(old, tree).expect("in order");
                    assert_eq!(extension.consistency_proof(old), Ok(expected), "{old}/{size}");
                }
            }
        }
        let mut base = CompactRange::new();
        base.append(all[0]);
        base.append(all[1]);
        let extension = Extension::new(&base, &all[2..5]);
        assert!(extension.consistency_proof(1).is_err(), "older than the base");
        assert!(extension.inclusion_proof(1).is_err(), "a leaf inside the base");
    }

    #[test]
    fn primitives_match_known_digests() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn roots_match_an_independent_implementation() {
        // Expected roots computed with Python's hashlib over the leaves b"0", b"1", ….
        let cases = [
            (1, "db3426e878068d28d269b6c87172322ce5372b65756d0789001d34835f601c03"),
            (2, "cb00989d94a569c0a678ae042b63dcd4625db96440517f37a6eb7976ea24ed4b"),
            (3, "725d5230db68f557470dc35f1d8865813acd7ebb07ad152774141decbae71327"),
            (5, "b6748f6ed7a99de7da84fd97e1a3bac6fab8999f4a43695cab9528a2de431147"),
            (7, "a3e23b32ccb6bf96d092d165d8aa546e09829de8f03b0e8957581d1e16b92bdf"),
            (8, "3b85a9626c1ccb64c6b95ec7fa64888defe2cf12e39e77e10812ce5fcb9cb58e"),
        ];
        for (n, expected) in cases {
            let tree: Vec<Hash> =
                (0..n).map(|i: u32| leaf_hash(i.to_string().as_bytes())).collect();
            assert_eq!(hex::encode(root(&tree)), expected, "size {n}");
        }
    }

    #[test]
    fn root_and_compact_range_match_the_reference_for_sizes_0_to_70() {
        let all = leaves(70);
        let mut range = CompactRange::new();
        for n in 0..=70usize {
            let expected = reference_root(&all[..n]);
            assert_eq!(root(&all[..n]), expected, "root of size {n}");
            assert_eq!(range.size(), n as u64);
            assert_eq!(range.root(), expected, "compact range of size {n}");
            assert_eq!(range.peaks().len(), n.count_ones() as usize);
            let rebuilt = CompactRange::from_bytes(n as u64, &range.to_bytes());
            assert_eq!(rebuilt.as_ref(), Ok(&range), "round trip of size {n}");
            if n < 70 {
                range.append(all[n]);
            }
        }
    }

    #[test]
    fn compact_range_rejects_parts_that_do_not_fit_the_size() {
        let range = CompactRange::from_bytes(3, &[0u8; 32]);
        assert_eq!(range, Err(ProofError::CompactRange { size: 3, expected: 2, found: 1 }));
        let range = CompactRange::from_bytes(4, &[0u8; 33]);
        assert_eq!(range, Err(ProofError::CompactRange { size: 4, expected: 1, found: 1 }));
        assert!(CompactRange::from_parts(0, vec![[0u8; 32]]).is_err());
    }

    #[test]
    fn inclusion_proofs_verify_for_every_leaf_of_sizes_1_to_70() {
        let all = leaves(70);
        for n in 1..=70usize {
            let tree = &all[..n];
            let root = reference_root(tree);
            for i in 0..n {
                let proof = inclusion_proof(i as u64, tree).expect("index in range");
                let checked = verify_inclusion(i as u64, n as u64, &tree[i], &proof, &root);
                assert_eq!(checked, Ok(()), "leaf {i} of size {n}");
            }
        }
    }

    #[test]
    fn inclusion_proof_of_size_1_is_empty_and_out_of_range_is_refused() {
        let tree = leaves(1);
        assert_eq!(inclusion_proof(0, &tree), Ok(vec![]));
        assert_eq!(
            inclusion_proof(1, &tree),
            Err(ProofError::IndexOutOfRange { index: 1, size: 1 })
        );
        assert_eq!(inclusion_proof(0, &[]), Err(ProofError::IndexOutOfRange { index: 0, size: 0 }));
    }

    #[test]
    fn tampered_inclusion_proofs_fail() {
        let tree = leaves(13);
        let root = reference_root(&tree);
        let proof = inclusion_proof(5, &tree).expect("index in range");
        let check = |index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash| {
            verify_inclusion(index, size, leaf, proof, root)
        };
        let mut changed = proof.clone();
        changed[1] = flip(&changed[1]);
        assert_eq!(check(5, 13, &tree[5], &changed, &root), Err(ProofError::RootMismatch));
        assert_eq!(check(5, 13, &tree[6], &proof, &root), Err(ProofError::RootMismatch));
        assert_eq!(check(6, 13, &tree[5], &proof, &root), Err(ProofError::RootMismatch));
        assert_eq!(check(5, 13, &tree[5], &proof, &flip(&root)), Err(ProofError::RootMismatch));
        // Sizes whose trees give leaf 5 the same path shape (12, 14) cannot be told apart
        // by the proof alone; sizes with another shape must fail.
        assert_eq!(check(5, 8, &tree[5], &proof, &root), Err(ProofError::Length));
        assert_eq!(check(5, 17, &tree[5], &proof, &root), Err(ProofError::Length));
        assert_eq!(check(5, 13, &tree[5], &proof[..3], &root), Err(ProofError::Length));
        let mut longer = proof.clone();
        longer.push(root);
        assert_eq!(check(5, 13, &tree[5], &longer, &root), Err(ProofError::Length));
        assert_eq!(
            check(13, 13, &tree[5], &proof, &root),
            Err(ProofError::IndexOutOfRange { index: 13, size: 13 })
        );
        assert_eq!(check(5, 13, &tree[5], &proof, &root), Ok(()));
    }

    #[test]
    fn consistency_proofs_verify_for_every_pair_of_sizes_up_to_70() {
        let all = leaves(70);
        for new in 0..=70usize {
            let new_root = reference_root(&all[..new]);
            for old in 0..=new {
                let old_root = reference_root(&all[..old]);
                let proof = consistency_proof(old as u64, &all[..new]).expect("old <= new");
                let checked =
                    verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof);
                assert_eq!(checked, Ok(()), "{old} -> {new}");
            }
        }
    }

    #[test]
    fn tampered_consistency_proofs_fail() {
        let all = leaves(21);
        let (old_root, new_root) = (reference_root(&all[..7]), reference_root(&all));
        let proof = consistency_proof(7, &all).expect("old <= new");
        let check = |old: u64, new: u64, a: &Hash, b: &Hash, p: &[Hash]| {
            verify_consistency(old, new, a, b, p)
        };
        assert_eq!(check(7, 21, &old_root, &new_root, &proof), Ok(()));
        for i in 0..proof.len() {
            let mut changed = proof.clone();
            changed[i] = flip(&changed[i]);
            assert!(check(7, 21, &old_root, &new_root, &changed).is_err(), "hash {i} flipped");
        }
        assert!(check(7, 21, &flip(&old_root), &new_root, &proof).is_err());
        assert!(check(7, 21, &old_root, &flip(&new_root), &proof).is_err());
        assert!(check(6, 21, &old_root, &new_root, &proof).is_err());
        assert!(check(7, 16, &old_root, &new_root, &proof).is_err());
        assert!(check(7, 40, &old_root, &new_root, &proof).is_err());
        assert!(check(7, 21, &old_root, &new_root, &proof[1..]).is_err());
        assert!(check(7, 21, &old_root, &new_root, &[]).is_err());
        let mut longer = proof.clone();
        longer.push(new_root);
        assert!(check(7, 21, &old_root, &new_root, &longer).is_err());
        // A log that rewrote history: same sizes, different old leaf.
        let mut forked = all.clone();
        forked[3] = flip(&forked[3]);
        let forked_proof = consistency_proof(7, &forked).expect("old <= new");
        let forked_root = reference_root(&forked);
        assert!(check(7, 21, &old_root, &forked_root, &forked_proof).is_err());
    }

    #[test]
    fn consistency_edge_cases() {
        let all = leaves(4);
        let root4 = reference_root(&all);
        assert_eq!(consistency_proof(4, &all), Ok(vec![]));
        assert_eq!(consistency_proof(0, &all), Ok(vec![]));
        assert_eq!(consistency_proof(5, &all), Err(ProofError::SizeOrder { old: 5, new: 4 }));
        assert_eq!(verify_consistency(4, 4, &root4, &root4, &[]), Ok(()));
        assert_eq!(
            verify_consistency(4, 4, &root4, &flip(&root4), &[]),
            Err(ProofError::RootMismatch)
        );
        assert_eq!(verify_consistency(4, 4, &root4, &root4, &[root4]), Err(ProofError::Length));
        assert_eq!(verify_consistency(0, 4, &empty_root(), &root4, &[]), Ok(()));
        assert_eq!(verify_consistency(0, 4, &root4, &root4, &[]), Err(ProofError::RootMismatch));
        assert_eq!(
            verify_consistency(5, 4, &root4, &root4, &[]),
            Err(ProofError::SizeOrder { old: 5, new: 4 })
        );
    }
}
