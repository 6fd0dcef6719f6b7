"""scikit-allel's randomized_pca (it needs scikit-learn, so it runs in .venv-peers).

    python allel_randomized_pca.py DOSAGES.npy OUT.npy

Prints the wall time in seconds; writes the coordinates (samples × 4).
"""

import sys
import time

import allel
import numpy as np


def main(matrix, out):
    gn = np.load(matrix)
    t = time.perf_counter()
    coords, _ = allel.randomized_pca(gn, n_components=4, scaler="patterson", random_state=0)
    wall = time.perf_counter() - t
    np.save(out, coords)
    print(wall)


if __name__ == "__main__":
    main(*sys.argv[1:3])
