//! The Certificate Transparency Merkle tree (RFC 6962 §2.1, RFC 9162 §2.1) over the
//! append-only event log: tree heads, inclusion and consistency proofs, and their checks.
//!
//! The log never rehashes its events. A store keeps only the hashes of complete
//! ("perfect") subtrees, each aligned on a multiple of its own width and named by a
//! [`NodeId`]: every leaf hash (level 0) plus, when leaf `i` is appended, the nodes listed
//! by [`completed_by_append`]`(i)`, each the [`node_hash`] of its two children. Every tree
//! head and proof for a tree of `n` leaves is then a combination of O(log n) stored
//! hashes: [`range_nodes`] and [`nodes_for_inclusion`] / [`nodes_for_consistency`] say which
//! ones to fetch, and the `lookup` closures given to [`root`], [`inclusion_proof`] and
//! [`consistency_proof`] fetch them.
//!
//! Verification ([`verify_inclusion`], [`verify_consistency`]) follows the RFC 9162
//! algorithms step by step and never needs the log.
//!
//! Sizes and indexes are `u64`; no function panics or overflows on any input, and
//! arguments out of range give `None`, an empty `Vec` or `false` as documented. Work and
//! memory are O(log n) everywhere except [`range_nodes`] and [`range_hash`] on ranges no
//! tree head or proof uses (see [`range_nodes`]).

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The hash of a leaf: `SHA-256(0x00 ‖ data)` (RFC 6962 §2.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    hasher.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)` (RFC 6962 §2.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The hash of the empty tree, SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A complete subtree: covers leaves `[index << level, (index + 1) << level)`.
///
/// Leaves are level-0 nodes. Nodes are ordered by level, then index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The height of the subtree: it covers `2^level` leaves.
    pub level: u32,
    /// The position of the subtree among those of its level, counted from 0.
    pub index: u64,
}

impl NodeId {
    /// The leaf range `[start, end)` the node covers, or `None` when it does not fit in
    /// `u64` (a level of 64 or more, or an end past `u64::MAX`).
    pub fn leaf_range(self) -> Option<(u64, u64)> {
        if self.level >= u64::BITS {
            return None;
        }
        let start = u128::from(self.index) << self.level;
        let end = (u128::from(self.index) + 1) << self.level;
        Some((u64::try_from(start).ok()?, u64::try_from(end).ok()?))
    }

    /// The two children `(2·index, 2·index + 1)` one level down, whose [`node_hash`] is
    /// this node's hash; `None` for a leaf (or an index too large to have children).
    pub fn children(self) -> Option<(NodeId, NodeId)> {
        let level = self.level.checked_sub(1)?;
        let left = self.index.checked_mul(2)?;
        let right = left.checked_add(1)?;
        Some((
            NodeId { level, index: left },
            NodeId {
                level,
                index: right,
            },
        ))
    }
}

/// The largest power of two strictly smaller than `n`, for `n >= 2` (RFC 6962's `k`);
/// 1 for smaller `n`, so that it never panics.
fn split_point(n: u64) -> u64 {
    let below = n.saturating_sub(1).max(1);
    1 << (u64::BITS - 1 - below.leading_zeros())
}

/// The node covering exactly `[start, end)`, if that range is a complete aligned subtree.
/// `start < end` is the caller's duty.
fn perfect_node(start: u64, end: u64) -> Option<NodeId> {
    let len = end.checked_sub(start)?;
    if len.is_power_of_two() && start & (len - 1) == 0 {
        let level = len.trailing_zeros();
        Some(NodeId {
            level,
            index: start >> level,
        })
    } else {
        None
    }
}

/// The complete subtrees whose hashes, combined as RFC 6962's MTH recursion combines them
/// (split at the largest power of two smaller than the range's length), give
/// `MTH(D[start:end])`, from left to right. Leaves are level-0 nodes. Empty or inverted
/// range → empty `Vec`.
///
/// Every range a tree head or proof uses starts at a multiple of a power of two at least
/// as large as its length; for those the result is the binary decomposition of the length,
/// at most 64 nodes. Any other range is still answered, but MTH then splits it off its
/// alignment and the result can hold up to `end - start` nodes (down to single leaves), so
/// callers must bound such ranges themselves.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    if start < end {
        push_range_nodes(start, end, &mut nodes);
    }
    nodes
}

/// Appends the nodes of `[start, end)` (non-empty) to `out`, left to right.
fn push_range_nodes(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut low = start;
    loop {
        if let Some(node) = perfect_node(low, end) {
            out.push(node);
            return;
        }
        // Not a single node, so at least two leaves long: split as MTH does.
        let mid = low + split_point(end - low);
        push_range_nodes(low, mid, out);
        low = mid;
    }
}

/// `MTH(D[start:end])` computed from complete-subtree hashes given by `lookup`; `None` if
/// a needed node is missing or the range is empty/inverted.
///
/// Asks `lookup` for exactly the nodes of [`range_nodes`]`(start, end)`, and stops at the
/// first missing one. Memory stays O(log n) for every range; time is O(log n) for the
/// aligned ranges tree heads and proofs use (see [`range_nodes`]).
pub fn range_hash(start: u64, end: u64, lookup: &impl Fn(NodeId) -> Option<Hash>) -> Option<Hash> {
    if start >= end {
        return None;
    }
    hash_range(start, end, lookup)
}

/// [`range_hash`] for a non-empty range.
fn hash_range(start: u64, end: u64, lookup: &impl Fn(NodeId) -> Option<Hash>) -> Option<Hash> {
    if let Some(node) = perfect_node(start, end) {
        return lookup(node);
    }
    let mid = start + split_point(end - start);
    let left = hash_range(start, mid, lookup)?;
    let right = hash_range(mid, end, lookup)?;
    Some(node_hash(&left, &right))
}

/// The root (tree head hash) of a tree of `size` leaves: [`empty_root`] for 0, else
/// `MTH(D[0:size])` from `lookup`; `None` if a needed node is missing.
pub fn root(size: u64, lookup: &impl Fn(NodeId) -> Option<Hash>) -> Option<Hash> {
    if size == 0 {
        Some(empty_root())
    } else {
        range_hash(0, size, lookup)
    }
}

/// The leaf ranges `[a, b)` whose MTHs form the inclusion proof (audit path) of leaf
/// `index` in a tree of `size` leaves, in the order of RFC 9162 §2.1.3.1
/// (`PATH(m, D[n])`): the leaf's sibling first, the root's child last. `None` if
/// `index >= size`; empty for a tree of one leaf.
pub fn inclusion_ranges(index: u64, size: u64) -> Option<Vec<(u64, u64)>> {
    if index >= size {
        return None;
    }
    // Walk down from the root, noting the sibling of each subtree holding the leaf;
    // PATH lists them from the bottom up.
    let mut path = Vec::new();
    let (mut low, mut high) = (0, size);
    while high - low > 1 {
        let mid = low + split_point(high - low);
        if index < mid {
            path.push((mid, high));
            high = mid;
        } else {
            path.push((low, mid));
            low = mid;
        }
    }
    path.reverse();
    Some(path)
}

/// The inclusion proof of leaf `index` in a tree of `size` leaves, using `lookup`: the
/// MTHs of [`inclusion_ranges`]. `None` if `index >= size` or a needed node is missing.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    lookup: &impl Fn(NodeId) -> Option<Hash>,
) -> Option<Vec<Hash>> {
    range_hashes(inclusion_ranges(index, size)?, lookup)
}

/// The leaf ranges whose MTHs form the consistency proof between tree sizes `first` and
/// `second`, in the order of RFC 9162 §2.1.4.1 (`PROOF(m, D[n])` / `SUBPROOF`). `None`
/// unless `0 < first <= second`. `first == second` → `Some(empty)`.
pub fn consistency_ranges(first: u64, second: u64) -> Option<Vec<(u64, u64)>> {
    if first == 0 || first > second {
        return None;
    }
    // SUBPROOF(first - low, D[low:high], complete), unrolled. Each step appends one MTH
    // after the result of the inner SUBPROOF, so those are collected top-down and
    // reversed; the innermost SUBPROOF contributes at most one range, first.
    let mut appended = Vec::new();
    let mut innermost = None;
    let (mut low, mut high) = (0, second);
    let mut complete = true;
    // Invariant: low < first <= high, so the range shrinks until first == high.
    while first != high {
        let mid = low + split_point(high - low);
        if first <= mid {
            appended.push((mid, high));
            high = mid;
        } else {
            appended.push((low, mid));
            low = mid;
            complete = false;
        }
    }
    if !complete {
        innermost = Some((low, high));
    }
    let mut ranges: Vec<(u64, u64)> = innermost.into_iter().collect();
    ranges.extend(appended.into_iter().rev());
    Some(ranges)
}

/// The consistency proof between tree sizes `first` and `second`, using `lookup`: the
/// MTHs of [`consistency_ranges`]. `None` unless `0 < first <= second`, or if a needed
/// node is missing.
pub fn consistency_proof(
    first: u64,
    second: u64,
    lookup: &impl Fn(NodeId) -> Option<Hash>,
) -> Option<Vec<Hash>> {
    range_hashes(consistency_ranges(first, second)?, lookup)
}

/// The MTHs of `ranges`, in their order: a proof. `None` if a needed node is missing.
fn range_hashes(
    ranges: Vec<(u64, u64)>,
    lookup: &impl Fn(NodeId) -> Option<Hash>,
) -> Option<Vec<Hash>> {
    ranges
        .into_iter()
        .map(|(start, end)| range_hash(start, end, lookup))
        .collect()
}

/// Every complete subtree needed to answer [`inclusion_proof`]`(index, size)` plus
/// [`root`]`(size)` (so a store can fetch them in one query), deduplicated and sorted.
/// Empty if `index >= size`.
pub fn nodes_for_inclusion(index: u64, size: u64) -> Vec<NodeId> {
    inclusion_ranges(index, size).map_or_else(Vec::new, |ranges| subtrees(&[size], ranges))
}

/// Every complete subtree needed to answer [`consistency_proof`]`(first, second)` plus
/// [`root`]`(first)` and [`root`]`(second)`, deduplicated and sorted. Empty unless
/// `0 < first <= second`.
pub fn nodes_for_consistency(first: u64, second: u64) -> Vec<NodeId> {
    consistency_ranges(first, second)
        .map_or_else(Vec::new, |ranges| subtrees(&[first, second], ranges))
}

/// The complete subtrees of the roots of trees of `sizes` and of the leaf `ranges` of a
/// proof, deduplicated and sorted.
fn subtrees(sizes: &[u64], ranges: Vec<(u64, u64)>) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = sizes
        .iter()
        .map(|&size| (0, size))
        .chain(ranges)
        .flat_map(|(start, end)| range_nodes(start, end))
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// The nodes above level 0 that become complete when leaf number `index` (0-based) is
/// appended, bottom-up: `(level 1, index/2)` if `index` is odd, then `(level 2, index/4)`
/// if also `index % 4 == 3`, and so on. Each one's hash is `node_hash(child 2j at
/// level-1, child 2j+1)` (see [`NodeId::children`]), so computing them in this order only
/// needs nodes already stored.
///
/// For `index == u64::MAX` the level-64 node (a tree of 2^64 leaves, whose size no `u64`
/// holds) is left out.
pub fn completed_by_append(index: u64) -> Vec<NodeId> {
    (1..=index.trailing_ones())
        .map_while(|level| {
            index.checked_shr(level).map(|parent| NodeId {
                level,
                index: parent,
            })
        })
        .collect()
}

/// RFC 9162 §2.1.3.2: verify an inclusion proof of `leaf` (a leaf hash) at `index` in a
/// tree of `size` with root `root`.
///
/// The proof binds the leaf's position only up to the shape of its path: a tree size
/// whose path has the same shape (e.g. leaf 0 of 3 and of 4 leaves) accepts the same
/// proof with the same root. Callers check the size against a signed tree head.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    // 1. leaf_index >= tree_size fails.
    if index >= size {
        return false;
    }
    // 2. fn = leaf_index, sn = tree_size - 1. 3. r = hash.
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    // 4. For each value p in the inclusion_path array:
    for p in proof {
        // a. sn == 0 fails (the path is too long).
        if s_n == 0 {
            return false;
        }
        // b. LSB(fn) set, or fn == sn: p is a left sibling.
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            // ii. Skip the levels where the right edge has no sibling.
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // c. Up one level.
        f_n >>= 1;
        s_n >>= 1;
    }
    // 5. sn == 0 (the path is long enough) and r == root_hash.
    s_n == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: verify a consistency proof between (`first`, `first_root`) and
/// (`second`, `second_root`).
///
/// The RFC's algorithm covers `0 < first < second`; for `first == second` the proof must
/// be empty and the roots equal, and `first == 0` or `first > second` is rejected (as
/// [`consistency_ranges`] gives no proof for them).
///
/// As with inclusion, the proof binds the sizes only up to its shape: sizes for which the
/// roots combine the proof the same way (e.g. 2 → 3 and 2 → 4) accept the same proof with
/// the same roots. Callers check the sizes against signed tree heads.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    // 1. An empty consistency_path fails.
    let Some((head, tail)) = proof.split_first() else {
        return false;
    };
    // 2. If first is an exact power of 2, first_hash is prepended to the path; the path
    // is then walked from its second element (5 and 6 below).
    let (start, rest) = if first.is_power_of_two() {
        (first_root, proof)
    } else {
        (head, tail)
    };
    // 3. fn = first - 1, sn = second - 1.
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    // 4. While LSB(fn) is set, right-shift fn and sn.
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // 5. fr = sr = the first value of the path.
    let (mut fr, mut sr) = (*start, *start);
    // 6. For each subsequent value c:
    for c in rest {
        // a. sn == 0 fails (the path is too long).
        if s_n == 0 {
            return false;
        }
        // b. LSB(fn) set, or fn == sn: c is a left sibling on both paths.
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            // ii. Skip the levels where the right edge has no sibling.
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            // Otherwise c is a right sibling, only in the second tree.
            sr = node_hash(&sr, c);
        }
        // c. Up one level.
        f_n >>= 1;
        s_n >>= 1;
    }
    // 7. fr == first_hash, sr == second_hash and sn == 0.
    fr == *first_root && sr == *second_root && s_n == 0
}

#[cfg(test)]
mod tests;
