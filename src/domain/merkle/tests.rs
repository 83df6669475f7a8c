//! Tests of the Merkle tree: known answers, and stored subtrees, tree heads and proofs
//! against a naive RFC 6962 reference over the leaf data; bad proofs rejected; arguments
//! out of range or at the extremes of `u64`; work that stays logarithmic on large trees.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::*;

// ---------------------------------------------------------------------------------
// The naive reference: RFC 6962 §2.1 recursions over the leaf data, nothing shared
// with the code under test but the two hash functions.
// ---------------------------------------------------------------------------------

/// The largest power of two strictly smaller than `n` (n >= 2), by counting.
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]).
fn mth(d: &[Vec<u8>]) -> Hash {
    match d.len() {
        0 => Sha256::digest(b"").into(),
        1 => leaf_hash(&d[0]),
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// PATH(m, D[n]).
fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        assert_eq!(m, 0);
        return Vec::new();
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

/// PROOF(m, D[n]).
fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
    subproof(m, d, true)
}

/// SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

const MAX: usize = 70;

/// Distinct leaf data of varying lengths, the first one empty.
fn data(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            if i == 0 {
                Vec::new()
            } else {
                format!("event {i}{}", "x".repeat(i % 5)).into_bytes()
            }
        })
        .collect()
}

type Store = HashMap<NodeId, Hash>;

/// Stores leaf `index` as an append-only store would: its leaf hash, then the nodes it
/// completes, from the children already stored.
fn append(store: &mut Store, index: u64, data: &[u8]) {
    assert_eq!(
        store.insert(NodeId { level: 0, index }, leaf_hash(data)),
        None
    );
    for node in completed_by_append(index) {
        let (left, right) = node.children().unwrap();
        let hash = node_hash(&store[&left], &store[&right]);
        assert_eq!(store.insert(node, hash), None, "{node:?} stored twice");
    }
}

/// A store holding the first `n` leaves of `d`.
fn store_of(d: &[Vec<u8>]) -> Store {
    let mut store = Store::new();
    for (i, leaf) in d.iter().enumerate() {
        append(&mut store, i as u64, leaf);
    }
    store
}

/// The tree sizes the negative tests try with every index or first size: all small
/// ones, and the larger ones around a power of two (the debug-build SHA-256 is slow).
fn negative_sizes() -> impl Iterator<Item = usize> {
    (1..=40).chain([63, 64, 65, MAX])
}

/// For each leaf j, a store of the same log with only leaf j changed.
fn forks(d: &[Vec<u8>]) -> Vec<Store> {
    (0..d.len())
        .map(|j| {
            let mut forked = d.to_vec();
            forked[j].push(b'!');
            store_of(&forked)
        })
        .collect()
}

fn lookup_in(store: &Store) -> impl Fn(NodeId) -> Option<Hash> + '_ {
    |id| store.get(&id).copied()
}

/// The log the negative tests attack: the data of [`MAX`] leaves, their stored nodes, the
/// root of every size up to [`MAX`], and for each leaf a history forked at it.
fn attacked_log() -> (Vec<Vec<u8>>, Store, Vec<Hash>, Vec<Store>) {
    let d = data(MAX);
    let store = store_of(&d);
    let roots = (0..=MAX as u64)
        .map(|n| root(n, &lookup_in(&store)).unwrap())
        .collect();
    let forks = forks(&d);
    (d, store, roots, forks)
}

/// A lookup that knows only `allowed` and records what it is asked.
fn recording<'a>(
    store: &'a Store,
    allowed: &'a [NodeId],
    asked: &'a RefCell<BTreeSet<NodeId>>,
) -> impl Fn(NodeId) -> Option<Hash> + 'a {
    move |id| {
        asked.borrow_mut().insert(id);
        if allowed.binary_search(&id).is_ok() {
            store.get(&id).copied()
        } else {
            None
        }
    }
}

/// Checks that `needed` is sorted and stored, and that `answer`, given a lookup that
/// knows only those nodes, asks for exactly them.
fn assert_asks_for(
    store: &Store,
    needed: &[NodeId],
    answer: impl FnOnce(&dyn Fn(NodeId) -> Option<Hash>),
) {
    assert!(needed.windows(2).all(|w| w[0] < w[1]));
    assert!(needed.iter().all(|id| store.contains_key(id)));
    let asked = RefCell::new(BTreeSet::new());
    answer(&recording(store, needed, &asked));
    assert_eq!(asked.take(), needed.iter().copied().collect());
}

/// The stored-node hashes of an imaginary log of 2^64 identical leaves, in O(1) per
/// node: every node of level l has the same hash. Consistent (each node is the hash of
/// its children), so real proofs of any size can be built and verified.
fn uniform_levels() -> Vec<Hash> {
    let mut levels = vec![leaf_hash(b"same")];
    for l in 0..64 {
        let h = levels[l];
        levels.push(node_hash(&h, &h));
    }
    levels
}

fn uniform_lookup(levels: &[Hash]) -> impl Fn(NodeId) -> Option<Hash> + '_ {
    |id| levels.get(id.level as usize).copied()
}

fn hex(s: &str) -> Hash {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut h = *hash;
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

/// `proof` spoiled every way a forger might try: one bit flipped in one hash, one hash
/// cut from either end, one of `extras` added at either end.
fn tampered(proof: &[Hash], extras: &[Hash]) -> Vec<Vec<Hash>> {
    let mut bad = Vec::new();
    for k in 0..proof.len() {
        for bit in [0, 255] {
            let mut flipped = proof.to_vec();
            flipped[k] = flip(&flipped[k], bit);
            bad.push(flipped);
        }
    }
    if !proof.is_empty() {
        bad.push(proof[..proof.len() - 1].to_vec());
        bad.push(proof[1..].to_vec());
    }
    for &extra in extras {
        let mut longer = proof.to_vec();
        longer.push(extra);
        bad.push(longer);
        let mut longer = vec![extra];
        longer.extend_from_slice(proof);
        bad.push(longer);
    }
    bad
}

/// Checks that `ranges` are disjoint and tile `[start, end)` exactly, in any order.
fn assert_tiles(mut ranges: Vec<(u64, u64)>, start: u64, end: u64) {
    ranges.sort_unstable();
    let mut at = start;
    for (a, b) in ranges {
        assert!(a < b, "empty range {a}..{b}");
        assert_eq!(a, at, "gap or overlap at {at}");
        at = b;
    }
    assert_eq!(at, end);
}

/// Checks that `nodes` are complete aligned subtrees, left to right, tiling
/// `[start, end)`.
fn assert_node_tiling(nodes: &[NodeId], start: u64, end: u64) {
    let mut at = start;
    for node in nodes {
        let (a, b) = node.leaf_range().unwrap();
        assert_eq!(
            u128::from(a),
            u128::from(node.index) << node.level,
            "{node:?}"
        );
        assert!(a >= start && b <= end, "{node:?} outside {start}..{end}");
        assert_eq!(a, at, "{node:?} does not continue at {at}");
        at = b;
    }
    assert_eq!(at, end, "nodes of {start}..{end} stop at {at}");
}

/// Whether each hash of the inclusion path of `index` in `size` is a left sibling.
fn sides(index: u64, size: u64) -> Option<Vec<bool>> {
    Some(
        inclusion_ranges(index, size)?
            .into_iter()
            .map(|(a, _)| a < index)
            .collect(),
    )
}

/// The length of an inclusion proof, by the inner/border decomposition
/// (bits.Len(index ^ (size - 1)) inner nodes, then one per set bit above them).
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The MTH shape of `[low, high)` written over the named `tiles` (which must tile it
/// along MTH splits), e.g. `(p0,(p1,p2))`.
fn shape(low: u64, high: u64, tiles: &[((u64, u64), String)]) -> String {
    if let Some((_, name)) = tiles.iter().find(|(t, _)| *t == (low, high)) {
        return name.clone();
    }
    if high - low < 2 {
        return "?".into();
    }
    let mid = low + k_of((high - low) as usize) as u64;
    format!("({},{})", shape(low, mid, tiles), shape(mid, high, tiles))
}

/// The shapes of the first and second roots that a verifier told `(first, second)`
/// recomputes from a proof: proof element i is `p{i}`, the first root (prepended when
/// `first` is a power of two) is `first_root`. `None` if there is no such proof or its
/// length differs from `len`.
fn consistency_shapes(
    first: u64,
    second: u64,
    len: usize,
    first_root: &str,
) -> Option<(String, String)> {
    let ranges = consistency_ranges(first, second)?;
    if ranges.len() != len || len == 0 {
        return None;
    }
    let mut tiles: Vec<((u64, u64), String)> = ranges
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r, format!("p{i}")))
        .collect();
    if first.is_power_of_two() {
        tiles.push(((0, first), first_root.to_owned()));
    }
    Some((shape(0, first, &tiles), shape(0, second, &tiles)))
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[test]
fn hashes_are_domain_separated() {
    assert_eq!(
        empty_root(),
        hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    let a = leaf_hash(b"a");
    let mut manual = Sha256::new();
    manual.update([0u8]);
    manual.update(b"a");
    assert_eq!(a, <Hash>::from(manual.finalize()));
    let mut manual = Sha256::new();
    manual.update([1u8]);
    manual.update(a);
    manual.update(empty_root());
    assert_eq!(
        node_hash(&a, &empty_root()),
        <Hash>::from(manual.finalize())
    );
    assert_ne!(node_hash(&a, &empty_root()), node_hash(&empty_root(), &a));
}

/// The RFC 6962 test vectors of the Certificate Transparency implementations
/// (transparency-dev/merkle testonly/constants.go and proof/verify_test.go).
#[test]
fn rfc6962_known_answers() {
    let inputs: Vec<Vec<u8>> = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    })
    .collect();
    let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    // Every complete subtree of the 8-leaf tree, by level.
    let nodes: [&[&str]; 4] = [
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
        ],
        &[
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        ],
        &[
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
        &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ];
    let store = store_of(&inputs);
    let lookup = lookup_in(&store);
    assert_eq!(store.len(), 15);
    for (level, hashes) in nodes.iter().enumerate() {
        for (index, h) in hashes.iter().enumerate() {
            let id = NodeId {
                level: level as u32,
                index: index as u64,
            };
            assert_eq!(store[&id], hex(h), "{id:?}");
        }
    }
    for (size, r) in roots.iter().enumerate() {
        assert_eq!(root(size as u64, &lookup), Some(hex(r)), "size {size}");
    }
    // (index, size, proof), indexes 0-based.
    let inclusions: [(u64, u64, &[&str]); 4] = [
        (0, 8, &[nodes[0][1], nodes[1][1], nodes[2][1]]),
        (5, 8, &[nodes[0][4], nodes[1][3], nodes[2][0]]),
        (2, 3, &[nodes[1][0]]),
        (1, 5, &[nodes[0][0], nodes[1][1], nodes[0][4]]),
    ];
    for (index, size, expected) in inclusions {
        let expected: Vec<Hash> = expected.iter().map(|h| hex(h)).collect();
        assert_eq!(
            inclusion_proof(index, size, &lookup),
            Some(expected.clone())
        );
        let leaf = leaf_hash(&inputs[index as usize]);
        let r = hex(roots[size as usize]);
        assert!(verify_inclusion(index, size, &leaf, &expected, &r));
    }
    let consistencies: [(u64, u64, &[&str]); 4] = [
        (1, 8, &[nodes[0][1], nodes[1][1], nodes[2][1]]),
        (6, 8, &[nodes[1][2], nodes[1][3], nodes[2][0]]),
        (2, 5, &[nodes[1][1], nodes[0][4]]),
        (6, 7, &[nodes[1][2], nodes[0][6], nodes[2][0]]),
    ];
    for (first, second, expected) in consistencies {
        let expected: Vec<Hash> = expected.iter().map(|h| hex(h)).collect();
        assert_eq!(
            consistency_proof(first, second, &lookup),
            Some(expected.clone())
        );
        let (r1, r2) = (hex(roots[first as usize]), hex(roots[second as usize]));
        assert!(verify_consistency(first, second, &r1, &r2, &expected));
    }
}

#[test]
fn completed_by_append_stores_every_complete_subtree() {
    assert!(completed_by_append(0).is_empty());
    assert!(completed_by_append(6).is_empty());
    assert_eq!(
        completed_by_append(7),
        vec![
            NodeId { level: 1, index: 3 },
            NodeId { level: 2, index: 1 },
            NodeId { level: 3, index: 0 },
        ]
    );
    assert_eq!(completed_by_append(u64::MAX).len(), 63);
    assert_eq!(
        completed_by_append(u64::MAX).last(),
        Some(&NodeId {
            level: 63,
            index: 1
        })
    );

    let d = data(MAX);
    let mut store = Store::new();
    for n in 1..=MAX {
        append(&mut store, n as u64 - 1, &d[n - 1]);
        // Exactly the aligned complete subtrees inside [0, n), each with its MTH.
        let expected: usize = (0..7).map(|l| n >> l).sum();
        assert_eq!(store.len(), expected, "size {n}");
        for (id, h) in &store {
            let (a, b) = id.leaf_range().unwrap();
            assert!(b as usize <= n);
            assert_eq!(*h, mth(&d[a as usize..b as usize]), "{id:?}");
        }
    }
}

#[test]
fn node_id_helpers() {
    let id = NodeId { level: 3, index: 5 };
    assert_eq!(id.leaf_range(), Some((40, 48)));
    assert_eq!(
        id.children(),
        Some((
            NodeId {
                level: 2,
                index: 10
            },
            NodeId {
                level: 2,
                index: 11
            }
        ))
    );
    assert_eq!(NodeId { level: 0, index: 9 }.children(), None);
    assert_eq!(
        NodeId {
            level: 63,
            index: 1
        }
        .leaf_range(),
        None
    );
    assert_eq!(
        NodeId {
            level: 63,
            index: 0
        }
        .leaf_range(),
        Some((0, 1 << 63))
    );
    assert_eq!(
        NodeId {
            level: u32::MAX,
            index: 0
        }
        .leaf_range(),
        None
    );
    assert_eq!(
        NodeId {
            level: 1,
            index: u64::MAX
        }
        .children(),
        None
    );
}

#[test]
fn range_nodes_tile_with_aligned_complete_subtrees() {
    let d = data(MAX);
    let store = store_of(&d);
    let lookup = lookup_in(&store);
    let mut all: Vec<NodeId> = store.keys().copied().collect();
    all.sort_unstable();
    for start in 0..=MAX as u64 {
        for end in 0..=MAX as u64 {
            let nodes = range_nodes(start, end);
            if start >= end {
                assert!(nodes.is_empty());
                assert_eq!(range_hash(start, end, &lookup), None);
                continue;
            }
            assert_node_tiling(&nodes, start, end);
            // range_hash asks for exactly those nodes, and gives MTH(D[start:end]).
            let asked = RefCell::new(BTreeSet::new());
            let h = range_hash(start, end, &recording(&store, &all, &asked));
            assert_eq!(h, Some(mth(&d[start as usize..end as usize])));
            let mut sorted = nodes.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), nodes.len());
            assert_eq!(asked.take(), sorted.into_iter().collect());
            // Aligned ranges need at most one node per set bit of the length.
            let len = end - start;
            if start % len.next_power_of_two() == 0 {
                assert_eq!(nodes.len() as u32, len.count_ones(), "{start}..{end}");
            }
        }
    }
    // Missing nodes give None.
    assert_eq!(range_hash(0, 7, &|_| None), None);
    assert_eq!(root(7, &|_| None), None);
    assert_eq!(root(0, &|_| None), Some(empty_root()));
    // Large aligned ranges.
    for (start, end) in [
        (0, u64::MAX),
        (0, 1 << 63),
        (1 << 63, u64::MAX),
        (1 << 40, (1 << 41) - 1),
        (0, 1_000_000),
    ] {
        let nodes = range_nodes(start, end);
        assert_node_tiling(&nodes, start, end);
        assert_eq!(nodes.len() as u32, (end - start).count_ones());
    }
    assert_eq!(range_nodes(u64::MAX - 1, u64::MAX).len(), 1);
    assert_node_tiling(&range_nodes(3, 1003), 3, 1003);
}

/// Roots and proofs from stored subtrees, at every size as the log grows, equal the
/// naive reference and verify; the node lists name exactly what they use.
#[test]
fn proofs_from_stored_subtrees_match_the_reference() {
    let d = data(MAX);
    let mut store = Store::new();
    let mut roots = vec![empty_root()];
    for n in 1..=MAX {
        append(&mut store, n as u64 - 1, &d[n - 1]);
        let size = n as u64;
        let lookup = lookup_in(&store);
        let tree = &d[..n];
        let r = root(size, &lookup).unwrap();
        assert_eq!(r, mth(tree), "root of {n}");
        roots.push(r);

        for (index, leaf_data) in tree.iter().enumerate() {
            let i = index as u64;
            let p = inclusion_proof(i, size, &lookup).unwrap();
            assert_eq!(p, path(index, tree), "PATH({index}, D[{n}])");
            assert_eq!(p.len(), inclusion_len(i, size));
            let ranges = inclusion_ranges(i, size).unwrap();
            assert_eq!(ranges.len(), p.len());
            let mut tiles = ranges.clone();
            tiles.push((i, i + 1));
            assert_tiles(tiles, 0, size);
            assert!(verify_inclusion(i, size, &leaf_hash(leaf_data), &p, &r));

            assert_asks_for(&store, &nodes_for_inclusion(i, size), |only| {
                assert_eq!(inclusion_proof(i, size, &only), Some(p));
                assert_eq!(root(size, &only), Some(r));
            });
        }

        for (first, &first_root) in roots.iter().enumerate().skip(1) {
            let f = first as u64;
            let p = consistency_proof(f, size, &lookup).unwrap();
            assert_eq!(p, proof(first, tree), "PROOF({first}, D[{n}])");
            let ranges = consistency_ranges(f, size).unwrap();
            assert_eq!(ranges.len(), p.len());
            if f < size {
                let mut tiles = ranges.clone();
                if f.is_power_of_two() {
                    tiles.push((0, f));
                }
                assert_tiles(tiles, 0, size);
            }
            assert!(
                verify_consistency(f, size, &first_root, &r, &p),
                "{first} -> {n}"
            );

            assert_asks_for(&store, &nodes_for_consistency(f, size), |only| {
                assert_eq!(consistency_proof(f, size, &only), Some(p));
                assert_eq!(root(f, &only), Some(first_root));
                assert_eq!(root(size, &only), Some(r));
            });
        }
    }
    // Proofs for older sizes are unchanged by later appends.
    let lookup = lookup_in(&store);
    for n in 1..=MAX {
        assert_eq!(root(n as u64, &lookup), Some(roots[n]));
        for i in 0..n {
            assert_eq!(
                inclusion_proof(i as u64, n as u64, &lookup).unwrap(),
                path(i, &d[..n])
            );
        }
    }
}

#[test]
fn bad_inclusion_proofs_are_rejected() {
    let (d, store, roots, forks) = attacked_log();
    let lookup = lookup_in(&store);
    let junk = leaf_hash(b"junk");
    for n in negative_sizes() {
        let size = n as u64;
        let r = roots[n];
        for index in 0..n {
            let i = index as u64;
            let leaf = leaf_hash(&d[index]);
            let p = inclusion_proof(i, size, &lookup).unwrap();
            assert!(verify_inclusion(i, size, &leaf, &p, &r));

            // Flipped, truncated, extended or padded.
            for bad in tampered(&p, &[junk, r, leaf]) {
                assert!(!verify_inclusion(i, size, &leaf, &bad, &r));
            }
            // Wrong leaf, wrong root.
            assert!(!verify_inclusion(i, size, &junk, &p, &r));
            assert!(!verify_inclusion(
                i,
                size,
                &leaf_hash(&d[(index + 1) % MAX]),
                &p,
                &r
            ));
            assert!(!verify_inclusion(i, size, &leaf, &p, &flip(&r, 3)));
            assert!(!verify_inclusion(i, size, &leaf, &p, &empty_root()));
            // Wrong index, including out of range.
            let others = [0, i ^ 1, i ^ 2, i + 1, i.wrapping_sub(1), size - 1, size];
            for other in others.into_iter().chain([size + 1, u64::MAX]) {
                if other != i {
                    assert!(!verify_inclusion(other, size, &leaf, &p, &r));
                }
            }
            // Wrong size, claimed with that size's genuine root: always rejected.
            // Claimed with this tree's root: accepted exactly when the path has the
            // same shape in both sizes (an inherent property of the proof, e.g.
            // leaf 0 in 3 or 4 leaves), else rejected.
            // Every other size for small trees, the neighbours for larger ones.
            let others: Vec<u64> = if n <= 24 {
                (0..=MAX as u64 + 2).collect()
            } else {
                vec![
                    size - 3,
                    size - 2,
                    size - 1,
                    size + 1,
                    size + 2,
                    size ^ 1,
                    size ^ 2,
                ]
            };
            for other in others {
                if other == size {
                    continue;
                }
                if let Some(other_root) = roots.get(other as usize) {
                    assert!(!verify_inclusion(i, other, &leaf, &p, other_root));
                }
                let same_shape = sides(i, other).is_some() && sides(i, other) == sides(i, size);
                assert_eq!(
                    verify_inclusion(i, other, &leaf, &p, &r),
                    same_shape,
                    "leaf {i} of {n} claimed in {other}"
                );
            }
            for other in [size * 2, size / 2, u64::MAX] {
                if other != size && sides(i, other) != sides(i, size) {
                    assert!(!verify_inclusion(i, other, &leaf, &p, &r));
                }
            }
            // A forked history: same size, one leaf changed.
            for changed in [index, (index + 1) % n, n - 1] {
                let forked = lookup_in(&forks[changed]);
                let forked_root = root(size, &forked).unwrap();
                assert_ne!(forked_root, r);
                assert!(!verify_inclusion(i, size, &leaf, &p, &forked_root));
                // The forked log's own proof does not verify against the real root.
                let forked_proof = inclusion_proof(i, size, &forked).unwrap();
                let forked_leaf = forked(NodeId { level: 0, index: i }).unwrap();
                assert!(verify_inclusion(
                    i,
                    size,
                    &forked_leaf,
                    &forked_proof,
                    &forked_root
                ));
                assert!(!verify_inclusion(i, size, &forked_leaf, &forked_proof, &r));
            }
        }
    }
    // The inherent case spelled out: leaf 0 has the same path shape in 3 and 4 leaves.
    let p3 = inclusion_proof(0, 3, &lookup).unwrap();
    assert!(verify_inclusion(0, 4, &leaf_hash(&d[0]), &p3, &roots[3]));
    assert!(!verify_inclusion(0, 4, &leaf_hash(&d[0]), &p3, &roots[4]));
    // Degenerate sizes.
    let l0 = leaf_hash(&d[0]);
    assert!(verify_inclusion(0, 1, &l0, &[], &l0));
    assert!(!verify_inclusion(0, 0, &l0, &[], &l0));
    assert!(!verify_inclusion(0, 0, &l0, &[], &empty_root()));
    assert!(!verify_inclusion(1, 1, &l0, &[], &l0));
}

#[test]
fn bad_consistency_proofs_are_rejected() {
    let (_, store, roots, forks) = attacked_log();
    let lookup = lookup_in(&store);
    let junk = leaf_hash(b"junk");
    let mut genuine = HashMap::new();
    for second in 1..=MAX as u64 {
        for first in 1..=second {
            genuine.insert(
                (first, second),
                consistency_proof(first, second, &lookup).unwrap(),
            );
        }
    }
    for second in negative_sizes() {
        let s = second as u64;
        for first in 1..=second {
            let f = first as u64;
            let (r1, r2) = (roots[first], roots[second]);
            let p = consistency_proof(f, s, &lookup).unwrap();
            assert!(verify_consistency(f, s, &r1, &r2, &p));

            if first == second {
                assert!(p.is_empty());
                assert!(!verify_consistency(f, s, &r1, &flip(&r2, 9), &p));
                assert!(!verify_consistency(f, s, &r1, &r2, &[junk]));
                assert!(!verify_consistency(f, s, &r1, &r2, &[r1]));
                continue;
            }

            // Flipped, empty, truncated, extended or padded.
            for bad in tampered(&p, &[junk, r1, r2, p[0]]) {
                assert!(!verify_consistency(f, s, &r1, &r2, &bad));
            }
            assert!(!verify_consistency(f, s, &r1, &r2, &[]));
            // Wrong or swapped roots.
            assert!(!verify_consistency(f, s, &flip(&r1, 1), &r2, &p));
            assert!(!verify_consistency(f, s, &r1, &flip(&r2, 1), &p));
            assert!(!verify_consistency(f, s, &r2, &r1, &p));
            assert!(!verify_consistency(f, s, &r1, &r1, &p));
            // Forked histories: one leaf changed in the first tree (and so in the
            // second), or only in the second tree's new part.
            for changed in [0, first - 1, second - 1, (first + second) / 2] {
                let forked = lookup_in(&forks[changed]);
                let forked_first = root(f, &forked).unwrap();
                let forked_second = root(s, &forked).unwrap();
                assert_ne!(forked_second, r2);
                if changed < first {
                    assert!(!verify_consistency(f, s, &forked_first, &r2, &p));
                }
                assert!(!verify_consistency(f, s, &r1, &forked_second, &p));
                // The forked log's own proof does not link the real heads, unless it
                // is the same proof (the change lies inside a first tree of
                // power-of-two size, which the proof does not cover).
                let forked_proof = consistency_proof(f, s, &forked).unwrap();
                assert_eq!(
                    verify_consistency(f, s, &r1, &r2, &forked_proof),
                    forked_proof == p
                );
                assert_eq!(forked_proof == p, changed < first && f.is_power_of_two());
                assert!(verify_consistency(
                    f,
                    s,
                    &forked_first,
                    &forked_second,
                    &forked_proof
                ));
                assert_eq!(
                    verify_consistency(f, s, &r1, &forked_second, &forked_proof),
                    changed >= first
                );
            }
            // Wrong sizes. With the claimed sizes' genuine roots, only that pair's
            // own proof verifies. With this pair's roots, the proof verifies exactly
            // when the claimed sizes give both roots the same shape over the proof
            // (inherent, e.g. 2 -> 3 and 2 -> 4), which is computed independently
            // from the MTH splits.
            // The shapes of this pair's roots over the proof: the first root is an
            // atom when `first` is a power of two, else a combination of the proof.
            let r1_shape = if f.is_power_of_two() {
                "R1".to_owned()
            } else {
                consistency_shapes(f, s, p.len(), "R1").unwrap().0
            };
            let (_, r2_shape) = consistency_shapes(f, s, p.len(), &r1_shape).unwrap();
            let candidates = |x: u64| {
                let mut v = vec![
                    0,
                    x.saturating_sub(2),
                    x.saturating_sub(1),
                    x + 1,
                    x + 2,
                    x * 2,
                    x / 2,
                    x ^ 1,
                    x ^ 2,
                ];
                v.sort_unstable();
                v.dedup();
                v
            };
            for f2 in candidates(f) {
                for s2 in candidates(s) {
                    // Both sizes wrong only for small trees.
                    if (f2, s2) == (f, s) || (second > 24 && f2 != f && s2 != s) {
                        continue;
                    }
                    if let Some(genuine) = genuine.get(&(f2, s2)) {
                        let (g1, g2) = (roots[f2 as usize], roots[s2 as usize]);
                        assert_eq!(
                            verify_consistency(f2, s2, &g1, &g2, &p),
                            *genuine == p,
                            "{first}->{second} proof claimed as {f2}->{s2}, genuine roots"
                        );
                    }
                    let same_shape = consistency_shapes(f2, s2, p.len(), &r1_shape)
                        .is_some_and(|(a, b)| a == r1_shape && b == r2_shape);
                    assert_eq!(
                        verify_consistency(f2, s2, &r1, &r2, &p),
                        same_shape,
                        "{first}->{second} proof claimed as {f2}->{s2}"
                    );
                }
            }
        }
    }
    // The inherent case spelled out.
    let p = consistency_proof(2, 3, &lookup).unwrap();
    assert!(verify_consistency(2, 4, &roots[2], &roots[3], &p));
    assert!(!verify_consistency(2, 4, &roots[2], &roots[4], &p));
    // Sizes the RFC excludes.
    let e = empty_root();
    assert!(!verify_consistency(0, 0, &e, &e, &[]));
    assert!(!verify_consistency(0, 5, &e, &roots[5], &[]));
    assert!(!verify_consistency(3, 2, &roots[3], &roots[2], &[]));
    assert!(!verify_consistency(5, 5, &roots[5], &roots[4], &[]));
    assert!(verify_consistency(5, 5, &roots[5], &roots[5], &[]));
}

#[test]
fn invalid_arguments_give_none() {
    assert_eq!(inclusion_ranges(0, 0), None);
    assert_eq!(inclusion_ranges(5, 5), None);
    assert_eq!(inclusion_ranges(u64::MAX, u64::MAX), None);
    assert_eq!(inclusion_ranges(0, 1), Some(Vec::new()));
    assert_eq!(consistency_ranges(0, 0), None);
    assert_eq!(consistency_ranges(0, 5), None);
    assert_eq!(consistency_ranges(6, 5), None);
    assert_eq!(consistency_ranges(5, 5), Some(Vec::new()));
    assert_eq!(consistency_ranges(u64::MAX, u64::MAX), Some(Vec::new()));
    assert!(range_nodes(5, 5).is_empty());
    assert!(range_nodes(6, 5).is_empty());
    assert!(nodes_for_inclusion(5, 5).is_empty());
    assert!(nodes_for_consistency(0, 5).is_empty());
    assert!(nodes_for_consistency(6, 5).is_empty());
    let mut five = range_nodes(0, 5);
    five.sort_unstable();
    assert_eq!(nodes_for_consistency(5, 5), five);
    let lookup = |_: NodeId| Some([0u8; 32]);
    assert_eq!(inclusion_proof(3, 3, &lookup), None);
    assert_eq!(consistency_proof(0, 3, &lookup), None);
    assert_eq!(consistency_proof(4, 3, &lookup), None);
    assert_eq!(range_hash(3, 3, &lookup), None);
    assert_eq!(range_hash(4, 3, &lookup), None);
}

/// Sizes near the ends of u64, through every entry point: no panic, no overflow, and
/// the proofs built over a uniform log of any size verify.
#[test]
fn extreme_sizes_do_not_panic() {
    let levels = uniform_levels();
    let lookup = uniform_lookup(&levels);
    let values = [
        0,
        1,
        2,
        3,
        7,
        1 << 32,
        (1 << 62) + 1,
        (1 << 63) - 1,
        1 << 63,
        (1 << 63) + 1,
        u64::MAX - 2,
        u64::MAX - 1,
        u64::MAX,
    ];
    let junk = [[7u8; 32]; 64];
    for &a in &values {
        let _ = completed_by_append(a);
        let _ = root(a, &lookup);
        for &b in &values {
            let _ = range_hash(a, b, &|_| None);
            if a == 0 || b.saturating_sub(a) < 1000 {
                let _ = range_nodes(a, b);
            }
            let _ = nodes_for_inclusion(a, b);
            let _ = nodes_for_consistency(a, b);
            for len in [0, 1, 2, 63, 64] {
                let _ = verify_inclusion(a, b, &junk[0], &junk[..len], &junk[1]);
                let _ = verify_consistency(a, b, &junk[0], &junk[1], &junk[..len]);
            }
            if let Some(p) = inclusion_proof(a, b, &lookup) {
                let r = root(b, &lookup).unwrap();
                assert!(verify_inclusion(a, b, &levels[0], &p, &r), "{a} in {b}");
                assert_eq!(p.len(), inclusion_len(a, b));
                let mut tiles = inclusion_ranges(a, b).unwrap();
                tiles.push((a, a + 1));
                assert_tiles(tiles, 0, b);
            }
            if let Some(p) = consistency_proof(a, b, &lookup) {
                let (r1, r2) = (root(a, &lookup).unwrap(), root(b, &lookup).unwrap());
                assert!(verify_consistency(a, b, &r1, &r2, &p), "{a} -> {b}");
                if a < b {
                    let mut tiles = consistency_ranges(a, b).unwrap();
                    if a.is_power_of_two() {
                        tiles.push((0, a));
                    }
                    assert_tiles(tiles, 0, b);
                    let mut bad = p.clone();
                    bad[0] = flip(&bad[0], 0);
                    assert!(!verify_consistency(a, b, &r1, &r2, &bad));
                }
            }
        }
    }
}

#[test]
fn large_trees_are_logarithmic() {
    let levels = uniform_levels();
    let lookup = uniform_lookup(&levels);

    let started = Instant::now();
    let ranges = inclusion_ranges(999_999, 1_000_000).unwrap();
    let consistency = consistency_ranges(1 << 39, 1 << 40).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));

    // The last leaf of 1,000,000: one sibling per set bit of 999,999 (no inner nodes).
    assert_eq!(ranges.len(), inclusion_len(999_999, 1_000_000));
    assert_eq!(ranges.len(), 999_999u64.count_ones() as usize);
    let mut tiles = ranges.clone();
    tiles.push((999_999, 1_000_000));
    assert_tiles(tiles, 0, 1_000_000);
    for (index, size) in [
        (0, 1_000_000),
        (500_000, 1_000_000),
        (999_999, 1_000_000),
        (123_456_789_012, 1 << 40),
        ((1 << 40) - 1, 1 << 40),
    ] {
        let ranges = inclusion_ranges(index, size).unwrap();
        assert!(ranges.len() <= 64 - (size - 1).leading_zeros() as usize);
        let p = inclusion_proof(index, size, &lookup).unwrap();
        let r = root(size, &lookup).unwrap();
        assert!(verify_inclusion(index, size, &levels[0], &p, &r));
        assert!(nodes_for_inclusion(index, size).len() <= 2 * 64);
    }

    // 2^39 -> 2^40: the old tree is the new tree's left half, so the proof is the
    // right half alone.
    assert_eq!(consistency, vec![(1 << 39, 1 << 40)]);
    for (first, second) in [
        (1 << 39, 1 << 40),
        ((1 << 39) + 12_345, 1 << 40),
        (999_999, 1_000_000),
        (1, 1 << 40),
        ((1 << 40) - 1, 1 << 40),
        (3, (1 << 40) + 5),
    ] {
        let ranges = consistency_ranges(first, second).unwrap();
        assert!(
            ranges.len() <= 2 * 41,
            "{first} -> {second}: {}",
            ranges.len()
        );
        let mut tiles = ranges.clone();
        if u64::is_power_of_two(first) {
            tiles.push((0, first));
        }
        assert_tiles(tiles, 0, second);
        let p = consistency_proof(first, second, &lookup).unwrap();
        let (r1, r2) = (
            root(first, &lookup).unwrap(),
            root(second, &lookup).unwrap(),
        );
        assert!(verify_consistency(first, second, &r1, &r2, &p));
        assert!(nodes_for_consistency(first, second).len() <= 4 * 64);
    }
}
