"""A precision and recall tally shared by the evaluations."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PR"]


@dataclass
class PR:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: bool, gold: bool) -> None:
        if predicted and gold:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def text(self) -> str:
        """"P 0.900 R 0.800 (tp/fp/fn)", n/a where a ratio has no cases."""
        p = f"{self.tp / (self.tp + self.fp):.3f}" if self.tp + self.fp else "n/a"
        r = f"{self.tp / (self.tp + self.fn):.3f}" if self.tp + self.fn else "n/a"
        return f"P {p} R {r} ({self.tp}/{self.fp}/{self.fn})"

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
