"""Fidelity ladders: the rungs a multi-step trial climbs, cheapest first (``--fidelity-ladder``).

Two kinds, one per side of the co-design:

* **hardware**: accelerator simulator tiers, e.g. ``zigzag-fixed,zigzag`` (optionally
  ``zigzag-fixed,zigzag,scalesim``); the tiers must come in the order of :data:`HW_ORDER`
  (cheap, rough first) and each at most once.  The network side is the same at every rung.
* **epochs** (``--nats-sss`` only): training epochs read from the official NATS-Bench SSS learning
  curves, written ``epochs:E1,E2,...,EL`` with ``0 < E1 < E2 < ... < EL = 90`` (the full hp-90
  schedule), e.g. ``epochs:10,30,90``.  The hardware cost is simulated once (at ``--fidelity``)
  and repeated at every rung.

A ladder has levels ``1..L`` (the schedulers' ``time_attr`` ``fidelity_level``); level ``L`` is the
final fidelity, the only one the analysis counts.  :func:`parse_ladder` raises ``ValueError`` with
one line naming the bad value and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: hardware tiers, cheapest (roughest) first; a ladder must follow this order
HW_ORDER = ("zigzag-fixed", "zigzag", "scalesim")
#: the epochs of the official SSS schedule whose learning curves the records hold (hp "90")
FULL_SCHEDULE = 90
EPOCHS_PREFIX = "epochs:"
SYNTAX = (f"a comma list of hardware tiers in the order {','.join(HW_ORDER)} (e.g. zigzag-fixed,zigzag), or, "
          f"with --nats-sss, {EPOCHS_PREFIX}E1,...,EL with increasing epochs ending at {FULL_SCHEDULE} "
          f"(e.g. {EPOCHS_PREFIX}10,30,{FULL_SCHEDULE})")


@dataclass(frozen=True)
class Ladder:
    """``kind`` is ``"hardware"`` (``rungs`` = tier names) or ``"epochs"`` (``rungs`` = epoch counts)."""

    kind: str
    rungs: tuple

    def __len__(self) -> int:
        return len(self.rungs)

    @property
    def levels(self) -> int:
        return len(self.rungs)

    def label(self, level: int) -> str:
        """The ``fidelity`` column of rung ``level`` (1-based): the tier name or ``epoch<E>``."""
        rung = self.rungs[level - 1]
        return rung if self.kind == "hardware" else f"epoch{rung}"

    @property
    def top_tier(self) -> str | None:
        """The final hardware tier (``None`` for an epoch ladder)."""
        return self.rungs[-1] if self.kind == "hardware" else None

    def text(self) -> str:
        return ",".join(self.rungs) if self.kind == "hardware" else EPOCHS_PREFIX + ",".join(map(str, self.rungs))


def parse_ladder(text: str, *, nats_sss: bool = False) -> Ladder:
    """The ladder of a ``--fidelity-ladder`` value.

    Args:
        text: e.g. ``"zigzag-fixed,zigzag"`` or ``"epochs:10,30,90"``.
        nats_sss: the official SSS table is available (epoch ladders need it).

    Returns:
        The parsed :class:`Ladder`.

    Raises:
        ValueError: a bad part of ``text``, named with what is allowed.
    """
    raw = text.strip()
    if raw.startswith(EPOCHS_PREFIX):
        if not nats_sss:
            raise ValueError(f"--fidelity-ladder {text}: epoch rungs read the official learning curves, so they "
                             "need --nats-sss PATH (the official SSS folder); without it use hardware tiers: "
                             + ",".join(HW_ORDER[:2]))
        parts = [p.strip() for p in raw[len(EPOCHS_PREFIX):].split(",")]
        try:
            epochs = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"--fidelity-ladder {text}: {parts} are not all whole epoch counts; allowed: {SYNTAX}") \
                from None
        if len(epochs) < 2:
            raise ValueError(f"--fidelity-ladder {text}: a ladder needs at least two rungs; allowed: {SYNTAX}")
        if any(e < 1 or e > FULL_SCHEDULE for e in epochs):
            raise ValueError(f"--fidelity-ladder {text}: epochs must be between 1 and {FULL_SCHEDULE}; "
                             f"allowed: {SYNTAX}")
        if any(b <= a for a, b in zip(epochs, epochs[1:])):
            raise ValueError(f"--fidelity-ladder {text}: epochs must increase strictly (cheap before accurate, "
                             f"none repeated); allowed: {SYNTAX}")
        if epochs[-1] != FULL_SCHEDULE:
            raise ValueError(f"--fidelity-ladder {text}: the last rung must be the full schedule, epoch "
                             f"{FULL_SCHEDULE} (the final fidelity); allowed: {SYNTAX}")
        return Ladder("epochs", epochs)
    tiers = tuple(p.strip() for p in raw.split(","))
    bad = [t for t in tiers if t not in HW_ORDER]
    if bad:
        raise ValueError(f"--fidelity-ladder {text}: unknown tier {bad[0]!r}; allowed: {SYNTAX}")
    if len(tiers) < 2:
        raise ValueError(f"--fidelity-ladder {text}: a ladder needs at least two rungs; allowed: {SYNTAX}")
    if len(set(tiers)) != len(tiers):
        dup = next(t for t in tiers if tiers.count(t) > 1)
        raise ValueError(f"--fidelity-ladder {text}: tier {dup!r} is repeated; allowed: {SYNTAX}")
    pos = [HW_ORDER.index(t) for t in tiers]
    if pos != sorted(pos):
        i = next(i for i in range(1, len(pos)) if pos[i] < pos[i - 1])
        raise ValueError(f"--fidelity-ladder {text}: {tiers[i - 1]!r} is more accurate than {tiers[i]!r} and must "
                         f"come after it (cheap tiers first: {','.join(HW_ORDER)})")
    return Ladder("hardware", tiers)
