"""The simulator's nonce window: a nonce is refused again within it and forgotten after it, and
remembering many costs each request only the nonces it forgets (benchmarks send thousands a
second through it)."""

from __future__ import annotations

import time

from dashboard.revenuemonster.testing.simulator import NONCE_WINDOW_SECONDS, Simulator


def test_a_nonce_is_refused_within_the_window_and_forgotten_after_it(fake_clock):
    simulator = Simulator(clock=fake_clock)
    assert simulator._claim_nonce("client", "n-1")
    assert not simulator._claim_nonce("client", "n-1")
    assert simulator._claim_nonce("other-client", "n-1")  # nonces are per client
    fake_clock.advance(NONCE_WINDOW_SECONDS - 1)
    assert not simulator._claim_nonce("client", "n-1")
    fake_clock.advance(2)
    assert simulator._claim_nonce("client", "n-1")


def test_claiming_a_nonce_costs_the_same_with_many_remembered(fake_clock):
    simulator = Simulator(clock=fake_clock)

    def claim_time(count: int, start: int) -> float:
        began = time.perf_counter()
        for i in range(start, start + count):
            assert simulator._claim_nonce("client", f"n-{i}")
        return (time.perf_counter() - began) / count

    few = claim_time(1_000, 0)
    for i in range(1_000, 50_000):
        simulator._claim_nonce("client", f"n-{i}")
    many = claim_time(1_000, 50_000)
    # Rebuilding the whole window on each request made this 1,000 times slower at 50k.
    assert many < few * 5 + 20e-6
    fake_clock.advance(NONCE_WINDOW_SECONDS + 1)
    assert simulator._claim_nonce("client", "late")
    assert len(simulator._nonces) == 1
