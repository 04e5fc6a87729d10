"""A small random stream per record: cheap to seed, cheap to draw, the same for the same seed.

Every record is built from its own stream so any page can be generated alone. Seeding a
`random.Random` per record (a Mersenne Twister state from a hashed string) and its Python-level
`choice`/`randint` were most of the sandbox's CPU, and the sandbox shares a small machine with
the client it serves: a slow server makes every client look slow. splitmix64 is one multiply-xor
chain per draw and its whole state is one integer.
"""

from collections.abc import Sequence
from typing import TypeVar

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_UNIT = 1.0 / (1 << 53)

T = TypeVar("T")


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def splitmix64(value: int) -> int:
    """A fast, well-mixed 64-bit hash of `value`: one step of the splitmix64 stream."""
    return _mix((value + _GOLDEN) & _MASK)


class RecordRandom:
    """The subset of `random.Random` record builders use, on a splitmix64 stream."""

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = splitmix64(seed & _MASK)

    def _next(self) -> int:
        self._state = (self._state + _GOLDEN) & _MASK
        return _mix(self._state)

    def random(self) -> float:
        """A float in [0, 1)."""
        return (self._next() >> 11) * _UNIT

    def randrange(self, stop: int) -> int:
        """An int in [0, stop); multiply-shift keeps the bias below stop / 2**64."""
        if stop <= 0:
            raise ValueError(f"empty range for randrange({stop})")
        return (self._next() * stop) >> 64

    def randint(self, low: int, high: int) -> int:
        """An int in [low, high], both included, as `random.randint`."""
        return low + self.randrange(high - low + 1)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.randrange(len(options))]
