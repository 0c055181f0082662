"""Exclusive GPU cards for the jobs of one multi-GPU machine (profiles/local-gpu).

Snakemake's `resources: gpu=N` caps how many cards the running jobs ask for in total,
but it does not say which card a job gets. A GPU job claims its cards here: one lock
file per card, taken with ``flock``, held by the job's process until it exits (a crashed
job releases its card with its file descriptors), and ``CUDA_VISIBLE_DEVICES`` set to the
claimed cards before torch initialises CUDA. Two jobs therefore never share a card.

The machine's cards come from ``WIDESPECTRUM_GPUS`` (comma-separated ids, e.g.
``0,1,2,3``); when it is unset, nothing is claimed and the job sees what its parent saw.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

CARDS_VARIABLE = "WIDESPECTRUM_GPUS"
LOCK_DIR_VARIABLE = "WIDESPECTRUM_GPU_LOCK_DIR"
DEFAULT_LOCK_DIR = Path(".snakemake") / "gpu-locks"

# Open lock files of the cards this process holds; closing them (or exiting) frees the cards.
_held: list = []


class NoFreeCard(TimeoutError):
    pass


def machine_cards(environ=os.environ) -> list[str]:
    value = environ.get(CARDS_VARIABLE, "").strip()
    return [card.strip() for card in value.split(",") if card.strip()]


def claim(n: int, cards: list[str], lock_dir: str | Path, timeout: float = 24 * 3600.0,
          poll: float = 0.2) -> list[str]:
    """Lock ``n`` of ``cards`` for this process, waiting while all are taken."""
    if n > len(cards):
        raise ValueError(f"a job asks for {n} GPUs but the machine has {len(cards)} ({CARDS_VARIABLE}={cards})")
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        taken = []
        for card in cards:
            handle = open(lock_dir / f"card-{card}.lock", "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            taken.append((card, handle))
            if len(taken) == n:
                _held.extend(handle for _, handle in taken)
                for card_id, handle in taken:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"{os.getpid()}\n")
                    handle.flush()
                return [card_id for card_id, _ in taken]
        # fewer than n free: give back the partial set so two jobs cannot deadlock on it
        for _, handle in taken:
            handle.close()
        if time.monotonic() > deadline:
            raise NoFreeCard(f"no {n} free GPU cards among {cards} within {timeout:.0f} s")
        time.sleep(poll)


def release() -> None:
    while _held:
        _held.pop().close()


def assign(n_gpus: int, environ=os.environ) -> list[str]:
    """Claim ``n_gpus`` cards and make them the only ones this process sees.

    Call at the start of a GPU job's script, before anything imports CUDA. A no-op for
    CPU jobs and where ``WIDESPECTRUM_GPUS`` is unset.
    """
    cards = machine_cards(environ)
    if n_gpus <= 0 or not cards:
        return []
    lock_dir = environ.get(LOCK_DIR_VARIABLE) or DEFAULT_LOCK_DIR
    claimed = claim(n_gpus, cards, lock_dir)
    environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
    log.info("GPU card(s) %s claimed (lock files in %s)", ",".join(claimed), lock_dir)
    return claimed
