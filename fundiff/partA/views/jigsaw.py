"""A 4×4 jigsaw puzzle as a view, after visual_anagrams' JigsawView (which loads hand-drawn piece masks): here the
pieces are drawn by rule, so they exist at any square size.

The 16 cells of a 4×4 grid fall into four orbits under quarter turns about the image centre: the corners, the inner
cells and two kinds of edge cells. Every interior edge gets a round knob, pushed from one cell into the other; which
way is decided by the sign of the cross product of the two cells' centres (about the image centre), a rule that a
quarter turn does not change. Each pixel's piece is computed in one quarter of the image (a fundamental domain of the
quarter turns) and copied by ``torch.rot90`` to the other three, so a quarter turn maps every piece exactly onto
the next piece of its orbit. A seeded permutation of each orbit's four pieces then moves every piece to its new slot
by the matching number of quarter turns: an exact pixel permutation (the centre pixel of an odd side stays put).
"""

from __future__ import annotations

import torch

from fundiff.errors import require
from fundiff.partA.views.base import SeededPermutationView, seeded

GRID = 4
KNOB_OFFSET, KNOB_RADIUS = 0.15, 0.22  # in cells: the knob's centre past the edge, and its radius
TURN = torch.tensor([(GRID - 1 - c) * GRID + r for r in range(GRID) for c in range(GRID)])  # cell (r, c) under rot90


def cells(h: int) -> torch.Tensor:
    """(h, h) the cell (r·4 + c) of each pixel, knobs included, evaluated everywhere by the rule."""
    u = (torch.arange(h, dtype=torch.float64) + 0.5) * GRID / h  # pixel centres in cell units
    rows, cols = u[:, None].expand(h, h), u[None, :].expand(h, h)
    r, c = rows.floor().clamp(0, GRID - 1).long(), cols.floor().clamp(0, GRID - 1).long()
    out = r * GRID + c
    half = GRID / 2 - 0.5
    for r0 in range(GRID):
        for c0 in range(GRID):
            for r1, c1 in ((r0, c0 + 1), (r0 + 1, c0)):
                if r1 == GRID or c1 == GRID:
                    continue
                cross = (r0 - half) * (c1 - half) - (c0 - half) * (r1 - half)
                (ro, co), (rr, cr) = ((r0, c0), (r1, c1)) if cross > 0 else ((r1, c1), (r0, c0))
                mid_r, mid_c = (r0 + r1) / 2 + 0.5, (c0 + c1) / 2 + 0.5
                knob_r, knob_c = mid_r + KNOB_OFFSET * (rr - ro), mid_c + KNOB_OFFSET * (cr - co)
                knob = (rows - knob_r) ** 2 + (cols - knob_c) ** 2 < KNOB_RADIUS**2
                out = torch.where(knob, ro * GRID + co, out)
    return out


def pieces(h: int) -> torch.Tensor:
    """(h, h) the piece of each pixel (−1: the centre pixel of an odd side), exactly equivariant under rot90:
    ``pieces(h)`` rotated by rot90 equals ``TURN[pieces(h)]`` (centre pixel aside)."""
    twice = 2 * torch.arange(h) - (h - 1)  # twice the distance from the centre: exact integers
    domain = (twice[:, None] < 0) & (twice[None, :] <= 0)  # its four quarter turns tile all but the centre pixel
    base, out = cells(h), torch.full((h, h), -1)
    turned = torch.arange(GRID * GRID)
    for k in range(4):
        out = torch.where(torch.rot90(domain, k), turned[torch.rot90(base, k)], out)
        turned = TURN[turned]
    return out


class JigsawView(SeededPermutationView):
    """16 jigsaw pieces (4 corners, 8 edges, 4 inner) shuffled within their kind and turned to fit, by a seed."""

    name = "jigsaw"

    def check(self, image_shape, where):
        h, w = image_shape[-2:]
        require(h == w, f"{where}.view=jigsaw needs square images, not {h}×{w}")

    def indices(self, h, w):
        self.check((h, w), self.name)
        # each cell is rot90^slot of one base cell of the top-left 2×2 block (its orbit)
        orbit, slot = torch.empty(GRID * GRID, dtype=torch.long), torch.empty(GRID * GRID, dtype=torch.long)
        for o, cell in enumerate((0, 1, GRID, GRID + 1)):
            for q in range(4):
                orbit[cell], slot[cell] = o, q
                cell = int(TURN[cell])
        g = seeded(self.seed)
        moves = torch.stack([torch.randperm(4, generator=g) for _ in range(4)])  # slot q of orbit o goes to moves[o, q]
        came_from = moves.argsort(1)  # the slot whose piece lands in slot q
        piece = pieces(h)
        o, q = orbit[piece.clamp(min=0)], slot[piece.clamp(min=0)]
        turns = torch.where(piece < 0, 0, (q - came_from[o, q]) % 4)  # quarter turns that bring the piece here
        grid = torch.arange(h * w).reshape(h, w)
        rotated = torch.stack([torch.rot90(grid, k) for k in range(4)])
        return rotated.gather(0, turns[None]).flatten()
