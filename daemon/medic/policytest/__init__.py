"""``medic test``: policy unit tests that run the real engine on simulated time.

:mod:`.series` reads the compact notation of input series, :mod:`.spec` loads
``*.test.yaml`` files (with positions, so a failure names its line), :mod:`.sim` runs
one case through the real runner, limits, escalation and on-call levels with a fake
clock and no I/O, and :mod:`.report` prints timelines and JUnit XML.
"""
