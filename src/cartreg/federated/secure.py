"""Secure aggregation of integer tables by pairwise additive masks (Bonawitz et al. 2017, sec. 4).

Every pair of nodes (i, j) agrees on a secret seed by finite-field Diffie-Hellman in the RFC 7919
group ``ffdhe2048`` (public keys are relayed by the aggregator, which cannot derive the secret).
From the seed both expand the same pseudo-random mask ``m_ij`` (NumPy ``Philox``, 64-bit words);
node i sends ``x_i + sum_{j > i} m_ij - sum_{j < i} m_ji (mod 2^64)``. The masks cancel in the sum
over all nodes, so the aggregator learns ``sum_i x_i`` exactly (every total is < 2^63) and nothing
about one node's table: each masked vector is uniform on ``[0, 2^64)`` to anyone without the seeds.

The protocol assumes an honest-but-curious aggregator and no dropped node (a node that fails
aborts the whole task; no partial sum is ever released).

>>> a, b = private_key(b"secret-a", "s1"), private_key(b"secret-b", "s1")
>>> pair_seed(a, public_key(b), "s1") == pair_seed(b, public_key(a), "s1")
True
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

__all__ = ["GROUP_P", "GROUP_G", "private_key", "public_key", "pair_seed", "mask_vector", "masked",
           "unmask_sum"]

#: RFC 7919 ffdhe2048 prime (safe prime), generator 2.
GROUP_P = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce249b3ef9"
    "7d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935"
    "984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fb"
    "b96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f61"
    "9172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa"
    "886b423861285c97ffffffffffffffff",
    16,
)
GROUP_G = 2


def private_key(node_secret: bytes, session: str) -> int:
    """A node's DH exponent for one session, derived from its own secret (stateless across rounds)."""
    digest = hmac.new(node_secret, b"cartreg-dh|" + session.encode(), hashlib.sha512).digest()
    digest += hmac.new(node_secret, b"cartreg-dh2|" + session.encode(), hashlib.sha512).digest()
    return int.from_bytes(digest, "big") % (GROUP_P - 3) + 2


def public_key(priv: int) -> str:
    """``g^priv mod p`` as hex text (what the node publishes)."""
    return format(pow(GROUP_G, priv, GROUP_P), "x")


def pair_seed(priv: int, other_public: str, session: str) -> int:
    """The seed node pairs share: a hash of the DH secret and the session (128 bits)."""
    y = int(other_public, 16)
    if not 1 < y < GROUP_P - 1:
        raise ValueError("invalid public key")
    shared = pow(y, priv, GROUP_P)
    d = hashlib.sha256(b"cartreg-mask|" + session.encode() + b"|" + shared.to_bytes(256, "big")).digest()
    return int.from_bytes(d[:16], "big")


def mask_vector(seed: int, size: int) -> np.ndarray:
    """The pseudo-random uint64 mask of a seed (same on both nodes of the pair)."""
    return np.random.Generator(np.random.Philox(seed)).integers(0, 2**64, size=size, dtype=np.uint64,
                                                               endpoint=False)


def masked(values: np.ndarray, me: int, seeds: dict[int, int]) -> np.ndarray:
    """``values`` (non-negative integers) plus this node's share of the pairwise masks, mod 2^64.

    ``me``: this node's index in the agreed order; ``seeds[j]``: the seed shared with node ``j``.
    """
    out = np.asarray(values, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        for j, seed in seeds.items():
            m = mask_vector(seed, out.size)
            out = out + m if j > me else out - m
    return out


def unmask_sum(vectors: list[np.ndarray]) -> np.ndarray:
    """The exact sum of the nodes' tables from their masked vectors (the masks cancel)."""
    total = np.zeros(vectors[0].size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for v in vectors:
            total = total + np.asarray(v, dtype=np.uint64)
    if (total >= np.uint64(2**62)).any():
        raise ValueError("secure sum out of range: the nodes' masks did not cancel (mismatched session or keys)")
    return total.astype(np.int64)
