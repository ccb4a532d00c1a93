"""Illusions the judge must read every way (anagrams, hybrids, K-component decompositions): their success rates and
judge-guided best-of-N selection (beyond the course, which picks by eye)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from fundiff.errors import require
from fundiff.partA.context import Context
from fundiff.partA.result import rounded


def best_of(score: torch.Tensor, per: int) -> torch.Tensor:
    """Judge-guided best-of-N: ``score`` holds ``per`` candidates of each requested output, consecutively; the index
    of the highest-scoring candidate of each group (the first one on a tie)."""
    groups = score.reshape(-1, per)
    return groups.argmax(dim=1) + torch.arange(len(groups)) * per


@dataclass
class Legibility:
    """Success rates of illusions that must read one way and another (anagrams, hybrids; K ways for a K-component
    decomposition), and judge-guided best-of-N: with ``per`` > 1, each requested output is the candidate, of ``per``
    drawn in a row, that the judge reads most surely every way (the product of its probabilities).
    ``success_rate_<key>`` is the rate of what is kept, ``success_rate_<key>_drawn`` that of every candidate drawn (the
    rate before selection)."""

    ctx: Context
    per: int = 1
    metrics: dict[str, float] = field(default_factory=dict)
    tally: dict[str, list[int]] = field(default_factory=lambda: {"kept": [0, 0], "drawn": [0, 0]})

    def check(self, where: str) -> None:
        require(
            self.per == 1 or self.ctx.measures_digits,
            f"{where}={self.per}: best-of-N selection needs the judge (the mnist backend with a classifier); set it to 1",
        )

    def select(
        self, key: str, first: torch.Tensor, prompt_first: str, second: torch.Tensor, prompt_second: str
    ) -> torch.Tensor:
        """Indices of the outputs to keep (all when ``per`` = 1), recording the success rates: :meth:`select_all`
        of the two readings."""
        return self.select_all(key, [(first, prompt_first), (second, prompt_second)])

    def select_all(self, key: str, readings: Sequence[tuple[torch.Tensor, str]]) -> torch.Tensor:
        """Indices of the outputs to keep (all when ``per`` = 1), recording the success rates: an output succeeds when
        the judge reads every (images, prompt) of ``readings`` as its prompt (Context.every_way)."""
        read = self.ctx.every_way(readings)
        keep = torch.arange(len(readings[0][0]))
        if read is None:
            require(
                self.per == 1,
                f"best-of-N needs digit prompts the judge can read, got {', '.join(repr(q) for _, q in readings)}",
            )
            return keep
        ok, score = read
        if self.per > 1:
            keep = best_of(score, self.per)
            self._count(f"success_rate_{key}_drawn", "drawn", ok)
        self._count(f"success_rate_{key}", "kept", ok[keep])
        return keep

    def _count(self, name: str, tally: str, ok: torch.Tensor) -> None:
        self.metrics[name] = rounded(ok.float().mean())
        self.tally[tally][0] += int(ok.sum())
        self.tally[tally][1] += len(ok)

    def finish(self) -> dict[str, float]:
        """The per-key rates, and the overall ``success_rate`` (and ``success_rate_drawn``) when anything was read."""
        for tally, name in (("kept", "success_rate"), ("drawn", "success_rate_drawn")):
            hits, count = self.tally[tally]
            if count:
                self.metrics[name] = rounded(hits / count)
        return self.metrics

    def text(self, ways: int = 2) -> str:
        """What the report says of best-of-N selection of illusions read ``ways`` ways (nothing when every drawn
        output is shown)."""
        if self.per == 1:
            return ""
        surely = "both ways (the product of its two" if ways == 2 else f"every way (the product of its {ways}"
        return (
            f" Judge-guided best-of-{self.per}: {self.per} candidates are drawn for every output shown, and the one "
            f"the judge reads most surely {surely} probabilities) is kept; 'success_rate' is the "
            "rate of the kept outputs, 'success_rate_drawn' that of all candidates (before selection)."
        )
