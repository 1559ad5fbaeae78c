"""The engine's pure decisions: functions of state, policy, measurement and time.

Nothing here does I/O, sleeps, or imports :mod:`asyncio`, :mod:`sqlite3` or
:mod:`aiohttp`; time comes in as numbers, and the I/O half of the engine (the
runner, the agent, remediation) applies what these modules decide. The rule is held
by ``tests/test_layering.py``.
"""
