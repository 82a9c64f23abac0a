"""A local request's turn in brb's waiting room: wait, then Ollama or the cloud.

Owns what happens to an inference request the front sent local while the
waiting room is on: it takes a ticket in the queue monitor, waits for the
room's verdict (send it to Ollama now, or divert it because it can't start
in time), asks the router whether it may still leave for the cloud, goes to
another upstream when the one chosen refused it, and comes back to wait,
no longer divertible, when the cloud leg declines. The routing decision on
arrival and the request log row are :mod:`brb.daemon.front`'s; the room's
rule is :mod:`brb.core.waiting_room`'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from brb.core import breaker
from brb.core.breaker import Phase
from brb.core.conversation import Conversation
from brb.core.service_model import RequestShape
from brb.core.value_type import value_type
from brb.core.waiting_room import Verdict
from brb.daemon.cloud import CloudLeg, Diversion
from brb.daemon.connections import ClientConnection, cancelled_if_client_leaves
from brb.daemon.events import EventSink, Routed
from brb.daemon.leg import CloudRoute, LegResult
from brb.daemon.live_state import LiveState
from brb.daemon.pool import Member
from brb.daemon.queue_monitor import QueueMonitor
from brb.daemon.relay import LocalLeg
from brb.daemon.request_body import is_stream
from brb.errors import UpstreamRefused
from brb.router import Router, RouteState

UPSTREAM_DOWN = "upstream_down"  # the route reason when no upstream is up to take it


@value_type
class Turn:
    """A local request waiting in brb's room: what it needs to go either way."""

    path: str
    body: dict[str, Any]
    raw: bytes
    conv: Conversation
    session: str
    shape: RequestShape
    arrived_s: float  # monotonic
    estimate: dict[str, str]
    sessions: list[str]  # every copy of the session header (one match keeps it local)


class RoomTurns:
    """The waiting room's side of the local requests (one per front)."""

    def __init__(
        self,
        *,
        live: LiveState,
        monitor: QueueMonitor,
        local: LocalLeg,
        cloud: CloudLeg,
        router: Router,
        clock: Callable[[], datetime],
        sink: EventSink,
    ) -> None:
        self.live = live
        self.monitor = monitor
        self.local = local
        self.cloud = cloud
        self.router = router
        self.clock = clock
        self.sink = sink

    def may_leave(
        self, request: web.Request, turn: Turn, phase: Phase | None, route: CloudRoute | None = None
    ) -> bool:
        """Would this waiting request be diverted now, if it could not start in time?
        (``phase``: None for the breaker's as it is, with the button's mode; a phase
        for "were the breaker in it", in auto mode; ``route``: the cloud route of this
        moment, when the caller has it)."""
        model = turn.body["model"]
        route = route if route is not None else self.cloud.route(model)
        if not route.providers or route.price is None:
            return False  # the policy's no_provider / unpriced_model, before any rule
        if phase is None:  # the breaker as it is, with the button's mode
            mode, phase = breaker.effective_mode(self.live.override, self.clock()), self.live.phase
        else:  # were the breaker in ``phase``: auto mode (no clock, no mode to read)
            mode = breaker.Mode.AUTO
        # positional, in the fields' order (keywords cost twice as much): mode, phase,
        # predicted_wait_s, would_queue, queue_depth, has_provider and is_model_priced
        # (both true past the check above)
        state = RouteState(mode, phase, math.inf, True, 0, True, True)
        return self.router.route(
            turn.path,
            turn.body,
            turn.conv,
            sessions=turn.sessions,
            headers=request.headers,
            state=state,
        ).divert

    def _may_leave_for_down(self, request: web.Request, turn: Turn) -> bool:
        """With every upstream down: may it go to the cloud? As if the breaker were
        active, unless ops hold the button (``release --hold``: nothing leaves)."""
        if breaker.effective_mode(self.live.override, self.clock()) is breaker.Mode.OFF:
            return False
        return self.may_leave(request, turn, Phase.ACTIVE)

    async def _turn(
        self, request: web.Request, turn: Turn, is_divertible: bool
    ) -> tuple[int, Verdict]:
        """The request's turn in the pool's room (:meth:`PoolRoom.turn`). One sent at
        once never waits, so there is nothing for its client leaving to cancel: only a
        wait is guarded (the common case pays no guard). A client already gone gets
        the guard's ``ClientGone`` before any seat is taken, as ever."""
        room = self.local.room
        assert room is not None
        model: str = turn.body["model"]
        connection = request.protocol
        member: Member | None = None
        if not (isinstance(connection, ClientConnection) and connection.is_gone):
            member, seat = room.place(model, turn.shape, turn.arrived_s)
            if seat is not None:
                return seat, Verdict.SEND
        with cancelled_if_client_leaves(request):  # a client gone leaves the room
            assert member is not None  # (a client already gone: the guard raised)
            return await room.wait(
                member,
                model,
                turn.shape,
                turn.arrived_s,
                is_divertible=is_divertible,
                may_divert=lambda: self.may_leave(request, turn, None),
            )

    async def wait(
        self,
        request: web.Request,
        turn: Turn,
        reason: str,
        is_divertible: bool,
        route: CloudRoute | None = None,
    ) -> LegResult:
        """Wait in brb's room, then go to Ollama, or to the cloud if the room says
        so (a provider that fails sends it back to wait, no longer divertible).
        ``route``: the cloud route the front just computed, for the first check."""
        room = self.local.room
        assert room is not None
        model: str = turn.body["model"]
        ticket = self.monitor.arrive(model, turn.arrived_s)
        is_divertible = is_divertible and self.may_leave(request, turn, Phase.ACTIVE, route)
        refused = 0  # upstreams that refused this request (each is down now)
        try:
            while True:
                key, verdict = await self._turn(request, turn, is_divertible)
                now, diverted = self.clock(), verdict is not Verdict.SEND
                why = verdict.value if diverted else reason
                if is_divertible:  # one routing event per request: the room's verdict
                    self.sink.publish(Routed(now, turn.path, model, turn.session, diverted, why))
                if not diverted:
                    try:
                        return await self.local.relay(
                            request,
                            turn.raw,
                            model=model,
                            reason=reason,
                            extra_headers=turn.estimate,
                            ticket=ticket,
                            room_key=key,
                        )
                    except UpstreamRefused:
                        # that upstream is now down and nothing was sent: wait again, in
                        # the room of one still up
                        refused += 1
                        ticket = self.monitor.arrive(model, turn.arrived_s)
                        members = self.local.pool.members
                        is_up = any(m.healthy for m in members)
                        if refused < len(members) and is_up:
                            is_divertible = False
                            continue
                        # none is up: no upstream can start it in time, so it goes to the
                        # cloud if it may, as from a queue too long with the breaker active
                        # (compliance, local-only, the rules decide; a hold keeps it here);
                        # if not, the upstream's error stands
                        if (
                            is_up  # it answered, then dropped it: the error stands
                            or refused > len(members)
                            or not self._may_leave_for_down(request, turn)
                        ):
                            raise
                        why = UPSTREAM_DOWN
                        self.sink.publish(Routed(now, turn.path, model, turn.session, True, why))
                sent = time.monotonic()
                route = self.cloud.route(model)
                diversion = Diversion(
                    turn.path, turn.body, model, turn.session, why, route, turn.estimate
                )
                result = await self.cloud.serve(request, diversion)
                if isinstance(result, LegResult):
                    self.monitor.abandon(ticket, model)
                    if not is_stream(turn.path, turn.body) and result.status < 400:
                        room.learn_first_content(time.monotonic() - sent)
                    return result
                is_divertible, reason = False, result.reason
        except BaseException:
            self.monitor.abandon(ticket, model)
            raise
