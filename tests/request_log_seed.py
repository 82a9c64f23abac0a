"""Request-log rows for tests that need a history: a burst one slot served."""

from __future__ import annotations

from datetime import datetime, timedelta

from brb.adapters.store import Store
from brb.core.request_log import RequestRow


def log_one_slot_burst(store: Store, start: datetime, n: int) -> None:
    """``n`` local requests, one every 0.5 s, each served in 1 s, as one slot served them:
    request i waited i/2 s (the log marks the stretch busy)."""
    store.log_requests(
        [
            RequestRow(
                start + timedelta(seconds=i / 2),
                start.date().isoformat(),
                "/api/chat",
                "llama3",
                "",
                "ollama",
                "standby",
                200,
                wait_s=i / 2,
                service_s=1.0,
                prompt_tokens=10,
                output_tokens=10,
                outcome="ok",
                upstream="default",
            )  # fmt: skip
            for i in range(n)
        ]
    )
