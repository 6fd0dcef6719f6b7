"""Nucleotide helpers shared by the reference builder and the annotator.

Sequences are upper-case Python ``str`` over ``ACGTN``; protein sequences use one-letter codes
with ``*`` for a stop codon (three-letter codes, with ``Ter``, only in HGVS strings).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AA3",
    "CODON_TABLE",
    "STOP_CODONS",
    "aa3",
    "reverse_complement",
    "translate",
]

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")

_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"

#: The standard genetic code (NCBI translation table 1), DNA codons to one-letter amino acids.
CODON_TABLE: dict[str, str] = {
    a + b + c: _AMINO[16 * i + 4 * j + k]
    for i, a in enumerate(_BASES)
    for j, b in enumerate(_BASES)
    for k, c in enumerate(_BASES)
}

#: From this many bases on, :func:`translate` looks codons up with numpy (its fixed cost is
#: that of translating about 130 codons one by one).
_VECTOR_MIN = 384
_BASE_CODE = np.full(256, 4, dtype=np.int16)
for _i, _b in enumerate(_BASES):
    _BASE_CODE[ord(_b)] = _BASE_CODE[ord(_b.lower())] = _i
_AMINO_X = np.frombuffer((_AMINO + "X").encode("ascii"), dtype=np.uint8)

STOP_CODONS = frozenset(c for c, aa in CODON_TABLE.items() if aa == "*")

#: One-letter to three-letter amino-acid codes as HGVS writes them (``*`` is ``Ter``).
AA3: dict[str, str] = {
    "A": "Ala",
    "R": "Arg",
    "N": "Asn",
    "D": "Asp",
    "C": "Cys",
    "Q": "Gln",
    "E": "Glu",
    "G": "Gly",
    "H": "His",
    "I": "Ile",
    "L": "Leu",
    "K": "Lys",
    "M": "Met",
    "F": "Phe",
    "P": "Pro",
    "S": "Ser",
    "T": "Thr",
    "W": "Trp",
    "Y": "Tyr",
    "V": "Val",
    "*": "Ter",
    "X": "Xaa",
}


def reverse_complement(seq: str) -> str:
    """The reverse complement of a DNA sequence (``N`` stays ``N``; case is kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def translate(seq: str) -> str:
    """Translate DNA with the standard code, codon by codon, reading through stop codons.

    Trailing bases that do not fill a codon are ignored; a codon holding anything other than
    ``ACGT`` translates to ``X``.

    Examples
    --------
    >>> translate("ATGGCTTAA")
    'MA*'
    """
    n = len(seq) // 3 * 3
    if n < _VECTOR_MIN:
        seq = seq.upper()
        get = CODON_TABLE.get
        return "".join([get(seq[i : i + 3], "X") for i in range(0, n, 3)])
    # Each base as 0-3 (TCAG order, either case) or 4; a codon as 16i + 4j + k, or 64 for X.
    codes = _BASE_CODE[np.frombuffer(seq[:n].encode("ascii", "replace"), dtype=np.uint8)]
    codes = codes.reshape(-1, 3)
    index = codes[:, 0] * 16 + codes[:, 1] * 4 + codes[:, 2]
    index[(codes == 4).any(axis=1)] = 64
    return _AMINO_X[index].tobytes().decode("ascii")


def aa3(protein: str) -> str:
    """Three-letter spelling of a one-letter protein string (``"K*"`` → ``"LysTer"``)."""
    return "".join(AA3[a] for a in protein)
