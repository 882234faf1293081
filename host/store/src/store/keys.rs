//! Key layouts.

/// `parent \0 n` (big-endian, so keys sort by n).
pub fn child(parent: &str, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(parent.len() + 9);
    k.extend_from_slice(parent.as_bytes());
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}
/// The prefix of every `child(parent, _)`.
pub fn children(parent: &str) -> Vec<u8> {
    let mut k = parent.as_bytes().to_vec();
    k.push(0);
    k
}
/// The trailing number of a `child` or `event_chunk` key.
pub fn child_number(key: &[u8]) -> u64 {
    key.len()
        .checked_sub(8)
        .and_then(|i| key[i..].try_into().ok())
        .map_or(0, u64::from_be_bytes)
}
/// An execution's `ExecutionIds` entry: the first 8 bytes of its ARN's
/// SHA-256, then its number (both fixed-size, so an entry is 16 bytes
/// instead of the ~100 of an ARN: see `Table::ExecutionIds`).
pub fn arn_entry(arn: &str, seq: u64) -> [u8; 16] {
    hashed_arn_entry(u64::from_be_bytes(arn_hash(arn)), seq)
}
/// `arn_entry`, from the ARN's hash as a big-endian number.
pub fn hashed_arn_entry(hash: u64, seq: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&hash.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}
/// The prefix of every `arn_entry(arn, _)`. A stable hash (the file
/// outlives the process); ARNs that share it are told apart by their
/// records.
pub fn arn_hash(arn: &str) -> [u8; 8] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(arn.as_bytes());
    let mut h = [0; 8];
    h.copy_from_slice(&digest[..8]);
    h
}
/// An execution's key in the tables keyed by its sequence number.
pub fn execution(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}
/// `sequence, n` (both big-endian): an event chunk's key.
pub fn event_chunk(seq: u64, n: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8..].copy_from_slice(&n.to_be_bytes());
    k
}
/// `sequence, entered event id` (both big-endian): the prefix of the
/// `Checkpoints` entries of the finished iterations or branches
/// ([`stepbox_engine::Part`]) of one entry of a Map or Parallel state.
pub fn state_parts(seq: u64, entered: u64) -> [u8; 16] {
    event_chunk(seq, entered)
}
/// `state_parts(seq, entered), attempt, index` (big-endian): a part's key
/// (24 bytes, apart from the execution's 8-byte checkpoint key, which
/// prefixes it).
pub fn part(seq: u64, entered: u64, attempt: u32, index: u32) -> [u8; 24] {
    let mut k = [0; 24];
    k[..16].copy_from_slice(&state_parts(seq, entered));
    k[16..20].copy_from_slice(&attempt.to_be_bytes());
    k[20..].copy_from_slice(&index.to_be_bytes());
    k
}
